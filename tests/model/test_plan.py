"""Wave planner: a hand-computed plan, every unplaced reason, invariants (hypothesis), plan.json /
plan.csv determinism, and the `plan` / `project` commands on a real store."""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditplan.cli import main
from auditplan.config import load_defaults
from auditplan.model.plan_csv import CSV_COLUMNS, plan_csv_text, plan_rows
from auditplan.model.planner import PlanOptions, enabled_load, plan
from auditplan.model.project import Projection, project
from auditplan.model.recalibrate import recalibration
from auditplan.model.siem import load_siem_profiles
from auditplan.records import (
    AuditPolicy,
    AuditSetting,
    EstimateSource,
    Host,
    HostEstimate,
    HostResult,
    HostStatus,
    Plan,
    PlanError,
    Range,
    SecurityLog,
    SubcategorySetting,
    plan_document,
    plan_json_text,
)

# With splunk-xml (bytes = XML size, GB = 2^30) an event of 2^30 / 10^6 bytes and 10^6 * L
# events/day make exactly L GB/day: loads in these tests are written in GB/day directly.
XML_FOR_ONE_GB_PER_MILLION = 2**30 / 1e6
PROFILES = load_siem_profiles(load_defaults())


def host(
    name: str,
    gb_day: float,
    *,
    role: str = "web",
    site: str = "lon",
    os_family: str = "2022",
    on: bool = False,
    cmd_on: bool = False,
    supported: bool | None = True,
    source: EstimateSource = EstimateSource.MEASURED_4688,
) -> HostEstimate:
    events = gb_day * 1e6
    return HostEstimate(
        host=name, role=role, site=site, os_family=os_family, events_per_day=Range(events, events, events),
        source=source, peak_hour_factor=1.0, hourly_shape=(), bytes_per_event_xml=XML_FOR_ONE_GB_PER_MILLION,
        bytes_per_event_xml_no_cmdline=1000.0, cmdline_length_p50=73.7, bytes_source="sampled", already_on=on,
        cmdline_already_on=cmd_on, cmdline_supported=supported,
    )


def projected(estimates: list[HostEstimate], siem: str = "splunk-xml", survey: pd.DataFrame | None = None) -> Projection:
    return project(estimates, PROFILES[siem], retention_days=1, price_per_gb=None, currency=None, seed=1, draws=10,
                   survey=survey)


def waves_of(p: Plan) -> dict[int, set[str]]:
    return {w.number: {h.host for h in w.hosts} for w in p.waves}


def test_plan_computed_by_hand() -> None:
    fleet = [
        host("a1", 1.0), host("a2", 2.0), host("a3", 3.0),
        host("b1", 0.5, role="sql"), host("b2", 4.0, role="sql"),
        host("c1", 1.5, site="par"),
    ]
    p = plan(projected(fleet), PlanOptions(budget_kind="gb_day", budget=10.0, max_step=4.0))
    # Pilot: the lightest host of each (role, OS, site) stratum: b1 0.5 + a1 1.0 + c1 1.5 = 3.0 <= step 4.
    # Then by load: a2 (2.0) opens wave 1 (cumulative 5.0); a3 (3.0) would make wave 1 5.0 > 4, so
    # wave 2 (cumulative 8.0); b2 (4.0) would make 12.0 > 10: unplaced, 2.0 of headroom left.
    assert waves_of(p) == {0: {"a1", "b1", "c1"}, 1: {"a2"}, 2: {"a3"}}
    assert [(h.host, h.reason) for h in p.unplaced] == [("b2", "exceeds_budget: load 4, headroom left 2")]
    doc = plan_document(p)
    assert [w["cumulative"]["gb_day_p90"] for w in doc["waves"]] == pytest.approx([3.0, 5.0, 8.0])
    assert [w["load"]["gb_day_p50"] for w in doc["waves"]] == pytest.approx([3.0, 2.0, 3.0])
    assert doc["waves"][0]["name"] == "pilot" and doc["waves"][1]["name"] == "wave 1"


def test_first_group_goes_first() -> None:
    fleet = [host("p", 0.1, role="dc"), host("q", 0.1, role="web"), host("w1", 1.0), host("d1", 3.0, role="dc")]
    p = plan(projected(fleet), PlanOptions(budget_kind="gb_day", budget=100.0, max_step=3.0, first=("role:dc",)))
    # Without --first, w1 (1.0) would come before d1 (3.0); with it, d1 fills wave 1 alone.
    assert waves_of(p) == {0: {"p", "q"}, 1: {"d1"}, 2: {"w1"}}
    with pytest.raises(PlanError, match="--first 'colour:red'"):
        plan(projected(fleet), PlanOptions(budget_kind="gb_day", budget=1.0, max_step=1.0, first=("colour:red",)))


