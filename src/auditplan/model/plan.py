"""The wave planner: a stratum-covering pilot, then waves that fit the SIEM's headroom.

Loads are the *added* load of each host (projection columns `added_*`): a host already
auditing 4688 adds only its CommandLine bytes. Loads add up per host at the chosen quantile
(p90 by default): the sum of per-host p90s is the bound for estimates that are all wrong
together, which prior-based estimates are (see project.py). docs/projection.md and
docs/plan-json.md describe the rules and the output.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from auditplan.model.project import CHANGE_CMDLINE, CHANGE_ENABLE, CHANGE_NONE, NO_GROUP, Projection, gc_paused
from auditplan.model.siem import EPS_BASIS_PEAK
from auditplan.records import AuditSetting, EstimateSource
from auditplan.store.export import neutralise_cell

PLAN_SCHEMA_VERSION = 1
BUDGET_GB_DAY = "gb_day"
BUDGET_EPS = "eps"
QUANTILE_CHOICES = ("p50", "p90")
PILOT_NAME = "pilot"
STATUS_OK = "ok"

# Reason codes of unplaced hosts: the text after the colon says why in words.
REASON_EXCLUDED = "excluded"
REASON_UNREACHABLE = "unreachable"
REASON_NO_ESTIMATE = "no_estimate"
REASON_CMDLINE_UNSUPPORTED = "cmdline_unsupported"
REASON_ALREADY_ENABLED = "already_enabled"
REASON_EXCEEDS_STEP = "exceeds_step"
REASON_EXCEEDS_BUDGET = "exceeds_budget"
REASON_MAX_WAVES = "max_waves"

# gpo-backup-format.md / DESIGN.md: 4688 CommandLine needs build >= 9600 (2012 R2 / 8.1) or KB3004375.
CMDLINE_UNSUPPORTED_TEXT = "command-line auditing needs Windows 8.1 / Server 2012 R2 or later, or KB3004375"


class PlanError(ValueError):
    """Plan options that cannot work; the message says which."""


@dataclass(frozen=True)
class PlanOptions:
    budget_kind: str  # BUDGET_GB_DAY | BUDGET_EPS
    budget: float  # headroom for the added load, in the budget's unit
    max_step: float  # per-wave increment limit, same unit
    quantile: str = "p90"
    pilot_size: int | None = None  # cap; above it the pilot covers roles, OS families and sites separately
    max_waves: int | None = None  # waves after the pilot
    first: tuple[str, ...] = ()  # "role:X", "site:X", "group:X", "os:X" or a bare value matching any
    exclude: Mapping[str, str] = field(default_factory=dict)  # host (any case) -> where it was excluded

    def __post_init__(self) -> None:
        if self.budget_kind not in (BUDGET_GB_DAY, BUDGET_EPS):
            raise PlanError(f"budget kind must be {BUDGET_GB_DAY} or {BUDGET_EPS}, got {self.budget_kind!r}")
        for name, value in (("budget", self.budget), ("max step", self.max_step)):
            if not (math.isfinite(value) and value > 0):
                raise PlanError(f"{name} must be a number > 0, got {value!r}")
        if self.quantile not in QUANTILE_CHOICES:
            raise PlanError(f"quantile must be one of {', '.join(QUANTILE_CHOICES)}, got {self.quantile!r}")
        if self.pilot_size is not None and self.pilot_size < 1:
            raise PlanError(f"pilot size must be >= 1, got {self.pilot_size}")
        if self.max_waves is not None and self.max_waves < 1:
            raise PlanError(f"max waves must be >= 1, got {self.max_waves}")


@dataclass(slots=True)
class PlannedHost:
    """One host's place in the plan. Not frozen: the planner fills `wave` and `reason` in place
    (a frozen 19-field record costs ~3x more to build, and a plan can hold 100,000 of them)."""

    host: str
    role: str | None
    site: str | None
    os_family: str | None
    group: str | None
    wave: int | None  # 0 pilot, 1..N, None when unplaced
    reason: str  # "" when placed
    change: str  # project.CHANGE_*
    source: str  # EstimateSource of the 4688/day figure
    events_per_day_p50: float
    events_per_day_p90: float
    gb_day_p50: float  # added load
    gb_day_p90: float
    eps_mean_p50: float
    eps_peak_p90: float
    load: float  # added load at the plan's quantile, in the budget's unit
    recommended_log_max_size_mb: int | None
    local_hours_p90: float | None
    local_subcategories: tuple[tuple[str, str, str], ...] = ()  # (guid, setting, name as the host printed it)
    # The host's state before its wave, from the live survey (None: unknown); rollback.ps1 restores it.
    prior_process_creation: str | None = None  # collect AuditSetting value of Process Creation
    prior_cmdline_registry: int | None = None  # ProcessCreationIncludeCmdLine_Enabled: 1, or 0 for "not 1"

    @property
    def stratum(self) -> tuple[str, str, str]:
        return (self.role or NO_GROUP, self.os_family or NO_GROUP, self.site or NO_GROUP)


@dataclass(frozen=True)
class Wave:
    number: int
    name: str
    hosts: tuple[PlannedHost, ...]

    def total(self, attr: str) -> float:
        return math.fsum(getattr(h, attr) for h in self.hosts)


@dataclass(frozen=True)
class Plan:
    siem: str
    options: PlanOptions
    waves: tuple[Wave, ...]
    unplaced: tuple[PlannedHost, ...]
    pilot_coverage: str  # "stratum" | "marginal"
    strata: tuple[tuple[str, str, str], ...]  # strata of eligible hosts
    done_strata: tuple[tuple[str, str, str], ...] = ()  # strata with a host already fully enabled
    warnings: tuple[str, ...] = ()

    def wave_of(self) -> dict[str, int | None]:
        out: dict[str, int | None] = {h.host: w.number for w in self.waves for h in w.hosts}
        out.update({h.host: None for h in self.unplaced})
        return out


def _none(value: Any) -> Any:
    """None for every kind of missing (None, NaN, pd.NA) and for the projection's "(none)" group."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str) and value == NO_GROUP:
        return None
    return value


