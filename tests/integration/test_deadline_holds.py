"""The per-host deadline holds for the whole conversation (issue 20): every wait the transport grants
(each request's timeout, each read of an answer's body, the closing Delete's) ends by
`settings.deadline` after the start. Checked with an injected clock, not a wall clock: the clock
advances a fixed step each time the transport reads it, so the deadline passes after a known amount
of work whatever the machine's speed, and what each wait was granted is compared with the time left."""

from __future__ import annotations

import socket
import threading

from integration_fleet import inventory_host, profile, serving, settings_for

from auditplan.collect.winrm.transport import cleanup_share, run_command_line
from auditplan.records import Host, HostStatus
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


def _header_dripper(stop: threading.Event) -> tuple[str, int]:
    """A hostile "host" on loopback: it reads a request, then sends a status line and a header one
    byte every 20 ms, 400 bytes in all, and closes (not the simulator: no WinRM host does this)."""
    listener = socket.socket()
    listener.bind(("127.0.1.97", 0))
    listener.listen(4)
    listener.settimeout(0.2)

    def serve() -> None:
        with listener:
            while not stop.is_set():
                try:
                    conn, _ = listener.accept()
                except TimeoutError:
                    continue
                with conn:
                    conn.settimeout(5)
                    data = b""
                    while b"\r\n\r\n" not in data:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        data += chunk
                    for byte in (b"HTTP/1.1 200 OK\r\nX-Drip: " + b"a" * 400)[:400]:
                        if stop.is_set():
                            return
                        try:
                            conn.sendall(bytes([byte]))
                        except OSError:
                            break  # the client gave up: what the test wants
                        stop.wait(0.02)

    threading.Thread(target=serve, daemon=True).start()
    address, port = listener.getsockname()
    return str(address), int(port)


def test_headers_sent_a_byte_at_a_time_are_cut_at_the_deadline() -> None:
    # http.client reads a status line and headers in many small receives; each one waits at most the
    # time left (before issue 20, each waited the whole request timeout, so 400 slow bytes took 8 s
    # and ended as a protocol error).
    stop = threading.Event()
    address, port = _header_dripper(stop)
    clock = SteppingClock(0.05)
    try:
        run = run_command_line(Host(name="dripper", address=address, port=port),
                               settings_for("basic", None, deadline=3.0), "hostname", clock=clock)
    finally:
        stop.set()
    assert run.status is HostStatus.TIMEOUT, run.reason
    start = 1000.0 + clock.step
    assert len(run.waits) > 10  # the header bytes' receives, each granted on its own
    assert max(_ends(run.waits)) <= start + 3.0