def test_every_unplaced_reason() -> None:
    fleet = [
        host("ok1", 0.1), host("ok2", 0.2), host("ok3", 0.3), host("ok4", 0.3),
        host("down", 0.1),
        host("old", 0.1, os_family="2008r2", supported=False),
        host("done", 0.1, site="par", on=True, cmd_on=True),  # another site: it does not cover ok1's stratum
        host("excl", 0.1),
        host("huge", 9.0),
    ]
    survey = pd.DataFrame(
        {"host": ["ok1", "down", "orphan", "gone"], "status": ["ok", "unreachable", "ok", "auth_failed"],
         "reason": ["", "connection refused", "", "401"], "group": [None, None, None, None]}
    )
    options = PlanOptions(budget_kind="gb_day", budget=100.0, max_step=0.35, max_waves=1,
                          exclude={"excl": "skip.txt:3"})
    p = plan(projected(fleet), options, survey=survey)
    reasons = {h.host: h.reason for h in p.unplaced}
    assert reasons["excl"] == "excluded: skip.txt:3"
    assert reasons["down"] == "unreachable: survey unreachable: connection refused"
    assert reasons["gone"] == "unreachable: survey auth_failed: 401"
    assert reasons["old"].startswith("cmdline_unsupported: command-line auditing needs Windows 8.1 / Server 2012 R2")
    assert reasons["done"].startswith("already_enabled:")
    assert reasons["orphan"].startswith("no_estimate:")
    assert reasons["huge"] == "exceeds_step: load 9 > step 0.35"
    # Pilot: ok1 (the one stratum's lightest, 0.1). Wave 1: ok2 0.2; ok3 0.3 would make 0.5 > 0.35,
    # and there is no wave 2 (--max-waves 1): ok3 and ok4 are left over.
    assert waves_of(p) == {0: {"ok1"}, 1: {"ok2"}}
    assert reasons["ok3"] == reasons["ok4"] == "max_waves: all 1 waves are full"


def test_cmdline_only_host_adds_only_its_command_line() -> None:
    # 4688 already on, command line off: only (XML - XML without command line) bytes count.
    e = host("half", 1.0, on=True)
    p = plan(projected([e]), PlanOptions(budget_kind="gb_day", budget=1.0, max_step=1.0))
    placed = p.waves[0].hosts[0]
    assert placed.change == "cmdline_only"
    assert placed.gb_day_p90 == pytest.approx(1e6 * (XML_FOR_ONE_GB_PER_MILLION - 1000.0) / 2**30)


def test_eps_budget_uses_peak_for_eps_licences() -> None:
    e1 = HostEstimate(
        host="e1", role="web", site="lon", os_family="2022", events_per_day=Range(86_400, 86_400, 86_400),
        source=EstimateSource.MEASURED_4688, peak_hour_factor=3.0, hourly_shape=(), bytes_per_event_xml=1500.0,
        bytes_per_event_xml_no_cmdline=1420.0, cmdline_length_p50=80.0, bytes_source="sampled", already_on=False,
        cmdline_already_on=False, cmdline_supported=True,
    )
    options = PlanOptions(budget_kind="eps", budget=2.5, max_step=10.0)
    # QRadar counts the peak: 1 event/s mean x 3 = 3 EPS > 2.5.
    assert plan(projected([e1], "qradar"), options).unplaced[0].reason.startswith("exceeds_budget: load 3,")
    # The WEF collector plans on the mean (1 EPS), which fits.
    assert waves_of(plan(projected([e1], "wef"), options)) == {0: {"e1"}}


def test_small_pilot_size_covers_each_role_os_and_site() -> None:
    fleet = [host(f"{r}-{s}", 0.1 + 0.01 * i, role=r, site=s)
             for i, (r, s) in enumerate((r, s) for r in ("web", "sql", "dc") for s in ("lon", "par", "nyc"))]
    p = plan(projected(fleet), PlanOptions(budget_kind="gb_day", budget=100.0, max_step=100.0, pilot_size=4))
    assert p.pilot_coverage == "marginal"
    pilot = p.waves[0].hosts
    assert len(pilot) == 3  # 3 roles x 3 sites: a diagonal of 3 hosts covers every role and site
    assert {h.role for h in pilot} == {"web", "sql", "dc"} and {h.site for h in pilot} == {"lon", "par", "nyc"}


def test_plan_json_shape_and_determinism() -> None:
    fleet = [host(f"h{i:02d}", 0.05 * (i % 7 + 1), role=f"r{i % 3}", site=f"s{i % 2}") for i in range(40)]
    options = PlanOptions(budget_kind="gb_day", budget=5.0, max_step=0.8)
    one = plan_json_text(plan_document(plan(projected(fleet), options)))
    shuffled = list(fleet)
    random.Random(4).shuffle(shuffled)
    two = plan_json_text(plan_document(plan(projected(shuffled), options)))
    assert one == two
    doc = json.loads(one)
    assert doc["schema_version"] == 1 and len(doc["plan_id"]) == 32
    assert doc["budget"] == {"kind": "gb_day", "value": 5.0, "quantile": "p90", "max_step": 0.8, "max_waves": None,
                             "pilot_size": None, "first": []}
    first_host = doc["waves"][0]["hosts"][0]
    for key in ("host", "role", "site", "os_family", "events_per_day_p50", "events_per_day_p90", "gb_day_p50",
                "gb_day_p90", "local_subcategories", "recommended_log_max_size_mb"):
        assert key in first_host
    for key in ("gb_day_p50", "gb_day_p90", "eps_mean_p50", "eps_peak_p90"):
        assert key in doc["waves"][0]["load"]
    # The plan id changes with the inputs.
    other = plan_document(plan(projected(fleet), PlanOptions(budget_kind="gb_day", budget=5.0, max_step=0.7)))
    assert other["plan_id"] != doc["plan_id"]


def test_plan_rows_list_every_host_once() -> None:
    fleet = [host("a", 1.0), host("b", 50.0), host("c", 0.5, on=True, cmd_on=True)]
    p = plan(projected(fleet), PlanOptions(budget_kind="gb_day", budget=10.0, max_step=10.0))
    rows = plan_rows(p)
    assert [r["host"] for r in rows] == ["a", "b", "c"]
    # c already audits 4688 + command line in a's stratum: that stratum needs no pilot, a is wave 1.
    assert [r["wave"] for r in rows] == [1, "", ""]
    assert set(rows[0]) == set(CSV_COLUMNS)


