"""Per-host estimates: hand-computed cases, calibration on a synthetic fleet, named sources."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from click.testing import CliRunner

from auditplan.cli import main
from auditplan.config import load_config
from auditplan.model.calibrate import shrink_to_peers
from auditplan.model.estimate import estimate_hosts
from auditplan.model.project import fleet_events_day
from auditplan.records import (
    AuditPolicy,
    AuditSetting,
    EstimateSource,
    Host,
    HostEstimate,
    HostResult,
    HostStatus,
    Range,
    SampledEvent,
    VolumeSample,
)
from auditplan.store import Store

T0 = datetime(2026, 11, 2, 0, 0, tzinfo=UTC)
Z90 = 1.2815515655446004
DATA_DIR = Path(__file__).resolve().parents[1] / "data"


def _config(**roles: tuple[float, float]) -> dict[str, Any]:
    config = load_config()
    for role, (median, sigma) in roles.items():
        config["priors"]["roles"][role] = {"median_per_day": median, "sigma": sigma, "shape": "flat"}
    return config


def _result(name: str, role: str | None = "workstation", hourly: tuple[int, ...] | None = None,
            audit: AuditSetting | None = AuditSetting.SUCCESS, status: HostStatus = HostStatus.OK,
            sysmon: tuple[int, ...] | None = None, boot_only: bool = False,
            events: tuple[SampledEvent, ...] = ()) -> HostResult:
    volume = None
    if hourly is not None or sysmon is not None:
        n = len(hourly if hourly is not None else sysmon or ())
        volume = VolumeSample(window_start=T0, window_end=T0 + timedelta(hours=n), hourly_4688=hourly or (),
                              hourly_sysmon_eid1=sysmon, boot_only=boot_only)
    return HostResult(
        host=Host(name=name, address=name, role=role),
        status=status,
        reason="" if status is HostStatus.OK else "401 from WinRM",
        collected_at=T0,
        audit=AuditPolicy(process_creation=audit, cmdline_enabled=None, sce_no_apply_legacy=None),
        volume=volume,
        events=events,
    )


def _by_host(estimates: list[HostEstimate]) -> dict[str, HostEstimate]:
    return {e.host: e for e in estimates}


DAY_SD = 0.10  # [priors] day_to_day_sigma in defaults.toml
PRIOR_SHAPE_SD = 0.6  # [priors] prior_shape_sigma


def _office() -> list[float]:
    """The office shape's shares, from the config's weights (hour 0 = 00:00 UTC)."""
    weights = load_config()["priors"]["shapes"]["office"]
    return [w / sum(weights) for w in weights]


def test_measured_hourly_counts_hand_computed() -> None:
    # 12 hours of 10, then 12 hours of 30, over one whole UTC day (docs/estimation.md, "Measured hosts").
    # By hand: the window covers the day, so the host's own shape is used and D = 480 (the day's count).
    # Log-variance: Poisson sum(x^2/c)/X^2 = 480/480^2; day-to-day 0.1^2 (one UTC day); bursts: successive
    # differences 0 between equal hours and one step 10 -> 30 (400 - 40 - (0.5 * 20)^2 = 260) against
    # 11 * (-20 - 25) + 11 * (-60 - 225) < 0: k^2 = 0; no unseen, capped or censored hours.
    hourly = (10,) * 12 + (30,) * 12
    sigma = math.sqrt(1 / 480 + DAY_SD**2)
    est = _by_host(estimate_hosts([_result("ws1", hourly=hourly)], load_config()))["ws1"]
    assert est.source is EstimateSource.MEASURED_4688
    assert est.events_per_day.p50 == pytest.approx(480.0, rel=1e-9)
    assert est.events_per_day.p10 == pytest.approx(480 * math.exp(-Z90 * sigma), rel=1e-9)
    assert est.events_per_day.p90 == pytest.approx(480 * math.exp(Z90 * sigma), rel=1e-9)
    # Shape: hours 12..23 hold 30/480 each, so the peak hour is 24 * 30 / 480 = 1.5x the mean hour.
    assert est.peak_hour_factor == pytest.approx(1.5)
    assert sum(est.hourly_shape) == pytest.approx(1.0)
    assert est.hourly_shape[13] == pytest.approx(30 / 480)
    assert est.already_on
    assert est.flags == ()


def test_two_days_and_zero_counts() -> None:
    # 48 hours of 5 over two UTC days: D = 240 / 2 = 120; day-to-day 0.1^2 * (0.5^2 + 0.5^2).
    est = _by_host(estimate_hosts([_result("ws1", hourly=(5,) * 48)], load_config()))["ws1"]
    sigma = math.sqrt(1 / 240 + DAY_SD**2 * 0.5)
    assert est.events_per_day.p50 == pytest.approx(120.0)
    assert est.events_per_day.p90 == pytest.approx(120 * math.exp(Z90 * sigma))
    # Auditing on, nothing in 48 h: 90 % upper bound of a Poisson mean is ln(10) over the 2 days seen.
    zero = _by_host(estimate_hosts([_result("ws1", hourly=(0,) * 48)], load_config()))["ws1"].events_per_day
    assert (zero.p10, zero.p50) == (0.0, 0.0)
    assert zero.p90 == pytest.approx(math.log(10) / 2)


def test_calibration_worked_example_from_docs() -> None:
    """docs/estimation.md, worked example: prior median 2,000/day, sigma 1.2; peers' log rates 6.0, 6.5, 7.0."""
    mu0, s0 = math.log(2000), 1.2
    ybar, s2 = 6.5, (0.25 + 0 + 0.25) / 2
    sw2 = (1.44 + 2 * s2) / 3  # 0.646667
    precision = 1 / 1.44 + 3 / sw2  # 5.333621
    mu_post = (mu0 / 1.44 + 3 * ybar / sw2) / precision
    assert mu_post == pytest.approx(6.64334, abs=1e-5)
    fit = shrink_to_peers(mu0, s0, [6.0, 6.5, 7.0])
    assert fit.mu == pytest.approx(mu_post, rel=1e-12)
    assert fit.sigma == pytest.approx(math.sqrt(sw2 + 1 / precision), rel=1e-12)
    assert math.exp(fit.mu) == pytest.approx(767.65, abs=0.01)
    # No peers: the prior is returned unchanged.
    assert shrink_to_peers(mu0, s0, []).mu == mu0


