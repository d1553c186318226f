"""The targeted detections: Sigma rules, evaluated on sampled 4688 events, scaled to alerts/day.

Evaluation follows ../shared/reference/detections-and-peers.md §2: pySigma converts each rule with
the `windows-audit` pipeline (process_creation -> EventID 4688, Image -> NewProcessName,
ParentImage -> ParentProcessName) into SQL for the SQLite backend; the events sit in an in-memory
SQLite table with case-insensitive columns and a case-sensitive `re.search` REGEXP function.

Sigma matches strings case-insensitively; SQLite's LIKE and NOCASE fold ASCII letters only, so a
case-insensitive value holding a non-ASCII letter with case (ÉTÉ / été) is matched through REGEXP with
Python's Unicode `(?i)` instead, as the SCOM export's .NET `(?i)` does. ASCII values stay on the fast
built-in LIKE. Left over: an ASCII letter in a rule against the Kelvin sign or long s in an event
(Unicode folds them to k and s; LIKE does not).
Field names are matched to 4688's and Sigma's own case-insensitively (`commandline` is CommandLine).
An empty field is NULL, as a missing one is (4688 writes an empty CommandLine when command-line
auditing is off, reference detections-and-peers.md §2.3), so no string match fires on it.
"""

from __future__ import annotations

import functools
import re
import sqlite3
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Final

import pandas as pd
import yaml
from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionNOT, ConditionOR
from sigma.exceptions import SigmaError
from sigma.pipelines.windows.windows import windows_audit_pipeline
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import SigmaCasedString, SigmaExpansion, SigmaNull, SigmaRegularExpression, SigmaString, SpecialChars

from auditplan.records import REDACTED

# Event 4688's EventData fields (reference gpo-backup-format.md §A5), after the windows-audit mapping.
FIELDS_4688: Final = frozenset(
    {
        "EventID", "SubjectUserSid", "SubjectUserName", "SubjectDomainName", "SubjectLogonId", "NewProcessId",
        "NewProcessName", "TokenElevationType", "ProcessId", "CommandLine", "TargetUserSid", "TargetUserName",
        "TargetDomainName", "TargetLogonId", "ParentProcessName", "MandatoryLabel",
    }
)
# The fields auditplan keeps of each sampled event (records/survey.py SampledEvent).
SAMPLED_COLUMNS: Final = {
    "NewProcessName": "new_process_name",
    "ParentProcessName": "parent_process_name",
    "SubjectUserName": "subject_user_name",
    "CommandLine": "command_line",
}
# windows-audit's FieldMappingTransformation (pysigma-pipeline-windows 2.0.1; reference §2.3).
WINDOWS_AUDIT_FIELD_MAP: Final = {
    "Image": "NewProcessName",
    "ParentImage": "ParentProcessName",
    "Details": "NewValue",
    "LogonId": "SubjectLogonId",
}
# Sysmon EID 1 fields of Sigma's process_creation taxonomy (reference detections-and-peers.md §2.3 table).
SYSMON_PROCESS_FIELDS: Final = frozenset(
    {
        "Image", "ParentImage", "CommandLine", "User", "LogonId", "ProcessId", "ParentProcessId", "IntegrityLevel",
        "OriginalFileName", "Hashes", "ParentCommandLine", "CurrentDirectory", "Description", "Product", "Company",
        "FileVersion", "LogonGuid", "ProcessGuid", "ParentProcessGuid", "TerminalSessionId", "ParentUser",
        "RuleName", "UtcTime",
    }
)
# Lower-cased name -> the spelling Sigma and event 4688 use, so `commandline` reads CommandLine.
CANONICAL_FIELD_NAMES: Final = {
    name.lower(): name for name in sorted(FIELDS_4688 | SYSMON_PROCESS_FIELDS | set(WINDOWS_AUDIT_FIELD_MAP))
}
# Below this share of events with a non-empty CommandLine, command-line rules cannot be judged.
MIN_CMDLINE_SHARE: Final = 0.5
RULE_SUFFIXES: Final = (".yml", ".yaml")


