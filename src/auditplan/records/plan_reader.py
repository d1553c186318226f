"""Reading plan.json back into the plan records (records/plan.py), with the checks every reader
needs: the schema version, each wave, host and field (errors name the file, the wave, the host and
the key), and the plan_id recomputed from the document (a plan edited by hand is refused)."""

from __future__ import annotations

import dataclasses
import enum
import functools
import math
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any, Final, TypeGuard, TypeVar

from auditplan.records.gc_pause import gc_paused
from auditplan.records.input_limits import InputLimitError, load_json
from auditplan.records.plan import (
    DIGEST_HEX,
    LOAD_KEYS,
    LOG_MAX_SIZE_MB_MAX,
    LOG_MAX_SIZE_MB_MIN,
    MAX_NAME,
    PILOT_NAME,
    PLAN_SCHEMA_VERSION,
    PROJECTION_ID,
    QUANTILE_CHOICES,
    Budget,
    BudgetKind,
    Change,
    LocalSubcategory,
    Pilot,
    PilotCoverage,
    Plan,
    PlanError,
    PlannedHost,
    Wave,
    WaveLoad,
    plan_id_of,
)
from auditplan.records.plan_sums import sum_problems
from auditplan.records.survey import AUDIT_POLICY_SOURCES, AuditSetting


def _shown(value: object) -> str:
    """A value quoted for an error message, cut if long (records import nothing of auditplan, so
    not text.quoted; repr() already shows every non-printable character escaped)."""
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _kind(value: object) -> str:
    """What a JSON value is, in words, for "expected X, got Y"."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return {str: "a string", list: "a list", dict: "an object", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__)


def _object(value: object, where: str, *, got: bool = True) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PlanError(f"{where}: expected an object" + (f", got {_kind(value)}" if got else ""))
    return value


def _name(value: object, where: object, suffix: str = "") -> str:
    """A name (host, wave, subcategory): a non-empty string of at most MAX_NAME characters, without
    surrounding space. Kept as written: outputs make it safe (auditplan.text)."""
    if not isinstance(value, str):
        raise PlanError(f"{where}{suffix}: expected a string, got {type(value).__name__}")
    text = value.strip()
    if not text:
        raise PlanError(f"{where}{suffix}: empty")
    if len(text) > MAX_NAME:
        raise PlanError(f"{where}{suffix}: {len(text)} characters, longer than {MAX_NAME}: {_shown(text)}")
    return text


def _at(where: object, key: str) -> str:
    """`where: key`, or `where` alone: per-host checks pass the key apart, so that the message is
    only formatted when there is an error."""
    return f"{where}: {key}" if key else str(where)


def _optional_text(value: object, where: object, key: str = "") -> str | None:
    if value is not None and not isinstance(value, str):
        raise PlanError(f"{_at(where, key)}: expected a string or null, got {_kind(value)}")
    return value


def _is_number(value: object) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _number(value: object, where: object, key: str = "") -> float | None:
    """A finite number or null; the value as written (an int stays an int, so text round-trips)."""
    # Exact types first: this runs for every number of every host (bool is not exactly int).
    if value is None or (type(value) is float and math.isfinite(value)) or type(value) is int:
        return value
    if not _is_number(value):
        raise PlanError(f"{_at(where, key)}: expected a number or null, got {value!r}")
    return value


def _estimate(value: object, where: object, key: str = "") -> float:
    """A host's figure (events/day, GB/day, events/s, hours): a number >= 0, or null (NaN)."""
    number = _number(value, where, key)
    if number is None:
        return math.nan
    if number < 0:
        raise PlanError(f"{_at(where, key)}: expected a number >= 0 or null, got {_shown(number)}")
    return number


def _ordered(low: float, high: float, where: object, key: str) -> None:
    """p50 <= p90: quantiles of one distribution (rounding to six digits keeps the order)."""
    if low > high:  # False when either is NaN (unknown)
        raise PlanError(f"{where}: {key}_p50 {_shown(low)} is above {key}_p90 {_shown(high)}; "
                        "a median cannot exceed the 90th percentile")