def test_sources_named_best_first() -> None:
    results = [
        _result("measured", hourly=(4,) * 24),
        _result("sysmon-only", hourly=(), audit=AuditSetting.NONE, sysmon=(3,) * 24),
        _result("boot-only", role="file_server", hourly=(11, 0, 0, 0), audit=None, boot_only=True),
        _result("failed", role="file_server", status=HostStatus.AUTH_FAILED, audit=None),
        _result("peer-calibrated", hourly=None, audit=AuditSetting.NONE),
        _result("unknown-role", role="quantum-box", audit=None),
    ]
    est = _by_host(estimate_hosts(results, load_config()))
    assert est["measured"].source is EstimateSource.MEASURED_4688
    assert est["sysmon-only"].source is EstimateSource.SYSMON_EID1
    # Sysmon: same arithmetic as 4688 counts (ratio 1.0): a whole day of 3 an hour -> 72.
    assert est["sysmon-only"].events_per_day.p50 == pytest.approx(72.0)
    assert not est["sysmon-only"].already_on
    # file_server has no measured peer: the role prior (median 1,000/day, sigma 1.2 in defaults.toml).
    assert est["boot-only"].source is EstimateSource.ROLE_PRIOR
    assert est["boot-only"].events_per_day.p50 == pytest.approx(1000.0)
    assert est["boot-only"].events_per_day.p90 == pytest.approx(1000.0 * math.exp(Z90 * 1.2))
    assert not est["boot-only"].already_on
    assert any("boot-time" in n for n in est["boot-only"].notes)
    assert est["failed"].source is EstimateSource.ROLE_PRIOR
    assert any("auth_failed" in n for n in est["failed"].notes)
    # workstation has one measured peer ("measured"), so the other workstation is role_peers.
    assert est["peer-calibrated"].source is EstimateSource.ROLE_PEERS
    assert est["unknown-role"].source is EstimateSource.ROLE_PRIOR
    assert any("quantum-box" in n for n in est["unknown-role"].notes)
    assert est["unknown-role"].events_per_day.p50 == pytest.approx(2000.0)  # [priors.roles.default]


