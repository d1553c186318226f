"""One rule per thing emit shows (issue 13 review): numbers and shares as text.number / text.percent
format them, a wave's GPO name as `auditplan gpo` writes it, plan.json as records.read_plan reads it."""

from __future__ import annotations

import json
import math
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from gpo_helpers import plan_doc, stamped, write  # tests/emit/, on sys.path under pytest's default import mode

from auditplan.emit.api import PlanError, detection_rules, evaluate_events, gather_report
from auditplan.emit.report.readiness import readiness
from auditplan.emit.report.waves import timeline
from auditplan.records import parse_plan
from auditplan.text import number, percent

PS = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"


@pytest.mark.parametrize(("part", "whole", "digits", "shown"), [
    (0.25, 1, 0, "25%"), (0.125, 1, 0, "12%"), (1, 3, 0, "33%"), (2, 3, 1, "66.7%"), (0, 1, 0, "0%"),
    (1.5, 1, 0, "150%"), (None, 1, 0, "n/a"), (math.nan, 1, 0, "n/a"), (math.inf, 1, 0, "n/a"), ("x", 1, 0, "n/a"),
    (1, 0, 0, "n/a"), (1, None, 0, "n/a"),
])
def test_percent(part: object, whole: object, digits: int, shown: str) -> None:
    assert percent(part, whole, digits) == shown
    if whole == 1 and digits == 0:
        assert percent(part) == shown


def test_readiness_shares_are_percentages_of_reachable_hosts() -> None:
    hosts = pd.DataFrame({"host": ["a", "b", "c", "d"], "status": ["ok", "ok", "ok", "timeout"],
                          "process_creation": ["success", "no_auditing", "success_and_failure", None],
                          "cmdline_enabled": [True, False, False, None]})
    got = readiness(hosts)
    assert (got["process_creation_on_share"], got["cmdline_on_share"]) == ("67%", "33%")
    none = readiness(hosts.iloc[3:])
    assert (none["process_creation_on_share"], none["cmdline_on_share"]) == ("n/a", "n/a")


def test_evaluation_warnings_show_figures_as_text_number() -> None:
    events = pd.DataFrame({"host": ["blind01"] * 4, "new_process_name": [PS] * 4, "parent_process_name": [None] * 4,
                           "subject_user_name": ["alice"] * 4, "command_line": [None] * 4})
    result = evaluate_events(events, {"blind01": 12.5}, detection_rules().rules)
    blind, share = result.warnings[:2]
    assert f"their {number(12.5)} 4688 events/day are left out" in blind and number(12.5) == "12.5"
    assert f"only 0 of 4 sampled 4688 events ({percent(0.0)}) carry a CommandLine" in share


def test_the_reports_default_gpo_names_are_the_ones_gpo_writes(tmp_path: Path) -> None:
    doc = plan_doc([{"host": "dc01"}], [{"host": "web01"}])
    doc["waves"][0]["name"] = "pi\u202elot\x07"  # a bidi override and a BEL, as a hand-edited plan may hold
    written = write(tmp_path, doc)
    shown = timeline(parse_plan(stamped(doc)), datetime(2026, 3, 9, tzinfo=UTC), 7)
    assert [w["gpo"] for w in shown] == [o.display_name for o in written]
    assert shown[0]["gpo"] == "auditplan 4688 - wave 00 (pi lot)" and shown[0]["gpo_default"]


def test_the_report_reads_plan_json_as_every_stage_does(tmp_path: Path) -> None:
    bad = tmp_path / "plan.json"
    bad.write_text(json.dumps({"schema_version": 1, "waves": []})[:-3], encoding="utf-8")
    with pytest.raises(PlanError, match=r"plan\.json: not JSON: line 1 column \d+"):
        gather_report(tmp_path / "none.db", plan_path=bad)
    folder = tmp_path / "folder.json"
    folder.mkdir()
    with pytest.raises(PlanError, match=r"folder\.json: cannot read: Is a directory$"):
        gather_report(tmp_path / "none.db", plan_path=folder)
