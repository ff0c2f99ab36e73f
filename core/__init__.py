"""Sincro's engine: no UI imports here (tests/unit/test_import_hygiene.py)."""

__version__ = "0.1.0"