def test_event_sizes_from_samples_or_dev_set() -> None:
    events = tuple(
        SampledEvent(time=T0, event_id=4688, version=2, new_process_name="C:\\x.exe", parent_process_name=None,
                     subject_user_name="u", command_line="abcd" if i % 2 else "ab", size_bytes=1400 + i % 2 * 2)
        for i in range(30)
    )
    est = _by_host(estimate_hosts([_result("sampled", hourly=(1,) * 24, events=events),
                                   _result("few", hourly=(1,) * 24, events=events[:5])], load_config()))
    # 15 events of 1,400 B with "ab", 15 of 1,402 B with "abcd": mean 1,401; minus the
    # command line: 1,398 for both; command-line length median of 2,...,2,4,...,4 = 3.
    assert est["sampled"].bytes_source == "sampled"
    assert est["sampled"].bytes_per_event_xml == pytest.approx(1401.0)
    assert est["sampled"].bytes_per_event_xml_no_cmdline == pytest.approx(1398.0)
    assert est["sampled"].cmdline_length_p50 == 3.0
    # Fewer than [priors] min_sampled_events (10): [event_size], the XML as Windows renders it (1,574 B of
    # evtx-rs's indented XML, evtx-data.md §2.1, x 0.823) and that - 187 B of command line.
    assert est["few"].bytes_source == "dev_set"
    assert est["few"].bytes_per_event_xml == 1295.0
    assert est["few"].bytes_per_event_xml_no_cmdline == 1108.0


def test_calibration_beats_prior_on_synthetic_fleet() -> None:
    """True role medians are 4x off the prior; a 5-host pilot per role must pull the rest closer."""
    rng = np.random.default_rng(7)
    truth_median = {"workstation": 500.0, "domain_controller": 8000.0}
    config = _config(workstation=(2000.0, 1.2), domain_controller=(2000.0, 1.2))
    truth: dict[str, float] = {}
    pilot: list[HostResult] = []
    rest: list[HostResult] = []
    for role, median in truth_median.items():
        for i in range(40):
            name = f"{role}-{i}"
            rate = median * math.exp(0.4 * rng.standard_normal())
            truth[name] = rate
            if i < 5:
                hourly = tuple(int(c) for c in rng.poisson(rate / 24, size=72))
                pilot.append(_result(name, role=role, hourly=hourly))
            else:
                rest.append(_result(name, role=role, audit=AuditSetting.NONE))

    def male(estimates: list[HostEstimate]) -> float:
        errors = [abs(math.log(e.events_per_day.p50 / truth[e.host])) for e in estimates if e.host in truth]
        return sum(errors) / len(errors)

    prior_only = estimate_hosts(rest, config)
    assert {e.source for e in prior_only} == {EstimateSource.ROLE_PRIOR}
    with_pilot = estimate_hosts(pilot + rest, config)
    unmeasured = [e for e in with_pilot if e.source is EstimateSource.ROLE_PEERS]
    measured = [e for e in with_pilot if e.source is EstimateSource.MEASURED_4688]
    assert len(unmeasured) == 70 and len(measured) == 10
    # Prior alone is ~ln 4 = 1.39 off on average; calibrated must be far closer.
    assert male(prior_only) > 1.0
    assert male(unmeasured) < 0.6 * male(prior_only)
    assert male(measured) < 0.1  # 72 h of Poisson counts pin a host's own rate
    # Calibrated intervals cover the truth for most hosts (nominal 80 %).
    covered = sum(e.events_per_day.p10 <= truth[e.host] <= e.events_per_day.p90 for e in unmeasured)
    assert covered / len(unmeasured) > 0.7


def test_fleet_total_monte_carlo() -> None:
    fixed = [HostEstimate(host=f"h{i}", role=None, site=None, os_family=None, events_per_day=Range(v, v, v),
                          source=EstimateSource.ROLE_PRIOR, peak_hour_factor=1.0, hourly_shape=(1 / 24,) * 24,
                          bytes_per_event_xml=1.0, bytes_per_event_xml_no_cmdline=1.0, cmdline_length_p50=None,
                          bytes_source="dev_set", already_on=False, cmdline_already_on=False, cmdline_supported=None)
             for i, v in enumerate((100.0, 200.0))]
    exact = fleet_events_day(fixed, draws=1000, seed=1)
    assert (exact.p10, exact.p50, exact.p90) == pytest.approx((300.0, 300.0, 300.0))
    # One log-normal host: the fleet quantiles are the host's (Monte Carlo error < 2 % at 20,000 draws).
    one = [replace(fixed[0], events_per_day=Range(1000 / math.exp(Z90), 1000.0, 1000 * math.exp(Z90)))]
    total = fleet_events_day(one, draws=20_000, seed=4688)
    assert total.p50 == pytest.approx(1000.0, rel=0.02)
    assert total.p90 == pytest.approx(1000 * math.exp(Z90), rel=0.03)
    assert fleet_events_day(one, draws=20_000, seed=4688) == total  # seeded


