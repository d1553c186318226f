"""Noise filters: what one filter drops, read from a filter file, and written in each collector's words.

A filter drops a 4688 event whose EventData fields equal the filter's values (every named field,
compared without regard to ASCII case). That equality is the widest reading of every translation
below, so the detection check (safety.py), which evaluates the rules on exactly what it drops,
covers what any collector drops:

- WEF `Suppress` and the DCR's keep-query use Windows event XPath `=` / `!=` (exact text; whether
  Windows compares case-insensitively is in docs/windows-validation.md): never more than equality;
- Splunk's blacklist is a case-insensitive regular expression anchored to the whole Data element;
- Winlogbeat's `equals` condition is exact (case-sensitive): never more than equality.

A filter file is JSON: {"filters": [{"match": {"NewProcessName": "...", "ParentProcessName": "..."}}]}
(`auditplan noise --json` writes one; extra keys beside "match" are kept as notes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pandas as pd

from auditplan.emit.errors import EmitError
from auditplan.model.api import FILTER_FIELDS  # the fields, their sampled columns, in the event's order

MAX_VALUE: Final = 1024  # longest value a filter may hold (a path is at most 32,767 chars; none is this long)
MAX_FILTERS: Final = 200


class FilterFileError(EmitError):
    """A filter file that cannot be used; the message names the file and the filter."""


@dataclass(frozen=True)
class NoiseFilter:
    """Drop 4688 events whose named EventData fields equal these values (ASCII case ignored)."""

    match: tuple[tuple[str, str], ...]  # (Windows field name, value), in FILTER_FIELDS (the event's) order

    @classmethod
    def of(cls, fields: Mapping[str, str]) -> NoiseFilter:
        order = list(FILTER_FIELDS)
        return cls(tuple(sorted(fields.items(), key=lambda kv: order.index(kv[0]))))

    @property
    def fields(self) -> dict[str, str]:
        return dict(self.match)

    def label(self) -> str:
        return " and ".join(f"{name} = {value}" for name, value in self.match)

    def mask(self, events: pd.DataFrame) -> pd.Series:
        """Which rows of a sampled-events frame this filter drops."""
        keep = pd.Series(True, index=events.index)
        for name, value in self.match:
            column = FILTER_FIELDS[name]
            values = events[column] if column in events else pd.Series("", index=events.index)
            keep &= values.fillna("").astype(str).str.lower() == value.lower()
        return keep

    def document(self) -> dict[str, Any]:
        return {"match": self.fields}


def read_filters(path: Path) -> tuple[NoiseFilter, ...]:
    """The filters of a filter file; FilterFileError naming the file (and filter) when it is not usable."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise FilterFileError(f"{path}: no such filter file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise FilterFileError(f"{path}: cannot read the filter file: {exc}") from None
    except json.JSONDecodeError as exc:
        raise FilterFileError(f"{path}: not JSON: {exc.msg} (line {exc.lineno}, column {exc.colno})") from None
    return parse_filters(raw, str(path))


def parse_filters(raw: object, where: str) -> tuple[NoiseFilter, ...]:
    if not isinstance(raw, Mapping) or not isinstance(raw.get("filters"), list):
        raise FilterFileError(f'{where}: expected a JSON object with a "filters" list')
    items: Sequence[object] = raw["filters"]
    if len(items) > MAX_FILTERS:
        raise FilterFileError(f"{where}: {len(items)} filters; at most {MAX_FILTERS}")
    out: list[NoiseFilter] = []
    for i, item in enumerate(items, 1):
        at = f"{where}: filter {i}"
        match = item.get("match") if isinstance(item, Mapping) else None
        if not isinstance(match, Mapping) or not match:
            raise FilterFileError(f'{at}: expected {{"match": {{field: value, ...}}}} naming at least one field')
        unknown = [str(k) for k in match if k not in FILTER_FIELDS]
        if unknown:
            raise FilterFileError(f"{at}: names no 4688 field auditplan can filter on: {', '.join(unknown)} "
                                  f"(fields: {', '.join(FILTER_FIELDS)})")
        if "NewProcessName" not in match:
            raise FilterFileError(f"{at}: names no NewProcessName; a filter without one would drop every process")
        fields: dict[str, str] = {}
        for name, value in match.items():
            problem = value_problem(value)
            if problem:
                raise FilterFileError(f"{at}: {name} {problem}")
            fields[str(name)] = str(value)
        out.append(NoiseFilter.of(fields))
    return tuple(dict.fromkeys(out))  # a repeated filter is one filter