@dataclass(frozen=True)
class Rule:
    id: str
    title: str
    family: int | None  # 1-5 for auditplan's five families, None for user rules
    level: str | None
    path: str
    sql: str
    fields: frozenset[str]  # event fields the rule reads, after the windows-audit mapping
    description: str = ""
    # How the rule uses fields 4688 lacks (required / alternative / filter), one sentence each.
    missing_field_notes: tuple[str, ...] = ()

    @property
    def missing_in_4688(self) -> frozenset[str]:
        return self.fields - FIELDS_4688

    @property
    def not_sampled(self) -> frozenset[str]:
        return (self.fields & FIELDS_4688) - set(SAMPLED_COLUMNS) - {"EventID"}

    @property
    def uses_command_line(self) -> bool:
        return "CommandLine" in self.fields


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


@dataclass(frozen=True)
class Evaluation:
    results: tuple[RuleResult, ...]
    events: int
    hosts: int
    cmdline_share: float | None  # share of events with a non-empty CommandLine
    warnings: tuple[str, ...] = field(default_factory=tuple)
    hosts_without_command_line: tuple[str, ...] = ()  # sampled hosts none of whose events has a CommandLine


@dataclass(frozen=True)
class Exposure:
    events_with_secrets: int
    events: int
    by_host: dict[str, int]


def builtin_rules_dir() -> Path:
    return Path(str(resources.files("auditplan.emit").joinpath("sigma")))


def _detection_items(detection: SigmaDetection | SigmaDetectionItem) -> list[SigmaDetectionItem]:
    if isinstance(detection, SigmaDetectionItem):
        return [detection]
    return [item for sub in detection.detection_items for item in _detection_items(sub)]


def _all_items(rule: SigmaRule) -> list[SigmaDetectionItem]:
    return [item for detection in rule.detection.detections.values() for item in _detection_items(detection)]


def canonicalize_field_names(rule: SigmaRule) -> None:
    """Spell every known field the way 4688 / Sigma does, whatever case the rule used (in place).

    Sigma field names are case-sensitive, but rule writers (and SIEMs) vary; a lower-case `commandline`
    meaning anything but CommandLine would surprise every user. Unknown fields keep their spelling.
    """
    for item in _all_items(rule):
        if item.field:
            item.field = CANONICAL_FIELD_NAMES.get(item.field.lower(), item.field)


def needs_unicode_case_folding(value: SigmaString) -> bool:
    """Whether a case-insensitive match of `value` depends on a non-ASCII letter's case."""
    return any(isinstance(part, str) and any(not c.isascii() and c.lower() != c.upper() for c in part)
               for part in value.s)


def string_pattern(value: SigmaString, *, cased: bool, end_anchor: str) -> str:
    """A regular expression meaning what Sigma's (wildcard) string match means.

    `*` and `?` match any character, a newline too (as SQLite's LIKE % and _ do), hence `(?s)`; the match
    is anchored at both ends unless a wildcard opens that end. `end_anchor` is the very end of the text:
    `\\z` in .NET, `\\Z` in Python (`$` would also match before a final newline).
    """
    parts = list(value.s)
    starts_open = bool(parts) and parts[0] == SpecialChars.WILDCARD_MULTI
    ends_open = len(parts) > 1 and parts[-1] == SpecialChars.WILDCARD_MULTI
    pieces: list[str] = []
    for part in parts[int(starts_open) : len(parts) - int(ends_open)]:
        if part == SpecialChars.WILDCARD_MULTI:
            pieces.append(".*")
        elif part == SpecialChars.WILDCARD_SINGLE:
            pieces.append(".")
        else:
            pieces.append(re.escape(str(part)))
    body = ("" if starts_open else "^") + "".join(pieces) + ("" if ends_open else end_anchor)
    return ("(?s)" if cased else "(?is)") + body


def _unicode_folded(value: object) -> object:
    if isinstance(value, SigmaExpansion):
        return SigmaExpansion([_unicode_folded(v) for v in value.values])  # type: ignore[misc]
    if (isinstance(value, SigmaString) and not isinstance(value, SigmaCasedString)
            and needs_unicode_case_folding(value)):
        return SigmaRegularExpression(string_pattern(value, cased=False, end_anchor=r"\Z"))
    return value


def _fold_unicode_case(rule: SigmaRule) -> None:
    """Match case-insensitive values with non-ASCII letters through REGEXP (Unicode `(?i)`), not LIKE."""
    for item in _all_items(rule):
        item.value = [_unicode_folded(v) for v in item.value]  # type: ignore[misc]