def _matches(selector: str, host: PlannedHost) -> bool:
    kind, _, value = selector.partition(":")
    if not value:
        value, kind = kind, ""
    fields = {"role": host.role, "site": host.site, "group": host.group, "os": host.os_family, "host": host.host}
    if kind:
        if kind not in fields:
            raise PlanError(f"--first {selector!r}: use role:, site:, group:, os: or host: (or a bare name)")
        return (fields[kind] or "").lower() == value.lower()
    return any((v or "").lower() == value.lower() for v in fields.values())


def _survey_facts(survey: pd.DataFrame | None) -> dict[str, dict[str, Any]]:
    if survey is None or not len(survey) or "host" not in survey.columns:
        return {}
    keep = [c for c in ("host", "status", "reason", "group") if c in survey.columns]
    out: dict[str, dict[str, Any]] = {}
    # A host can have several results (survey and EVTX ingest): one that ended "ok" wins.
    for values in zip(*(survey[c].astype(object).tolist() for c in keep), strict=True):
        r = dict(zip(keep, values, strict=True))
        key = str(r["host"]).lower()
        if key not in out or str(r.get("status", STATUS_OK)) == STATUS_OK:
            out[key] = r
    return out


# Sources whose audit policy was read from the host (auditpol, registry). An EVTX ingest infers it
# from events (collect/evtx.py): it cannot see the Failure flag or the registry value itself.
LIVE_SURVEY_SOURCES = ("winrm",)
_PRIOR_SETTINGS = frozenset(s.value for s in AuditSetting)


