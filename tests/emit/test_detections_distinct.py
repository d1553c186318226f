"""Judging each distinct row of fields once gives exactly what judging every event gives.

The oracle is the evaluation with every event in its own row (the way it always ran), forced by
setting MAX_DISTINCT_SHARE below zero; the same events and rules must give equal Evaluations."""

from __future__ import annotations

import random
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from detection_cases import CASES

from auditplan.collect import api as collect_api
from auditplan.emit.detections import builtin_rules_dir, evaluate, load_rules
from auditplan.emit.detections import evaluation as ev
from auditplan.emit.detections.rules import Rule


@pytest.fixture(scope="module")
def rules() -> list[Rule]:
    loaded, problems = load_rules([builtin_rules_dir()])
    assert problems == []
    return loaded


def _frame(rows: Iterable[tuple[Any, str | None, str | None, str | None, str | None]]) -> pd.DataFrame:
    return pd.DataFrame([{"host": h, "new_process_name": n, "parent_process_name": p, "subject_user_name": u,
                          "command_line": c, "event_id": 4688} for h, n, p, u, c in rows])


def _mixed_events(evtx_dev_dir: Path) -> pd.DataFrame:
    """Every hand-made case and every dev-set 4688, each repeated on several hosts in shuffled order,
    with empty fields and a second user, so that rows repeat and ties in top processes occur."""
    base: list[tuple[str | None, str | None, str | None, str | None]] = [(n, p, "alice", c) for _, n, p, c, _ in CASES]
    for path in sorted(evtx_dev_dir.glob("*.evtx")):
        result = collect_api.read_evtx(path).result
        if result is not None:
            base += [(e.new_process_name, e.parent_process_name, e.subject_user_name, e.command_line)
                     for e in result.events]
    base += [(r"C:\Windows\System32\svchost.exe", None, "", ""), (r"C:\Windows\System32\svchost.exe", None, "bob", "")]
    rng = random.Random(17)
    rows = [(f"h{rng.randrange(7)}", *row) for row in base for _ in range(rng.randrange(1, 4))]
    rng.shuffle(rows)
    return _frame(rows)


def _both(rules: list[Rule], events: pd.DataFrame, rates: dict[str, float],
          monkeypatch: pytest.MonkeyPatch) -> tuple[ev.Evaluation, ev.Evaluation, list[int]]:
    inserted: list[int] = []
    connect = ev._connect

    def counting(extra: set[str], rows: Iterable[tuple[Any, ...]]) -> Any:
        rows = list(rows)
        inserted.append(len(rows))
        return connect(extra, rows)

    monkeypatch.setattr(ev, "_connect", counting)
    monkeypatch.setattr(ev, "MAX_DISTINCT_SHARE", 1.0)
    distinct = evaluate(rules, events, rates)
    monkeypatch.setattr(ev, "MAX_DISTINCT_SHARE", -1.0)
    every = evaluate(rules, events, rates)
    return distinct, every, inserted


def test_distinct_rows_give_the_same_evaluation(rules: list[Rule], evtx_dev_dir: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    events = _mixed_events(evtx_dev_dir)
    rates = {f"h{i}": 1000.0 * (i + 1) for i in range(6)}  # h6 has no rate
    distinct, every, inserted = _both(rules, events, rates, monkeypatch)
    assert distinct == every
    # The distinct path did run, on fewer rows than events; the builtin rules all allow it.
    assert inserted[0] < len(events) and inserted[1:] == [len(events)]
    assert sum(r.hits for r in every.results) > 20
    assert any(len(r.hosts) > 1 for r in every.results)


def _rule(sql_where: str, rule_id: str, fields: frozenset[str] = frozenset({"NewProcessName"}),
          prefix: str = "SELECT * FROM logs WHERE ") -> Rule:
    return Rule(id=rule_id, title=rule_id, family=None, level="low", path=f"{rule_id}.yml",
                sql=prefix + sql_where, fields=fields)


def test_rules_that_read_the_host_or_more_than_one_row_run_over_every_event(
        rules: list[Rule], evtx_dev_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    events = _mixed_events(evtx_dev_dir)
    odd = [
        _rule("NewProcessName LIKE '%host%' ESCAPE '\\'", "literal-host"),  # "host" only in a string: per event
        _rule("host = 'h1' AND NewProcessName LIKE '%.exe'", "reads-host"),
        _rule("row_id < 10", "reads-row"),
        _rule("NewProcessName LIKE '%\\cmd.exe' ESCAPE '\\' GROUP BY CommandLine", "groups"),
        _rule("NewProcessName LIKE '%.exe' UNION SELECT * FROM logs WHERE CommandLine LIKE '%-w%'", "union"),
        _rule("NewProcessName LIKE '%.exe' LIMIT 3", "limit"),
        _rule("NoSuchColumn = 1", "broken"),
    ]
    assert [ev._per_event(r.sql) for r in odd] == [True, False, False, False, False, False, True]
    distinct, every, _ = _both([*rules, *odd], events, {"h1": 50.0}, monkeypatch)
    assert distinct == every
    by_id = {r.id: r for r in every.results}
    assert by_id["reads-host"].hosts.keys() == {"h1"}
    assert any("could not be evaluated" in n for n in by_id["broken"].notes)


def test_hosts_that_are_not_text_run_over_every_event(rules: list[Rule], monkeypatch: pytest.MonkeyPatch) -> None:
    hidden = (r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", None, "alice", "powershell -w hidden -c x")
    events = _frame([(7, *hidden), (7, *hidden), ("8", *hidden)])
    distinct, every, inserted = _both(rules, events, {}, monkeypatch)
    assert distinct == every
    assert inserted == [3, 3]  # no distinct table: SQLite would hand host 7 back as "7" from the other table
    assert next(r for r in every.results if r.family == 3).hosts == {"7": 2, "8": 1}


def test_fields_no_rule_reads_do_not_keep_rows_apart(rules: list[Rule], monkeypatch: pytest.MonkeyPatch) -> None:
    """Each host's own account (HOST$) starts the same processes: the builtin rules do not read
    SubjectUserName, so those events share distinct rows; a rule that reads it keeps them apart."""
    hidden = (r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", None, "powershell -w hidden -c x")
    plain = (r"C:\Windows\System32\svchost.exe", r"C:\Windows\System32\services.exe", "svchost.exe -k netsvcs")
    rows = [(f"h{i}", n, p, f"H{i}$", c) for i in range(20) for n, p, c in (hidden, plain, plain)]
    events = _frame(rows)
    assert all(not ev._reads(r.sql, "SubjectUserName") for r in rules)
    distinct, every, inserted = _both(rules, events, {}, monkeypatch)
    assert distinct == every
    assert inserted == [2, len(events)]  # two distinct rows: the account left out
    by_user = _rule("SubjectUserName = 'H3$' AND NewProcessName LIKE '%svchost.exe'", "reads-user",
                    frozenset({"SubjectUserName", "NewProcessName"}))
    distinct, every, inserted = _both([*rules, by_user], events, {}, monkeypatch)
    assert distinct == every
    assert inserted == [40, len(events)]  # the account read: 2 rows per host
    assert next(r for r in every.results if r.id == "reads-user").hosts == {"h3": 2}
