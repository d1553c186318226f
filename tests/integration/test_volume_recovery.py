"""The survey's sampled 4688 rate recovers each simulated host's true rate, and the caps hold.

Real pywinrm over HTTP to the simulator; the truth is what the simulated Security log really holds
(SimEventLog.true_hourly_counts), and the caps are measured on the simulator's side: the bytes it sent
and the <Event> elements in the stdout it produced.

Tolerance: a day of a Poisson stream with rate R has a count whose standard deviation is sqrt(R), so the
measured day rate lies within 4 * sqrt(R) of R with probability > 0.9999; the estimate's p50 comes from the
same 24 hourly counts, so it gets that band plus 2 % for the estimator's own median-of-a-log-normal shift.
"""

from __future__ import annotations

import math
import threading
import zlib
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from integration_fleet import PASSWORD, USERNAME, inventory_host, new_address, settings_for

from auditplan.collect.winrm.probe import ProbeOptions
from auditplan.collect.winrm.survey import run_survey
from auditplan.config import load_config
from auditplan.model.estimate import estimate_hosts
from auditplan.records import AuditSetting, EstimateSource, HostStatus
from auditplan.simulator.fleet import sim_host
from auditplan.simulator.interface import CommandBackend, CommandOutput, Credentials
from auditplan.simulator.profile import AuditProfile, HostProfile, RateProfile, SecurityLogProfile
from auditplan.simulator.server import FleetServer
from auditplan.store import Store

RATES = {"rate-a": 600.0, "rate-b": 3000.0, "rate-c": 12000.0}
MB = 1024 * 1024


@dataclass
class CountingBackend:
    """Wraps a simulated host's cmd.exe and counts what it emits (the simulator's side of the wire)."""

    inner: object
    event_elements: int = 0
    stdout_bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, command: str, arguments: tuple[str, ...], codepage: int | None = None) -> CommandOutput:
        out: CommandOutput = self.inner.run(command, arguments, codepage)  # type: ignore[attr-defined]
        with self.lock:
            self.event_elements += out.stdout.count(b"<Event ")
            self.stdout_bytes += len(out.stdout)
        return out


def _profile(name: str, rate: float) -> HostProfile:
    return HostProfile(
        name=name, address=new_address(), seed=zlib.crc32(name.encode()) & 0xFFFF,
        audit=AuditProfile(process_creation=AuditSetting.SUCCESS, cmdline_enabled=True),
        # A log large enough to hold well over the 24 h window, so every counted hour is real.
        security_log=SecurityLogProfile(max_size_bytes=256 * MB),
        rates=RateProfile(process_starts_per_day=rate, other_security_events_per_day=1000.0, boots_per_day=0.0),
    )


def _serve(profiles: list[HostProfile]) -> tuple[FleetServer, dict[str, CountingBackend], dict[str, CommandBackend]]:
    sims = [sim_host(p) for p in profiles]
    counters = {s.name: CountingBackend(s.backend) for s in sims}
    backends = {s.name: s.backend for s in sims}
    server = FleetServer([replace(s, backend=counters[s.name]) for s in sims],
                         users=[Credentials(USERNAME, PASSWORD)], auth={"basic"}, tls=None,
                         allow_unencrypted=True, operation_timeout_cap=1.0)
    return server, counters, backends


