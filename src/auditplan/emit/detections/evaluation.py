"""Rules run over sampled 4688 events in an in-memory SQLite table, hits scaled to alerts/day.

Following ../shared/reference/detections-and-peers.md §2: the events sit in a table with
case-insensitive columns and a case-sensitive `re.search` REGEXP function. An empty field is NULL,
as a missing one is (4688 writes an empty CommandLine when command-line auditing is off, reference
§2.3), so no string match fires on it.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

import numpy as np
import pandas as pd

from auditplan.emit.detections.rules import SAMPLED_COLUMNS, SQL_STRING, Rule
from auditplan.emit.detections.workload import AlertRange, alert_range, share_of
from auditplan.text import number, percent

# Below this share of events with a non-empty CommandLine, command-line rules cannot be judged.
MIN_CMDLINE_SHARE: Final = 0.5


@dataclass(frozen=True)
class RuleResult:
    id: str
    title: str
    family: int | None
    level: str | None
    hits: int
    alerts_per_day: float | None  # fleet, scaled by each host's 4688 rate; None when no host has a rate
    hosts: dict[str, int]  # host -> hits in the sample
    alerts_per_day_by_host: dict[str, float]
    top_processes: tuple[tuple[str, int], ...]
    notes: tuple[str, ...] = ()
    # Hosts whose sample has no CommandLine: a rule that reads it cannot be judged there, so their
    # volume is left out of its alerts/day (rather than scored as zero).
    hosts_not_evaluated: tuple[str, ...] = ()
    # alerts_per_day as p10/p50/p90 (workload.RANGE_RULE); None where alerts_per_day is None.
    alerts_per_day_range: AlertRange | None = None
    sampled_events: int = 0  # sampled events on the hosts that scale alerts/day (rated, evaluable)
    events_per_day: float = 0.0  # those hosts' 4688/day: what alerts/day is a share of

    @property
    def alerts_per_event(self) -> AlertRange | None:
        """Alerts per 4688 event of the hosts that scale alerts/day: what a wave's 4688/day is multiplied by."""
        return share_of(self.alerts_per_day_range, self.events_per_day)


@dataclass(frozen=True)
class Evaluation:
    results: tuple[RuleResult, ...]
    events: int
    hosts: int
    cmdline_share: float | None  # share of events with a non-empty CommandLine
    warnings: tuple[str, ...] = field(default_factory=tuple)
    hosts_without_command_line: tuple[str, ...] = ()  # sampled hosts none of whose events has a CommandLine
    # Sampled hosts none of whose events has a ParentProcessName: 4688 carries it from event version 2
    # (Windows 10 / Server 2016; gpo-backup-format.md §A5), so on 2012 R2 and older it is absent.
    hosts_without_parent_process: tuple[str, ...] = ()