def _prior_audit(survey: pd.DataFrame | None) -> dict[str, tuple[str | None, int | None]]:
    """Host (lower case) -> (Process Creation setting, command-line registry value) from its live
    survey. The store keeps `cmdline_enabled` as "value == 1" (collect/parsers.py): False covers 0,
    absent and any other value, which all mean off (gpo-backup-format.md §A2), so 0 stands for
    "not 1" and the store cannot tell an absent value from 0."""
    if survey is None or not len(survey) or not {"host", "process_creation", "cmdline_enabled"} <= set(survey.columns):
        return {}
    cols = ["host", "status", "source", "process_creation", "cmdline_enabled"]
    out: dict[str, tuple[str | None, int | None]] = {}
    for name, status, source, setting, cmdline in zip(
        *((survey[c].astype(object).tolist() if c in survey.columns else [None] * len(survey)) for c in cols),
        strict=True,
    ):
        if _none(status) not in (None, STATUS_OK) or _none(source) not in (None, *LIVE_SURVEY_SOURCES):
            continue
        setting = _none(setting)
        cmdline = _none(cmdline)
        out[str(name).lower()] = (
            str(setting) if setting is not None and str(setting) in _PRIOR_SETTINGS else None,
            None if cmdline is None else int(bool(cmdline)),
        )
    return out


def _load_column(projection: Projection, options: PlanOptions) -> str:
    """The whole-stream projection column the budget counts; "added_" + it is the added load."""
    q = options.quantile
    if options.budget_kind == BUDGET_GB_DAY:
        return f"gb_day_{q}"
    basis = "peak" if projection.profile.eps_basis == EPS_BASIS_PEAK else "mean"
    return f"eps_{basis}_{q}"


def _build_hosts(
    projection: Projection,
    options: PlanOptions,
    survey: Mapping[str, Mapping[str, Any]],
    local_subcategories: Mapping[str, Iterable[tuple[str, str, str]]],
    prior: Mapping[str, tuple[str | None, int | None]] | None = None,
) -> list[PlannedHost]:
    load_col = "added_" + _load_column(projection, options)
    f = projection.hosts
    names = [
        "host", "role", "site", "os_family", "change", "source", "events_day_p50", "events_day_p90",
        "added_gb_day_p50", "added_gb_day_p90", "added_eps_mean_p50", "added_eps_peak_p90", load_col,
        "recommended_log_max_size_mb", "local_hours_p90",
    ]
    hosts: list[PlannedHost] = []
    for (name, role, site, os_family, change, source, ev50, ev90, gb50, gb90, eps50, peak90, load, rec,
         hours) in zip(*(f[c].tolist() for c in names), strict=True):
        name = str(name)
        subs = local_subcategories.get(name)
        prior_pc, prior_cmdline = (prior or {}).get(name.lower(), (None, None))
        hosts.append(
            PlannedHost(
                host=name,
                role=None if role == NO_GROUP else role,
                site=None if site == NO_GROUP else site,
                os_family=None if os_family == NO_GROUP else os_family,
                group=_none(survey[name.lower()].get("group")) if name.lower() in survey else None,
                wave=None,
                reason="",
                change=str(change),
                source=str(source),
                events_per_day_p50=float(ev50),
                events_per_day_p90=float(ev90),
                gb_day_p50=float(gb50),
                gb_day_p90=float(gb90),
                eps_mean_p50=float(eps50),
                eps_peak_p90=float(peak90),
                load=float(load),
                recommended_log_max_size_mb=None if rec != rec else int(rec),  # NaN != NaN
                local_hours_p90=None if hours != hours or math.isinf(hours) else float(hours),
                local_subcategories=tuple(sorted(subs)) if subs else (),
                prior_process_creation=prior_pc,
                prior_cmdline_registry=prior_cmdline,
            )
        )
    return hosts


def _ineligible_reason(h: PlannedHost, options: PlanOptions, survey: Mapping[str, Mapping[str, Any]],
                       cmdline_supported: bool | None) -> str:
    where = options.exclude.get(h.host.lower())
    if where is not None:
        return f"{REASON_EXCLUDED}: {where}"
    facts = survey.get(h.host.lower())
    if facts is not None:
        status = str(facts.get("status") or "")
        if status and status != STATUS_OK:
            why = str(facts.get("reason") or "").strip()
            return f"{REASON_UNREACHABLE}: survey {status}" + (f": {why}" if why else "")
    if cmdline_supported is False:
        return f"{REASON_CMDLINE_UNSUPPORTED}: {CMDLINE_UNSUPPORTED_TEXT} (OS {h.os_family or 'unknown'})"
    if not math.isfinite(h.load):
        return f"{REASON_NO_ESTIMATE}: the estimate has missing or negative numbers"
    if h.change == CHANGE_NONE:
        return f"{REASON_ALREADY_ENABLED}: Process Creation and its command line are already audited"
    return ""


