"""The one rollout plan: frozen records, its enums and reason codes, and the plan.json format.

`auditplan plan` (model/) builds a Plan and writes it with plan_json_text; `auditplan gpo`,
`auditplan report` and `auditplan detections export` read it back with read_plan. Both sides use
these records, so there is one definition of a plan. docs/plan-json.md describes the file: keys
sorted, one host per line, numbers with six significant digits, `plan_id` the sha256 of the
document without `plan_id`, `projection_id` and the hosts' `prior_*` fields. read_plan recomputes
the id, so a plan edited by hand (or a half-copied one) is refused instead of silently used.

Fields a plan.json does not carry (older plans, plans written by hand) get defaults: None for
text and whole numbers, NaN for estimates, () for lists; each record says which.
"""

from __future__ import annotations

import enum
import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import MISSING, dataclass, fields
from typing import Any, Final

from auditplan.records.gc_pause import gc_paused
from auditplan.records.survey import AuditSetting

PLAN_SCHEMA_VERSION: Final = 1
PILOT_NAME: Final = "pilot"
QUANTILE_CHOICES: Final = ("p50", "p90")
NO_GROUP: Final = "(none)"  # a stratum's role, OS family or site when the host has none
MAX_NAME: Final = 200  # longest host, wave or subcategory name a plan may carry
# EventLog.admx Security log MaxSize (gpo-backup-format.md §A4: 20480..2147483647 KB) in whole MB.
LOG_MAX_SIZE_MB_MIN: Final = 20480 // 1024
LOG_MAX_SIZE_MB_MAX: Final = 2147483647 // 1024
# Left out of plan_id: the host's state before its wave, as the survey read it (rollback restores the
# first two; `auditplan gpo` builds the audit.csv from the source), so plans written before a field
# existed keep their id.
PRIOR_FIELDS: Final = ("prior_process_creation", "prior_cmdline_registry", "audit_policy_source")
# Also outside plan_id: which stored projection the plan was made with (records/projection.py), so
# the same waves planned with another config or price keep their id and their GPO bytes.
PROJECTION_ID: Final = "projection_id"
DIGEST_HEX: Final = 32  # plan_id and projection_id: the first 32 hex digits of a sha256

Stratum = tuple[str, str, str]  # (role, OS family, site), NO_GROUP for a missing one


class Change(enum.StrEnum):
    """What a wave changes on a host (plan.json `change`)."""

    ENABLE_4688 = "enable_4688"  # Process Creation was off: every 4688 is new load
    CMDLINE_ONLY = "cmdline_only"  # 4688 was on, its command line was not: only the CommandLine bytes are new
    NONE = "none"  # both already on


class BudgetKind(enum.StrEnum):
    GB_DAY = "gb_day"
    EPS = "eps"


class Reason(enum.StrEnum):
    """Why a host is in no wave: the code an unplaced `reason` starts with ("code: words")."""

    EXCLUDED = "excluded"
    UNREACHABLE = "unreachable"
    NO_ESTIMATE = "no_estimate"
    CMDLINE_UNSUPPORTED = "cmdline_unsupported"
    ALREADY_ENABLED = "already_enabled"
    EXCEEDS_STEP = "exceeds_step"
    EXCEEDS_BUDGET = "exceeds_budget"
    MAX_WAVES = "max_waves"


# Each reason in words for people (the CLI's plan summary, the report's tables): "N host(s) <words>".
REASON_WORDS: dict[str, str] = {
    Reason.EXCLUDED: "excluded by --exclude",
    Reason.UNREACHABLE: "could not be surveyed",
    Reason.NO_ESTIMATE: "have no estimate (run auditplan estimate)",
    Reason.CMDLINE_UNSUPPORTED: "run an OS that cannot log the command line",
    Reason.ALREADY_ENABLED: "already audit 4688 with its command line",
    Reason.EXCEEDS_STEP: "alone add more than one wave may (a larger --max-step-gb-day / --max-step-eps)",
    Reason.EXCEEDS_BUDGET: "did not fit the budget left (a larger --budget-gb-day / --budget-eps)",
    Reason.MAX_WAVES: "did not fit in --max-waves",
}


class PilotCoverage(enum.StrEnum):
    STRATUM = "stratum"  # one host per (role, OS family, site) stratum
    MARGINAL = "marginal"  # --pilot-size was smaller: each role, OS family and site, not each stratum


