"""A noise filter never drops an event an enabled detection rule matches: the proof, per filter.

The rules (emit/detections, evaluated as `detections evaluate` does) are run on:
1. every sampled (and, where given, attack) 4688 the filter drops;
2. probe events: the filter's fields on every distinct sampled or attack event, and on each canary
   attack command line (canaries.yml) with each candidate parent where the filter names none.
A filter any rule fires on is refused, naming the rules. Probing matters because a sample of a dozen
events a host holds no attack: a filter on powershell.exe would pass step 1 and blind the hidden-
PowerShell rule. Command lines are never shown (they may hold secrets): only counts and rule ids.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from importlib import resources
from typing import Any, Final

import pandas as pd
import yaml

from auditplan.emit.detections import Rule, evaluate
from auditplan.emit.forwarding.filters import NoiseFilter
from auditplan.model.api import FILTER_FIELDS

MAX_PROBE_EVENTS: Final = 5000  # distinct sampled events each filter is probed with
# Parents tried when a filter names no ParentProcessName (family 2 keys on ftp.exe as the parent).
CANARY_PARENTS: Final = (
    r"C:\Windows\System32\cmd.exe", r"C:\Windows\System32\ftp.exe", r"C:\Windows\explorer.exe",
    r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe", r"C:\Windows\System32\wbem\WmiPrvSE.exe",
    r"C:\Windows\System32\services.exe",
)
CANARY_USER: Final = "probe"
COLUMNS: Final = ("host", "event_id", "new_process_name", "parent_process_name", "subject_user_name", "command_line")


@dataclass(frozen=True)
class FilterVerdict:
    filter: NoiseFilter
    accepted: bool
    dropped_events: int  # sampled (and attack) events it drops
    rules_on_dropped: tuple[str, ...]  # titles of the rules that fire on events it drops
    rules_on_probes: tuple[str, ...]  # rules that fire on probe events with its fields
    probes: int

    @property
    def reason(self) -> str:
        if self.accepted:
            return (f"no enabled rule fires on the {self.dropped_events} sampled event(s) it drops or on "
                    f"{self.probes} probe event(s) with its fields")
        parts = []
        if self.rules_on_dropped:
            parts.append(f"rule(s) {_titles(self.rules_on_dropped)} fire on sampled events it drops")
        if self.rules_on_probes:
            parts.append(f"rule(s) {_titles(self.rules_on_probes)} fire on attack command lines run as its process")
        return "refused: " + "; ".join(parts)

    def document(self) -> dict[str, Any]:
        return {"match": self.filter.fields, "accepted": self.accepted, "reason": self.reason,
                "dropped_sampled_events": self.dropped_events, "rules_on_dropped": list(self.rules_on_dropped),
                "rules_on_probes": list(self.rules_on_probes), "probe_events": self.probes}


def _titles(titles: Sequence[str]) -> str:
    return ", ".join(f'"{t}"' for t in titles)


@functools.cache
def canary_command_lines() -> tuple[str, ...]:
    text = resources.files("auditplan.emit.forwarding").joinpath("canaries.yml").read_text(encoding="utf-8")
    return tuple(str(line) for line in yaml.safe_load(text)["command_lines"])


def _frame(events: pd.DataFrame) -> pd.DataFrame:
    frame = events.reindex(columns=list(COLUMNS)).copy()
    frame["event_id"] = 4688
    return frame


def _probes(f: NoiseFilter, corpus: pd.DataFrame) -> pd.DataFrame:
    fields = f.fields
    rows: list[dict[str, Any]] = []
    parents = [fields["ParentProcessName"]] if "ParentProcessName" in fields else list(CANARY_PARENTS)
    for line in canary_command_lines():
        for parent in parents:
            rows.append({"parent_process_name": parent, "command_line": line,
                         "subject_user_name": fields.get("SubjectUserName", CANARY_USER)})
    seen = corpus.reindex(columns=["parent_process_name", "subject_user_name", "command_line"]).drop_duplicates()
    rows.extend({str(k): v for k, v in record.items()} for record in seen.head(MAX_PROBE_EVENTS).to_dict("records"))
    probes = pd.DataFrame(rows, columns=["parent_process_name", "subject_user_name", "command_line"])
    for name, value in fields.items():
        probes[FILTER_FIELDS[name]] = value
    probes["host"] = "probe"
    return _frame(probes)


def _firing(rules: Sequence[Rule], events: pd.DataFrame) -> tuple[str, ...]:
    if not len(events):
        return ()
    result = evaluate(rules, events, {})
    return tuple(r.title for r in result.results if r.hits)


def check_filters(filters: Sequence[NoiseFilter], rules: Sequence[Rule], events: pd.DataFrame,
                  attack_events: pd.DataFrame | None = None) -> list[FilterVerdict]:
    """A verdict per filter: accepted only when no rule in `rules` fires on what it drops of `events`
    (sampled 4688s) and `attack_events`, nor on its probe events."""
    corpus = _frame(events if attack_events is None else pd.concat([events, attack_events], ignore_index=True))
    verdicts = []
    for f in filters:
        dropped = corpus[f.mask(corpus)]
        on_dropped = _firing(rules, dropped)
        probes = _probes(f, corpus)
        on_probes = _firing(rules, probes)
        verdicts.append(FilterVerdict(f, not on_dropped and not on_probes, len(dropped), on_dropped, on_probes,
                                      len(probes)))
    return verdicts
