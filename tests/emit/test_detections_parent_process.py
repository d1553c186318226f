"""Hosts whose 4688 events are version 0/1 (before Windows 10 / Server 2016) log no ParentProcessName
(gpo-backup-format.md §A5): they are named, and rules reading it say they are blind there."""

from __future__ import annotations

import pandas as pd

from auditplan.emit.detections.evaluation import evaluate
from auditplan.emit.detections.rules import builtin_rules_dir, load_rules

PS = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"


def _frame(rows: list[tuple[str, int, str | None]]) -> pd.DataFrame:
    return pd.DataFrame([{"host": h, "version": v, "new_process_name": PS, "parent_process_name": p,
                          "subject_user_name": "alice", "command_line": "powershell -c x", "event_id": 4688}
                         for h, v, p in rows])


def test_hosts_without_parent_process_are_named_per_host() -> None:
    rules, problems = load_rules([builtin_rules_dir()])
    assert problems == []
    events = _frame([("new01", 2, r"C:\Windows\explorer.exe")] * 4 + [("old01", 1, None)] * 4)
    result = evaluate(rules, events, {"new01": 1000.0, "old01": 1000.0})
    assert result.hosts_without_parent_process == ("old01",)
    (warning,) = [w for w in result.warnings if "ParentProcessName" in w]
    assert "old01" in warning and "new01" not in warning
    for r in result.results:
        if "ParentProcessName" in rules[[x.id for x in rules].index(r.id)].fields:
            assert any("reads ParentProcessName" in n and "old01" in n for n in r.notes), r.id
        else:
            assert not any("ParentProcessName" in n for n in r.notes), r.id
    # Without a version column nothing is claimed.
    assert evaluate(rules, events.drop(columns=["version"]), {}).hosts_without_parent_process == ()
