"""plan.json as records.plan writes and reads it: round trip, plan_id verification, defaults for
older and hand-made plans, and the error texts `auditplan gpo` and `auditplan report` pinned."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from auditplan.records import (
    HOST_FIELDS,
    AuditSetting,
    Budget,
    BudgetKind,
    Change,
    LocalSubcategory,
    Pilot,
    PilotCoverage,
    Plan,
    PlanError,
    PlannedHost,
    Wave,
    WaveLoad,
    parse_plan,
    plan_document,
    plan_id_of,
    plan_json_text,
    read_plan,
)

LOGON = "{0cce9215-69ae-11d9-bed3-505054503030}"


def _host(name: str, wave: int, **fields: Any) -> PlannedHost:
    base: dict[str, Any] = {
        "role": "web", "site": "lon", "os_family": "2022", "change": Change.ENABLE_4688, "source": "measured_4688",
        "events_per_day_p50": 1234.5678, "events_per_day_p90": 2000.0, "gb_day_p50": 0.00123456789,
        "gb_day_p90": 0.002, "eps_mean_p50": 0.0142, "eps_peak_p90": 0.05, "load": 0.002,
        "recommended_log_max_size_mb": 512, "local_hours_p90": 40.5,
    }
    base.update(fields)
    return PlannedHost(host=name, wave=wave, **base)


def sample_plan() -> Plan:
    pilot = Wave(0, "pilot", (
        _host("dc01", 0, role="dc", local_subcategories=(LocalSubcategory(LOGON, AuditSetting.SUCCESS, "Logon"),),
              prior_process_creation=AuditSetting.FAILURE, prior_cmdline_registry=1),
        _host("web01", 0, change=Change.CMDLINE_ONLY, local_hours_p90=None, recommended_log_max_size_mb=None),
    ), WaveLoad(0.00246914, 0.004, 1.2, 0.1, 0.004), WaveLoad(0.00246914, 0.004, None, None, 0.004))
    # Each load the sum of its hosts' figures, each cumulative the running total (read_plan checks).
    wave1 = Wave(1, "wave 1", (_host("sql01", 1, role="sql", events_per_day_p50=math.nan),),
                 WaveLoad(0.00123457, 0.002, 2.0, 0.05, 0.002), WaveLoad(0.00370371, 0.006, None, None, 0.006))
    unplaced = (PlannedHost("old01", None, "cmdline_unsupported: build 7601", role="web", site="par", gb_day_p90=0.01),
                PlannedHost("gone", None, "unreachable: survey timeout"))
    return Plan(siem="splunk-xml", waves=(pilot, wave1), unplaced=unplaced,
                budget=Budget(BudgetKind.GB_DAY, 1.0, 0.5, first=("role:dc",)),
                pilot=Pilot(PilotCoverage.STRATUM, 3, 1), warnings=("pilot: a warning",))


def stamped(doc: dict[str, Any]) -> dict[str, Any]:
    """`doc` with the plan_id its content gives (for plans built or edited in a test)."""
    return {**doc, "plan_id": plan_id_of(doc)}


def test_round_trip_is_byte_identical_and_keeps_every_field(tmp_path: Path) -> None:
    text = plan_json_text(sample_plan())
    assert text == plan_json_text(plan_document(sample_plan()))  # a Plan or its document: the same text
    path = tmp_path / "plan.json"
    path.write_text(text, encoding="utf-8")
    back = read_plan(path)
    assert plan_json_text(back) == text
    assert back.plan_id == json.loads(text)["plan_id"] and len(back.plan_id) == 32
    assert back.siem == "splunk-xml" and back.warnings == ("pilot: a warning",)
    assert back.budget == Budget(BudgetKind.GB_DAY, 1.0, 0.5, first=("role:dc",))
    assert back.pilot == Pilot(PilotCoverage.STRATUM, 3, 1) and back.pilot_coverage == "stratum"
    dc01, web01 = back.waves[0].hosts
    assert dc01.local_subcategories == (LocalSubcategory(LOGON, AuditSetting.SUCCESS, "Logon"),)
    assert (dc01.prior_process_creation, dc01.prior_cmdline_registry) == (AuditSetting.FAILURE, 1)
    assert (dc01.wave, dc01.reason, dc01.change, dc01.role) == (0, "", Change.ENABLE_4688, "dc")
    assert dc01.events_per_day_p50 == 1234.57 and dc01.gb_day_p50 == 0.00123457  # six significant digits
    assert web01.change == "cmdline_only" and web01.local_hours_p90 is None
    assert back.waves[0].recommended_log_max_size_mb == 512
    assert back.waves[0].load == WaveLoad(0.00246914, 0.004, 1.2, 0.1, 0.004)
    assert back.waves[0].cumulative == WaveLoad(0.00246914, 0.004, None, None, 0.004)  # cumulative carries no EPS
    assert math.isnan(back.waves[1].hosts[0].events_per_day_p50)  # null in the file
    # What plan.json does not carry reads as "unknown".
    assert math.isnan(dc01.load) and math.isnan(dc01.eps_mean_p50)
    assert [(u.host, u.wave, u.reason_code, u.site) for u in back.unplaced] == [
        ("old01", None, "cmdline_unsupported", "par"), ("gone", None, "unreachable", None)]
    assert back.wave_of() == {"dc01": 0, "web01": 0, "sql01": 1, "old01": None, "gone": None}


def test_plan_id_is_verified_and_names_the_file(tmp_path: Path) -> None:
    doc = json.loads(plan_json_text(sample_plan()))
    doc["waves"][1]["hosts"][0]["host"] = "sql02"  # moved a host by hand
    path = tmp_path / "plans" / "plan.json"
    path.parent.mkdir()
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(PlanError) as caught:
        read_plan(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: plan_id ") and "does not match its content (edited by hand?)" in message
    # The id leaves out the hosts' prior state (docs/plan-json.md): editing it keeps the plan valid.
    doc = json.loads(plan_json_text(sample_plan()))
    doc["waves"][0]["hosts"][0]["prior_cmdline_registry"] = 0
    assert parse_plan(doc).waves[0].hosts[0].prior_cmdline_registry == 0
    doc["plan_id"] = doc["plan_id"].upper()
    with pytest.raises(PlanError, match="does not match its content"):
        parse_plan(doc)


def test_plans_without_prior_fields_keep_their_id_and_load() -> None:
    doc = json.loads(plan_json_text(sample_plan()))
    for wave in doc["waves"]:
        for h in wave["hosts"]:
            del h["prior_process_creation"], h["prior_cmdline_registry"]
    back = parse_plan(doc)
    assert back.plan_id == plan_document(sample_plan())["plan_id"]
    assert all(h.prior_process_creation is None and h.prior_cmdline_registry is None
               for w in back.waves for h in w.hosts)


def test_hand_made_plan_gets_the_documented_defaults() -> None:
    doc = stamped({"schema_version": 1, "waves": [{"wave": 0, "hosts": [{"host": " dc01 "}]},
                                                  {"wave": 2, "name": "", "hosts": []}]})
    p = parse_plan(doc)
    assert [(w.number, w.name) for w in p.waves] == [(0, "pilot"), (2, "wave 2")]
    (h,) = p.waves[0].hosts
    assert (h.host, h.change, h.source, h.role, h.local_subcategories, h.recommended_log_max_size_mb) == (
        "dc01", None, "", None, (), None)
    assert math.isnan(h.gb_day_p90)
    assert p.siem is None and p.budget is None and p.pilot is None and p.unplaced == () and p.warnings == ()
    assert p.waves[0].load is None and p.created_at is None
    assert parse_plan(stamped({**doc, "budget": {"kind": "eps", "value": 3}})).budget == Budget(BudgetKind.EPS, 3)


def _doc(**changes: Any) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads(plan_json_text(sample_plan()))
    for path, value in changes.items():
        *parents, last = path.split("__")
        target: Any = doc
        for key in parents:
            target = target[int(key)] if isinstance(target, list) else target[key]
        target[int(last) if isinstance(target, list) else last] = value
    return doc


@pytest.mark.parametrize(("doc", "expected"), [
    # The texts emit/gpo.parse_plan gave (tests/emit/test_gpo*.py pin parts of them) ...
    (_doc(schema_version=2), "plans/plan.json: schema_version 2 is not 1"),
    (_doc(plan_id=None), "plans/plan.json: plan_id: expected a string, got NoneType"),
    (_doc(waves="abc"), "plans/plan.json: waves: expected a list"),
    (_doc(waves__1__wave=0), "plans/plan.json: waves[1].wave: expected a unique whole number >= 0, got 0"),
    (_doc(waves__0__hosts__0="dc01"), "plans/plan.json: wave 0: waves[0].hosts[0]: expected an object"),
    (_doc(waves__1__hosts__0__host="x" * 201), "waves[1].hosts[0].host: 201 characters, longer than 200"),
    (_doc(waves__1__hosts__0__host="DC01"),
     "wave 1: waves[1].hosts[0]: host 'DC01' is already in wave 0 (as 'dc01'); a host belongs to one wave"),
    (_doc(waves__0__hosts__0__change="everything"), "(host 'dc01'): change: expected one of"),
    (_doc(waves__0__hosts__0__local_subcategories="Logon"),
     "(host 'dc01'): local_subcategories: expected a list, got 'Logon'"),
    (_doc(waves__0__hosts__0__local_subcategories__0__setting=["success"]),
     "(host 'dc01'): local_subcategories[0].setting: expected one of ['failure', 'none', 'success', "
     "'success_and_failure'], got ['success']"),
    (_doc(waves__0__hosts__0__local_subcategories__0__guid="nope"), "local_subcategories[0].guid: not a {GUID}"),
    (_doc(waves__0__hosts__0__recommended_log_max_size_mb=5),
     "(host 'dc01'): recommended_log_max_size_mb: expected null or a whole number of MB in 20..2097151"),
    (_doc(waves__0__hosts__0__prior_cmdline_registry=2), "prior_cmdline_registry: expected 0, 1 or null, got 2"),
    (_doc(created_at="last tuesday"), "plans/plan.json: created_at: not an ISO 8601 time: 'last tuesday'"),
    # ... and the ones emit/report.check_plan gave (tests/emit/test_report.py).
    (_doc(waves__0__load=None), "plans/plan.json: waves[0].load: expected an object, got null"),
    (_doc(waves__1__cumulative=[]), "plans/plan.json: waves[1].cumulative: expected an object, got a list"),
    (_doc(waves__0__cumulative__gb_day_p90="abc"),
     "plans/plan.json: waves[0].cumulative.gb_day_p90: expected a number or null, got 'abc'"),
    (_doc(budget=[]), "plans/plan.json: budget: expected an object, got a list"),
    (_doc(budget__value="0.5"), "plans/plan.json: budget.value: expected a number > 0, got '0.5'"),
    (_doc(budget__kind="tb_day"), "plans/plan.json: budget.kind: expected 'gb_day' or 'eps', got 'tb_day'"),
    (_doc(budget__quantile="p99"), "plans/plan.json: budget.quantile: expected one of p50, p90, got 'p99'"),
    (_doc(unplaced={"host": "x"}), "plans/plan.json: unplaced: expected a list, got an object"),
    (_doc(unplaced__0__reason=7), "plans/plan.json: unplaced[0].reason: expected a string, got a number"),
    (_doc(siem=7), "plans/plan.json: siem: expected a string, got a number"),
    (_doc(waves__0__hosts__0__gb_day_p90=math.inf), "gb_day_p90: expected a number or null, got inf"),
])
def test_bad_plans_keep_their_error_texts(doc: dict[str, Any], expected: str) -> None:
    with pytest.raises(PlanError) as caught:
        parse_plan(doc, "plans/plan.json")
    assert expected in str(caught.value), str(caught.value)


def test_read_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    with pytest.raises(PlanError, match=f"^{path}: cannot read"):
        read_plan(path)
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(PlanError, match=f"^{path}: not JSON: line 1 column 2"):
        read_plan(path)
    path.write_bytes(b"\xff\xfe{}")
    with pytest.raises(PlanError, match=f"^{path}: not UTF-8"):
        read_plan(path)
    path.write_text('{"schema_version": 1, "plan_id": "x", "waves": [], "extra": NaN}', encoding="utf-8")
    with pytest.raises(PlanError, match="NaN or Infinity"):
        read_plan(path)


def test_hostile_names_are_kept_as_written_for_outputs_to_make_safe() -> None:
    # The reader checks shape, not content: auditplan.text makes names safe where they are shown.
    name = "web\x1b[31m01\u202e"
    p = parse_plan(stamped({"schema_version": 1, "waves": [{"wave": 0, "hosts": [{"host": name}]}]}))
    assert p.waves[0].hosts[0].host == name


def test_bulk_records_equal_the_ones_init_builds() -> None:
    host = _host("web01", 1, prior_process_creation=AuditSetting.SUCCESS, prior_cmdline_registry=0)
    fields = {name: getattr(host, name) for name in HOST_FIELDS}
    assert PlannedHost.bulk(fields.items()) == host
    # Fields left out take their defaults, as with __init__.
    assert PlannedHost.bulk([("host", "x"), ("wave", None)]) == PlannedHost("x", None)
    with pytest.raises(AttributeError):
        PlannedHost.bulk([("host", "x")]).host = "y"  # type: ignore[misc]  # frozen all the same
