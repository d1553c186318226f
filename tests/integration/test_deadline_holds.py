"""The per-host deadline holds for the whole conversation (issue 20): every wait the transport grants
(each request's timeout, each read of an answer's body, the closing Delete's) ends by
`settings.deadline` after the start. Checked with an injected clock, not a wall clock: the clock
advances a fixed step each time the transport reads it, so the deadline passes after a known amount
of work whatever the machine's speed, and what each wait was granted is compared with the time left."""

from __future__ import annotations

from integration_fleet import inventory_host, profile, serving, settings_for

from auditplan.collect.winrm.transport import cleanup_share, run_command_line
from auditplan.records import HostStatus
from auditplan.simulator.interface import FaultSpec


class SteppingClock:
    """time.monotonic's stand-in: each reading is `step` seconds after the previous one."""

    def __init__(self, step: float) -> None:
        self.now, self.step, self.readings = 1000.0, step, 0

    def __call__(self) -> float:
        self.now += self.step
        self.readings += 1
        return self.now


def _ends(run_waits: tuple[tuple[float, float], ...]) -> list[float]:
    return [start + granted for start, granted in run_waits]


def test_a_host_that_never_finishes_is_cut_at_the_deadline_delete_included() -> None:
    # Every Receive answers w:TimedOut (the command never ends): the Receive loop runs until the
    # deadline, then the Delete frees the shell. Before issue 20 the Delete got 3 s past the deadline.
    clock = SteppingClock(0.1)
    deadline = 4.0
    with serving([profile("busy", FaultSpec(receive_timeouts=10_000))], operation_timeout_cap=0.05) as server:
        run = run_command_line(inventory_host(server, "busy"), settings_for("basic", None, deadline=deadline),
                               "hostname", clock=clock)
        stats = server.stats("busy")
    assert run.status is HostStatus.TIMEOUT and "deadline" in run.reason, run.reason
    start = 1000.0 + clock.step  # the first reading
    assert run.waits and all(granted > 0 for _, granted in run.waits)
    assert max(_ends(run.waits)) <= start + deadline
    assert stats.actions[-1] == "Delete"  # the shell was freed, inside the deadline
    # The Delete had the share kept for it: it was granted more than the last Receive had left.
    work_end = start + deadline - cleanup_share(deadline)
    assert any(end > work_end for end in _ends(run.waits))


def test_an_ok_host_s_waits_all_end_within_the_deadline() -> None:
    clock = SteppingClock(0.001)
    with serving([profile("web01")]) as server:
        run = run_command_line(inventory_host(server, "web01"), settings_for("basic", None, deadline=10.0),
                               "hostname", clock=clock)
    assert run.status is HostStatus.OK, run.reason
    start = 1000.0 + clock.step
    # Requests and body reads: each granted at most the time left (read timeout 30 s > the deadline).
    assert run.waits and all(start < s and s + g <= start + 10.0 for s, g in run.waits)
    assert len(run.waits) > run.cost.requests  # body reads are bounded one by one, not only requests


def test_a_dripping_answer_is_cut_by_the_time_left_of_each_read() -> None:
    clock = SteppingClock(0.05)
    with serving([profile("drip", FaultSpec(drip_bytes_per_second=2000))]) as server:
        run = run_command_line(inventory_host(server, "drip"), settings_for("basic", None, deadline=3.0),
                               "hostname", clock=clock)
    assert run.status is HostStatus.TIMEOUT, run.reason
    start = 1000.0 + clock.step
    assert max(_ends(run.waits)) <= start + 3.0