@dataclass(frozen=True)
class EnabledLoad:
    """The 4688 load that hosts already auditing Process Creation put on the SIEM today, which the
    planner's budget (headroom for the *added* load) does not count."""

    hosts: int  # hosts already auditing 4688 (change none or cmdline_only)
    measured: int  # of them, with their own measured_4688 figure
    load: float  # their 4688 stream today, at the plan's quantile, in the budget's unit
    rollout_hosts: int  # of them, enabled by an earlier plan's wave (their state changed since it placed them)
    rollout_load: float  # what those waves added, same unit
    first_budget: float | None  # budget of the oldest earlier plan with the same SIEM and budget kind
    cmdline_only: int = 0  # of `hosts`, auditing 4688 without its command line (this plan adds that)
    placed_hosts: int = 0  # hosts that earlier plans (same SIEM and budget kind) placed in waves


def _placed_as(earlier: Sequence[Mapping[str, Any]]) -> dict[str, str]:
    """Host (lower case) -> its `change` in the oldest of `earlier` that placed it in a wave: its state
    before the rollout touched it (a wave only ever moves a host enable_4688 -> cmdline_only -> none)."""
    out: dict[str, str] = {}
    for doc in earlier:
        for w in doc.get("waves", []):
            for h in w.get("hosts", []):
                out.setdefault(str(h["host"]).lower(), str(h.get("change") or ""))
    return out


def enabled_load(
    projection: Projection, options: PlanOptions, earlier: Sequence[Mapping[str, Any]] = ()
) -> EnabledLoad:
    """What hosts already auditing 4688 carry today (whole stream minus the added part, so a host
    with 4688 on but its command line off counts without the CommandLine bytes), and how much of
    that the waves of `earlier` plans (plan.json dicts, oldest first) brought.

    A host counts as enabled by an earlier wave only when its state moved on since that plan placed
    it: placed as enable_4688 and auditing Process Creation now (its stream today is what the wave
    added), or placed as cmdline_only and `none` now (only the CommandLine bytes were added: 0
    events). Being in an earlier plan's wave is not enough: a host waiting in a wave that has not
    run yet is placed again, with the same change, by this plan."""
    col = _load_column(projection, options)
    f = projection.hosts
    on = f[f["change"] != CHANGE_ENABLE]
    today = (on[col] - on["added_" + col]).to_numpy(dtype=float).tolist()
    if options.budget_kind == BUDGET_GB_DAY:
        # What the command line adds to a host's GB/day (project.py: cmdline_bytes_per_event).
        events = on[f"events_day_{options.quantile}"].to_numpy(dtype=float)
        cmdline = (events * on["cmdline_bytes_per_event"].to_numpy(dtype=float) / projection.profile.gb_bytes).tolist()
    else:
        cmdline = [0.0] * len(on)  # the command line adds bytes, not events
    names = [str(n).lower() for n in on["host"].tolist()]
    changes = [str(c) for c in on["change"].tolist()]
    same = [d for d in earlier if d.get("siem") == projection.profile.name
            and d.get("budget", {}).get("kind") == options.budget_kind]
    placed = _placed_as(same)
    rollout: list[float] = []
    for name, now, whole, cmd in zip(names, changes, today, cmdline, strict=True):
        then = placed.get(name)
        added = whole if then == CHANGE_ENABLE else cmd if then == CHANGE_CMDLINE and now == CHANGE_NONE else None
        if added is not None and math.isfinite(added):
            rollout.append(added)
    first = same[0].get("budget", {}).get("value") if same else None
    return EnabledLoad(
        hosts=len(on),
        measured=int((on["source"] == str(EstimateSource.MEASURED_4688)).sum()),
        load=math.fsum(v for v in today if math.isfinite(v)),
        rollout_hosts=len(rollout),
        rollout_load=math.fsum(rollout),
        first_budget=float(first) if isinstance(first, int | float) and not isinstance(first, bool) else None,
        cmdline_only=changes.count(CHANGE_CMDLINE),
        placed_hosts=len(placed),
    )