fleet_strategy = st.lists(
    st.tuples(
        st.floats(min_value=0.0, max_value=5.0, allow_nan=False),
        st.sampled_from(["dc", "web", "sql", None]),
        st.sampled_from(["lon", "par", None]),
        st.sampled_from(["2016", "2022"]),
        st.sampled_from(["off", "off", "off", "half", "done"]),
    ),
    min_size=0,
    max_size=40,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    specs=fleet_strategy,
    budget=st.floats(min_value=0.1, max_value=60.0),
    step=st.floats(min_value=0.1, max_value=20.0),
    max_waves=st.one_of(st.none(), st.integers(min_value=1, max_value=4)),
    pilot_size=st.one_of(st.none(), st.integers(min_value=1, max_value=6)),
    target=st.sampled_from([("gb_day", "splunk-xml"), ("eps", "qradar"), ("eps", "wef")]),
)
def test_planner_invariants(
    specs: list[tuple[float, str | None, str | None, str, str]],
    budget: float,
    step: float,
    max_waves: int | None,
    pilot_size: int | None,
    target: tuple[str, str],
) -> None:
    fleet = [
        host(f"h{i}", load, role=role or "", site=site or "", os_family=os_family,
             on=state != "off", cmd_on=state == "done")
        for i, (load, role, site, os_family, state) in enumerate(specs)
    ]
    for e in fleet:  # "" -> None: hosts without a role or site
        object.__setattr__(e, "role", e.role or None)
        object.__setattr__(e, "site", e.site or None)
    kind, siem = target
    options = PlanOptions(budget_kind=kind, budget=budget, max_step=step, max_waves=max_waves,
                          pilot_size=pilot_size)
    p = plan(projected(fleet, siem), options)

    placed = [h for w in p.waves for h in w.hosts]
    names = [h.host for h in placed] + [h.host for h in p.unplaced]
    assert sorted(names) == sorted(e.host for e in fleet)  # every host exactly once
    total = sum(h.load for h in placed)
    assert total <= budget * (1 + 1e-12)
    for w in p.waves:
        assert sum(h.load for h in w.hosts) <= step * (1 + 1e-12)
        assert all(h.wave == w.number for h in w.hosts)
    assert [w.number for w in p.waves] == sorted(w.number for w in p.waves)
    if max_waves is not None:
        assert all(w.number <= max_waves for w in p.waves)
    for h in p.unplaced:
        assert h.wave is None and h.reason
        if h.reason.startswith("exceeds_step"):
            assert h.load > step
        if h.reason.startswith("exceeds_budget"):
            assert h.load > budget - total  # the budget only fills up, so it never had room
    pilot = next((w.hosts for w in p.waves if w.number == 0), ())
    if not p.warnings:
        if p.pilot_coverage == "stratum":
            # Strata where a host already audits 4688 + command line need no pilot host.
            assert {h.stratum for h in placed} - set(p.done_strata) <= {h.stratum for h in pilot}
            assert not {h.stratum for h in pilot} & set(p.done_strata)
        else:
            for i in range(3):
                assert {h.stratum[i] for h in placed if h.stratum not in p.done_strata} <= {
                    h.stratum[i] for h in pilot}
    doc = plan_document(p)
    if doc["waves"]:
        assert doc["waves"][-1]["cumulative"]["budget"] <= budget * (1 + 1e-5)  # 6 significant digits
    # Deterministic, whatever the input order.
    again = plan(projected(list(reversed(fleet)), siem), options)
    assert plan_json_text(plan_document(again)) == plan_json_text(doc)


def test_recalibration_reports_measured_hosts_and_moves() -> None:
    fleet = [host("a", 1.0), host("b", 2.0, role="sql"), host("c", 3.0)]
    options = PlanOptions(budget_kind="gb_day", budget=10.0, max_step=3.0)
    before = plan_document(plan(projected(fleet), options))
    assert waves_of(plan(projected(fleet), options)) == {0: {"a", "b"}, 1: {"c"}}
    # The pilot ran: a now measures 4688 (twice the assumed rate) and needs no change any more.
    now = [host("a", 2.0, on=True, cmd_on=True), host("b", 2.0, role="sql", on=True, cmd_on=True), host("c", 3.0)]
    after = plan(projected(now), options)
    recal = recalibration(before, after, {"a": 2e6, "b": 2e6})
    assert recal["previous_plan_id"] == before["plan_id"]
    # c's stratum (web, lon) is covered by a's real data now: c needs no pilot and stays in wave 1.
    assert {(m["host"], m["from"], m["to"]) for m in recal["moved"]} == {("a", 0, None), ("b", 0, None)}
    assert waves_of(after) == {1: {"c"}}
    enabled = {e["host"]: e for e in recal["enabled"]}
    assert enabled["a"]["ratio"] == pytest.approx(2.0) and enabled["b"]["ratio"] == pytest.approx(1.0)