def _whole(value: object, where: str, minimum: int) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise PlanError(f"{where}: expected a whole number >= {minimum} or null, got {_shown(value)}")
    return value


E = TypeVar("E", bound=enum.StrEnum)


@functools.cache
def _members(choices: type[enum.StrEnum]) -> dict[str, enum.StrEnum]:
    return {c.value: c for c in choices}


def _choice(value: object, choices: type[E], where: object, key: str = "", *, nullable: bool = True) -> E | None:
    if value is None and nullable:
        return None
    members = _members(choices)
    # isinstance first: an unhashable value (a list) must not reach the dict lookup.
    if not isinstance(value, str) or value not in members:
        allowed = sorted(members)
        raise PlanError(f"{_at(where, key)}: expected one of {allowed}{' or null' if nullable else ''}, "
                        f"got {_shown(value)}")
    return members[value]  # type: ignore[return-value]


def read_plan_document(path: Path) -> Any:
    """plan.json's JSON value, read bounded (size, nesting: a RecursionError traceback otherwise;
    NaN/Infinity refused); PlanError naming the file."""
    try:
        return load_json(path, what="plan.json")
    except InputLimitError as exc:
        raise PlanError(str(exc)) from None


def read_plan(path: Path, *, accept_edited: bool = False) -> Plan:
    """Read plan.json (docs/plan-json.md, schema version 1) with errors that name the file and key.
    `accept_edited`: a plan whose content no longer matches its plan_id is read (Plan.edited_id set)
    instead of refused; every other check still holds."""
    return parse_plan(read_plan_document(path), str(path), accept_edited=accept_edited)


def _subcategory(sub: object, at: str) -> LocalSubcategory:
    if not isinstance(sub, Mapping):
        raise PlanError(f"{at}: expected an object")
    guid_raw = sub.get("guid")
    guid = guid_raw.lower() if isinstance(guid_raw, str) else ""
    if not _is_guid(guid):
        raise PlanError(f"{at}.guid: not a {{GUID}}: {_shown(guid_raw)}")
    setting = sub.get("setting")
    if not isinstance(setting, str) or setting not in _SETTINGS:
        raise PlanError(f"{at}.setting: expected one of {sorted(_SETTINGS)}, got {_shown(setting)}")
    return LocalSubcategory(guid, AuditSetting(setting), _name(sub.get("name") or guid, f"{at}.name"))


_HEX: Final = frozenset("0123456789abcdef")
_SETTINGS: Final = frozenset(s.value for s in AuditSetting)


def _is_guid(text: str) -> bool:
    """{xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx}, lower-case hex."""
    parts = text[1:-1].split("-") if len(text) == 38 and text[0] == "{" and text[-1] == "}" else []
    return [len(p) for p in parts] == [8, 4, 4, 4, 12] and all(set(p) <= _HEX for p in parts)


def _log_size_mb(value: object, where: object) -> int | None:
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or not LOG_MAX_SIZE_MB_MIN <= value <= LOG_MAX_SIZE_MB_MAX:
        raise PlanError(
            f"{where}: recommended_log_max_size_mb: expected null or a whole number of MB in "
            f"{LOG_MAX_SIZE_MB_MIN}..{LOG_MAX_SIZE_MB_MAX} (Security log MaxSize, EventLog.admx), got {_shown(value)}"
        )
    return value


class _HostAt:
    """Where a wave host is ("FILE: wave N: waves[i].hosts[j] (host 'x')"), formatted only when an
    error names it: a plan has up to 100,000 hosts and nearly all of them are fine."""

    __slots__ = ("index", "name", "wave_at")

    def __init__(self, wave_at: str, index: int, name: str | None = None) -> None:
        self.wave_at, self.index, self.name = wave_at, index, name

    def __str__(self) -> str:
        at = f"{self.wave_at}.hosts[{self.index}]"
        return at if self.name is None else f"{at} (host {_shown(self.name)})"


