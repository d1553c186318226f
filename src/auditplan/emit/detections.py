"""The targeted detections: Sigma rules, evaluated on sampled 4688 events, scaled to alerts/day.

Evaluation follows ../shared/reference/detections-and-peers.md §2: pySigma converts each rule with
the `windows-audit` pipeline (process_creation -> EventID 4688, Image -> NewProcessName,
ParentImage -> ParentProcessName) into SQL for the SQLite backend; the events sit in an in-memory
SQLite table with case-insensitive columns and a case-sensitive `re.search` REGEXP function.
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
from sigma.exceptions import SigmaError
from sigma.pipelines.windows.windows import windows_audit_pipeline
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule

# Event 4688's EventData fields (reference gpo-backup-format.md §A5), after the windows-audit mapping.
FIELDS_4688: Final = frozenset(
    {
        "EventID", "SubjectUserSid", "SubjectUserName", "SubjectDomainName", "SubjectLogonId", "NewProcessId",
        "NewProcessName", "TokenElevationType", "ProcessId", "CommandLine", "TargetUserSid", "TargetUserName",
        "TargetDomainName", "TargetLogonId", "ParentProcessName", "MandatoryLabel",
    }
)
# The fields auditplan keeps of each sampled event (collect/interface.py SampledEvent).
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
# Below this share of events with a non-empty CommandLine, command-line rules cannot be judged.
MIN_CMDLINE_SHARE: Final = 0.5


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


@dataclass(frozen=True)
class Evaluation:
    results: tuple[RuleResult, ...]
    events: int
    hosts: int
    cmdline_share: float | None  # share of events with a non-empty CommandLine
    warnings: tuple[str, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class Exposure:
    events_with_secrets: int
    events: int
    by_host: dict[str, int]


def builtin_rules_dir() -> Path:
    return Path(str(resources.files("auditplan.emit").joinpath("sigma")))


def _fields(detection: SigmaDetection | SigmaDetectionItem) -> set[str]:
    if isinstance(detection, SigmaDetectionItem):
        return {detection.field} if detection.field else set()
    found: set[str] = set()
    for item in detection.detection_items:
        found |= _fields(item)
    return found


def _rule_fields(rule: SigmaRule) -> frozenset[str]:
    raw: set[str] = set()
    for detection in rule.detection.detections.values():
        raw |= _fields(detection)
    return frozenset(WINDOWS_AUDIT_FIELD_MAP.get(f, f) for f in raw)


def _family(rule: SigmaRule) -> int | None:
    value = rule.custom_attributes.get("auditplan_family")
    return value if isinstance(value, int) and 1 <= value <= 5 else None


def load_rules(paths: Iterable[Path]) -> tuple[list[Rule], list[str]]:
    """Load and convert every .yml/.yaml under `paths`; return the rules and one problem line per bad file."""
    backend = sqliteBackend(windows_audit_pipeline())  # type: ignore[no-untyped-call]
    rules: list[Rule] = []
    problems: list[str] = []
    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files += sorted(p for p in path.rglob("*") if p.suffix in (".yml", ".yaml"))
        elif path.exists():
            files.append(path)
        else:
            problems.append(f"{path}: no such file or folder")
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
                fields = _rule_fields(sigma_rule)  # before conversion: the backend adds EventID in place
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
    # Fields only a rule reads get NULL columns, so its query runs (and a NULL never matches).
    extras = sorted(set(extra_fields) - set(columns) - {"EventID", "host"})
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
    if value is None or (isinstance(value, float) and value != value):
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
    cmdline = events["command_line"] if "command_line" in events else pd.Series(dtype=object)
    populated = int(cmdline.fillna("").astype(str).str.len().gt(0).sum()) if len(events) else 0
    share = populated / len(events) if len(events) else None
    warnings: list[str] = []
    if share is not None and share < MIN_CMDLINE_SHARE:
        warnings.append(
            f"only {populated} of {len(events)} sampled 4688 events ({share:.0%}) carry a CommandLine: "
            "command-line auditing is off on most sampled hosts, so every rule that reads CommandLine would "
            "score zero there. Their alerts/day below are NOT estimates of the enabled state."
        )
    if not len(events):
        warnings.append("no sampled 4688 events: survey hosts with Process Creation auditing on, or ingest .evtx files")
    results: list[RuleResult] = []
    for rule in rules:
        notes: list[str] = []
        if rule.missing_in_4688:
            notes.append("uses fields that event 4688 does not have: " + ", ".join(sorted(rule.missing_in_4688))
                         + " (NULL here: AND-ed conditions on them never match)")
        if rule.not_sampled:
            notes.append("uses 4688 fields auditplan does not sample: " + ", ".join(sorted(rule.not_sampled)))
        if rule.uses_command_line and share is not None and share < MIN_CMDLINE_SHARE:
            notes.append("reads CommandLine, which is empty in most of the sample")
        sql = rule.sql.replace("SELECT * FROM logs", "SELECT host, NewProcessName FROM logs", 1)
        try:
            matched = con.execute(sql).fetchall()
        except sqlite3.Error as exc:
            notes.append(f"could not be evaluated: {exc}")
            matched = []
        hosts = Counter(h for h, _ in matched)
        by_host = {
            h: hits / per_host[h] * rates[h] for h, hits in hosts.items() if h in rates and per_host[h]
        }
        fleet = sum(by_host.values()) if by_host or not hosts else None
        if hosts and len(by_host) < len(hosts):
            notes.append(f"{len(hosts) - len(by_host)} host(s) with hits have no 4688 rate; left out of alerts/day")
        results.append(
            RuleResult(
                id=rule.id, title=rule.title, family=rule.family, level=rule.level, hits=len(matched),
                alerts_per_day=fleet, hosts=dict(sorted(hosts.items())),
                alerts_per_day_by_host=dict(sorted(by_host.items())),
                top_processes=tuple(Counter(_basename(n) for _, n in matched).most_common(5)), notes=tuple(notes),
            )
        )
    con.close()
    return Evaluation(tuple(results), len(events), len(per_host), share, tuple(warnings))


def exposure(events: pd.DataFrame) -> Exposure:
    """Sampled events whose command line held a credential (already redacted when collected)."""
    if not len(events) or "secrets_found" not in events:
        return Exposure(0, len(events), {})
    hit = events[events["secrets_found"].fillna(0).astype(int) > 0]
    return Exposure(len(hit), len(events), {str(k): int(v) for k, v in Counter(hit["host"]).items()})


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


def export_queries(rule_files: Sequence[Path], fmt: str) -> list[tuple[str, str]]:
    """(rule file, query) pairs in a SIEM query language, through the matching pySigma backend."""
    import importlib

    module_name, class_name, pipeline_module, pipeline_name, package = EXPORT_BACKENDS[fmt]
    try:
        backend_cls = getattr(importlib.import_module(module_name), class_name)
        pipeline = getattr(importlib.import_module(pipeline_module), pipeline_name)()
    except (ImportError, AttributeError):
        raise ExportUnavailable(f"--format {fmt} needs the pySigma backend: pip install {package}") from None
    backend = backend_cls(windows_audit_pipeline() + pipeline)
    out: list[tuple[str, str]] = []
    for file in rule_files:
        for query in backend.convert(SigmaCollection.from_yaml(file.read_text(encoding="utf-8"))):
            out.append((file.name, str(query)))
    return out