# ---- the commands, on a real store ----------------------------------------------------------

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def result(name: str, status: HostStatus = HostStatus.OK, *, max_mb: int = 20, file_mb: int = 20,
           hours: float = 48.0, role: str = "web") -> HostResult:
    log = SecurityLog(max_size_bytes=max_mb * 2**20, retention="overwrite", file_size_bytes=file_mb * 2**20,
                      record_count=1000, oldest_record_number=1, oldest_time=NOW - timedelta(hours=hours),
                      newest_time=NOW)
    audit = AuditPolicy(
        process_creation=AuditSetting.NONE, cmdline_enabled=False, sce_no_apply_legacy=True,
        subcategories=(SubcategorySetting("{0cce9215-69ae-11d9-bed3-505054503030}", "Logon",
                                          AuditSetting.SUCCESS_AND_FAILURE),),
    )
    ok = status == HostStatus.OK
    return HostResult(host=Host(name=name, address=name, role=role, site="lon"), status=status,
                      reason="" if ok else "connection refused", collected_at=NOW,
                      security_log=log if ok else None, audit=audit if ok else None)


@pytest.fixture
def store_db(tmp_path: Path) -> Path:
    from auditplan.store import Store

    db = tmp_path / "ap.db"
    with Store(db) as store:
        for r in (result("web01"), result("web02"), result("sql01", role="sql"), result("down01", HostStatus.UNREACHABLE)):
            store.save_result(r)
        store.save_estimates("latest", [host("web01", 0.2), host("web02", 0.4), host("sql01", 0.3, role="sql"),
                                        host("down01", 0.1, source=EstimateSource.ROLE_PRIOR)])
    return db


