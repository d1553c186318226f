"""The survey engine's Ctrl-C flag: the first press is a flag, the second raises (collect/winrm/interrupt.py)."""

from __future__ import annotations

import os
import signal
import threading

import pytest

from auditplan.collect.winrm.interrupt import interrupt_flag


def test_first_ctrl_c_sets_the_flag_second_raises_and_the_old_handler_returns() -> None:
    before = signal.getsignal(signal.SIGINT)
    with interrupt_flag() as interrupted:
        assert not interrupted()
        os.kill(os.getpid(), signal.SIGINT)  # handled in the main thread before the next bytecode
        assert interrupted()
        with pytest.raises(KeyboardInterrupt):
            os.kill(os.getpid(), signal.SIGINT)
            signal.pthread_sigmask(signal.SIG_BLOCK, [])  # a safe point for the handler to run
    assert signal.getsignal(signal.SIGINT) is before


def test_outside_the_main_thread_the_flag_is_never_set() -> None:
    seen: list[bool] = []

    def run() -> None:
        with interrupt_flag() as interrupted:
            seen.append(interrupted())

    worker = threading.Thread(target=run)
    worker.start()
    worker.join()
    assert seen == [False]