def _rule_fields(rule: SigmaRule) -> frozenset[str]:
    return frozenset(WINDOWS_AUDIT_FIELD_MAP.get(i.field, i.field) for i in _all_items(rule) if i.field)


def _leaf_constant(node: object, missing: frozenset[str]) -> bool | None:
    """A condition leaf's value on every 4688 event, if it reads a field 4688 lacks (NULL there)."""
    if isinstance(node, ConditionFieldEqualsValueExpression):
        name = WINDOWS_AUDIT_FIELD_MAP.get(node.field, node.field)
        if name in missing:
            return isinstance(node.value, SigmaNull)  # a missing field is null; it equals nothing else
    return None


def _constant(node: object, missing: frozenset[str]) -> bool | None:
    """The condition's value on 4688 when only `missing` fields are known (None: depends on the event)."""
    if isinstance(node, ConditionAND | ConditionOR):
        values = [_constant(arg, missing) for arg in node.args]
        absorbing = isinstance(node, ConditionOR)  # True absorbs an OR, False an AND
        if absorbing in values:
            return absorbing
        return (not absorbing) if all(v is not None for v in values) else None
    if isinstance(node, ConditionNOT):
        inner = _constant(node.args[0], missing)
        return None if inner is None else not inner
    return _leaf_constant(node, missing)


def _leaf_polarities(node: object, field_name: str, negated: bool = False) -> set[bool]:
    if isinstance(node, ConditionAND | ConditionOR):
        return set().union(*(_leaf_polarities(a, field_name, negated) for a in node.args))
    if isinstance(node, ConditionNOT):
        return _leaf_polarities(node.args[0], field_name, not negated)
    if isinstance(node, ConditionFieldEqualsValueExpression):
        return {negated} if WINDOWS_AUDIT_FIELD_MAP.get(node.field, node.field) == field_name else set()
    return set()


def _missing_field_notes(rule: SigmaRule, missing: frozenset[str]) -> tuple[str, ...]:
    """Say how the rule uses fields 4688 lacks: required (the rule never matches), an OR alternative, or a filter.

    Reference detections-and-peers.md 2.3: OR-branches on Sysmon-only fields are harmless, AND-uses make a
    rule dead, filters on them make it noisier on 4688 than on Sysmon.
    """
    if not missing:
        return ()
    trees = [c.parse() for c in rule.detection.parsed_condition]
    if all(_constant(t, missing) is False for t in trees):
        return ("uses fields event 4688 does not have (" + ", ".join(sorted(missing)) + "): they are NULL here and "
                "the rule's condition needs them, so it can never match on 4688",)
    notes: list[str] = []
    for name in sorted(missing):
        polarities = set().union(*(_leaf_polarities(t, name) for t in trees))
        if True in polarities:
            notes.append(f"filters on {name}, which event 4688 does not have: that exclusion never works as meant "
                         "here, so the rule is noisier on 4688 than on Sysmon")
        if False in polarities:
            notes.append(f"uses {name}, which event 4688 does not have, only in alternatives (OR): those branches "
                         "never match, the others still do")
    return tuple(notes)


def _family(rule: SigmaRule) -> int | None:
    value = rule.custom_attributes.get("auditplan_family")
    return value if isinstance(value, int) and 1 <= value <= 5 else None


def rule_files(paths: Iterable[Path]) -> tuple[list[Path], list[str]]:
    """Every .yml/.yaml file under `paths` (a file is taken as is); one problem line per missing path."""
    files: list[Path] = []
    problems: list[str] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix.lower() in RULE_SUFFIXES and p.is_file())
        elif path.exists():
            files.append(path)
        else:
            problems.append(f"{path}: no such file or folder")
    return files, problems


