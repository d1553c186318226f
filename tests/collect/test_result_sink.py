"""The survey engines' ResultSink (collect/winrm/survey.py) without a network: what is saved is in
the outcome even when the progress callback stops the run (Ctrl-C raised inside it)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

import pytest

from auditplan.collect.api import LockoutGuard
from auditplan.collect.winrm.survey import Progress, ResultSink, SurveyOutcome
from auditplan.records import Host, HostResult, HostStatus


class ListStore:
    """Saves into a list, as store.Store saves into SQLite (one call per transaction)."""

    def __init__(self) -> None:
        self.saved: list[str] = []

    def save_result(self, result: HostResult) -> None:
        self.saved.append(result.host.name)

    def save_results(self, results: Sequence[HostResult]) -> None:
        self.saved.extend(r.host.name for r in results)

    def finished_hosts(self) -> dict[str, HostStatus]:
        return {}


def _ok(name: str) -> HostResult:
    return HostResult(host=Host(name, name), status=HostStatus.OK, reason="",
                      collected_at=datetime(2026, 1, 1, tzinfo=UTC))


def test_a_batch_saved_together_is_all_in_the_outcome_when_the_first_report_raises() -> None:
    # Two hosts that finished together are saved in one transaction; Ctrl-C inside the progress
    # callback for the first must not leave the second saved but missing from the outcome
    # (a re-run would then skip a host the interrupted run never reported).
    store, outcome = ListStore(), SurveyOutcome()
    seen: list[Progress] = []

    def ctrl_c(event: Progress) -> None:
        seen.append(event)
        raise KeyboardInterrupt

    sink = ResultSink(store, outcome, LockoutGuard(0), 3, ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        sink.take([_ok("a"), _ok("b")])
    assert store.saved == ["a", "b"]
    assert [r.host.name for r in outcome.results] == ["a", "b"]
    assert [(p.result.host.name, p.done, p.total) for p in seen] == [("a", 1, 3)]


def test_each_host_is_reported_once_with_a_running_count() -> None:
    store, outcome = ListStore(), SurveyOutcome()
    seen: list[tuple[str, int]] = []
    sink = ResultSink(store, outcome, LockoutGuard(0), 3, lambda p: seen.append((p.result.host.name, p.done)))
    sink.take([_ok("a"), _ok("b")])
    sink.take([_ok("c")])
    assert seen == [("a", 1), ("b", 2), ("c", 3)]
    assert store.saved == ["a", "b", "c"]