def test_sampled_rate_recovers_the_true_rate_and_caps_hold(tmp_path: Path) -> None:
    profiles = [_profile(name, rate) for name, rate in RATES.items()]
    server, counters, backends = _serve(profiles)
    options = ProbeOptions(window_hours=24, sample_events=12)
    with server, Store(tmp_path / "s.db") as store:
        hosts = [inventory_host(server, p.name, role="member_server") for p in profiles]
        settings = settings_for("basic", None, deadline=60.0, read_timeout=20)
        outcome = run_survey(hosts, settings, store, concurrency=3, probe_options=options)
        results = {r.host.name: r for r in store.load_results()}
        stats = {p.name: server.stats(p.name) for p in profiles}
    assert outcome.counts == {HostStatus.OK: 3}
    estimates = {e.host: e for e in estimate_hosts(list(results.values()), load_config())}
    for name, rate in RATES.items():
        result = results[name]
        volume = result.volume
        assert volume is not None and volume.hourly_4688 and not volume.capped
        # 1. Counted on the host, the hourly counts equal the simulated log's truth, hour by hour.
        log = backends[name].event_log("Security")  # type: ignore[attr-defined]
        truth = dict(log.true_hourly_counts(4688))
        expected = [truth[volume.window_start + timedelta(hours=i)] for i in range(24)]
        assert list(volume.hourly_4688) == expected
        # 2. The estimate's p50 is within the Poisson band of the true daily rate.
        estimate = estimates[name]
        assert estimate.source is EstimateSource.MEASURED_4688
        band = 4 * math.sqrt(rate) + 0.02 * rate
        assert abs(estimate.events_per_day.p50 - rate) <= band, (name, estimate.events_per_day, rate)
        assert estimate.events_per_day.p10 < estimate.events_per_day.p50 < estimate.events_per_day.p90
        # 3. Caps, from the simulator's side: sampled events plus the oldest and newest event, no more.
        assert counters[name].event_elements <= options.sample_events + 2
        assert len(result.events) <= options.sample_events
        # Sampling adds no round trip: one shell, one command, one read of its output, one Delete.
        # The count queries can outlast the 1 s OperationTimeout on a busy machine, and then the first
        # Receive comes back w:TimedOut and the client polls again (DESIGN "Collect": 4 requests plus
        # Receive long-poll repeats); any request beyond those repeats is one too many.
        assert stats[name].conversation == ("Create", "Command", "Receive", "Delete")
        assert stats[name].requests == 4 + stats[name].timed_out_receives
        assert result.cost is not None and result.cost.requests == stats[name].requests
        assert stats[name].bytes_out <= 64 * 1024


def test_event_and_byte_caps_are_enforced_and_recorded(tmp_path: Path) -> None:
    profile = _profile("busy", 40000.0)
    server, counters, _ = _serve([profile])
    options = ProbeOptions(window_hours=24, sample_events=200, max_events=5000)
    with server, Store(tmp_path / "s.db") as store:
        host = inventory_host(server, "busy")
        settings = settings_for("basic", None, deadline=60.0, read_timeout=20, max_output_bytes=64 * 1024)
        run_survey([host], settings, store, concurrency=1, probe_options=options)
        (result,) = store.load_results()
        stats = server.stats("busy")
    assert result.caps is not None
    assert (result.caps.max_events, result.caps.max_bytes) == (5000, 64 * 1024)
    volume = result.volume
    assert volume is not None and volume.capped  # 40,000/day cannot fit a 5,000-event count query
    assert sum(volume.hourly_4688) <= 5000
    assert result.cost is not None and result.cost.truncated  # 200 sampled events are far more than 64 KB
    # The client stopped reading at the cap: the simulator produced more than the client took.
    assert counters["busy"].stdout_bytes > 64 * 1024
    assert result.cost.bytes_received < counters["busy"].stdout_bytes
    # Deleting the shell ended the command: the simulator sent less than it produced (base64 and all).
    assert stats.bytes_out < counters["busy"].stdout_bytes


def test_the_truth_is_a_poisson_stream_at_the_profiles_rate() -> None:
    # The truth the first test compares with is itself a Poisson stream around the profile's rate.
    rate = RATES["rate-a"]
    log = sim_host(_profile("rate-a", rate)).backend.event_log("Security")  # type: ignore[attr-defined]
    day = sum(n for _, n in log.true_hourly_counts(4688)[-25:-1])
    assert abs(day - rate) <= 4 * math.sqrt(rate)
