"""What a hand edit changed in plan.json, for `--accept-edited-plan`: the edited document against
the one `auditplan plan` wrote (which the store keeps under its plan_id), in the terms an admin
checks before importing GPOs: hosts added, removed or moved between waves, a host's figures, a
wave's load, the budget. Pure: both documents are plain JSON values, read and checked elsewhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

from auditplan.records.plan import PRIOR_FIELDS, PROJECTION_ID

MAX_LINES: Final = 20  # a plan rewritten wholesale is summarised, not listed host by host
_NOT_COMPARED: Final = frozenset({"plan_id", PROJECTION_ID, "waves", "unplaced"})
_ABSENT: Final = object()  # a key one side does not have


def _shown(value: object) -> str:
    if value is _ABSENT:
        return "(absent)"
    text = repr(value) if isinstance(value, str) else "null" if value is None else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _flat(value: object, prefix: str) -> dict[str, object]:
    """Nested objects as dotted keys; lists and scalars as leaves."""
    if isinstance(value, Mapping) and value:
        out: dict[str, object] = {}
        for key in sorted(value, key=str):
            out.update(_flat(value[key], f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


def _changes(before: Mapping[str, object], after: Mapping[str, object], where: str) -> list[str]:
    lines = []
    for key in sorted(set(before) | set(after)):
        old, new = before.get(key, _ABSENT), after.get(key, _ABSENT)
        if old != new or type(old) is not type(new):
            lines.append(f"{where}{key} {_shown(old)} -> {_shown(new)}")
    return lines


def _places(doc: Mapping[str, Any]) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """Host (case-folded: Windows names ignore case) -> (where it is, its entry)."""
    out: dict[str, tuple[str, Mapping[str, Any]]] = {}
    for wave in doc.get("waves") or []:
        if not isinstance(wave, Mapping):
            continue
        for host in wave.get("hosts") or []:
            if isinstance(host, Mapping) and isinstance(host.get("host"), str):
                out.setdefault(host["host"].casefold(), (f"wave {wave.get('wave')}", host))
    for entry in doc.get("unplaced") or []:
        if isinstance(entry, Mapping) and isinstance(entry.get("host"), str):
            out.setdefault(entry["host"].casefold(), ("unplaced", entry))
    return out


def _waves(doc: Mapping[str, Any]) -> dict[object, Mapping[str, Any]]:
    return {w.get("wave"): w for w in doc.get("waves") or [] if isinstance(w, Mapping)}


def plan_edits(edited: Mapping[str, Any], original: Mapping[str, Any]) -> list[str]:
    """One line per difference, hosts first (moved, added, removed, figures changed), then waves
    (added, removed, name, load, cumulative), then the plan's own fields (budget, siem, ...); at most
    MAX_LINES, then a count of the rest. The hosts' prior_* fields and projection_id are left out:
    they are outside plan_id and `auditplan plan` does not check them either."""
    lines: list[str] = []
    before, after = _places(original), _places(edited)
    for key in sorted(set(before) | set(after)):
        if key not in after:
            place, entry = before[key]
            lines.append(f"host {entry['host']!r}: removed (was in {place})")
            continue
        place, entry = after[key]
        if key not in before:
            lines.append(f"host {entry['host']!r}: added to {place} (not in the plan as written)")
            continue
        old_place, old_entry = before[key]
        if old_place != place:
            lines.append(f"host {entry['host']!r}: moved from {old_place} to {place}")
        fields = {k: v for k, v in entry.items() if k not in PRIOR_FIELDS}
        old_fields = {k: v for k, v in old_entry.items() if k not in PRIOR_FIELDS}
        lines.extend(_changes(_flat(old_fields, ""), _flat(fields, ""), f"host {entry['host']!r}: "))
    old_waves, new_waves = _waves(original), _waves(edited)
    for number in sorted(set(old_waves) | set(new_waves), key=str):
        if number not in new_waves:
            lines.append(f"wave {number}: removed")
        elif number not in old_waves:
            lines.append(f"wave {number}: added")
        else:
            strip = {k: v for k, v in old_waves[number].items() if k != "hosts"}
            lines.extend(_changes(_flat(strip, ""), _flat({k: v for k, v in new_waves[number].items()
                                                            if k != "hosts"}, ""), f"wave {number}: "))
    rest = {k: v for k, v in original.items() if k not in _NOT_COMPARED}
    lines.extend(_changes(_flat(rest, ""), _flat({k: v for k, v in edited.items() if k not in _NOT_COMPARED}, ""),
                          ""))
    if not lines:  # the id differs but nothing compared does: key order or number spelling only
        lines.append("no field or host differs; only how the file spells its values (re-run `auditplan plan`)")
    if len(lines) > MAX_LINES:
        lines = [*lines[:MAX_LINES], f"... and {len(lines) - MAX_LINES} more difference(s)"]
    return lines