def test_cli_estimate_json_csv_and_store(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    runner = CliRunner()
    ingest = runner.invoke(main, ["ingest", str(DATA_DIR / "mdec__ID4688-Clear_event_log_attempt_native.evtx"),
                                  str(DATA_DIR / "dfirmuseum__APTSimulatorVM_EventLogs_Server2022__Security.evtx"),
                                  "--role", "member_server", "--db", str(db)])
    assert ingest.exit_code == 0, ingest.output
    res = runner.invoke(main, ["estimate", "--db", str(db), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.stdout)
    hosts = {h["host"]: h for h in out["hosts"]}
    # facts.csv: 28 4688s between 19:07:25 and 19:07:26 -> one hour-aligned hour of 28, extrapolated with the
    # configured shapes (one hour cannot tell them apart: equal weights): between the flat shape's
    # 28 * 24 = 672 and the office shape's 28 * 29.5 / 0.8 (19:00 holds 0.8 of its 29.5) = 1,032.5.
    assert hosts["fs02.offsec.lan"]["source"] == "measured_4688"
    assert 672.0 < hosts["fs02.offsec.lan"]["events_per_day_p50"] < 1032.5
    assert "partial_day" in hosts["fs02.offsec.lan"]["flags"]
    # The audit-off baseline does not take its role from that 1-second capture (one usable hour of an
    # ingested file, < 12): it keeps the member_server prior (median 1,500/day in defaults.toml) and says why.
    baseline = hosts["WIN-FUDU2CKJOE8"]
    assert baseline["source"] == "role_prior"
    assert baseline["events_per_day_p50"] == pytest.approx(1500.0)
    assert ("1 measured host(s) of role 'member_server' left out of its calibration: ingested over < 12 usable h"
            in baseline["notes"])
    assert out["fleet"]["method"] == "monte_carlo" and out["fleet"]["hosts"] == 2
    assert out["fleet"]["events_per_day_p10"] <= out["fleet"]["events_per_day_p50"] <= out["fleet"][
        "events_per_day_p90"]
    with Store(db) as store:
        saved = store.load_estimates("latest")
    assert sorted(e.host for e in saved) == sorted(hosts)
    csv_out = runner.invoke(main, ["estimate", "--db", str(db), "--csv"])
    assert csv_out.exit_code == 0, csv_out.output
    lines = csv_out.stdout.strip().splitlines()
    assert lines[0].startswith("host,role,site,os_family,source,events_per_day_p10")
    assert lines[-1].startswith("(fleet total),")
    assert len(lines) == 4


def test_cli_estimate_bad_config(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[priors.roles.workstation]\nmedian_per_day = -5\n", encoding="utf-8")
    db = tmp_path / "s.db"
    Store(db).close()
    res = CliRunner().invoke(main, ["estimate", "--db", str(db), "--config", str(bad)])
    assert res.exit_code == 2
    assert "priors.roles.workstation.median_per_day" in res.output
    assert "Traceback" not in res.output


def test_survey_and_ingest_of_one_host_use_the_measurement() -> None:
    surveyed = _result("SRV01", audit=AuditSetting.NONE)  # WinRM: auditing off, nothing to count
    ingested = replace(_result("srv01", hourly=(2,) * 24), source="evtx",
                       collected_at=T0 - timedelta(days=30))  # older, but it holds counts
    estimates = estimate_hosts([surveyed, ingested], load_config())
    assert len(estimates) == 1
    assert estimates[0].source is EstimateSource.MEASURED_4688
    assert estimates[0].events_per_day.p50 == pytest.approx(48.0)


# --- task T12: only hours the log really covers -----------------------------------------------------


def _surveyed(hourly: tuple[int, ...], oldest: datetime | None = None, capped: bool = False,
              max_events: int = 20_000) -> HostResult:
    from auditplan.records import ProbeCaps, SecurityLog

    base = _result("ws1", hourly=hourly)
    assert base.volume is not None
    log = SecurityLog(max_size_bytes=20971520, retention="overwrite", file_size_bytes=None, record_count=None,
                      oldest_record_number=None, oldest_time=oldest, newest_time=None)
    return replace(base, security_log=log, volume=replace(base.volume, capped=capped),
                   caps=ProbeCaps(max_events=max_events, max_bytes=1 << 22, deadline_seconds=120.0))


def _office_counts(hours: range, per_weight: int) -> list[int]:
    """Counts that follow the office shape exactly (its weights x `per_weight`): the office candidate fits
    them perfectly and the flat one does not, so the mixture is the office shape (docs: choose_shape)."""
    weights = load_config()["priors"]["shapes"]["office"]
    return [round(weights[h] * per_weight) for h in hours]


def _partial(hours: range, counts: list[int]) -> tuple[float, float]:
    """(p50, log-sd) by hand for whole hours `hours` of one UTC day holding `counts`, extrapolated with the
    office shape (log-sd 0.6 on the unseen share: no measured peer; docs/estimation.md)."""
    office = _office()
    w = sum(office[h] for h in hours)
    total = sum(counts)
    return total / w, math.sqrt(1 / total + DAY_SD**2 + (PRIOR_SHAPE_SD * (1 - w)) ** 2)


def test_hours_before_the_logs_oldest_event_are_left_out() -> None:
    # 24 h window from T0; the log wrapped and its oldest event is at T0 + 6 h 30 min. Hours 0-5 read 0
    # (not held), hour 6 holds 5 events (partial), hours 7-23 follow the office shape. Usable: 17 hours,
    # scaled up by the office shape's share of hours 7-23.
    counts = _office_counts(range(7, 24), 100)
    hourly = (0,) * 6 + (5,) + tuple(counts)
    p50, sigma = _partial(range(7, 24), counts)
    est = _by_host(estimate_hosts([_surveyed(hourly, oldest=T0 + timedelta(hours=6, minutes=30))],
                                  load_config()))["ws1"]
    assert est.source is EstimateSource.MEASURED_4688
    assert est.events_per_day.p50 == pytest.approx(p50, rel=1e-3)
    assert est.events_per_day.p90 == pytest.approx(p50 * math.exp(Z90 * sigma), rel=1e-2)
    assert any("7 h of the window precede the Security log's oldest event" in n for n in est.notes)
    assert "partial_day" in est.flags


def test_capped_count_drops_its_partial_oldest_hour() -> None:
    # A whole-window cap (a survey from before per-hour caps) kept the newest events: hours 0-2 read 0, hour 3
    # holds the 40 left (partial), hours 4-23 follow the office shape (1,132 events). Usable: 20 hours.
    counts = _office_counts(range(4, 24), 40)
    hourly = (0, 0, 0, 40, *counts)
    p50, _ = _partial(range(4, 24), counts)
    est = _by_host(estimate_hosts([_surveyed(hourly, capped=True, max_events=sum(hourly))], load_config()))["ws1"]
    assert est.events_per_day.p50 == pytest.approx(p50, rel=1e-3)
    assert any("event cap: its oldest 4 h" in n for n in est.notes)


def test_per_hour_cap_measures_each_capped_hour_over_its_span() -> None:
    # Per-hour cap 100 (issue 15): hours 0-11 read 50 (whole), hours 12-23 hit the cap and their newest 100
    # events spanned 900 s, so each is 100 * 3600 / 900 = 400. The day: 12 * 50 + 12 * 400 = 5,400.
    # Log-variance: Poisson sum(x^2/c)/X^2 = (12 * 50 + 12 * 400^2/100) / 5400^2; day 0.1^2; the capped hours
    # 12 * (0.25 * 400 / 5400)^2 (CAPPED_HOUR_SD); bursts: one step 50 -> 400 (m = 225): 350^2 - 450 -
    # 112.5^2 = 109,393.75 against 11 * (-100 - 625) + 11 * (-800 - 40,000): k^2 = 0.
    base = _result("ws1", hourly=(50,) * 12 + (100,) * 12)
    assert base.volume is not None
    volume = replace(base.volume, capped=True, hour_cap=100, seconds_4688=(3600.0,) * 12 + (900.0,) * 12)
    est = _by_host(estimate_hosts([replace(base, volume=volume)], load_config()))["ws1"]
    var = (12 * 50 + 12 * 400**2 / 100) / 5400**2 + DAY_SD**2 + 12 * (0.25 * 400 / 5400) ** 2
    assert est.events_per_day.p50 == pytest.approx(5400.0)
    assert est.events_per_day.p90 == pytest.approx(5400 * math.exp(Z90 * math.sqrt(var)))
    assert est.flags == ("capped",) and "higher --max-events" in est.narrow_by
    assert est.hourly_shape[20] == pytest.approx(400 / 5400)
    # A capped hour of unknown span (23:00) counts as at least the cap, filled from the shape; at most what
    # its capped neighbours say.
    seconds = (3600.0,) * 12 + (900.0,) * 11 + (0.0,)
    censored = _by_host(estimate_hosts([replace(base, volume=replace(volume, seconds_4688=seconds))],
                                       load_config()))["ws1"]
    assert "censored" in censored.flags
    assert 12 * 50 + 11 * 400 + 100 <= censored.events_per_day.p50 <= 12 * 50 + 12 * 400


def test_few_usable_hours_widen_the_range() -> None:
    # Only the last 4 hours are held (oldest event at T0 + 19 h 10 min, so hours 0-19 go): 4 hours of 10.
    # Both configured shapes fit 4 flat night hours: the estimate lies between the flat extrapolation
    # (40 * 24 / 4 = 240) and the office one (hours 20-23 hold 1.4 of its 29.5: 40 * 29.5 / 1.4 = 843), and
    # its range is wider than the unseen-hours term of either alone.
    hourly = (0,) * 19 + (3,) + (10,) * 4
    est = _by_host(estimate_hosts([_surveyed(hourly, oldest=T0 + timedelta(hours=19, minutes=10))],
                                  load_config()))["ws1"]
    r = est.events_per_day
    assert 240 < r.p50 < 843
    assert math.log(r.p90 / r.p50) / Z90 > PRIOR_SHAPE_SD * (1 - 4 / 24)
    assert r.p10 == pytest.approx(r.p50**2 / r.p90)
    assert "partial_day" in est.flags and "24 h" in est.narrow_by
    assert any("measured over 4 h covering" in n for n in est.notes)


def test_window_entirely_before_the_log_gives_no_measured_rate() -> None:
    est = _by_host(estimate_hosts([_surveyed((0,) * 24, oldest=T0 + timedelta(hours=30))],
                                  load_config()))["ws1"]
    assert est.source in (EstimateSource.ROLE_PRIOR, EstimateSource.ROLE_PEERS)
    assert any("no hour of the window is fully held" in n for n in est.notes)


def _posterior_by_sampling(n: int, exposure: float, mu: float, sigma: float, noise: float) -> tuple[float, ...]:
    """p10/p50/p90 of ln D ~ N(mu, sigma^2) given n ~ Poisson(D x exposure x eps), ln eps ~ N(0, noise^2),
    by importance sampling from the prior: another route than model/trace_rate.py's grid."""
    rng = np.random.default_rng(15)
    x = rng.normal(mu, sigma, 400_000)
    mean = np.exp(x + rng.normal(0.0, noise, x.size)) * exposure
    logw = n * np.log(mean) - mean
    w = np.exp(logw - logw.max())
    order = np.argsort(x)
    cum = np.cumsum(w[order]) / w.sum()
    return tuple(float(np.exp(x[order][np.searchsorted(cum, q)])) for q in (0.1, 0.5, 0.9))


def test_process_trace_combines_the_count_with_its_role() -> None:
    from auditplan.records import ProcessTrace

    # 12 starts in 60 s on a flat-shaped role (prior median 1,000, sigma 1.0): the trace saw 60/86400 of the
    # day; the posterior of the role's log-normal given the count (noise 0.35, [priors] trace_noise_sigma).
    r = replace(_result("ws1", role="flatrole", audit=AuditSetting.NONE), trace=ProcessTrace(60.0, 12, T0))
    est = _by_host(estimate_hosts([r], _config(flatrole=(1000.0, 1.0))))["ws1"]
    assert est.source is EstimateSource.PROCESS_TRACE and est.flags == ("trace",)
    want = _posterior_by_sampling(12, 60 / 86400, math.log(1000), 1.0, 0.35)
    got = est.events_per_day
    for g, w in zip((got.p10, got.p50, got.p90), want, strict=True):
        assert g == pytest.approx(w, rel=0.03)
    assert 1000 < got.p50 < 12 * 1440  # between the role and the raw count scaled to a day
    assert any("live process-start trace: 12 starts in 60 s" in n for n in est.notes)
    # Zero starts: below the role, but p50 and p90 are not 0 (issue 15: a DC at 11,145/day was costed at 0).
    zero = replace(r, trace=ProcessTrace(60.0, 0, T0))
    z = _by_host(estimate_hosts([zero], _config(flatrole=(1000.0, 1.0))))["ws1"].events_per_day
    assert 0 < z.p10 < z.p50 < 1000 < z.p90
    for g, w in zip((z.p10, z.p50, z.p90), _posterior_by_sampling(0, 60 / 86400, math.log(1000), 1.0, 0.35),
                    strict=True):
        assert g == pytest.approx(w, rel=0.03)


def test_trace_is_placed_in_the_day_by_its_own_hour() -> None:
    from auditplan.records import ProcessTrace

    # The workstation role's office shape: a trace at 03:00 (night, share 0.3/29.5) says more per start about
    # the day than one at 09:00 (2.6/29.5), so the same count reads higher at night.
    night = replace(_result("ws1", audit=AuditSetting.NONE), trace=ProcessTrace(300.0, 20, T0 + timedelta(hours=3)))
    day = replace(night, trace=ProcessTrace(300.0, 20, T0 + timedelta(hours=9)))
    at_night = _by_host(estimate_hosts([night], load_config()))["ws1"].events_per_day.p50
    by_day = _by_host(estimate_hosts([day], load_config()))["ws1"].events_per_day.p50
    assert at_night > 3 * by_day


def test_short_capture_does_not_calibrate_its_role() -> None:
    """An ingested one-hour window (a seconds-long EVTX capture with one 4688) is not a peer; 12 hours is.
    A survey's short window (a Security log that holds few hours) is."""
    one_event = replace(_result("capture", hourly=(1,)), source="evtx")
    unmeasured = _result("ws-other", audit=AuditSetting.NONE)
    est = _by_host(estimate_hosts([one_event, unmeasured], load_config()))
    assert est["capture"].source is EstimateSource.MEASURED_4688  # its own figure stays, widened
    assert est["ws-other"].source is EstimateSource.ROLE_PRIOR
    assert est["ws-other"].events_per_day.p50 == pytest.approx(2000.0)  # [priors.roles.workstation]
    assert any("left out of its calibration" in n for n in est["ws-other"].notes)
    eleven = _by_host(estimate_hosts([replace(_result("busy", hourly=(200,) * 11), source="evtx"), unmeasured],
                                     load_config()))
    assert eleven["ws-other"].source is EstimateSource.ROLE_PRIOR
    surveyed = _by_host(estimate_hosts([_result("busy", hourly=(200,) * 11), unmeasured], load_config()))
    assert surveyed["ws-other"].source is EstimateSource.ROLE_PEERS
    twelve = _by_host(estimate_hosts([replace(_result("busy", hourly=(200,) * 12), source="evtx"), unmeasured],
                                     load_config()))
    assert twelve["ws-other"].source is EstimateSource.ROLE_PEERS
    # One peer (k = 1: s_w = sigma0 = 1.2) with its own p50 and log-variance v (from its own range); the
    # posterior weighs the prior by 1/1.44 and the peer by 1/(1.44 + v).
    peer = twelve["busy"].events_per_day
    mu0, y, v = math.log(2000), math.log(peer.p50), (math.log(peer.p90 / peer.p50) / Z90) ** 2
    prior_var = max(1.44, (y - mu0) ** 2 - 1.44)
    precision = 1 / prior_var + 1 / (1.44 + v)
    mu = (mu0 / prior_var + y / (1.44 + v)) / precision
    got = twelve["ws-other"].events_per_day
    assert got.p50 == pytest.approx(math.exp(mu), rel=1e-9)
    assert got.p90 == pytest.approx(math.exp(mu + Z90 * math.sqrt(1.44 + 1 / precision)), rel=1e-9)


def test_zero_rate_peer_lowers_its_role() -> None:
    """A peer with auditing on and no 4688 in 24 h counts as half an event over its window."""
    busy = [_result(f"ws{i}", hourly=(100,) * 24) for i in range(2)]
    quiet = _result("ws-quiet", hourly=(0,) * 24)
    unmeasured = _result("ws-other", audit=AuditSetting.NONE)
    without = _by_host(estimate_hosts([*busy, unmeasured], load_config()))["ws-other"]
    with_zero = _by_host(estimate_hosts([*busy, quiet, unmeasured], load_config()))["ws-other"]
    assert any("3 measured peer(s)" in n for n in with_zero.notes)
    assert with_zero.events_per_day.p50 < without.events_per_day.p50
    # By hand (docs/estimation.md "Role peers"): busy peers at 2,400 (a whole day) with log-variance
    # 1/2,400 + 0.1^2; the quiet one at ln(0.5 / 1 day) with variance 1.
    ys = [math.log(2400), math.log(2400), math.log(0.5)]
    vs = [1 / 2400 + DAY_SD**2] * 2 + [1.0]
    ybar = sum(ys) / 3
    s2 = sum((y - ybar) ** 2 for y in ys) / 2
    mu0, s0 = math.log(2000), 1.2
    sw2 = (s0**2 + 2 * max(0.0, s2 - sum(vs) / 3)) / 3
    prior_var = max(s0**2, (ybar - mu0) ** 2 - sw2 / 3)
    weights = [1 / (sw2 + v) for v in vs]
    precision = 1 / prior_var + sum(weights)
    mu = (mu0 / prior_var + sum(w * y for w, y in zip(weights, ys, strict=True))) / precision
    assert with_zero.events_per_day.p50 == pytest.approx(math.exp(mu), rel=1e-9)
    assert with_zero.events_per_day.p90 == pytest.approx(math.exp(mu + Z90 * math.sqrt(sw2 + 1 / precision)),
                                                         rel=1e-9)


def test_failed_host_note_names_the_source_used() -> None:
    results = [
        _result("ws-measured", hourly=(50,) * 24),
        _result("ws-down", status=HostStatus.AUTH_FAILED, audit=None),
        _result("dc-down", role="domain_controller", status=HostStatus.AUTH_FAILED, audit=None),
    ]
    est = _by_host(estimate_hosts(results, load_config()))
    assert est["ws-down"].source is EstimateSource.ROLE_PEERS
    assert est["ws-down"].notes[0] == "survey auth_failed: 401 from WinRM; estimate from role peers"
    assert est["dc-down"].source is EstimateSource.ROLE_PRIOR
    assert est["dc-down"].notes[0] == "survey auth_failed: 401 from WinRM; estimate from the role prior"


def test_estimate_and_project_print_the_same_fleet_range(tmp_path: Path) -> None:
    """One store: `estimate` and `project` give the same fleet 4688/day range, and it is the
    shared-error one: 40 hosts on one role prior move together."""
    db = tmp_path / "s.db"
    with Store(db) as store:
        for i in range(40):
            store.save_result(_result(f"dc{i:02d}", role="domain_controller", audit=AuditSetting.NONE))
        for i in range(5):
            store.save_result(_result(f"web{i}", role="web_server", hourly=(40 + i,) * 24))
    runner = CliRunner()
    est = runner.invoke(main, ["estimate", "--db", str(db), "--json"])
    assert est.exit_code == 0, est.output
    fleet = json.loads(est.stdout)["fleet"]
    proj = runner.invoke(main, ["project", "--db", str(db), "--siem", "splunk-xml", "--json"])
    assert proj.exit_code == 0, proj.output
    pfleet = json.loads(proj.stdout)["siem"]["splunk-xml"]["fleet"]
    for q in ("p10", "p50", "p90"):
        assert fleet[f"events_per_day_{q}"] == pytest.approx(round(pfleet[f"events_day_{q}"], 1), abs=0.051)
    assert fleet["shared_error"] == json.loads(proj.stdout)["siem"]["splunk-xml"]["method"]["shared_error"]
    # The DC prior is median 2,000, sigma 1.2: sharing one draw, 40 DCs span 40 x (p10..p90) of one
    # host, p90/p50 = e^(1.2816 * 1.2) = 4.66; drawn independently it would be ~1.2.
    assert fleet["events_per_day_p90"] / fleet["events_per_day_p50"] > 3.0
    assert fleet["events_per_day_p90"] == pytest.approx(40 * 2000 * math.exp(Z90 * 1.2), rel=0.2)


def test_cli_estimate_warns_about_retired_fleet_settings(tmp_path: Path) -> None:
    old = tmp_path / "old.toml"
    old.write_text("[priors]\nfleet_draws = 50000\nfleet_seed = 1\n", encoding="utf-8")
    db = tmp_path / "s.db"
    with Store(db) as store:
        store.save_result(_result("ws1", hourly=(5,) * 24))
    res = CliRunner().invoke(main, ["estimate", "--db", str(db), "--config", str(old), "--json"])
    assert res.exit_code == 0, res.output
    assert "[priors] fleet_draws, fleet_seed no longer read" in res.stderr
    fleet = json.loads(res.stdout)["fleet"]
    assert (fleet["draws"], fleet["seed"]) == (1000, 4688)  # [plan] draws and seed