def test_plan_command_writes_identical_files(store_db: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    args = ["plan", "--db", str(store_db), "--budget-gb-day", "1.0", "--max-step-gb-day", "0.5"]
    first = runner.invoke(main, [*args, "--out", str(tmp_path / "one")])
    assert first.exit_code == 0, first.output
    second = runner.invoke(main, [*args, "--out", str(tmp_path / "two")])
    assert second.exit_code == 0, second.output
    for name in ("plan.json", "plan.csv"):
        assert (tmp_path / "one" / name).read_bytes() == (tmp_path / "two" / name).read_bytes()
    doc = json.loads((tmp_path / "one" / "plan.json").read_text(encoding="utf-8"))
    # Pilot: web01 (web) + sql01 (sql) = 0.5; wave 1: web02 0.4 (cumulative 0.9 <= 1.0).
    assert {w["wave"]: sorted(h["host"] for h in w["hosts"]) for w in doc["waves"]} == {
        0: ["sql01", "web01"], 1: ["web02"]}
    assert doc["unplaced"][0]["host"] == "down01"
    assert doc["unplaced"][0]["reason"] == "unreachable: survey unreachable: connection refused"
    web01 = doc["waves"][0]["hosts"][1]
    assert web01["local_subcategories"] == [
        {"guid": "{0cce9215-69ae-11d9-bed3-505054503030}", "name": "Logon", "setting": "success_and_failure"}]
    # 20 MB log full after 48 h today, plus 0.2e6 events/day: far below 168 h, so a bigger MaxSize.
    assert web01["recommended_log_max_size_mb"] >= 64
    rows = list(csv.DictReader(io.StringIO((tmp_path / "one" / "plan.csv").read_text(encoding="utf-8"))))
    assert [r["host"] for r in rows] == ["down01", "sql01", "web01", "web02"]
    assert [r["wave"] for r in rows] == ["", "0", "0", "1"]
    assert list(rows[0]) == list(CSV_COLUMNS)


def test_plan_command_recalibrates_against_the_previous_plan(store_db: Path, tmp_path: Path) -> None:
    from auditplan.store import Store

    runner = CliRunner()
    args = ["plan", "--db", str(store_db), "--budget-gb-day", "1.0", "--max-step-gb-day", "0.5",
            "--out", str(tmp_path / "out")]
    assert runner.invoke(main, args).exit_code == 0
    with Store(store_db) as store:  # the pilot ran; web01 now measures 4688 with its command line
        store.save_estimates("latest", [host("web01", 0.3, on=True, cmd_on=True), host("web02", 0.4),
                                        host("sql01", 0.3, role="sql"), host("down01", 0.1)])
    again = runner.invoke(main, args)
    assert again.exit_code == 0, again.output
    assert "Changes since plan" in again.output
    recal = json.loads((tmp_path / "out" / "recalibration.json").read_text(encoding="utf-8"))
    assert recal["enabled"] == [{"host": "web01", "wave": 0, "assumed_events_per_day_p50": 200000.0,
                                 "measured_events_per_day_p50": 300000.0, "ratio": 1.5}]


def test_plan_command_bad_input_is_a_clear_error(store_db: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    both = runner.invoke(main, ["plan", "--db", str(store_db), "--budget-gb-day", "1", "--budget-eps", "1"])
    assert both.exit_code == 2 and "exactly one of --budget-gb-day and --budget-eps" in both.output
    missing = runner.invoke(main, ["plan", "--db", str(tmp_path / "nope.db"), "--budget-gb-day", "1"])
    assert missing.exit_code == 2 and "no store here" in missing.output and "Traceback" not in missing.output
    siem = runner.invoke(main, ["plan", "--db", str(store_db), "--budget-gb-day", "1", "--siem", "splunkk"])
    assert siem.exit_code == 2 and "unknown SIEM profile 'splunkk'" in siem.output
    skip = tmp_path / "skip.txt"
    skip.write_text("# not these\nweb02   # retiring\n\nsql01 extra words\n", encoding="utf-8")
    out = tmp_path / "ex"
    excl = runner.invoke(main, ["plan", "--db", str(store_db), "--budget-gb-day", "1", "--exclude", str(skip),
                                "--out", str(out)])
    assert excl.exit_code == 0, excl.output
    assert f"{skip}:4: only the first word (sql01)" in excl.output
    doc = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    assert {h["host"]: h["reason"] for h in doc["unplaced"]}["web02"] == "excluded: skip.txt:2"


def test_project_command_json_and_table(store_db: Path) -> None:
    runner = CliRunner()
    res = runner.invoke(main, ["project", "--db", str(store_db), "--siem", "sentinel", "--price-per-gb", "2",
                               "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    sentinel = doc["siem"]["sentinel"]
    # Hand: 4 hosts of 0.2/0.4/0.3/0.1 x 10^6 events/day; Sentinel bills the 1000 B without the
    # command line once and its 73.741824 B x 2 (CommandLine column + EventData); GB = 10^9 B.
    per_event = 1000.0 + 2.0 * (XML_FOR_ONE_GB_PER_MILLION - 1000.0)
    expected = (0.2 + 0.4 + 0.3 + 0.1) * 1e6 * per_event / 1e9
    assert sentinel["fleet"]["added_gb_day_p50"] == pytest.approx(expected, rel=1e-4)
    assert sentinel["fleet"]["added_cost_month_p50"] == pytest.approx(expected * 365.25 / 12 * 2, rel=1e-4)
    assert [r["group"] for r in sentinel["by_role"]] == ["sql", "web"]
    assert len(sentinel["hosts"]) == 4
    table = runner.invoke(main, ["project", "--db", str(store_db), "--all-profiles"])
    assert table.exit_code == 0, table.output
    for name in ("splunk-classic", "sentinel", "scom", "Fleet added load by SIEM"):
        assert name in table.output
    as_csv = runner.invoke(main, ["project", "--db", str(store_db), "--siem", "wef", "--csv"])
    assert as_csv.exit_code == 0 and as_csv.output.startswith("siem,host,role,")


def test_plan_csv_neutralises_formulas_in_host_text() -> None:
    fleet = [host("=HYPERLINK(1)", 0.1, role="+web", site="@lon"), host("plain", 0.2)]
    text = plan_csv_text(plan(projected(fleet), PlanOptions(budget_kind="gb_day", budget=10.0, max_step=10.0)))
    assert text.startswith("host,wave,reason,gb_day_p50,gb_day_p90,role,site\r\n")
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[1][0] == "'=HYPERLINK(1)" and rows[1][5] == "'+web" and rows[1][6] == "'@lon"
    assert rows[2] == ["plain", "0", "", "0.2", "0.2", "web", "lon"]


def test_project_command_reports_the_command_line_delta(tmp_path: Path) -> None:
    from auditplan.store import Store

    db = tmp_path / "delta.db"
    with Store(db) as store:
        store.save_result(result("half01"))
        store.save_result(result("off01"))
        store.save_estimates("latest", [host("half01", 1.0, on=True), host("off01", 1.0)])
    res = CliRunner().invoke(main, ["project", "--db", str(db), "--siem", "splunk-xml", "--json"])
    assert res.exit_code == 0, res.output
    changes = json.loads(res.output)["siem"]["splunk-xml"]["changes"]
    # 10^6 events/day x 73.741824 B of CommandLine / 2^30 on the host already auditing 4688.
    assert changes["cmdline_only"]["hosts"] == 1
    assert changes["cmdline_only"]["added_gb_day_p50"] == pytest.approx(1e6 * (XML_FOR_ONE_GB_PER_MILLION - 1000) / 2**30)
    assert changes["enable_4688"]["added_gb_day_p50"] == pytest.approx(1.0)


def test_unusable_estimate_is_unplaced_and_kept_out_of_totals() -> None:
    good = host("good", 1.0)
    broken = HostEstimate(
        host="broken", role="web", site="lon", os_family="2022", events_per_day=Range(float("nan"), float("nan"),
                                                                                     float("nan")),
        source=EstimateSource.ROLE_PRIOR, peak_hour_factor=1.0, hourly_shape=(), bytes_per_event_xml=1500.0,
        bytes_per_event_xml_no_cmdline=1400.0, cmdline_length_p50=None, bytes_source="dev_set", already_on=False,
        cmdline_already_on=False, cmdline_supported=True,
    )
    proj = projected([good, broken])
    assert proj.fleet.iloc[0]["added_gb_day_p50"] == pytest.approx(1.0, rel=1e-5)
    assert any("broken" in w for w in proj.warnings)
    p = plan(proj, PlanOptions(budget_kind="gb_day", budget=10.0, max_step=10.0))
    assert {h.host: h.reason for h in p.unplaced} == {
        "broken": "no_estimate: the estimate has missing or negative numbers"}
    assert json.loads(plan_json_text(plan_document(p)))["unplaced"][0]["gb_day_p90"] is None


def test_bad_plan_config_is_named(store_db: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('[plan]\ndraws = "many"\n', encoding="utf-8")
    res = CliRunner().invoke(main, ["project", "--db", str(store_db), "--config", str(bad)])
    assert res.exit_code == 2 and "plan.draws: expected a number from 10 to 100,000, got 'many'" in res.output
    bad.write_text("[local_log]\nmin_local_hours = 0\n", encoding="utf-8")
    res = CliRunner().invoke(main, ["project", "--db", str(store_db), "--config", str(bad)])
    assert res.exit_code == 2 and "local_log.min_local_hours: expected a number > 0" in res.output


def test_project_command_host_rows_have_every_metric_at_every_quantile(store_db: Path) -> None:
    """Per host: events/day, mean and peak EPS, GB/day, GB held and cost/month as p10/p50/p90, for the
    whole 4688 stream and for the added load (the issue's per-host p10/p50/p90)."""
    runner = CliRunner()
    res = runner.invoke(main, ["project", "--db", str(store_db), "--siem", "splunk-xml", "--price-per-gb", "2",
                               "--retention-days", "30", "--json"])
    assert res.exit_code == 0, res.output
    rows = {r["host"]: r for r in json.loads(res.output)["siem"]["splunk-xml"]["hosts"]}
    metrics = ("events_day", "eps_mean", "eps_peak", "gb_day", "gb_held", "cost_month")
    wanted = {f"{prefix}{m}_{q}" for prefix in ("", "added_") for m in metrics for q in ("p10", "p50", "p90")}
    assert wanted <= set(rows["web01"])
    # web01: 0.2e6 events/day (a point range) of 2^30/10^6 B, splunk-xml (GB = 2^30, storage x1),
    # not yet audited so all of it is added; flat shape -> peak factor 1.
    for prefix in ("", "added_"):
        for q in ("p10", "p50", "p90"):
            r = rows["web01"]
            assert r[f"{prefix}events_day_{q}"] == pytest.approx(0.2e6)
            assert r[f"{prefix}eps_mean_{q}"] == pytest.approx(0.2e6 / 86400)
            assert r[f"{prefix}eps_peak_{q}"] == pytest.approx(0.2e6 / 86400)
            assert r[f"{prefix}gb_day_{q}"] == pytest.approx(0.2)
            assert r[f"{prefix}gb_held_{q}"] == pytest.approx(0.2 * 30)
            assert r[f"{prefix}cost_month_{q}"] == pytest.approx(0.2 * 365.25 / 12 * 2)
    as_csv = runner.invoke(main, ["project", "--db", str(store_db), "--siem", "splunk-xml", "--csv"])
    assert as_csv.exit_code == 0, as_csv.output
    header = as_csv.output.splitlines()[0].split(",")
    assert wanted <= set(header)


def test_replan_after_a_wave_says_what_the_enabled_hosts_carry(tmp_path: Path) -> None:
    """Plan 1 (budget 1.0) puts web01 + sql01 (0.2 + 0.3) in the pilot and web02 (0.5) in wave 1.
    The pilot is enabled and re-surveyed at 0.3 + 0.3; plan 2 with the same budget places web02
    from 0 again, so the SIEM would carry 0.6 + 0.5 = 1.1 > 1.0. The command must say so and give
    the budget that is left: 1.0 - 0.6 = 0.4."""
    from auditplan.store import Store

    db = tmp_path / "ap.db"
    with Store(db) as store:
        for r in (result("web01"), result("web02"), result("sql01", role="sql")):
            store.save_result(r)
        store.save_estimates("latest", [host("web01", 0.2), host("web02", 0.5), host("sql01", 0.3, role="sql")])
    runner = CliRunner()
    args = ["plan", "--db", str(db), "--budget-gb-day", "1.0", "--max-step-gb-day", "0.5", "--out", str(tmp_path)]
    first = runner.invoke(main, args)
    assert first.exit_code == 0, first.output
    assert "Already auditing 4688" not in first.output  # nothing enabled yet: nothing to say
    doc = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert {w["wave"]: sorted(h["host"] for h in w["hosts"]) for w in doc["waves"]} == {
        0: ["sql01", "web01"], 1: ["web02"]}
    with Store(db) as store:  # the pilot ran and was re-surveyed: both measure 0.3 GB/day
        store.save_estimates("latest", [host("web01", 0.3, on=True, cmd_on=True), host("web02", 0.5),
                                        host("sql01", 0.3, role="sql", on=True, cmd_on=True)])
    again = runner.invoke(main, args)
    assert again.exit_code == 0, again.output
    text = " ".join(again.output.split())  # rich wraps long lines
    assert "Already auditing 4688: 2 host(s) (2 measured), 0.6 GB/day (p90) today." in text
    assert "--budget-gb-day is headroom for the ADDED load only" in text
    assert "2 of them were enabled by waves of earlier plans (they audit more now than when placed), " \
           "which added 0.6 GB/day (p90)" in text
    assert "give --budget-gb-day 0.4 now (1 - 0.6)" in text
    assert "warning: earlier waves 0.6 + this plan 0.5 = 1.1 GB/day > the first plan's budget 1" in text
    # Following the advice keeps the SIEM within the first headroom: web02 (0.5) no longer fits.
    fixed = runner.invoke(main, [*args[:4], "0.4", *args[5:]])
    assert fixed.exit_code == 0, fixed.output
    doc = json.loads((tmp_path / "plan.json").read_text(encoding="utf-8"))
    assert doc["waves"] == [] and {h["host"] for h in doc["unplaced"]} == {"web01", "web02", "sql01"}
    assert "warning: earlier waves" not in " ".join(fixed.output.split())


def _earlier(fleet: list[HostEstimate], kind: str = "gb_day") -> dict[str, Any]:
    """plan.json of a plan of `fleet` that places every host that can be placed."""
    return plan_document(plan(projected(fleet), PlanOptions(budget_kind=kind, budget=1000.0, max_step=1000.0)))


# Before any wave: "new" audits nothing, "half" audits 4688 without its command line, "full" both.
BEFORE = [host("new", 0.2), host("half", 0.5, on=True), host("full", 0.4, on=True, cmd_on=True)]
# The CommandLine part of half's 0.5e6 events/day with splunk-xml (GB = 2^30, cmdline factor 1):
# (2^30/10^6 - 1000) B of XML per event, see host().
HALF_CMDLINE_GB = 0.5e6 * (XML_FOR_ONE_GB_PER_MILLION - 1000.0) / 2**30


def test_enabled_load_nothing_rolled_out_is_no_rollout() -> None:
    """"half" audits 4688 today and sits in the earlier plan's wave, but it sits there waiting: its
    state is what that plan saw, so no wave enabled it and the budget needs no lowering."""
    earlier = _earlier(BEFORE)
    assert {h["host"]: h["change"] for w in earlier["waves"] for h in w["hosts"]} == {
        "new": "enable_4688", "half": "cmdline_only"}
    options = PlanOptions(budget_kind="gb_day", budget=0.5, max_step=0.5)
    e = enabled_load(projected(BEFORE), options, [earlier])
    assert (e.hosts, e.cmdline_only, e.placed_hosts) == (2, 1, 2)
    assert e.rollout_hosts == 0 and e.rollout_load == 0.0
    assert e.first_budget == 1000.0
    # Today: half without its command line (0.5 - HALF_CMDLINE_GB) + full's whole stream (0.4).
    assert e.load == pytest.approx(0.5 - HALF_CMDLINE_GB + 0.4)


def test_enabled_load_counts_a_rolled_out_enable_wave_whole() -> None:
    earlier = _earlier(BEFORE)
    now = [host("new", 0.3, on=True, cmd_on=True), BEFORE[1], BEFORE[2]]  # new's wave ran: measures 0.3
    e = enabled_load(projected(now), PlanOptions(budget_kind="gb_day", budget=0.5, max_step=0.5), [earlier])
    assert e.rollout_hosts == 1 and e.rollout_load == pytest.approx(0.3)


def test_enabled_load_counts_only_the_command_line_of_a_rolled_out_cmdline_host() -> None:
    now = [BEFORE[0], host("half", 0.5, on=True, cmd_on=True), BEFORE[2]]  # half's wave ran
    gb = enabled_load(projected(now), PlanOptions(budget_kind="gb_day", budget=0.5, max_step=0.5), [_earlier(BEFORE)])
    assert gb.rollout_hosts == 1
    assert gb.rollout_load == pytest.approx(HALF_CMDLINE_GB)  # ~0.0343, not its whole 0.5
    # The command line adds bytes, not events: nothing against an events/s budget.
    eps = enabled_load(projected(now), PlanOptions(budget_kind="eps", budget=5.0, max_step=5.0),
                       [_earlier(BEFORE, "eps")])
    assert eps.rollout_hosts == 1 and eps.rollout_load == 0.0


def _store_before_rollout(tmp_path: Path) -> Path:
    """A store with the three BEFORE hosts surveyed and estimated."""
    from auditplan.store import Store

    db = tmp_path / "ap.db"
    with Store(db) as store:
        for name in ("new", "half", "full"):
            store.save_result(result(name))
        store.save_estimates("latest", BEFORE)
    return db


def test_plan_run_gives_the_headroom_left_and_the_overrun(tmp_path: Path) -> None:
    """The re-plan arithmetic the command prints is the library's (model.api.PlanRun): the same
    scenario as above, through the front door."""
    from auditplan.model import api
    from auditplan.store import Store

    db = tmp_path / "ap.db"
    with Store(db) as store:
        for r in (result("web01"), result("web02"), result("sql01", role="sql")):
            store.save_result(r)
        store.save_estimates("latest", [host("web01", 0.2), host("web02", 0.5), host("sql01", 0.3, role="sql")])
    first = api.plan(db, budget_kind=api.BUDGET_GB_DAY, budget=1.0, max_step=0.5, out_dir=tmp_path)
    assert (first.headroom_left, first.rollout_total, first.over_first_budget) == (None, None, False)
    with Store(db) as store:
        store.save_estimates("latest", [host("web01", 0.3, on=True, cmd_on=True), host("web02", 0.5),
                                        host("sql01", 0.3, role="sql", on=True, cmd_on=True)])
    again = api.plan(db, budget_kind=api.BUDGET_GB_DAY, budget=1.0, max_step=0.5, out_dir=tmp_path)
    assert again.headroom_left == pytest.approx(0.4) and again.rollout_total == pytest.approx(1.1)
    assert again.over_first_budget
    fixed = api.plan(db, budget_kind=api.BUDGET_GB_DAY, budget=0.4, max_step=0.5, out_dir=tmp_path)
    assert fixed.headroom_left == pytest.approx(0.4) and fixed.rollout_total == pytest.approx(0.6)
    assert not fixed.over_first_budget


def test_replan_without_a_rollout_gives_no_earlier_waves_advice(tmp_path: Path) -> None:
    """Two plans, no wave enabled in between (the demo's `plan 0.62` then `plan 0.5`): the hosts that
    already audit 4688 without the command line sit in both plans' waves, but neither plan's waves ran,
    so there is no budget to subtract."""
    db = _store_before_rollout(tmp_path)
    runner = CliRunner()
    base = ["plan", "--db", str(db), "--out", str(tmp_path)]
    assert runner.invoke(main, [*base, "--budget-gb-day", "1.0"]).exit_code == 0
    second = runner.invoke(main, [*base, "--budget-gb-day", "0.8"])
    assert second.exit_code == 0, second.output
    text = " ".join(second.output.split())
    assert "enabled by waves of earlier plans" not in text and "give --budget-gb-day" not in text
    assert "Earlier plans in this store placed 2 host(s) in waves; none of them audits more now" in text
    # The budget leaves out the stream half and full send today, not the command line it adds to half.
    assert "Already auditing 4688: 2 host(s) (2 measured)" in text
    assert "leaves out the 4688 stream these hosts send today" in text
    assert "1 of them audit 4688 without its command line: the command line this plan adds to them is " \
           "added load: it counts against --budget-gb-day." in text
    assert "does not count them" not in text


def test_replan_first_budget_stays_the_first_after_a_plan_is_re_run(tmp_path: Path) -> None:
    """Plans 1.0, 0.8, then 1.0 again (the same plan_id, saved again), then a wave runs: the first
    plan's budget is still 1.0, not the 0.8 of the plan saved in between."""
    from auditplan.store import Store

    db = _store_before_rollout(tmp_path)
    runner = CliRunner()
    base = ["plan", "--db", str(db), "--out", str(tmp_path)]
    for budget in ("1.0", "0.8", "1.0"):
        assert runner.invoke(main, [*base, "--budget-gb-day", budget]).exit_code == 0
    with Store(db) as store:  # new's wave ran and was re-surveyed: 0.3 GB/day
        store.save_estimates("latest", [host("new", 0.3, on=True, cmd_on=True), *BEFORE[1:]])
    after = runner.invoke(main, [*base, "--budget-gb-day", "0.5"])
    assert after.exit_code == 0, after.output
    text = " ".join(after.output.split())
    assert "1 of them were enabled by waves of earlier plans" in text
    assert "The first plan in this store had --budget-gb-day 1:" in text
    assert "give --budget-gb-day 0.7 now (1 - 0.3)" in text


# ---- the host's state before its wave (plan.json prior_*) --------------------------------------


def test_prior_state_comes_from_the_live_survey_and_leaves_the_plan_id_alone() -> None:
    fleet = [host("a", 0.1), host("b", 0.2), host("c", 0.3), host("d", 0.4)]
    survey = pd.DataFrame({
        "host": ["a", "b", "b", "c", "d"],
        "status": ["ok", "ok", "ok", "ok", "ok"],
        # b: the EVTX ingest infers "success" (it cannot see Failure); the WinRM survey read both flags.
        "source": ["winrm", "evtx", "winrm", "evtx", "winrm"],
        "process_creation": ["failure", "success", "success_and_failure", "success", None],
        "cmdline_enabled": pd.array([True, True, False, True, None], dtype="boolean"),
        "reason": ["", "", "", "", ""],
        "group": [None] * 5,
    })
    options = PlanOptions(budget_kind="gb_day", budget=100.0, max_step=100.0)
    p = plan(projected(fleet), options, survey=survey)
    placed = {h.host: h for w in p.waves for h in w.hosts}
    assert (placed["a"].prior_process_creation, placed["a"].prior_cmdline_registry) == ("failure", 1)
    assert (placed["b"].prior_process_creation, placed["b"].prior_cmdline_registry) == ("success_and_failure", 0)
    assert (placed["c"].prior_process_creation, placed["c"].prior_cmdline_registry) == (None, None)  # EVTX only
    assert (placed["d"].prior_process_creation, placed["d"].prior_cmdline_registry) == (None, None)  # not read
    doc = json.loads(plan_json_text(plan_document(p)))
    hosts = {h["host"]: h for w in doc["waves"] for h in w["hosts"]}
    assert (hosts["a"]["prior_process_creation"], hosts["a"]["prior_cmdline_registry"]) == ("failure", 1)
    assert (hosts["c"]["prior_process_creation"], hosts["c"]["prior_cmdline_registry"]) == (None, None)
    # The same plan from a survey without these columns: same waves, same plan_id.
    bare = plan(projected(fleet), options, survey=survey.drop(columns=["process_creation", "cmdline_enabled"]))
    bare_doc = plan_document(bare)
    assert all(h.prior_process_creation is None for w in bare.waves for h in w.hosts)
    assert bare_doc["plan_id"] == doc["plan_id"]
    # ... and the id is the one of the document without the prior_* keys (docs/plan-json.md).
    stripped = json.loads(json.dumps(doc))
    del stripped["plan_id"]
    for w in stripped["waves"]:
        for h in w["hosts"]:
            del h["prior_process_creation"], h["prior_cmdline_registry"], h["audit_policy_source"]
    canonical = json.dumps(stripped, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    assert hashlib.sha256(canonical.encode("utf-8")).hexdigest()[:32] == doc["plan_id"]


def test_plan_command_records_each_hosts_prior_state(tmp_path: Path) -> None:
    from auditplan.store import Store

    db = tmp_path / "ap.db"
    failure_and_cmdline = AuditPolicy(process_creation=AuditSetting.FAILURE, cmdline_enabled=True,
                                      sce_no_apply_legacy=True)
    with Store(db) as store:
        store.save_result(result("web01"))  # Process Creation none, command line not 1
        store.save_result(dataclasses.replace(result("web02"), audit=failure_and_cmdline))
        store.save_estimates("latest", [host("web01", 0.2), host("web02", 0.3)])
    out = runner_plan(db, tmp_path)
    hosts = {h["host"]: h for w in out["waves"] for h in w["hosts"]}
    assert (hosts["web01"]["prior_process_creation"], hosts["web01"]["prior_cmdline_registry"]) == ("none", 0)
    assert (hosts["web02"]["prior_process_creation"], hosts["web02"]["prior_cmdline_registry"]) == ("failure", 1)
    assert hosts["web02"]["change"] == "enable_4688"


def runner_plan(db: Path, out: Path) -> dict[str, Any]:
    res = CliRunner().invoke(main, ["plan", "--db", str(db), "--budget-gb-day", "10", "--out", str(out)])
    assert res.exit_code == 0, res.output
    doc: dict[str, Any] = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    return doc
