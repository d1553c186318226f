"""Ctrl-C as a flag while a survey engine's collecting loop runs.

A KeyboardInterrupt raised at an arbitrary bytecode could land between taking finished hosts off
the queue and saving them, or between submitting a host and counting it in flight: hosts that had
talked to their server were then never saved. The first Ctrl-C only sets a flag the loop reads at
safe points; a second one raises KeyboardInterrupt as before, for a user who will not wait.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType


@contextmanager
def interrupt_flag() -> Iterator[Callable[[], bool]]:
    """Yield a function that tells whether Ctrl-C was pressed; outside the main thread (where
    signal handlers cannot be set) it is always False and KeyboardInterrupt behaves as usual."""
    if threading.current_thread() is not threading.main_thread():
        yield lambda: False
        return
    presses: list[int] = []

    def on_sigint(signum: int, frame: FrameType | None) -> None:
        presses.append(signum)
        if len(presses) > 1:
            raise KeyboardInterrupt

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield lambda: bool(presses)
    finally:
        signal.signal(signal.SIGINT, previous)
