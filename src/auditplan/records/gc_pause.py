"""The cyclic garbage collector paused while per-host objects are built in bulk: by the plan reader
and writer here, and by the model's projection and planner. A helper beside the records it serves, not
a record (records/__init__ does not export it)."""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def gc_paused() -> Iterator[None]:
    """The collector off for the block: 100,000 hosts' worth of new objects trigger repeated full
    collections that walk every live object (bench/plan.py)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()