def _wave_host(h: object, wave_at: str, index: int, wave: int) -> PlannedHost:
    """One wave host; `wave_at` names file and wave, `index` the host's place in it."""
    if not isinstance(h, Mapping):
        raise PlanError(f"{_HostAt(wave_at, index)}: expected an object")
    name = _name(h.get("host"), _HostAt(wave_at, index), ".host")
    hat = _HostAt(wave_at, index, name)
    change = _choice(h.get("change"), Change, hat, "change")
    subs_raw = h.get("local_subcategories")
    if subs_raw is None:
        subs_raw = []
    if not isinstance(subs_raw, list):
        raise PlanError(f"{hat}: local_subcategories: expected a list, got {_shown(subs_raw)}")
    subs = tuple(_subcategory(sub, f"{hat}: local_subcategories[{k}]") for k, sub in enumerate(subs_raw))
    size = _log_size_mb(h.get("recommended_log_max_size_mb"), hat)
    prior_pc = _choice(h.get("prior_process_creation"), AuditSetting, hat, "prior_process_creation")
    prior_cmdline = h.get("prior_cmdline_registry")
    if prior_cmdline is not None and (isinstance(prior_cmdline, bool) or prior_cmdline not in (0, 1)):
        raise PlanError(f"{hat}: prior_cmdline_registry: expected 0, 1 or null, got {_shown(prior_cmdline)}")
    audit_source = h.get("audit_policy_source")
    if audit_source is not None and audit_source not in AUDIT_POLICY_SOURCES:
        raise PlanError(f"{hat}: audit_policy_source: expected one of {', '.join(AUDIT_POLICY_SOURCES)} or null, "
                        f"got {_shown(audit_source)}")
    ev50, ev90 = (_estimate(h.get(k), hat, k) for k in ("events_per_day_p50", "events_per_day_p90"))
    gb50, gb90 = (_estimate(h.get(k), hat, k) for k in ("gb_day_p50", "gb_day_p90"))
    _ordered(ev50, ev90, hat, "events_per_day")
    _ordered(gb50, gb90, hat, "gb_day")
    hours = _number(h.get("local_hours_p90"), hat, "local_hours_p90")
    if hours is not None and hours < 0:
        raise PlanError(f"{hat}: local_hours_p90: expected a number >= 0 or null, got {_shown(hours)}")
    return PlannedHost.bulk((
        ("host", name), ("wave", wave),
        ("role", _optional_text(h.get("role"), hat, "role")),
        ("site", _optional_text(h.get("site"), hat, "site")),
        ("os_family", _optional_text(h.get("os_family"), hat, "os_family")),
        ("change", change),
        ("source", _optional_text(h.get("source"), hat, "source") or ""),
        ("events_per_day_p50", ev50), ("events_per_day_p90", ev90), ("gb_day_p50", gb50), ("gb_day_p90", gb90),
        ("eps_peak_p90", _estimate(h.get("eps_peak_p90"), hat, "eps_peak_p90")),
        ("recommended_log_max_size_mb", size),
        ("local_hours_p90", hours),
        ("local_subcategories", subs),
        ("prior_process_creation", prior_pc),
        ("prior_cmdline_registry", None if prior_cmdline is None else int(prior_cmdline)),
        ("audit_policy_source", audit_source),
    ))


def _wave_load(wave: Mapping[str, Any], key: str, where: str) -> WaveLoad | None:
    if key not in wave:
        return None
    values = _object(wave[key], f"{where}.{key}")
    numbers = {name: _number(value, f"{where}.{key}.{name}") for name, value in values.items()}
    for name, number in numbers.items():
        if number is not None and number < 0:
            raise PlanError(f"{where}.{key}.{name}: expected a number >= 0 or null, got {_shown(number)}")
    return WaveLoad(**{k: numbers.get(k) for k in LOAD_KEYS})