def load_rules(paths: Iterable[Path]) -> tuple[list[Rule], list[str]]:
    """Load and convert every .yml/.yaml under `paths`; return the rules and one problem line per bad file."""
    backend = sqliteBackend(windows_audit_pipeline())  # type: ignore[no-untyped-call]
    rules: list[Rule] = []
    files, problems = rule_files(paths)
    for file in files:
        try:
            collection = SigmaCollection.from_yaml(file.read_text(encoding="utf-8"))
            for sigma_rule in collection.rules:
                if not isinstance(sigma_rule, SigmaRule):
                    continue
                logsource = sigma_rule.logsource
                if logsource.category != "process_creation":
                    problems.append(f"{file}: {sigma_rule.title}: log source {logsource.category or logsource.service}"
                                    " is not process_creation; 4688 cannot feed it")
                    continue
                canonicalize_field_names(sigma_rule)
                fields = _rule_fields(sigma_rule)  # before conversion: the backend adds EventID in place
                field_notes = _missing_field_notes(sigma_rule, fields - FIELDS_4688)
                _fold_unicode_case(sigma_rule)
                queries = backend.convert_rule(sigma_rule)  # type: ignore[no-untyped-call]
                rules.append(
                    Rule(
                        id=str(sigma_rule.id) if sigma_rule.id else file.stem,
                        title=sigma_rule.title,
                        family=_family(sigma_rule),
                        level=str(sigma_rule.level) if sigma_rule.level else None,
                        path=str(file),
                        sql=" UNION ".join(str(q) for q in queries),
                        fields=fields,
                        description=(sigma_rule.description or "").strip(),
                        missing_field_notes=field_notes,
                    )
                )
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{file}: cannot read: {exc}")
        except (SigmaError, yaml.YAMLError, ValueError, TypeError, KeyError, AttributeError) as exc:
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            problems.append(f"{file}: not a usable Sigma rule: {first_line}")
    return rules, problems


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


def _load_events(con: sqlite3.Connection, events: pd.DataFrame, extra_fields: Iterable[str]) -> None:
    columns = list(SAMPLED_COLUMNS)
    # Fields only a rule reads get NULL columns, so its query runs (and a NULL never matches). SQLite
    # column names ignore case: one column per name whatever its spelling, or CREATE TABLE fails.
    taken = {c.lower() for c in [*columns, "EventID", "host", "row_id"]}
    extras: list[str] = []
    for name in sorted(set(extra_fields)):
        if name.lower() not in taken:
            taken.add(name.lower())
            extras.append(name)
    ddl = ", ".join(f'"{c}" TEXT COLLATE NOCASE' for c in [*columns, *extras])
    con.execute(f'CREATE TABLE logs (row_id INTEGER PRIMARY KEY, host TEXT, EventID INTEGER, {ddl})')
    frame = events.reindex(columns=["host", "event_id", *SAMPLED_COLUMNS.values()])
    names = ", ".join(columns)
    con.executemany(
        f"INSERT INTO logs (row_id, host, EventID, {names}) VALUES (?, ?, ?, ?, ?, ?, ?)",  # noqa: S608
        (
            (i, host, int(eid) if eid == eid and eid is not None else 4688, *(_text(v) for v in values))
            for i, (host, eid, *values) in enumerate(frame.itertuples(index=False, name=None))
        ),
    )


def _text(value: Any) -> str | None:
    # Empty is NULL: SCOM (and the event) cannot tell an empty field from a missing one.
    if value is None or (isinstance(value, float) and value != value) or value == "":
        return None
    return str(value)


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
    con = sqlite3.connect(":memory:")
    con.create_function("REGEXP", 2, _regexp, deterministic=True)
    extra = set().union(*(r.fields for r in rules)) if rules else set()
    _load_events(con, events, extra)
    per_host = Counter(events["host"]) if len(events) else Counter()
    cmdline = events["command_line"] if "command_line" in events else pd.Series(None, index=events.index, dtype=object)
    has_cmdline = cmdline.fillna("").astype(str).str.len().gt(0) if len(events) else pd.Series(dtype=bool)
    populated = int(has_cmdline.sum()) if len(events) else 0
    share = populated / len(events) if len(events) else None
    with_cmdline = set(events.loc[has_cmdline, "host"]) if len(events) else set()
    blind = tuple(sorted((str(h) for h in per_host if h not in with_cmdline), key=str.lower))
    warnings: list[str] = []
    if blind:
        volume = sum(rates.get(h, 0.0) for h in blind)
        warnings.append(
            f"{len(blind)} host(s) have no CommandLine in any sampled 4688 event (command-line auditing off?): "
            + ", ".join(blind) + f". Rules that read CommandLine cannot be evaluated on them; their "
            f"{volume:,.0f} 4688 events/day are left out of those rules' alerts/day, not scored as zero."
        )
    if share is not None and share < MIN_CMDLINE_SHARE:
        warnings.append(
            f"only {populated} of {len(events)} sampled 4688 events ({share:.0%}) carry a CommandLine, so the "
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
        skipped = blind if rule.uses_command_line else ()
        if skipped:
            shown = ", ".join(skipped[:5]) + (f" and {len(skipped) - 5} more" if len(skipped) > 5 else "")
            notes.append(f"cannot be evaluated on {len(skipped)} host(s) without CommandLine ({shown}); "
                         "alerts/day covers the other hosts only")
        sql = rule.sql.replace("SELECT * FROM logs", "SELECT host, NewProcessName FROM logs", 1)
        try:
            matched = con.execute(sql).fetchall()
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
            )
        )
    con.close()
    return Evaluation(tuple(results), len(events), len(per_host), share, tuple(warnings), blind)


