"""Alerts/day with a range and the analyst hours they cost (issues 15 item 7 and 18 "a plan to review").

Expected figures are worked by hand from chi-square tables (Garwood's exact Poisson interval: lower
chi2(0.10; 2K)/2, upper chi2(0.90; 2K+2)/2) and the rule of three's derivation, not from the code.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner
from gpo_helpers import plan_doc

from auditplan.cli import main
from auditplan.emit.detections import builtin_rules_dir, evaluate, load_rules
from auditplan.emit.detections.workload import poisson_interval

PS = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"
SVC = r"C:\Windows\System32\svchost.exe"

# (K, chi2(0.10; 2K)/2, chi2(0.90; 2K+2)/2) typed from a chi-square table.
TABLE = [(1, 0.2107 / 2, 7.7794 / 2), (2, 1.0636 / 2, 10.6446 / 2), (5, 4.8652 / 2, 18.5494 / 2),
         (10, 12.4426 / 2, 30.8133 / 2)]


@pytest.mark.parametrize(("hits", "lower", "upper"), TABLE)
def test_poisson_interval_matches_chi_square_tables(hits: int, lower: float, upper: float) -> None:
    lo, hi = poisson_interval(hits)
    assert lo == pytest.approx(lower, rel=2e-4) and hi == pytest.approx(upper, rel=2e-4)


def test_zero_hits_give_the_rule_of_three_at_90_percent() -> None:
    # 0 hits: P(0 | mu) = e^-mu = 0.10 -> mu = ln 10
    lower, upper = poisson_interval(0)
    assert lower == 0.0 and upper == pytest.approx(2.302585, rel=1e-6)


def test_large_counts_stay_continuous() -> None:
    # the normal approximation above 5,000 hits joins the exact sums: no step at the seam
    (lo_a, hi_a), (lo_b, hi_b) = poisson_interval(5000), poisson_interval(5001)
    assert 0 < lo_b - lo_a < 1.5 and 0 < hi_b - hi_a < 1.5


def _frame(rows: list[tuple[str, str, str]]) -> pd.DataFrame:
    return pd.DataFrame([{"host": h, "new_process_name": n, "parent_process_name": None, "subject_user_name": "a",
                          "command_line": c, "event_id": 4688} for h, n, c in rows])


@pytest.fixture(scope="module")
def rules():  # type: ignore[no-untyped-def]
    return load_rules([builtin_rules_dir()])[0]


def test_a_rule_that_never_fired_has_p90_above_zero_scaled_to_the_fleet(rules) -> None:  # type: ignore[no-untyped-def]
    rows = [("a", SVC, "svchost -k x")] * 50 + [("b", SVC, "svchost -k y")] * 50
    result = evaluate(rules, _frame(rows), {"a": 30_000.0, "b": 10_000.0})
    ftp = next(r for r in result.results if r.family == 2)
    assert ftp.hits == 0 and ftp.alerts_per_day == 0
    rng = ftp.alerts_per_day_range
    assert rng is not None and rng.p10 == 0 and rng.p50 == 0
    # 100 sampled events of a fleet at 40,000 4688/day: 40,000 x 2.3026 / 100 = 921 alerts/day at most (p90)
    assert rng.p90 == pytest.approx(40_000 * 2.302585 / 100, rel=1e-5)


def test_hits_give_a_range_around_the_weighted_p50(rules) -> None:  # type: ignore[no-untyped-def]
    hidden = (PS, "powershell -w hidden -c x")
    rows = [("a", *hidden)] * 2 + [("a", SVC, "svc")] * 98 + [("b", *hidden)] * 3 + [("b", SVC, "svc")] * 7
    result = evaluate(rules, _frame(rows), {"a": 10_000.0, "b": 500.0})
    ps = next(r for r in result.results if r.family == 3)
    # p50 by hand: a 2/100 x 10,000 = 200, b 3/10 x 500 = 150 -> 350; 5 hits: 4.8652/2 .. 18.5494/2 over 5
    rng = ps.alerts_per_day_range
    assert rng is not None and rng.p50 == pytest.approx(350.0)
    assert rng.p10 == pytest.approx(350 * 4.8652 / 2 / 5, rel=2e-4)
    assert rng.p90 == pytest.approx(350 * 18.5494 / 2 / 5, rel=2e-4)


def test_no_rate_no_range(rules) -> None:  # type: ignore[no-untyped-def]
    result = evaluate(rules, _frame([("a", SVC, "svc")] * 10), {})
    assert all(r.alerts_per_day_range is None for r in result.results)


def _store(db: Path) -> None:
    from datetime import UTC, datetime

    from auditplan.records import Host, HostResult, HostStatus, SampledEvent, VolumeSample
    from auditplan.store import Store

    now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    events = tuple(SampledEvent(time=now, event_id=4688, version=2, new_process_name=PS if i < 2 else SVC,
                                parent_process_name=None, subject_user_name="alice",
                                command_line="powershell -w hidden -c x" if i < 2 else "svchost -k x",
                                size_bytes=1500, secrets_found=0) for i in range(20))
    volume = VolumeSample(window_start=now.replace(hour=0), window_end=now.replace(hour=23), hourly_4688=(50,) * 24)
    with Store(db) as store:  # 1,200 4688/day sampled; 2 of 20 events hidden PowerShell -> 120 alerts/day
        store.save_result(HostResult(host=Host(name="web01", address="web01"), status=HostStatus.OK, reason="",
                                     collected_at=now, events=events, volume=volume))


def _plan(path: Path) -> Path:
    host = {"role": "web", "site": "x", "os_family": "2019", "change": "enable_4688", "source": "prior"}
    doc = plan_doc([{"host": "p1", "events_per_day_p50": 1000.0, **host}],
                   [{"host": "w1", "events_per_day_p50": 2000.0, **host},
                    {"host": "w2", "events_per_day_p50": 3000.0, **host}])
    path.write_text(json.dumps(doc), encoding="utf-8")
    return path


def test_cli_analyst_hours_per_wave(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _store(db)
    plan = _plan(tmp_path / "plan.json")
    result = CliRunner().invoke(main, ["detections", "evaluate", "--db", str(db), "--plan", str(plan),
                                       "--minutes-per-alert", "6", "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["minutes_per_alert"] == {"value": 6.0, "source": "--minutes-per-alert"}
    ps = next(r for r in doc["rules"] if r["family"] == 3)
    assert ps["alerts_per_day"]["p50"] == pytest.approx(120.0)  # 2/20 x 1,200
    assert ps["analyst_hours_per_day"]["p50"] == pytest.approx(12.0)  # 120 x 6 / 60
    # waves: 10 % of each wave's 4688/day are hidden PowerShell at p50 (the other rules had no hit)
    waves = {w["wave"]: w for w in doc["waves"]}
    assert waves[0]["events_per_day"] == 1000.0 and waves[1]["hosts"] == 2
    assert waves[0]["alerts_per_day"]["p50"] == pytest.approx(100.0)
    assert waves[1]["alerts_per_day"]["p50"] == pytest.approx(500.0)
    assert waves[1]["cumulative_analyst_hours_per_day"]["p50"] == pytest.approx(60.0)  # 600 x 6 / 60
    # the rules that never fired still add their p90 (the rule of three at 90 % over 20 sampled events)
    zero_p90 = 4 * 2.302585 / 20  # four rules with no hit: per 4688 event at p90
    ps_p90 = 120 * (10.6446 / 2) / 2 / 1200  # 2 hits: chi2(0.90; 6)/2 over 2, per 4688 event
    assert waves[0]["alerts_per_day"]["p90"] == pytest.approx(1000 * (zero_p90 + ps_p90), rel=2e-4)


def test_minutes_per_alert_from_a_config_file_and_bad_values(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    _store(db)
    config = tmp_path / "mine.toml"
    config.write_text("[detections]\nminutes_per_alert = 30\n", encoding="utf-8")
    runner = CliRunner()
    result = runner.invoke(main, ["detections", "evaluate", "--db", str(db), "--config", str(config), "--json"])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert doc["minutes_per_alert"] == {"value": 30.0, "source": str(config)}
    assert doc["analyst_hours_per_day"]["p50"] == pytest.approx(120 * 30 / 60)
    config.write_text("[detections]\nminutes_per_alert = -1\n", encoding="utf-8")
    bad = runner.invoke(main, ["detections", "evaluate", "--db", str(db), "--config", str(config)])
    assert bad.exit_code == 2 and "minutes per alert" in bad.output and str(config) in bad.output
    assert "Traceback" not in bad.output
    zero = runner.invoke(main, ["detections", "evaluate", "--db", str(db), "--minutes-per-alert", "0"])
    assert zero.exit_code == 2 and "Traceback" not in zero.output
