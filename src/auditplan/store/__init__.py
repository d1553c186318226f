"""The survey store: one SQLite file (db.py), its schema and migrations (schema.py), the exact
record codec (codec.py), the one flattening of a host result to a row (rows.py), and CSV/JSON
output of its tables (export.py)."""

from auditplan.store.db import Store, StoreError

__all__ = ["Store", "StoreError"]
