"""Pure domain: no web framework, task queue, ORM or Redis imports (tests/unit/test_layering.py holds it)."""
