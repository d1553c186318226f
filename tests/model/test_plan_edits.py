"""records/plan_edits.py: what `--accept-edited-plan` lists, from two plan documents (no files)."""

from __future__ import annotations

import json
from typing import Any

from auditplan.records.plan_edits import MAX_LINES, plan_edits


def _plan() -> dict[str, Any]:
    host = {"host": "web01", "gb_day_p90": 0.2, "prior_cmdline_registry": 1}
    return {"schema_version": 1, "plan_id": "a" * 32, "projection_id": "b" * 32, "budget": {"value": 1.0},
            "waves": [{"wave": 0, "name": "pilot", "hosts": [host], "load": {"gb_day_p90": 0.2}},
                      {"wave": 1, "name": "wave 1", "hosts": [{**host, "host": "sql01"}]}],
            "unplaced": [{"host": "old01", "reason": "cmdline_unsupported: build 7601"}], "warnings": []}


def test_a_host_moved_to_unplaced_and_back_and_its_fields() -> None:
    original = _plan()
    edited = json.loads(json.dumps(original))
    old01 = edited["unplaced"].pop()
    edited["waves"][1]["hosts"].append({"host": "OLD01", "gb_day_p90": 0.1})  # Windows names ignore case
    edited["unplaced"].append({"host": "sql01", "reason": "excluded: by hand"})
    edited["waves"][1]["hosts"].pop(0)
    edited["waves"][0]["hosts"][0]["prior_cmdline_registry"] = 0  # outside plan_id: not listed
    edited["projection_id"] = "c" * 32  # outside plan_id: not listed
    assert old01["host"] == "old01"
    assert plan_edits(edited, original) == [
        "host 'OLD01': moved from unplaced to wave 1",
        "host 'OLD01': gb_day_p90 (absent) -> 0.1",
        "host 'OLD01': host 'old01' -> 'OLD01'",
        "host 'OLD01': reason 'cmdline_unsupported: build 7601' -> (absent)",
        "host 'sql01': moved from wave 1 to unplaced",
        "host 'sql01': gb_day_p90 0.2 -> (absent)",
        "host 'sql01': reason (absent) -> 'excluded: by hand'",
    ]


def test_waves_and_plan_fields_and_the_cap() -> None:
    original = _plan()
    edited = json.loads(json.dumps(original))
    edited["waves"][0]["load"]["gb_day_p90"] = 987654
    edited["waves"].append({"wave": 2, "hosts": []})
    edited["budget"]["value"] = 5
    assert plan_edits(edited, original) == [
        "wave 0: load.gb_day_p90 0.2 -> 987654", "wave 2: added", "budget.value 1.0 -> 5"]
    edited = json.loads(json.dumps(original))
    edited["waves"][1]["hosts"] = [{"host": f"ws{i:03}"} for i in range(30)]
    lines = plan_edits(edited, original)
    assert len(lines) == MAX_LINES + 1 and lines[-1] == f"... and {31 - MAX_LINES} more difference(s)"
    assert plan_edits(original, original) == [
        "no field or host differs; only how the file spells its values (re-run `auditplan plan`)"]
