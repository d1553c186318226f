"""A Sigma rule whose condition is a list becomes several pySigma queries. They are evaluated as one
query that counts each matching event once (rules.one_query): before, pySigma's UNION left the rule
"could not be evaluated", and a UNION would also have merged identical events into one hit."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from auditplan.emit.detections import evaluate, load_rules
from auditplan.emit.detections import evaluation as ev
from auditplan.emit.detections.rules import Rule, one_query

RULE = """\
title: Two conditions
id: 5f0c2e8a-1111-4c1e-9a7b-3e6f2f1a0b01
status: test
logsource:
  category: process_creation
  product: windows
detection:
  sel_a:
    Image|endswith: '\\\\whoami.exe'
  sel_b:
    CommandLine|contains: 'net user'
  condition:
    - sel_a
    - sel_b
level: low
"""

# (process, command line); the same event twice on purpose: two events, two hits.
EVENTS = [
    ("C:\\Windows\\System32\\whoami.exe", "whoami /all"),
    ("C:\\Windows\\System32\\whoami.exe", "whoami /all"),
    ("C:\\Windows\\System32\\net.exe", "net user admin /add"),
    ("C:\\Windows\\System32\\whoami.exe", "cmd /c net user & whoami"),
    ("C:\\Windows\\System32\\notepad.exe", "notepad.exe"),
]


def _expected_hits() -> int:
    # The rule read by hand: either selection, each event once.
    return sum(1 for image, cmd in EVENTS if image.lower().endswith("\\whoami.exe") or "net user" in cmd.lower())


def _frame() -> pd.DataFrame:
    return pd.DataFrame([{"host": "h1", "new_process_name": image, "parent_process_name": "C:\\Windows\\explorer.exe",
                          "subject_user_name": "alice", "command_line": cmd, "event_id": 4688}
                         for image, cmd in EVENTS])


@pytest.fixture
def rule(tmp_path: Path) -> Rule:
    (tmp_path / "two.yml").write_text(RULE, encoding="utf-8")
    rules, problems = load_rules([tmp_path])
    assert problems == [] and len(rules) == 1
    return rules[0]


@pytest.mark.parametrize("distinct_share", [1.0, -1.0], ids=["distinct-rows", "every-event"])
def test_a_rule_with_a_list_condition_counts_each_matching_event_once(
        rule: Rule, distinct_share: float, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ev, "MAX_DISTINCT_SHARE", distinct_share)
    (result,) = evaluate([rule], _frame(), {"h1": 1000.0}).results
    assert not any("could not be evaluated" in n for n in result.notes), result.notes
    assert result.hits == _expected_hits() == 4
    assert result.hosts == {"h1": 4}


def test_queries_of_another_shape_are_kept_whole_and_every_select_is_rewritten() -> None:
    a = "SELECT * FROM logs WHERE CommandLine LIKE '%net user%'"
    b = "SELECT * FROM logs WHERE NewProcessName LIKE '%whoami.exe' GROUP BY host"
    assert one_query([a]) == a
    assert one_query([a, a]) == ("SELECT * FROM logs WHERE (CommandLine LIKE '%net user%') OR "
                                 "(CommandLine LIKE '%net user%')")
    combined = one_query([b, a])
    assert combined == f"{b} UNION ALL {a}"
    rule = Rule(id="x", title="x", family=None, level=None, path="x.yml", sql=combined,
                fields=frozenset({"CommandLine", "Image"}))
    (result,) = evaluate([rule], _frame(), {"h1": 1000.0}).results
    assert not any("could not be evaluated" in n for n in result.notes), result.notes
    assert result.hits == 1 + 2  # one group row of whoami.exe, two events with 'net user'
