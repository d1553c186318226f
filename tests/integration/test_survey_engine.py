"""run_survey: bounded fan-out, every host classified and saved once, resume, retry, Ctrl-C."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from integration_fleet import PASSWORD, USERNAME, inventory_host, profile, serving, settings_for

from auditplan.collect.winrm.survey import Progress, run_survey
from auditplan.records import HostStatus
from auditplan.simulator.fleet import sim_host
from auditplan.simulator.interface import CommandOutput, Credentials, FaultSpec, SimHost
from auditplan.simulator.server import FleetServer
from auditplan.store import Store

EXPECTED = {
    "ok1": HostStatus.OK,
    "ok2": HostStatus.OK,
    "ok3": HostStatus.OK,
    "badcreds": HostStatus.AUTH_FAILED,
    "hang": HostStatus.TIMEOUT,
    "reset": HostStatus.PROTOCOL_ERROR,
}
FAULTS = {
    "badcreds": FaultSpec(reject_credentials=True),
    "hang": FaultSpec(hang=True),
    "reset": FaultSpec(reset_connection=True),
}


def _profiles() -> list:  # type: ignore[type-arg]
    return [profile(name, FAULTS.get(name)) for name in EXPECTED]


def test_every_host_classified_saved_once_and_resumable(tmp_path: Path) -> None:
    # The hanging host always ends at the deadline; the others must end ok before it, however busy
    # the machine, so the deadline is wide (the hang costs 15 s of waiting, no CPU). The later runs
    # only check which hosts are contacted and in what order, so theirs is shorter; but "badcreds"
    # must still reject the credentials within it (a timeout says nothing about them, and the run
    # would not stop), so it is not a machine-speed bet either: 6 s for one 401 on loopback.
    settings = settings_for("basic", None, operation_timeout=1, read_timeout=14, deadline=15.0)
    short = settings_for("basic", None, operation_timeout=1, read_timeout=6, deadline=6.0)
    progress: list[Progress] = []
    with serving(_profiles()) as server, Store(tmp_path / "s.db") as store:
        hosts = [inventory_host(server, name) for name in EXPECTED]
        outcome = run_survey(hosts, settings, store, concurrency=3, on_progress=progress.append)

        assert {r.host.name: r.status for r in outcome.results} == EXPECTED
        assert store.finished_hosts() == {name: status for name, status in EXPECTED.items()}
        saved = store.load_results()
        assert sorted(r.host.name for r in saved) == sorted(EXPECTED)  # each exactly once
        assert [p.done for p in progress] == list(range(1, len(EXPECTED) + 1))
        assert progress[-1].failed == 3 and progress[-1].total == len(EXPECTED)
        ok = next(r for r in saved if r.host.name == "ok1")
        assert ok.computer_name == "ok1" and ok.os is not None and ok.audit is not None
        ok_stats = server.stats("ok1")  # Receive long-poll repeats are the only extra requests allowed
        assert ok_stats.conversation == ("Create", "Command", "Receive", "Delete")
        assert ok.cost is not None and ok.cost.requests == ok_stats.requests == 4 + ok_stats.timed_out_receives

        # Resume: nothing sent to hosts already saved, except the one that failed authentication,
        # which is retried (alone, as the canary, so the run stops when it fails again).
        server.reset_stats()
        again = run_survey(hosts, short, store, concurrency=3)
        assert [r.host.name for r in again.results] == ["badcreds"] and again.retried_auth_failed == ["badcreds"]
        assert sorted(again.skipped) == sorted(set(EXPECTED) - {"badcreds"})
        assert again.stopped_reason is not None and "badcreds" in again.stopped_reason
        assert all(server.stats(name).requests == 0 for name in EXPECTED if name != "badcreds")

        # --retry-failed: only the hosts that did not end ok talk to the server again.
        retried = run_survey(hosts, short, store, concurrency=3, retry_failed=True)
        # The host that failed authentication goes last: hang and reset say nothing about the
        # credentials, so each is a canary in turn, and badcreds, the last canary, stops the run.
        assert [r.host.name for r in retried.results] == ["hang", "reset", "badcreds"]
        assert retried.stopped_reason is not None and "badcreds" in retried.stopped_reason
        assert all(server.stats(name).requests == 0 for name in ("ok1", "ok2", "ok3"))

        # --refresh: everyone again, still one saved result per host.
        refreshed = run_survey(hosts, short, store, concurrency=6, refresh=True)
        assert len(refreshed.results) == len(EXPECTED)
        assert len(store.load_results()) == len(EXPECTED)
    saved_text = (tmp_path / "s.db").read_bytes()
    assert PASSWORD.encode() not in saved_text


class _SlowCounting:
    """A CommandBackend that records how many run at once (a real backend, served by the real server).
    The first three to start wait for each other (a barrier, not a clock), so a survey allowed three
    hosts at once really has three in flight; a survey that allowed fewer would break the barrier."""

    def __init__(self, inner: object, gauge: dict[str, int], lock: threading.Lock,
                 barrier: threading.Barrier) -> None:
        self.inner = inner
        self.gauge = gauge
        self.lock = lock
        self.barrier = barrier

    def run(self, command: str, arguments: tuple[str, ...], codepage: int | None = None) -> CommandOutput:
        with self.lock:
            self.gauge["now"] += 1
            self.gauge["started"] += 1
            self.gauge["max"] = max(self.gauge["max"], self.gauge["now"])
            first = self.gauge["started"] <= self.barrier.parties
        try:
            if first:
                try:
                    self.barrier.wait()
                except threading.BrokenBarrierError:
                    self.gauge["broken"] = 1
            return self.inner.run(command, arguments)  # type: ignore[attr-defined,no-any-return]
        finally:
            with self.lock:
                self.gauge["now"] -= 1


def test_concurrency_is_bounded(tmp_path: Path) -> None:
    gauge = {"now": 0, "max": 0, "started": 0, "broken": 0}
    lock = threading.Lock()
    barrier = threading.Barrier(3, timeout=60)
    sims: list[SimHost] = []
    for i in range(8):
        base = sim_host(profile(f"h{i}"))
        sims.append(SimHost(base.name, base.address, 0, _SlowCounting(base.backend, gauge, lock, barrier)))
    server = FleetServer(sims, users=[Credentials(USERNAME, PASSWORD)], auth={"basic"}, tls=None,
                         allow_unencrypted=True)
    with server, Store(tmp_path / "s.db") as store:
        hosts = [inventory_host(server, s.name) for s in sims]
        # Guard off: a canary would run the first host alone, before the others could reach the barrier.
        outcome = run_survey(hosts, settings_for("basic", None, deadline=120.0), store,
                             concurrency=3, max_auth_failures=0)
    assert all(r.status is HostStatus.OK for r in outcome.results)
    assert gauge["broken"] == 0  # three hosts were in flight at once
    assert gauge["max"] == 3  # and never more


def test_interrupt_stops_starting_hosts_and_keeps_what_was_saved(tmp_path: Path) -> None:
    names = [f"h{i}" for i in range(10)]
    with serving([profile(n) for n in names]) as server, Store(tmp_path / "s.db") as store:
        hosts = [inventory_host(server, n) for n in names]

        def ctrl_c(event: Progress) -> None:
            if event.done == 2:
                raise KeyboardInterrupt

        outcome = run_survey(hosts, settings_for("basic", None), store, concurrency=2, on_progress=ctrl_c)
        assert outcome.interrupted
        assert outcome.not_started  # the rest were never started
        started = {r.host.name for r in outcome.results}
        assert started.isdisjoint(outcome.not_started)
        assert set(store.finished_hosts()) == started
        for name in outcome.not_started:
            assert server.stats(name).requests == 0
        # A second run picks up exactly the rest.
        rest = run_survey(hosts, settings_for("basic", None), store, concurrency=4)
        assert sorted(r.host.name for r in rest.results) == sorted(set(names) - started)
        assert sorted(store.finished_hosts()) == sorted(names)


def test_bad_concurrency_is_refused(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store, pytest.raises(ValueError, match="concurrency"):
        run_survey([], settings_for("basic", None), store, concurrency=0)


class HeldBackend:
    """A host whose command runs until the test lets it finish (a stuck host, released on cue)."""

    def __init__(self, inner: object, release: threading.Event) -> None:
        self.inner, self.release = inner, release

    def run(self, command: str, arguments: tuple[str, ...], codepage: int | None = None) -> CommandOutput:
        self.release.wait(120)
        return self.inner.run(command, arguments, codepage)  # type: ignore[attr-defined, no-any-return]


def test_a_stuck_host_holds_only_its_own_worker(tmp_path: Path) -> None:
    # Two workers, one stuck on a host whose command does not finish: the other worker surveys every
    # other host meanwhile. The stuck host is released only once the other four are saved, so with a
    # worker held by it the run could not get there (it would end at the 60 s deadline instead, with
    # the stuck host timed out and not last). No clock decides the order: the release does.
    names = ["stuck", "a", "b", "c", "d"]
    release = threading.Event()
    sims = [sim_host(profile(n)) for n in names]
    sims[0] = SimHost(sims[0].name, sims[0].address, sims[0].port, HeldBackend(sims[0].backend, release))
    server = FleetServer(sims, users=[Credentials(USERNAME, PASSWORD)], auth={"basic"}, tls=None,
                         allow_unencrypted=True, operation_timeout_cap=1.0)
    order: list[str] = []

    def progress(p: Progress) -> None:
        order.append(p.result.host.name)
        if set(order) >= set(names[1:]):
            release.set()

    with server, Store(tmp_path / "s.db") as store:
        hosts = [inventory_host(server, n) for n in names]
        settings = settings_for("basic", None, operation_timeout=1, read_timeout=5, deadline=60.0)
        # Guard off: with a canary, "stuck" (the first host) would run alone, and it is released
        # only once the others are done.
        outcome = run_survey(hosts, settings, store, concurrency=2, on_progress=progress, max_auth_failures=0)
    assert order[-1] == "stuck"
    assert sorted(order[:-1]) == ["a", "b", "c", "d"]
    assert outcome.counts == {HostStatus.OK: 5}


def test_trace_reaches_the_host_result_over_winrm(tmp_path: Path) -> None:
    """--trace-seconds through the real engine: the simulator's powershell.exe answers the trace script
    with a Poisson count over the simulated 60 s, and the HostResult carries it."""
    from auditplan.collect.winrm import probe
    from auditplan.records import AuditSetting
    from auditplan.simulator.profile import AuditProfile

    off = profile("ws-trace", audit=AuditProfile(process_creation=AuditSetting.NONE))
    with serving([off], auth="basic") as server, Store(tmp_path / "t.db") as store:
        outcome = run_survey([inventory_host(server, "ws-trace")], settings_for("basic", None), store,
                             concurrency=1, probe_options=probe.ProbeOptions(trace_seconds=60))
    (result,) = outcome.results
    assert result.status is HostStatus.OK, result.reason
    assert result.trace is not None and result.trace.seconds == pytest.approx(60.0, abs=1.0)
    assert result.trace.process_starts >= 0
    assert not any("trace" in w for w in result.warnings)