def value_problem(value: object) -> str | None:
    """Why `value` cannot be a filter's value in every format (None: it can). Values come from hosts'
    events too: a control character would break the XML and the .conf line, both quotes an XPath literal."""
    if not isinstance(value, str) or not value.strip():
        return "must be a non-empty string"
    if len(value) > MAX_VALUE or re.search(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]", value):
        return f"is longer than {MAX_VALUE} characters or holds control characters"
    if "'" in value and '"' in value:
        return "holds both kinds of quote; an event XPath literal cannot"
    return None


def filters_document(filters: Sequence[NoiseFilter]) -> dict[str, Any]:
    return {"filters": [f.document() for f in filters]}


# -- translations -------------------------------------------------------------------------------------


def xpath_literal(value: str) -> str:
    """An XPath 1.0 string literal (no escapes exist: the other quote is used when one appears)."""
    return f'"{value}"' if "'" in value else f"'{value}'"


def xpath_drop(f: NoiseFilter) -> str:
    """Event XPath selecting the 4688 events `f` drops (a WEF Suppress)."""
    terms = ["System[(EventID=4688)]"] + [f"EventData[Data[@Name='{name}']={xpath_literal(value)}]"
                                          for name, value in f.match]
    return "*[" + " and ".join(terms) + "]"


def xpath_keep(filters: Sequence[NoiseFilter]) -> str:
    """Event XPath selecting the 4688 events no filter drops (a DCR has no Suppress).

    Windows event XPath has no not(): "not (a = x and b = y)" is written "a != x or b != y", which
    is the same for a field every 4688 carries exactly once (NewProcessName, ParentProcessName,
    SubjectUserName)."""
    terms = ["System[(EventID=4688)]"]
    for f in filters:
        alternatives = [f"EventData[Data[@Name='{name}']!={xpath_literal(value)}]" for name, value in f.match]
        terms.append(alternatives[0] if len(alternatives) == 1 else "(" + " or ".join(alternatives) + ")")
    return "*[" + " and ".join(terms) + "]"


def _ci(text: str) -> str:
    """A regex matching `text` with ASCII letters in either case (no inline flags: Splunk's and
    PCRE's (?i) agree, but a class per letter reads the same in every engine)."""
    out = []
    for ch in text:
        if ch.isascii() and ch.isalpha():
            out.append(f"[{ch.upper()}{ch.lower()}]")
        else:
            out.append(re.escape(ch) if ch not in " " else " ")
    return "".join(out)


def splunk_xml_regex(f: NoiseFilter) -> str:
    """A regex over a 4688's rendered XML (renderXml = true) matching the events `f` drops. Each Data
    element is matched whole (`<Data Name='X'>value</Data>`) so a value cannot match a longer path;
    Windows writes the Name attribute in single quotes; either quote is accepted."""
    parts = ["<EventID>4688</EventID>"] + [f"<Data Name=['\"]{name}['\"]>{_ci(_xml_text(value))}</Data>"
                                           for name, value in f.match]
    # No double quote in the result: the regex sits inside $XmlRegex="..." (\x22 is PCRE's quote).
    return r"[\s\S]*?".join(parts).replace('"', r"\x22")


def _xml_text(value: str) -> str:
    """`value` as the event's XML text carries it (the three characters XML text escapes)."""
    return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# Labels of the 4688 message text (classic, renderXml = false) for each field (English; the message
# of a localised Windows differs: docs/windows-validation.md).
# Regexes, each ending where the value starts; "Account Name:" appears twice in a 4688 (Subject and
# Target), so the subject's is found after its "Subject:" and "Security ID:" lines.
MESSAGE_LABELS: Final = {
    "NewProcessName": r"New Process Name:",
    "ParentProcessName": r"Creator Process Name:",
    "SubjectUserName": r"Subject:\s+Security ID:[^\r\n]*[\r\n]+\s*Account Name:",
}


def splunk_message_regex(f: NoiseFilter) -> str:
    """A regex over the classic rendered message matching the events `f` drops (one field per line)."""
    text = r"[\s\S]*?".join(rf"{MESSAGE_LABELS[name]}\s+{_ci(value)}[\r\n]" for name, value in f.match)
    return text.replace('"', r"\x22")


def winlogbeat_condition(f: NoiseFilter) -> dict[str, Any]:
    """A Beats `when` condition matching the events `f` drops (winlog.event_data fields, exact)."""
    equals = [{"equals": {f"winlog.event_data.{name}": value}} for name, value in f.match]
    return equals[0] if len(equals) == 1 else {"and": equals}
