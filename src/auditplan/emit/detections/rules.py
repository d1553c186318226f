"""Sigma rules as auditplan reads them: loaded, field names canonicalised, converted to SQL.

pySigma converts each rule with the `windows-audit` pipeline (process_creation -> EventID 4688,
Image -> NewProcessName, ParentImage -> ParentProcessName) into SQL for the SQLite backend
(../shared/reference/detections-and-peers.md §2). Field names are matched to 4688's and Sigma's own
case-insensitively (`commandline` is CommandLine). Sigma matches strings case-insensitively; SQLite's
LIKE and NOCASE fold ASCII letters only, so a case-insensitive value holding a non-ASCII letter with
case (ÉTÉ / été) is matched through REGEXP with Python's Unicode `(?i)` instead, as the SCOM export's
.NET `(?i)` does. ASCII values stay on the fast built-in LIKE. Left over: an ASCII letter in a rule
against the Kelvin sign or long s in an event (Unicode folds them to k and s; LIKE does not).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Final

import yaml
from sigma.backends.sqlite.sqlite import sqliteBackend
from sigma.collection import SigmaCollection
from sigma.conditions import ConditionAND, ConditionFieldEqualsValueExpression, ConditionNOT, ConditionOR
from sigma.exceptions import SigmaError
from sigma.pipelines.windows.windows import windows_audit_pipeline
from sigma.rule import SigmaDetection, SigmaDetectionItem, SigmaRule
from sigma.types import SigmaCasedString, SigmaExpansion, SigmaNull, SigmaRegularExpression, SigmaString, SpecialChars

from auditplan.text import error_line

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
    """Every .yml/.yaml file under `paths` (a file is taken as is); one problem line per path that is
    missing or cannot be read."""
    files: list[Path] = []
    problems: list[str] = []
    for path in paths:
        try:
            if path.is_dir():
                files += sorted(p for p in path.rglob("*") if p.suffix.lower() in RULE_SUFFIXES and p.is_file())
            elif path.exists():
                files.append(path)
            else:
                problems.append(f"{path}: no such file or folder")
        except OSError as exc:
            problems.append(f"{path}: cannot read: {exc.strerror or exc}")
    return files, problems


_WHERE_PREFIX = "SELECT * FROM logs WHERE "
SQL_STRING: Final = re.compile(r"'(?:[^']|'')*'")  # a SQL string literal ('' is a quote inside it)
_CLAUSE = re.compile(r"\b(?:select|union|group|order|limit|having|window)\b", re.IGNORECASE)


def _plain_where(query: str) -> bool:
    """Whether `query` is SELECT * FROM logs WHERE <condition> and nothing else (words in strings aside)."""
    return query.startswith(_WHERE_PREFIX) and not _CLAUSE.search(SQL_STRING.sub("''", query[len(_WHERE_PREFIX):]))


def one_query(queries: Sequence[str]) -> str:
    """pySigma's queries for one rule (several for a rule whose condition is a list) as one query
    that matches each event at most once: their WHEREs joined by OR. pySigma joins them with UNION,
    which the evaluator could not rewrite (every rule of that kind was "could not be evaluated") and
    which merges identical rows (fewer hits). A query of another shape is kept as UNION ALL."""
    if len(queries) == 1:
        return queries[0]
    if all(_plain_where(q) for q in queries):
        return _WHERE_PREFIX + " OR ".join(f"({q[len(_WHERE_PREFIX):]})" for q in queries)
    return " UNION ALL ".join(queries)


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
                        sql=one_query([str(q) for q in queries]),
                        fields=fields,
                        description=(sigma_rule.description or "").strip(),
                        missing_field_notes=field_notes,
                    )
                )
        except (OSError, UnicodeDecodeError) as exc:
            problems.append(f"{file}: cannot read: {exc}")
        except (SigmaError, yaml.YAMLError, ValueError, TypeError, KeyError, AttributeError) as exc:
            first_line = error_line(exc)
            problems.append(f"{file}: not a usable Sigma rule: {first_line}")
    return rules, problems
