"""The cyclic garbage collector paused while the projection and the planner build per-host
records and frames in bulk (records/ keeps a private one of its own for the plan file)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """The collector off for the block: 100,000 hosts' worth of new objects trigger repeated full
    collections that walk every live object (2-3x slower at 100k hosts; bench/plan.py)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
