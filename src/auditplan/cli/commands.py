"""Imports every command module so that each registers on the `main` group.

One import line per module; keep them in data-flow order.
"""
from auditplan.cli import gpo as _gpo  # noqa: F401