def exposure(events: pd.DataFrame) -> Exposure:
    """Sampled events whose command line held a credential (already redacted when collected).

    An event counts when the collector's count (`secrets_found`) says so; where that count is unknown
    (no column, or NULL: events that reached auditplan already redacted), when its command line carries
    the collector's redaction marker.
    """
    if not len(events):
        return Exposure(0, 0, {})
    counted = (pd.to_numeric(events["secrets_found"], errors="coerce") if "secrets_found" in events
               else pd.Series(float("nan"), index=events.index))
    marked = (events["command_line"].fillna("").astype(str).str.contains(REDACTED, regex=False)
              if "command_line" in events else pd.Series(False, index=events.index))
    found = (counted.fillna(0) > 0) | (counted.isna() & marked)
    hit = events[found]
    return Exposure(len(hit), len(events), {str(k): int(v) for k, v in sorted(Counter(hit["host"]).items())})


EXPORT_BACKENDS: Final = {
    # format: (backend module, backend class, pipeline module, pipeline function, pip package)
    "splunk": ("sigma.backends.splunk", "SplunkBackend", "sigma.pipelines.splunk", "splunk_windows_pipeline",
               "pysigma-backend-splunk"),
    "kusto": ("sigma.backends.kusto", "KustoBackend", "sigma.pipelines.azuremonitor", "azure_monitor_pipeline",
              "pysigma-backend-kusto"),
    "elastic": ("sigma.backends.elasticsearch", "LuceneBackend", "sigma.pipelines.elasticsearch.windows",
                "ecs_windows", "pysigma-backend-elasticsearch"),
}


class ExportUnavailable(RuntimeError):
    """The pySigma backend for a query language is not installed."""


def export_queries(files: Sequence[Path], fmt: str) -> tuple[list[tuple[str, str]], list[str]]:
    """(rule file, query) pairs in a SIEM query language, through the matching pySigma backend.

    A file that cannot be read or converted is skipped with one problem line naming it (as `load_rules`).
    """
    import importlib

    module_name, class_name, pipeline_module, pipeline_name, package = EXPORT_BACKENDS[fmt]
    try:
        backend_cls = getattr(importlib.import_module(module_name), class_name)
        pipeline = getattr(importlib.import_module(pipeline_module), pipeline_name)()
    except (ImportError, AttributeError):
        raise ExportUnavailable(f"--format {fmt} needs the pySigma backend: pip install {package}") from None
    backend = backend_cls(windows_audit_pipeline() + pipeline)
    out: list[tuple[str, str]] = []
    problems: list[str] = []
    for file in files:
        try:
            collection = SigmaCollection.from_yaml(file.read_text(encoding="utf-8"))
            for rule in collection.rules:
                if isinstance(rule, SigmaRule):
                    canonicalize_field_names(rule)  # as evaluate and the SCOM export read them
            queries = backend.convert(collection)
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{file}: cannot read: {exc}")
            continue
        except (SigmaError, yaml.YAMLError, ValueError, TypeError, KeyError, AttributeError) as exc:
            first_line = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            problems.append(f"{file}: not converted to {fmt}: {first_line}")
            continue
        out += [(file.name, str(query)) for query in queries]
    return out, problems
