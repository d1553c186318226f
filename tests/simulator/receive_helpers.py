"""A Receive that repeats while the simulator answers w:TimedOut, as every WinRM client does."""

from __future__ import annotations

import winrm.exceptions
from winrm.protocol import Protocol


def receive(p: Protocol, shell: str, cid: str) -> tuple[bytes, bytes, int, bool]:
    """get_command_output_raw, repeated while it answers w:TimedOut: the long-poll cap can end before a
    backend thread that a busy machine started late has finished (the server counts those as
    HostStats.timed_out_receives)."""
    for _ in range(1000):
        try:
            return p.get_command_output_raw(shell, cid)  # type: ignore[no-any-return]
        except winrm.exceptions.WinRMOperationTimeoutError:
            continue
    raise AssertionError("the command never finished")