@functools.lru_cache(maxsize=256)
def _compile(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None


def _regexp(pattern: str | None, value: str | None) -> int:
    # Sigma |re is case-sensitive unless the rule says (?i); reference §2.4 says not to add re.I.
    if pattern is None or value is None:
        return 0
    compiled = _compile(pattern)
    return 1 if compiled is not None and compiled.search(value) else 0


def _extra_columns(extra_fields: Iterable[str]) -> list[str]:
    # Fields only a rule reads get NULL columns, so its query runs (and a NULL never matches). SQLite
    # column names ignore case: one column per name whatever its spelling, or CREATE TABLE fails.
    taken = {c.lower() for c in [*SAMPLED_COLUMNS, "EventID", "host", "row_id"]}
    extras: list[str] = []
    for name in sorted(set(extra_fields)):
        if name.lower() not in taken:
            taken.add(name.lower())
            extras.append(name)
    return extras


def _columns(events: pd.DataFrame) -> tuple[list[Any], list[int], list[list[str | None]]]:
    """host, EventID and the sampled text columns of `events` as plain Python lists."""
    frame = events.reindex(columns=["host", "event_id", *SAMPLED_COLUMNS.values()])
    # Whole columns at a time, then one executemany over plain Python lists: reading a pandas frame
    # row by row (itertuples over string arrays) cost three quarters of an evaluation.
    event_ids = pd.to_numeric(frame["event_id"], errors="coerce").fillna(4688).astype("int64").tolist()
    texts = [_text_column(frame[c]) for c in SAMPLED_COLUMNS.values()]
    return frame["host"].astype(object).tolist(), event_ids, texts


def _create_table(con: sqlite3.Connection, extra_fields: Iterable[str], rows: Iterable[tuple[Any, ...]]) -> None:
    columns = list(SAMPLED_COLUMNS)
    ddl = ", ".join(f'"{c}" TEXT COLLATE NOCASE' for c in [*columns, *_extra_columns(extra_fields)])
    con.execute(f'CREATE TABLE logs (row_id INTEGER PRIMARY KEY, host TEXT, EventID INTEGER, {ddl})')
    names = ", ".join(columns)
    con.executemany(f"INSERT INTO logs (row_id, host, EventID, {names}) VALUES (?, ?, ?, ?, ?, ?, ?)", rows)  # noqa: S608


# A rule's verdict on an event depends only on the event's fields, and sampled events repeat (the
# same services start on every host, the same tools run again), so each distinct (EventID, fields)
# row is judged once and the verdict counted for every event with those fields (bench/detections.py).
# Only for a rule that is one WHERE over single rows reading neither the host nor the row number;
# any other runs over every event as before.
_SELECT_ALL = "SELECT * FROM logs"
_ONE_WHERE = _SELECT_ALL + " WHERE "
MAX_DISTINCT_SHARE: Final = 0.75
_NOT_PER_EVENT = re.compile(
    r"\b(?:select|union|group|order|limit|having|join|window|over|host|rowid|_rowid_|oid|row_id)\b", re.IGNORECASE
)


def _per_event(sql: str) -> bool:
    """Whether `sql` is one WHERE over single rows that reads neither the host nor the row number
    (words inside string literals aside)."""
    return sql.startswith(_ONE_WHERE) and not _NOT_PER_EVENT.search(SQL_STRING.sub("''", sql[len(_ONE_WHERE):]))


def _reads(sql: str, column: str) -> bool:
    """Whether `sql` names `column` outside its string literals (SQLite names ignore case)."""
    return re.search(rf"\b{column}\b", SQL_STRING.sub("''", sql), re.IGNORECASE) is not None


def _repeats_enough(event_ids: list[int], texts: list[list[str | None]]) -> bool:
    """Whether a sample of the rows (every k-th, about 10,000) repeats enough for distinct rows to pay:
    a sample repeats less than the whole, so this seldom skips where the whole would pay."""
    step = max(1, len(event_ids) // 10_000)
    sample = list(zip(event_ids[::step], *(t[::step] for t in texts), strict=True))
    return len(set(sample)) <= MAX_DISTINCT_SHARE * len(sample)


class _Tables:
    """The events in SQLite: distinct rows (judged once each) for the rules that allow it, and every
    event as its own row for the others. Both made up front, so that a table SQLite refuses fails the
    evaluation as it always did rather than one rule."""

    def __init__(self, events: pd.DataFrame, rules: Sequence[Rule]) -> None:
        self._hosts, event_ids, texts = _columns(events)
        extra = set().union(*(r.fields for r in rules)) if rules else set()
        # Hosts that are not text would come back from SQLite as text from the every-event table only.
        text_hosts = all(type(h) is str for h in self._hosts)
        self._distinct_sql = {r.sql for r in rules if text_hosts and _per_event(r.sql)}
        # A field none of those rules reads cannot change a verdict: it is left out of the distinct rows
        # (NULL there), so that a field such as each host's own account name does not keep apart events
        # the rules see alike. NewProcessName is always kept: the matches report it.
        keys = texts
        if self._distinct_sql:
            unread: list[str | None] = [None] * len(event_ids)
            keys = [t if name == "NewProcessName" or any(_reads(sql, name) for sql in self._distinct_sql) else unread
                    for name, t in zip(SAMPLED_COLUMNS, texts, strict=True)]
        if self._distinct_sql and not _repeats_enough(event_ids, keys):
            self._distinct_sql = set()
        self._every: sqlite3.Connection | None = None
        self._distinct: sqlite3.Connection | None = None
        self._row_of = np.zeros(0, dtype=np.int64)  # event -> its distinct row
        if self._distinct_sql:
            index: dict[tuple[Any, ...], int] = {}
            rows = zip(event_ids, *keys, strict=True)
            self._row_of = np.fromiter((index.setdefault(key, len(index)) for key in rows), np.int64, len(event_ids))
            if len(index) > MAX_DISTINCT_SHARE * len(event_ids):
                self._distinct_sql = set()  # too few repeats: judging every event costs less
            else:
                self._distinct = _connect(extra, ((row, None, *key) for key, row in index.items()))
        if not rules or any(r.sql not in self._distinct_sql for r in rules):
            self._every = _connect(extra, zip(range(len(self._hosts)), self._hosts, event_ids, *texts, strict=True))

    def matches(self, sql: str) -> list[tuple[Any, Any]]:
        """(host, NewProcessName) of each event the rule matches, in event order; raises sqlite3.Error."""
        if sql in self._distinct_sql and self._distinct is not None:
            return self._distinct_matches(sql.replace(_SELECT_ALL, "SELECT row_id, NewProcessName FROM logs", 1))
        assert self._every is not None  # made for every rule not judged on distinct rows
        # Every SELECT of the rule: a rule kept as UNION ALL (rules.one_query) has one per query.
        return self._every.execute(sql.replace(_SELECT_ALL, "SELECT host, NewProcessName FROM logs")).fetchall()

    def _distinct_matches(self, sql: str) -> list[tuple[Any, Any]]:
        assert self._distinct is not None
        found: dict[int, Any] = dict(self._distinct.execute(sql).fetchall())
        if not found:
            return []
        # The events of the matched rows, in event order (SQLite returns a scan in row_id order).
        events = np.flatnonzero(np.isin(self._row_of, np.fromiter(found, dtype=np.int64, count=len(found))))
        row_of = self._row_of
        return [(self._hosts[e], found[int(row_of[e])]) for e in events.tolist()]

    def close(self) -> None:
        for con in (self._every, self._distinct):
            if con is not None:
                con.close()


def _connect(extra_fields: set[str], rows: Iterable[tuple[Any, ...]]) -> sqlite3.Connection:
    con = sqlite3.connect(":memory:")
    con.create_function("REGEXP", 2, _regexp, deterministic=True)
    _create_table(con, extra_fields, rows)
    return con


def _text_column(values: pd.Series) -> list[str | None]:
    """A column as str or None. Empty is NULL: SCOM (and the event) cannot tell an empty field from a
    missing one."""
    text = values.astype(object)
    out: list[Any] = text.where(values.notna() & text.ne(""), None).tolist()
    if not pd.api.types.is_string_dtype(values):  # C-speed check of an object column's values
        out = [None if v is None else str(v) for v in out]
    return out


def _basename(path: str | None) -> str:
    if not path:
        return "(unknown)"
    return path.replace("/", "\\").rsplit("\\", 1)[-1].lower()


def evaluate(rules: Sequence[Rule], events: pd.DataFrame, rates: Mapping[str, float]) -> Evaluation:
    """Run every rule over the sampled 4688 events; scale hits to alerts/day with each host's 4688/day.

    `events` has one row per sampled 4688 event with columns host, new_process_name,
    parent_process_name, subject_user_name, command_line (and optionally event_id).
    `rates` maps host -> projected 4688 events/day (the estimate's p50).
    """
    tables = _Tables(events, rules)
    # tolist() first: iterating a pandas string column element by element is slow.
    per_host = Counter(events["host"].tolist()) if len(events) else Counter()
    cmdline = events["command_line"] if "command_line" in events else pd.Series(None, index=events.index, dtype=object)
    has_cmdline = cmdline.fillna("").astype(str).str.len().gt(0) if len(events) else pd.Series(dtype=bool)
    populated = int(has_cmdline.sum()) if len(events) else 0
    share = populated / len(events) if len(events) else None
    with_cmdline = set(events.loc[has_cmdline, "host"].tolist()) if len(events) else set()
    blind = tuple(sorted((str(h) for h in per_host if h not in with_cmdline), key=str.lower))
    # Event version 2 (Windows 10 / Server 2016) added ParentProcessName to 4688: a host whose sampled
    # events are all version 0/1 cannot log it. Only when the frame says the version (the store does).
    orphans: tuple[str, ...] = ()
    if len(events) and "version" in events:
        newest = pd.to_numeric(events["version"], errors="coerce").groupby(events["host"]).max()
        orphans = tuple(sorted((str(h) for h, v in newest.items() if v == v and v < 2), key=str.lower))
    warnings: list[str] = []
    if orphans:
        warnings.append(
            f"{len(orphans)} host(s) have no ParentProcessName in any sampled 4688 event (event version 0/1: "
            "Windows before 10 / Server 2016): " + ", ".join(orphans) + ". Rules that read ParentProcessName "
            "(Sigma ParentImage) never match there."
        )
    if blind:
        volume = sum(rates.get(h, 0.0) for h in blind)
        warnings.append(
            f"{len(blind)} host(s) have no CommandLine in any sampled 4688 event (command-line auditing off?): "
            + ", ".join(blind) + f". Rules that read CommandLine cannot be evaluated on them; their "
            f"{number(volume)} 4688 events/day are left out of those rules' alerts/day, not scored as zero."
        )
    if share is not None and share < MIN_CMDLINE_SHARE:
        warnings.append(
            f"only {populated} of {len(events)} sampled 4688 events ({percent(share)}) carry a CommandLine, so the "
            "alerts/day of rules that read it describe today's partial command-line auditing, NOT the fleet "
            "once the GPO turns it on everywhere."
        )
    if not len(events):
        warnings.append("no sampled 4688 events: survey hosts with Process Creation auditing on, or ingest .evtx files")
    results: list[RuleResult] = []
    for rule in rules:
        notes: list[str] = []
        notes += rule.missing_field_notes
        if rule.not_sampled:
            notes.append("uses 4688 fields auditplan does not sample: " + ", ".join(sorted(rule.not_sampled)))
        if rule.uses_command_line and share is not None and share < MIN_CMDLINE_SHARE:
            notes.append("reads CommandLine, which is empty in most of the sample")
        if "ParentProcessName" in rule.fields and orphans:
            shown = ", ".join(orphans[:5]) + (f" and {len(orphans) - 5} more" if len(orphans) > 5 else "")
            notes.append(f"reads ParentProcessName, which {len(orphans)} host(s) do not log ({shown}): blind there")
        skipped = blind if rule.uses_command_line else ()
        if skipped:
            shown = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
            notes.append(f"cannot be evaluated on {len(skipped)} host(s) without CommandLine ({shown}); "
                         "alerts/day covers the other hosts only")
        try:
            matched = tables.matches(rule.sql)
        except sqlite3.Error as exc:
            notes.append(f"could not be evaluated: {exc}")
            matched = []
        hosts = Counter(h for h, _ in matched)
        by_host = {
            h: hits / per_host[h] * rates[h]
            for h, hits in hosts.items() if h in rates and per_host[h] and h not in skipped
        }
        evaluable = len(per_host) > len(skipped)
        fleet = sum(by_host.values()) if evaluable and (by_host or not set(hosts) - set(skipped)) else None
        scaling = [h for h in per_host if h in rates and h not in skipped]
        sampled = sum(per_host[h] for h in scaling)
        volume = sum(rates[h] for h in scaling)
        in_scope_hits = sum(hosts.get(h, 0) for h in scaling)
        unrated = [h for h in hosts if h not in rates and h not in skipped]
        if unrated:
            notes.append(f"{len(unrated)} host(s) with hits have no 4688 rate; left out of alerts/day")
        results.append(
            RuleResult(
                id=rule.id, title=rule.title, family=rule.family, level=rule.level, hits=len(matched),
                alerts_per_day=fleet, hosts=dict(sorted(hosts.items())),
                alerts_per_day_by_host=dict(sorted(by_host.items())),
                top_processes=tuple(Counter(_basename(n) for _, n in matched).most_common(5)), notes=tuple(notes),
                hosts_not_evaluated=tuple(skipped),
                alerts_per_day_range=alert_range(fleet, in_scope_hits, sampled, volume), sampled_events=sampled,
                events_per_day=volume,
            )
        )
    tables.close()
    return Evaluation(tuple(results), len(events), len(per_host), share, tuple(warnings), blind, orphans)