def _waves(raw: object, where: str) -> tuple[Wave, ...]:
    if not isinstance(raw, list):
        raise PlanError(f"{where}: waves: expected a list")
    waves: list[Wave] = []
    seen: set[int] = set()
    wave_of_host: dict[str, tuple[int, str]] = {}
    for i, w in enumerate(raw):
        at = f"{where}: waves[{i}]"
        if not isinstance(w, Mapping):
            raise PlanError(f"{at}: expected an object")
        number = w.get("wave")
        if not isinstance(number, int) or isinstance(number, bool) or number < 0 or number in seen:
            raise PlanError(f"{at}.wave: expected a unique whole number >= 0, got {_shown(number)}")
        seen.add(number)
        at = f"{where}: wave {number}: waves[{i}]"
        name = _name(w.get("name") or (PILOT_NAME if number == 0 else f"wave {number}"), f"{at}.name")
        hosts_raw = w.get("hosts")
        if not isinstance(hosts_raw, list):
            raise PlanError(f"{at}.hosts: expected a list")
        hosts: list[PlannedHost] = []
        for j, h in enumerate(hosts_raw):
            host = _wave_host(h, at, j, number)
            # Windows host names are case-insensitive: one computer in two waves would get both GPOs.
            key = host.host.casefold()
            if key in wave_of_host:
                first_wave, first_name = wave_of_host[key]
                raise PlanError(
                    f"{at}.hosts[{j}]: host {host.host!r} is already in wave {first_wave} (as {first_name!r}); "
                    "a host belongs to one wave"
                )
            wave_of_host[key] = (number, host.host)
            hosts.append(host)
        load_at = f"{where}: waves[{i}]"
        waves.append(Wave(number, name, tuple(hosts), _wave_load(w, "load", load_at),
                          _wave_load(w, "cumulative", load_at)))
    return tuple(sorted(waves, key=lambda w: w.number))


def _budget(raw: object, where: str) -> Budget | None:
    if raw is None:
        return None
    b = _object(raw, f"{where}: budget")
    kind = b.get("kind")
    if not isinstance(kind, str) or kind not in {k.value for k in BudgetKind}:
        raise PlanError(f"{where}: budget.kind: expected {BudgetKind.GB_DAY.value!r} or {BudgetKind.EPS.value!r}, "
                        f"got {kind!r}")
    value = b.get("value")
    if not _is_number(value) or value <= 0:
        raise PlanError(f"{where}: budget.value: expected a number > 0, got {value!r}")
    quantile = b.get("quantile", "p90")
    if quantile not in QUANTILE_CHOICES:
        raise PlanError(f"{where}: budget.quantile: expected one of {', '.join(QUANTILE_CHOICES)}, got {quantile!r}")
    first = b.get("first", [])
    if not isinstance(first, list) or not all(isinstance(s, str) for s in first):
        raise PlanError(f"{where}: budget.first: expected a list of strings, got {_shown(first)}")
    max_step = _number(b.get("max_step"), f"{where}: budget.max_step")
    if max_step is not None and max_step <= 0:
        raise PlanError(f"{where}: budget.max_step: expected a number > 0 or null, got {max_step!r}")
    return Budget(
        kind=BudgetKind(kind), value=value, max_step=max_step,
        quantile=quantile,
        max_waves=_whole(b.get("max_waves"), f"{where}: budget.max_waves", 1),
        pilot_size=_whole(b.get("pilot_size"), f"{where}: budget.pilot_size", 1),
        first=tuple(first),
    )


def _pilot(raw: object, where: str) -> Pilot | None:
    if raw is None:
        return None
    p = _object(raw, f"{where}: pilot")
    coverage = _choice(p.get("coverage"), PilotCoverage, f"{where}: pilot.coverage", nullable=False)
    assert coverage is not None  # not nullable
    return Pilot(coverage, _whole(p.get("strata"), f"{where}: pilot.strata", 0) or 0,
                 _whole(p.get("strata_already_enabled"), f"{where}: pilot.strata_already_enabled", 0) or 0)