def _pilot(
    candidates: Sequence[PlannedHost], pilot_size: int | None, done: set[tuple[str, str, str]]
) -> tuple[list[PlannedHost], str]:
    """One lowest-load host per (role, OS family, site) stratum not in `done` (strata where a
    host already audits 4688 with its command line: they need no pilot); above `pilot_size`
    strata, the fewest of those that still cover every role, OS family and site (greedy set cover)."""
    reps: dict[tuple[str, str, str], PlannedHost] = {}
    for h in sorted(candidates, key=lambda h: (h.load, h.host)):
        if h.stratum not in done:
            reps.setdefault(h.stratum, h)
    chosen = sorted(reps.values(), key=lambda h: (h.load, h.host))
    if pilot_size is None or len(chosen) <= pilot_size:
        return chosen, "stratum"

    def values(h: PlannedHost) -> set[tuple[int, str]]:
        return {(i, v) for i, v in enumerate(h.stratum)}

    uncovered = set().union(*(values(h) for h in chosen))
    picked: list[PlannedHost] = []
    pool = list(chosen)
    while uncovered:
        best = max(pool, key=lambda h: (len(values(h) & uncovered), -h.load, _desc(h.host)))
        picked.append(best)
        pool.remove(best)
        uncovered -= values(best)
    return sorted(picked, key=lambda h: (h.load, h.host)), "marginal"


def _desc(text: str) -> tuple[int, ...]:
    # max() with a descending name tie-break: the alphabetically first host wins.
    return tuple(-ord(c) for c in text)


def plan(
    projection: Projection,
    options: PlanOptions,
    *,
    survey: pd.DataFrame | None = None,
    local_subcategories: Mapping[str, Iterable[tuple[str, str, str]]] | None = None,
) -> Plan:
    """Place every projected host in a wave (0 = pilot) or in `unplaced` with the reason.
    Surveyed hosts without an estimate are unplaced too. Deterministic for equal inputs."""
    with gc_paused():
        return _plan(projection, options, survey, local_subcategories)


