"""The cyclic garbage collector paused while the plan reader and writer build per-host objects in
bulk. Private to records/ (the model keeps its own, model/gc_pause.py): a helper, not a record."""

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