class PlanError(ValueError):
    """A plan that cannot be made or read: bad options, or a plan.json that is missing, malformed,
    edited by hand or of a version this code does not read; the message says where."""


@dataclass(frozen=True, order=True)
class LocalSubcategory:
    """An advanced-audit subcategory set locally on a host (a GPO with audit policy replaces it)."""

    guid: str  # lower-case, with braces
    setting: AuditSetting
    name: str  # as the host printed it (may be localised): display only, match by guid


@dataclass(frozen=True)
class PlannedHost:
    """One host's place in a plan: in a wave (`wave` set, `reason` "") or unplaced (`reason` set).

    plan.json carries every field for wave hosts except `eps_mean_p50` and `load`, and only host,
    reason, role, site and gb_day_p90 for unplaced ones; what it lacks reads as NaN / None / ()."""

    host: str
    wave: int | None  # 0 pilot, 1..N; None when unplaced
    reason: str = ""  # "" when placed, else "code: words" (Reason)
    role: str | None = None
    site: str | None = None
    os_family: str | None = None
    group: str | None = None  # the inventory group (planner only; not in plan.json)
    change: Change | None = None  # None: the plan does not say
    source: str = ""  # EstimateSource of the 4688/day figure
    events_per_day_p50: float = math.nan
    events_per_day_p90: float = math.nan
    gb_day_p50: float = math.nan  # added load
    gb_day_p90: float = math.nan
    eps_mean_p50: float = math.nan  # planner only
    eps_peak_p90: float = math.nan
    load: float = math.nan  # added load at the plan's quantile in the budget's unit (planner only)
    recommended_log_max_size_mb: int | None = None
    local_hours_p90: float | None = None
    local_subcategories: tuple[LocalSubcategory, ...] = ()
    # The host's state before its wave, from the live survey (None: unknown); rollback.ps1 restores it.
    prior_process_creation: AuditSetting | None = None
    prior_cmdline_registry: int | None = None  # ProcessCreationIncludeCmdLine_Enabled: 1, or 0 for "not 1"
    # Where the host's audit policy comes from ("gpo", "local", "default"; None: unknown), records/survey.py.
    audit_policy_source: str | None = None

    @property
    def stratum(self) -> Stratum:
        return (self.role or NO_GROUP, self.os_family or NO_GROUP, self.site or NO_GROUP)

    @classmethod
    def bulk(cls, values: Iterable[tuple[str, Any]]) -> PlannedHost:
        """A record from (field, value) pairs, the other fields at their defaults, for the planner
        and the plan reader, which build one per host. The generated __init__ of a frozen dataclass
        sets each of the 21 fields through object.__setattr__: 7.6 us a host, 0.76 s at 100,000
        hosts; filling the new record's __dict__ at once takes about 1 us (bench/plan.py). The
        record is as frozen as any other. Callers pass field names only (tests/model/test_plan_file.py
        checks that a bulk record equals the one __init__ builds)."""
        record = object.__new__(cls)
        record.__dict__.update(_HOST_DEFAULTS)
        record.__dict__.update(values)
        return record

    @property
    def reason_code(self) -> str:
        """The Reason code of an unplaced host ("" when placed)."""
        return self.reason.split(":", 1)[0].strip()


_HOST_DEFAULTS: Final = {f.name: f.default for f in fields(PlannedHost) if f.default is not MISSING}
HOST_FIELDS: Final = tuple(f.name for f in fields(PlannedHost))


@dataclass(frozen=True)
class WaveLoad:
    """A wave's load (or the running total up to it), summed over its hosts; None: not in the plan."""

    gb_day_p50: float | None = None
    gb_day_p90: float | None = None
    eps_mean_p50: float | None = None
    eps_peak_p90: float | None = None
    budget: float | None = None  # in the budget's unit at its quantile: what the planner held under it


@dataclass(frozen=True)
class Wave:
    number: int  # 0 = pilot
    name: str
    hosts: tuple[PlannedHost, ...]
    load: WaveLoad | None = None  # None: not in the plan
    cumulative: WaveLoad | None = None  # this wave and every earlier one

    @property
    def recommended_log_max_size_mb(self) -> int | None:
        """The largest Security log size any of the wave's hosts is recommended (None: none is)."""
        sizes = [h.recommended_log_max_size_mb for h in self.hosts if h.recommended_log_max_size_mb is not None]
        return max(sizes) if sizes else None


