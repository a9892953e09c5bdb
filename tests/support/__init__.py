"""Test support: throwaway servers (servers.py) and the pytest plugin using them (fixtures.py)."""
