"""The shared-key service's domain (shared-keys.md): pure, stdlib + cryptography only."""
