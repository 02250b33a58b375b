"""Pure policies: no I/O of their own, no trio, no actors (tests/test_layering.py)."""