def _plan(
    projection: Projection,
    options: PlanOptions,
    survey: pd.DataFrame | None,
    local_subcategories: Mapping[str, Iterable[tuple[str, str, str]]] | None,
) -> Plan:
    facts = _survey_facts(survey)
    hosts = _build_hosts(projection, options, facts, local_subcategories or {}, _prior_audit(survey))
    supported = dict(zip(projection.hosts["host"].astype(str), projection.hosts["cmdline_supported"], strict=True))
    unplaced: list[PlannedHost] = []
    eligible: list[PlannedHost] = []
    for h in sorted(hosts, key=lambda h: h.host.lower()):
        flag = supported.get(h.host)
        reason = _ineligible_reason(h, options, facts, flag if isinstance(flag, bool) else None)
        if reason:
            unplaced.append(_with(h, None, reason))
        else:
            eligible.append(h)
    estimated = {h.host.lower() for h in hosts}
    for key, row in sorted(facts.items()):
        if key not in estimated:
            unplaced.append(_orphan(str(row["host"]), row, options))

    budget, step = options.budget, options.max_step
    warnings: list[str] = []
    cumulative = 0.0
    strata = tuple(sorted({h.stratum for h in eligible}))
    done = {h.stratum for h in unplaced if h.reason.startswith(REASON_ALREADY_ENABLED)}
    pilot_hosts, coverage = _pilot(eligible, options.pilot_size, done)
    if options.pilot_size is not None and len(pilot_hosts) > options.pilot_size:
        warnings.append(
            f"pilot: {len(pilot_hosts)} hosts are needed to cover every role, OS family and site; "
            f"more than --pilot-size {options.pilot_size}"
        )
    waves: list[list[PlannedHost]] = [[]]
    increment = 0.0
    placed: set[str] = set()
    for h in pilot_hosts:
        if h.load <= step and increment + h.load <= step and cumulative + h.load <= budget:
            waves[0].append(_with(h, 0, ""))
            increment += h.load
            cumulative += h.load
            placed.add(h.host)
    missing = [h for h in pilot_hosts if h.host not in placed]
    if missing:
        warnings.append(
            f"pilot: {len(missing)} stratum representative(s) did not fit the budget or step "
            f"({', '.join(h.host for h in missing[:5])}{', ...' if len(missing) > 5 else ''}); "
            "the pilot does not cover their strata"
        )

    rest = [h for h in eligible if h.host not in placed]
    first = [s for s in options.first if s]

    def order(h: PlannedHost) -> tuple[int, float, str]:
        rank = next((i for i, s in enumerate(first) if _matches(s, h)), len(first))
        return (rank, h.load, h.host.lower())

    number = 1
    increment = 0.0
    waves.append([])
    for h in sorted(rest, key=order):
        if h.load > step:
            unplaced.append(_with(h, None, f"{REASON_EXCEEDS_STEP}: load {_fmt(h.load)} > step {_fmt(step)}"))
            continue
        if cumulative + h.load > budget:
            left = _fmt(budget - cumulative)
            unplaced.append(_with(h, None, f"{REASON_EXCEEDS_BUDGET}: load {_fmt(h.load)}, headroom left {left}"))
            continue
        if increment + h.load > step:
            if options.max_waves is not None and number >= options.max_waves:
                unplaced.append(_with(h, None, f"{REASON_MAX_WAVES}: all {options.max_waves} waves are full"))
                continue
            number += 1
            increment = 0.0
            waves.append([])
        waves[-1].append(_with(h, number, ""))
        increment += h.load
        cumulative += h.load
    built = tuple(
        Wave(i, PILOT_NAME if i == 0 else f"wave {i}", tuple(sorted(members, key=lambda h: h.host.lower())))
        for i, members in enumerate(waves)
        if members
    )
    return Plan(
        siem=projection.profile.name,
        options=options,
        waves=built,
        unplaced=tuple(sorted(unplaced, key=lambda h: h.host.lower())),
        pilot_coverage=coverage,
        strata=strata,
        done_strata=tuple(sorted(done)),
        warnings=tuple(warnings),
    )


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _with(h: PlannedHost, wave: int | None, reason: str) -> PlannedHost:
    # The planner owns these records (built by _build_hosts for this call only).
    h.wave = wave
    h.reason = reason
    return h


def _orphan(name: str, facts: Mapping[str, Any], options: PlanOptions) -> PlannedHost:
    where = options.exclude.get(name.lower())
    status = str(facts.get("status") or "")
    if where is not None:
        reason = f"{REASON_EXCLUDED}: {where}"
    elif status and status != STATUS_OK:
        why = str(facts.get("reason") or "").strip()
        reason = f"{REASON_UNREACHABLE}: survey {status}" + (f": {why}" if why else "")
    else:
        reason = f"{REASON_NO_ESTIMATE}: surveyed but not estimated (run `auditplan estimate`)"
    return PlannedHost(
        host=name, role=None, site=None, os_family=None, group=_none(facts.get("group")), wave=None,
        reason=reason, change="", source="", events_per_day_p50=0.0, events_per_day_p90=0.0,
        gb_day_p50=0.0, gb_day_p90=0.0, eps_mean_p50=0.0, eps_peak_p90=0.0, load=0.0,
        recommended_log_max_size_mb=None, local_hours_p90=None,
    )


# ---- plan.json / plan.csv -------------------------------------------------------------------


def _num(value: float) -> float | None:
    """Six significant digits: stable text for byte-identical output. None (null) when not finite."""
    return float(f"{value:.6g}") if math.isfinite(value) else None