@dataclass(frozen=True)
class Budget:
    """The headroom the plan was made for; `value` and `max_step` are in the kind's unit."""

    kind: BudgetKind
    value: float
    max_step: float | None = None  # None: not in the plan
    quantile: str = "p90"
    max_waves: int | None = None
    pilot_size: int | None = None
    first: tuple[str, ...] = ()  # the --first selectors, in priority order


@dataclass(frozen=True)
class Pilot:
    coverage: PilotCoverage
    strata: int  # strata of eligible hosts
    strata_already_enabled: int  # of them, strata with a host already auditing 4688 with its command line


@dataclass(frozen=True)
class Plan:
    """A rollout plan. `plan_id` is "" until the plan is written (plan_document computes it) and
    verified when it is read."""

    siem: str | None
    waves: tuple[Wave, ...]
    unplaced: tuple[PlannedHost, ...] = ()
    budget: Budget | None = None  # None: not in the plan
    pilot: Pilot | None = None  # None: not in the plan
    warnings: tuple[str, ...] = ()
    plan_id: str = ""
    created_at: str | None = None  # ISO 8601, only in plans written by hand; `auditplan plan` writes none
    # The digest of the projection `auditplan plan` stored with this plan (projection_id_of); None in
    # plans written before it was recorded, or by hand.
    projection_id: str | None = None
    # The planner's strata with a host already auditing 4688 with its command line; plan.json keeps
    # only their count (pilot.strata_already_enabled), so a plan read back has ().
    done_strata: tuple[Stratum, ...] = ()
    # Read with accept_edited from a plan.json whose content no longer matches its plan_id: the id the
    # content has now (plan_id stays the one written, the plan it was edited from). None: not edited.
    edited_id: str | None = None

    @property
    def pilot_coverage(self) -> PilotCoverage | None:
        return self.pilot.coverage if self.pilot else None

    def wave_of(self) -> dict[str, int | None]:
        """Host -> its wave number, None when unplaced."""
        out: dict[str, int | None] = {h.host: w.number for w in self.waves for h in w.hosts}
        out.update({h.host: None for h in self.unplaced})
        return out


# ---- plan_id ---------------------------------------------------------------------------------