def _unplaced(raw: object, where: str) -> tuple[PlannedHost, ...]:
    if not isinstance(raw, list):
        raise PlanError(f"{where}: unplaced: expected a list, got {_kind(raw)}")
    out: list[PlannedHost] = []
    for i, entry in enumerate(raw):
        at = f"{where}: unplaced[{i}]"
        u = _object(entry, at)
        for key in ("host", "reason"):
            if not isinstance(u.get(key), str):
                raise PlanError(f"{at}.{key}: expected a string, got {_kind(u.get(key))}")
        out.append(PlannedHost(
            host=u["host"], wave=None, reason=u["reason"],
            role=_optional_text(u.get("role"), f"{at}.role"), site=_optional_text(u.get("site"), f"{at}.site"),
            gb_day_p90=_estimate(u.get("gb_day_p90"), at, "gb_day_p90"),
        ))
    return tuple(out)


def _created_at(value: object, where: str) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise PlanError(f"{where}: created_at: expected an ISO 8601 time, got {_shown(value)}")
    try:
        datetime.fromisoformat(value)
    except ValueError:
        raise PlanError(f"{where}: created_at: not an ISO 8601 time: {_shown(value)}") from None
    return value


def _projection_id(value: object, where: str) -> str | None:
    """A projection digest (projection_id_of: 32 lower-case hex) or None; it is a store key and is
    outside plan_id, so nothing else is accepted."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) != DIGEST_HEX or not all(c in _HEX for c in value):
        raise PlanError(f"{where}: {PROJECTION_ID}: expected {DIGEST_HEX} hex digits, got {_shown(value)}")
    return value


def _strings(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise PlanError(f"{where}: expected a list of strings, got {_kind(value)}")
    return tuple(value)


def parse_plan(raw: object, where: str = "plan.json", *, accept_edited: bool = False) -> Plan:
    """A plan.json document as a Plan; PlanError naming `where` (the file), the wave, the host and
    the field. The plan_id is checked last, against the document it came with (see read_plan for
    `accept_edited`)."""
    with gc_paused():  # a record per host: no cycles, but full collections would walk them all
        return _parse_plan(raw, where, accept_edited)


class PlanEditedError(PlanError):
    """plan.json's content does not match its plan_id: edited by hand (or copied in part)."""


def _parse_plan(raw: object, where: str, accept_edited: bool) -> Plan:
    if not isinstance(raw, Mapping):
        raise PlanError(f"{where}: expected a JSON object")
    if raw.get("schema_version") != PLAN_SCHEMA_VERSION:
        raise PlanError(f"{where}: schema_version {_shown(raw.get('schema_version'))} is not {PLAN_SCHEMA_VERSION}")
    plan_id = _name(raw.get("plan_id"), f"{where}: plan_id")
    waves = _waves(raw.get("waves"), where)
    budget = _budget(raw.get("budget"), where)
    unplaced = _unplaced(raw.get("unplaced", []), where)
    siem = raw.get("siem")
    if siem is not None and not isinstance(siem, str):
        raise PlanError(f"{where}: siem: expected a string, got {_kind(siem)}")
    plan = Plan(
        siem=siem, waves=waves, unplaced=unplaced, budget=budget, pilot=_pilot(raw.get("pilot"), where),
        warnings=_strings(raw.get("warnings", []), f"{where}: warnings"), plan_id=plan_id,
        created_at=_created_at(raw.get("created_at"), where),
        projection_id=_projection_id(raw.get(PROJECTION_ID), where),
    )
    try:
        expected = plan_id_of(raw)
    except ValueError:
        raise PlanError(f"{where}: holds NaN or Infinity, which JSON does not allow") from None
    # Figures that do not add up are an edit too, even under a recomputed plan_id (plan_sums.py).
    problems = sum_problems(plan) if plan_id == expected else []
    if plan_id == expected and not problems:
        return plan
    if accept_edited:
        return dataclasses.replace(plan, edited_id=expected)
    if problems:
        raise PlanEditedError(f"{where}: {problems[0]}; edited by hand? re-run `auditplan plan`, or pass "
                              "--accept-edited-plan to use it as edited and see what changed")
    raise PlanEditedError(
        f"{where}: plan_id {_shown(plan_id)} does not match its content (edited by hand?): "
        "plan.json is written by `auditplan plan`; re-run it rather than edit the file, "
        "or pass --accept-edited-plan to use it as edited and see what changed"
    )