def _host_doc(h: PlannedHost) -> dict[str, Any]:
    return {
        "host": h.host,
        "role": h.role,
        "site": h.site,
        "os_family": h.os_family,
        "change": h.change,
        "source": h.source,
        "events_per_day_p50": _num(h.events_per_day_p50),
        "events_per_day_p90": _num(h.events_per_day_p90),
        "gb_day_p50": _num(h.gb_day_p50),
        "gb_day_p90": _num(h.gb_day_p90),
        "eps_peak_p90": _num(h.eps_peak_p90),
        "local_hours_p90": None if h.local_hours_p90 is None else _num(h.local_hours_p90),
        "local_subcategories": [{"guid": g, "setting": s, "name": n} for g, s, n in h.local_subcategories],
        "recommended_log_max_size_mb": h.recommended_log_max_size_mb,
    }


def plan_document(plan: Plan, recalibration: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """plan.json as a dict (docs/plan-json.md, schema version 1)."""
    with gc_paused():
        return _plan_document(plan, recalibration)


def _plan_document(plan: Plan, recalibration: Mapping[str, Any] | None) -> dict[str, Any]:
    o = plan.options
    waves: list[dict[str, Any]] = []
    cum = {"gb_day_p50": 0.0, "gb_day_p90": 0.0, "budget": 0.0}
    for w in plan.waves:
        load = {
            "gb_day_p50": w.total("gb_day_p50"),
            "gb_day_p90": w.total("gb_day_p90"),
            "eps_mean_p50": w.total("eps_mean_p50"),
            "eps_peak_p90": w.total("eps_peak_p90"),
            "budget": w.total("load"),
        }
        for key in cum:
            cum[key] += load[key]
        waves.append(
            {
                "wave": w.number,
                "name": w.name,
                "hosts": [_host_doc(h) for h in w.hosts],
                "load": {k: _num(v) for k, v in load.items()},
                "cumulative": {k: _num(v) for k, v in cum.items()},
            }
        )
    doc: dict[str, Any] = {
        "schema_version": PLAN_SCHEMA_VERSION,
        "siem": plan.siem,
        "budget": {
            "kind": o.budget_kind,
            "value": o.budget,
            "quantile": o.quantile,
            "max_step": o.max_step,
            "max_waves": o.max_waves,
            "pilot_size": o.pilot_size,
            "first": list(o.first),
        },
        "pilot": {"coverage": plan.pilot_coverage, "strata": len(plan.strata),
                  "strata_already_enabled": len(set(plan.strata) & set(plan.done_strata))},
        "waves": waves,
        "unplaced": [
            {"host": h.host, "reason": h.reason, "role": h.role, "site": h.site, "gb_day_p90": _num(h.gb_day_p90)}
            for h in plan.unplaced
        ],
        "warnings": list(plan.warnings),
    }
    if recalibration is not None:
        doc["recalibration"] = dict(recalibration)
    doc["plan_id"] = hashlib.sha256(_canonical(doc).encode("utf-8")).hexdigest()[:32]
    # Added after the id on purpose: the prior state is what rollback restores, not an input that
    # changes the plan, so plans written before these fields existed keep their id.
    for w, wave_doc in zip(plan.waves, waves, strict=True):
        for h, host_doc in zip(w.hosts, wave_doc["hosts"], strict=True):
            host_doc["prior_process_creation"] = h.prior_process_creation
            host_doc["prior_cmdline_registry"] = h.prior_cmdline_registry
    return doc


def _canonical(doc: Mapping[str, Any]) -> str:
    return json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"), allow_nan=False)


def _dump(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, allow_nan=False, separators=(", ", ": "))


def _lines_of_list(key: str, items: Sequence[Any], indent: str, last: bool) -> list[str]:
    """`"key": [` then one compact item per line: readable, diffable, and fast to write (the C
    encoder serves compact items; an indented dump of 100,000 hosts takes seconds)."""
    lines = [f"{indent}{_dump(key)}: ["]
    lines.extend(f"{indent}  {_dump(item)}{',' if i < len(items) - 1 else ''}" for i, item in enumerate(items))
    lines.append(f"{indent}]{'' if last else ','}")
    return lines


def plan_json_text(doc: Mapping[str, Any]) -> str:
    """plan.json text: keys sorted, one host per line; same doc, same bytes."""
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


CSV_COLUMNS = ("host", "wave", "reason", "gb_day_p50", "gb_day_p90", "role", "site")


def plan_rows(plan: Plan) -> list[dict[str, Any]]:
    """plan.csv rows: every host once, sorted by host; wave empty when unplaced."""
    rows = []
    for h in sorted([*(h for w in plan.waves for h in w.hosts), *plan.unplaced], key=lambda h: h.host.lower()):
        rows.append(
            {
                "host": h.host,
                "wave": "" if h.wave is None else h.wave,
                "reason": h.reason,
                "gb_day_p50": _num(h.gb_day_p50),
                "gb_day_p90": _num(h.gb_day_p90),
                "role": h.role or "",
                "site": h.site or "",
            }
        )
    return rows


def _csv_number(value: float | None) -> str:
    return "" if value is None else repr(value)


def plan_csv_text(plan: Plan) -> str:
    """plan.csv: header + plan_rows, CRLF, RFC 4180 quoting; text cells that a spreadsheet would
    read as a formula get export.neutralise_cell's apostrophe (host names and reasons come from
    hosts and files, so they are untrusted)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for r in plan_rows(plan):
        writer.writerow(
            [neutralise_cell(r["host"]), r["wave"], neutralise_cell(r["reason"]), _csv_number(r["gb_day_p50"]),
             _csv_number(r["gb_day_p90"]), neutralise_cell(r["role"]), neutralise_cell(r["site"])]
        )
    return out.getvalue()


# ---- recalibration against a previous plan ---------------------------------------------------


def recalibration(previous: Mapping[str, Any], plan: Plan, measured: Mapping[str, float]) -> dict[str, Any]:
    """What changed since `previous` (a plan.json dict): hosts moved, load per wave, and, for
    hosts of earlier waves that now measure 4688 (`measured`: host -> events/day p50), the
    measured rate against the rate that plan assumed."""
    before: dict[str, int | None] = {}
    assumed: dict[str, float] = {}
    old_load: dict[int, dict[str, float]] = {}
    for w in previous.get("waves", []):
        number = int(w["wave"])
        old_load[number] = {k: float(w.get("load", {}).get(k, 0.0)) for k in ("gb_day_p50", "gb_day_p90")}
        for h in w.get("hosts", []):
            before[str(h["host"])] = number
            assumed[str(h["host"])] = float(h.get("events_per_day_p50", 0.0))
    for h in previous.get("unplaced", []):
        before[str(h["host"])] = None
    after = plan.wave_of()
    moved = [
        {"host": name, "from": before.get(name), "to": after.get(name)}
        for name in sorted(set(before) | set(after), key=str.lower)
        if before.get(name, -1) != after.get(name, -1)
    ]
    new_load = {
        w.number: {"gb_day_p50": w.total("gb_day_p50"), "gb_day_p90": w.total("gb_day_p90")} for w in plan.waves
    }
    waves = [
        {
            "wave": n,
            "previous": {k: _num(v) for k, v in old_load.get(n, {"gb_day_p50": 0.0, "gb_day_p90": 0.0}).items()},
            "now": {k: _num(v) for k, v in new_load.get(n, {"gb_day_p50": 0.0, "gb_day_p90": 0.0}).items()},
        }
        for n in sorted(set(old_load) | set(new_load))
    ]
    enabled = []
    for name, rate in sorted(measured.items(), key=lambda kv: kv[0].lower()):
        if before.get(name) is None or name not in assumed:
            continue
        was = assumed[name]
        enabled.append(
            {
                "host": name,
                "wave": before[name],
                "assumed_events_per_day_p50": _num(was),
                "measured_events_per_day_p50": _num(rate),
                "ratio": _num(rate / was) if was > 0 else None,
            }
        )
    return {
        "previous_plan_id": previous.get("plan_id"),
        "moved": moved,
        "waves": waves,
        "enabled": enabled,
    }