def _canonical(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def plan_id_of(doc: Mapping[str, Any]) -> str:
    """The plan_id a plan.json document should carry: sha256 (first 32 hex) of its canonical JSON
    without `plan_id`, `projection_id` and the wave hosts' prior_* fields (docs/plan-json.md).
    ValueError when the document holds NaN or Infinity (not JSON)."""
    stripped = {k: v for k, v in doc.items() if k not in ("plan_id", PROJECTION_ID)}
    waves = stripped.get("waves")
    if isinstance(waves, list):
        stripped["waves"] = [
            {**w, "hosts": [{k: v for k, v in h.items() if k not in PRIOR_FIELDS} if isinstance(h, Mapping) else h
                            for h in w["hosts"]]}
            if isinstance(w, Mapping) and isinstance(w.get("hosts"), list) else w
            for w in waves
        ]
    return hashlib.sha256(_canonical(stripped).encode("utf-8")).hexdigest()[:DIGEST_HEX]


# ---- writing ---------------------------------------------------------------------------------


def plan_number(value: float | None) -> float | None:
    """A number as plan files write it: six significant digits, stable text for byte-identical
    output; None (null) when unknown or not finite."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{value:.6g}")


def _host_doc(h: PlannedHost) -> dict[str, Any]:
    return {
        "host": h.host,
        "role": h.role,
        "site": h.site,
        "os_family": h.os_family,
        "change": h.change,
        "source": h.source,
        "events_per_day_p50": plan_number(h.events_per_day_p50),
        "events_per_day_p90": plan_number(h.events_per_day_p90),
        "gb_day_p50": plan_number(h.gb_day_p50),
        "gb_day_p90": plan_number(h.gb_day_p90),
        "eps_peak_p90": plan_number(h.eps_peak_p90),
        "local_hours_p90": plan_number(h.local_hours_p90),
        "local_subcategories": [{"guid": s.guid, "setting": s.setting, "name": s.name} for s in h.local_subcategories],
        "recommended_log_max_size_mb": h.recommended_log_max_size_mb,
    }


def _load_doc(load: WaveLoad | None, keys: Sequence[str]) -> dict[str, float | None]:
    return {k: plan_number(getattr(load, k) if load is not None else None) for k in keys}


LOAD_KEYS: Final = ("gb_day_p50", "gb_day_p90", "eps_mean_p50", "eps_peak_p90", "budget")
CUMULATIVE_KEYS: Final = ("gb_day_p50", "gb_day_p90", "budget")  # the ones plan.json carries


def plan_document(plan: Plan) -> dict[str, Any]:
    """plan.json as a dict (docs/plan-json.md, schema version 1), with its plan_id."""
    with gc_paused():
        return _plan_document(plan)


def _plan_document(plan: Plan) -> dict[str, Any]:
    waves: list[dict[str, Any]] = [
        {
            "wave": w.number,
            "name": w.name,
            "hosts": [_host_doc(h) for h in w.hosts],
            "load": _load_doc(w.load, LOAD_KEYS),
            "cumulative": _load_doc(w.cumulative, CUMULATIVE_KEYS),
        }
        for w in plan.waves
    ]
    doc: dict[str, Any] = {"schema_version": PLAN_SCHEMA_VERSION, "siem": plan.siem}
    if plan.budget is not None:
        b = plan.budget
        doc["budget"] = {"kind": b.kind, "value": b.value, "quantile": b.quantile, "max_step": b.max_step,
                         "max_waves": b.max_waves, "pilot_size": b.pilot_size, "first": list(b.first)}
    if plan.pilot is not None:
        doc["pilot"] = {"coverage": plan.pilot.coverage, "strata": plan.pilot.strata,
                        "strata_already_enabled": plan.pilot.strata_already_enabled}
    doc["waves"] = waves
    doc["unplaced"] = [
        {"host": h.host, "reason": h.reason, "role": h.role, "site": h.site, "gb_day_p90": plan_number(h.gb_day_p90)}
        for h in plan.unplaced
    ]
    doc["warnings"] = list(plan.warnings)
    if plan.created_at is not None:
        doc["created_at"] = plan.created_at
    doc["plan_id"] = hashlib.sha256(_canonical(doc).encode("utf-8")).hexdigest()[:DIGEST_HEX]
    # Added after the id on purpose: the prior state is what rollback restores, not an input that
    # changes the plan, so plans written before these fields existed keep their id.
    for w, wave_doc in zip(plan.waves, waves, strict=True):
        for h, host_doc in zip(w.hosts, wave_doc["hosts"], strict=True):
            host_doc["prior_process_creation"] = h.prior_process_creation
            host_doc["prior_cmdline_registry"] = h.prior_cmdline_registry
            host_doc["audit_policy_source"] = h.audit_policy_source
    if plan.projection_id is not None:
        doc[PROJECTION_ID] = plan.projection_id  # after the id too: it names the projection, not a plan input
    return doc


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))


def _lines_of_list(key: str, items: Sequence[Any], indent: str, last: bool) -> list[str]:
    """`"key": [` then one compact item per line: readable, diffable, and fast to write (the C
    encoder serves compact items; an indented dump of 100,000 hosts takes seconds)."""
    lines = [f"{indent}{_dump(key)}: ["]
    lines.extend(f"{indent}  {_dump(item)}{',' if i < len(items) - 1 else ''}" for i, item in enumerate(items))
    lines.append(f"{indent}]{'' if last else ','}")
    return lines


def plan_json_text(plan: Plan | Mapping[str, Any]) -> str:
    """plan.json text of a Plan (or of its plan_document): keys sorted, one host per line; same
    plan, same bytes."""
    doc = plan_document(plan) if isinstance(plan, Plan) else plan
    lines = ["{"]
    keys = sorted(doc)
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        value = doc[key]
        if key == "waves":
            lines.append('  "waves": [')
            for j, wave in enumerate(value):
                lines.append("    {")
                wave_keys = sorted(wave)
                for k, wave_key in enumerate(wave_keys):
                    wave_last = k == len(wave_keys) - 1
                    if wave_key == "hosts":
                        lines.extend(_lines_of_list("hosts", wave["hosts"], "      ", wave_last))
                    else:
                        lines.append(f"      {_dump(wave_key)}: {_dump(wave[wave_key])}{'' if wave_last else ','}")
                lines.append("    }" + ("," if j < len(value) - 1 else ""))
            lines.append("  ]" + ("" if last else ","))
        elif key in ("unplaced", "warnings"):
            lines.extend(_lines_of_list(key, value, "  ", last))
        else:
            lines.append(f"  {_dump(key)}: {_dump(value)}{'' if last else ','}")
    lines.append("}")
    return "\n".join(lines) + "\n"
