"""Pre-generated answers for benchmark hosts (`auditplan simulate --replay-answers`, hidden).

Emulating cmd.exe and generating a host's event log costs the simulator tens of milliseconds of CPU
per probe, more than the survey client spends; a benchmark of the client against it would measure
the simulator. A ReplayBackend answers each distinct command once from the real backend and then
replays that answer, byte for byte, to every host that shares it (the benchmark's hosts are
identical but for their names), so the simulator's cost per host is its WS-Management handling only.
Never used by the tests or the demo: their hosts must each answer as themselves.
"""

from __future__ import annotations

import threading

from auditplan.simulator.interface import CommandBackend, CommandOutput


class ReplayBackend:
    """A CommandBackend that replays the first answer `inner` gave to the same command."""

    def __init__(self, inner: CommandBackend, answers: dict[tuple[str, tuple[str, ...], int | None], CommandOutput],
                 lock: threading.Lock) -> None:
        self._inner = inner
        self._answers = answers  # shared by every host of one replaying fleet
        self._lock = lock

    def run(self, command: str, arguments: tuple[str, ...] = (), codepage: int | None = None) -> CommandOutput:
        key = (command, arguments, codepage)
        answer = self._answers.get(key)
        if answer is None:
            with self._lock:  # one host generates it; the others wait for it rather than repeat it
                answer = self._answers.get(key)
                if answer is None:
                    answer = self._inner.run(command, arguments, codepage)
                    self._answers[key] = answer
        return answer


def replaying(backends: list[CommandBackend]) -> list[CommandBackend]:
    """The same backends, answering every command as the first one asked answered it."""
    answers: dict[tuple[str, tuple[str, ...], int | None], CommandOutput] = {}
    lock = threading.Lock()
    return [ReplayBackend(backend, answers, lock) for backend in backends]
