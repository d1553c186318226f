"""The wave planner: a stratum-covering pilot, then waves that fit the SIEM's headroom.

Loads are the *added* load of each host (projection columns `added_*`): a host already
auditing 4688 adds only its CommandLine bytes. Loads add up per host at the chosen quantile
(p90 by default): the sum of per-host p90s is the bound for estimates that are all wrong
together, which prior-based estimates are (see project.py). The result is the one plan record
(records/plan.py); docs/projection.md and docs/plan-json.md describe the rules and the output.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any, Final

import pandas as pd

from auditplan.model.project import Projection
from auditplan.model.siem import EPS_BASIS_PEAK
from auditplan.records import (
    AUDIT_POLICY_SOURCES,
    HOST_FIELDS,
    NO_GROUP,
    PILOT_NAME,
    QUANTILE_CHOICES,
    AuditSetting,
    Budget,
    BudgetKind,
    Change,
    EstimateSource,
    LocalSubcategory,
    Pilot,
    PilotCoverage,
    Plan,
    PlanError,
    PlannedHost,
    Reason,
    Stratum,
    Wave,
    WaveLoad,
    parse_plan,
)
from auditplan.records.gc_pause import gc_paused

BUDGET_GB_DAY: Final = BudgetKind.GB_DAY.value
BUDGET_EPS: Final = BudgetKind.EPS.value
STATUS_OK = "ok"

# gpo-backup-format.md / DESIGN.md: 4688 CommandLine needs build >= 9600 (2012 R2 / 8.1) or KB3004375.
CMDLINE_UNSUPPORTED_TEXT = "command-line auditing needs Windows 8.1 / Server 2012 R2 or later, or KB3004375"


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

    def budget_record(self) -> Budget:
        """The plan's `budget` (what plan.json records of these options)."""
        return Budget(BudgetKind(self.budget_kind), self.budget, self.max_step, self.quantile, self.max_waves,
                      self.pilot_size, tuple(self.first))


@dataclass(slots=True)
class _Candidate:
    """A host while the planner places it: mutable, filled in place for speed (a plan can hold
    100,000 hosts), then turned into the frozen records.PlannedHost once (`_frozen`)."""

    host: str
    role: str | None
    site: str | None
    os_family: str | None
    group: str | None
    wave: int | None  # 0 pilot, 1..N, None when unplaced
    reason: str  # "" when placed
    change: Change | None
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
    local_subcategories: tuple[LocalSubcategory, ...] = ()
    # The host's state before its wave, from the live survey (None: unknown); rollback.ps1 restores it.
    prior_process_creation: AuditSetting | None = None
    prior_cmdline_registry: int | None = None  # ProcessCreationIncludeCmdLine_Enabled: 1, or 0 for "not 1"
    audit_policy_source: str | None = None  # gpo | local | default (the survey's), None: unknown

    @property
    def stratum(self) -> tuple[str, str, str]:
        return (self.role or NO_GROUP, self.os_family or NO_GROUP, self.site or NO_GROUP)


_FIELDS: Final = tuple(f.name for f in fields(_Candidate))
# _frozen copies a _Candidate into a PlannedHost field by field: both must hold the same fields.
assert set(_FIELDS) == set(HOST_FIELDS), "_Candidate and PlannedHost fields differ"
_values: Final = operator.attrgetter(*_FIELDS)


def _frozen(c: _Candidate) -> PlannedHost:
    """The frozen record of a placed (or unplaced) candidate (PlannedHost.bulk: ~1 us, not 7.6)."""
    return PlannedHost.bulk(zip(_FIELDS, _values(c), strict=True))


def _none(value: Any) -> Any:
    """None for every kind of missing (None, NaN, pd.NA) and for the projection's "(none)" group."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return None
    if isinstance(value, str) and value == NO_GROUP:
        return None
    return value


def _matches(selector: str, host: _Candidate) -> bool:
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
# from events (collect/evtx/ingest.py): it cannot see the Failure flag or the registry value itself.
LIVE_SURVEY_SOURCES = ("winrm",)
_PRIOR_SETTINGS = frozenset(s.value for s in AuditSetting)


def _prior_audit(survey: pd.DataFrame | None) -> dict[str, tuple[AuditSetting | None, int | None, str | None]]:
    """Host (lower case) -> (Process Creation setting, command-line registry value, audit policy
    source) from its live survey. The store keeps `cmdline_enabled` as "value == 1" (collect/winrm/interpret.py): False
    covers 0, absent and any other value, which all mean off (gpo-backup-format.md §A2), so 0 stands
    for "not 1" and the store cannot tell an absent value from 0."""
    if survey is None or not len(survey) or not {"host", "process_creation", "cmdline_enabled"} <= set(survey.columns):
        return {}
    cols = ["host", "status", "source", "process_creation", "cmdline_enabled", "audit_policy_source"]
    out: dict[str, tuple[AuditSetting | None, int | None, str | None]] = {}
    for name, status, source, setting, cmdline, audit_source in zip(
        *((survey[c].astype(object).tolist() if c in survey.columns else [None] * len(survey)) for c in cols),
        strict=True,
    ):
        if _none(status) not in (None, STATUS_OK) or _none(source) not in (None, *LIVE_SURVEY_SOURCES):
            continue
        setting = _none(setting)
        cmdline = _none(cmdline)
        out[str(name).lower()] = (
            AuditSetting(str(setting)) if setting is not None and str(setting) in _PRIOR_SETTINGS else None,
            None if cmdline is None else int(bool(cmdline)),
            audit_source if isinstance(audit_source, str) and audit_source in AUDIT_POLICY_SOURCES else None,
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
    local_subcategories: Mapping[str, Iterable[LocalSubcategory | tuple[str, str, str]]],
    prior: Mapping[str, tuple[AuditSetting | None, int | None, str | None]] | None = None,
) -> list[_Candidate]:
    load_col = "added_" + _load_column(projection, options)
    f = projection.hosts
    names = [
        "host", "role", "site", "os_family", "change", "source", "events_day_p50", "events_day_p90",
        "added_gb_day_p50", "added_gb_day_p90", "added_eps_mean_p50", "added_eps_peak_p90", load_col,
        "recommended_log_max_size_mb", "local_hours_p90",
    ]
    hosts: list[_Candidate] = []
    for (name, role, site, os_family, change, source, ev50, ev90, gb50, gb90, eps50, peak90, load, rec,
         hours) in zip(*(f[c].tolist() for c in names), strict=True):
        name = str(name)
        subs = local_subcategories.get(name)
        prior_pc, prior_cmdline, audit_source = (prior or {}).get(name.lower(), (None, None, None))
        hosts.append(
            _Candidate(
                host=name,
                role=None if role == NO_GROUP else role,
                site=None if site == NO_GROUP else site,
                os_family=None if os_family == NO_GROUP else os_family,
                group=_none(survey[name.lower()].get("group")) if name.lower() in survey else None,
                wave=None,
                reason="",
                change=_CHANGES.get(str(change)),
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
                local_subcategories=tuple(sorted(_subcategory(s) for s in subs)) if subs else (),
                prior_process_creation=prior_pc,
                prior_cmdline_registry=prior_cmdline,
                audit_policy_source=audit_source,
            )
        )
    return hosts


_CHANGES: Final = {c.value: c for c in Change}


def _subcategory(sub: LocalSubcategory | tuple[str, str, str]) -> LocalSubcategory:
    """A local subcategory; also from a (guid, setting, name) tuple."""
    if isinstance(sub, LocalSubcategory):
        return sub
    guid, setting, name = sub
    return LocalSubcategory(guid, AuditSetting(setting), name)


def _ineligible_reason(h: _Candidate, options: PlanOptions, survey: Mapping[str, Mapping[str, Any]],
                       cmdline_supported: bool | None) -> str:
    where = options.exclude.get(h.host.lower())
    if where is not None:
        return f"{Reason.EXCLUDED}: {where}"
    facts = survey.get(h.host.lower())
    if facts is not None:
        status = str(facts.get("status") or "")
        if status and status != STATUS_OK:
            why = str(facts.get("reason") or "").strip()
            return f"{Reason.UNREACHABLE}: survey {status}" + (f": {why}" if why else "")
    if cmdline_supported is False:
        return f"{Reason.CMDLINE_UNSUPPORTED}: {CMDLINE_UNSUPPORTED_TEXT} (OS {h.os_family or 'unknown'})"
    if not math.isfinite(h.load):
        return f"{Reason.NO_ESTIMATE}: the estimate has missing or negative numbers"
    if h.change == Change.NONE:
        return f"{Reason.ALREADY_ENABLED}: Process Creation and its command line are already audited"
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


def _placed_as(earlier: Sequence[Plan]) -> dict[str, Change | None]:
    """Host (lower case) -> its `change` in the oldest of `earlier` that placed it in a wave: its state
    before the rollout touched it (a wave only ever moves a host enable_4688 -> cmdline_only -> none)."""
    out: dict[str, Change | None] = {}
    for p in earlier:
        for w in p.waves:
            for h in w.hosts:
                out.setdefault(h.host.lower(), h.change)
    return out


def as_plan(plan: Plan | Mapping[str, Any], where: str = "plan.json") -> Plan:
    """A Plan, or a plan.json document read into one (PlanError naming `where` if it is not one)."""
    return plan if isinstance(plan, Plan) else parse_plan(plan, where)


def enabled_load(
    projection: Projection, options: PlanOptions, earlier: Sequence[Plan | Mapping[str, Any]] = ()
) -> EnabledLoad:
    """What hosts already auditing 4688 carry today (whole stream minus the added part, so a host
    with 4688 on but its command line off counts without the CommandLine bytes), and how much of
    that the waves of `earlier` plans (Plans or plan.json documents, oldest first) brought.

    A host counts as enabled by an earlier wave only when its state moved on since that plan placed
    it: placed as enable_4688 and auditing Process Creation now (its stream today is what the wave
    added), or placed as cmdline_only and `none` now (only the CommandLine bytes were added: 0
    events). Being in an earlier plan's wave is not enough: a host waiting in a wave that has not
    run yet is placed again, with the same change, by this plan."""
    col = _load_column(projection, options)
    f = projection.hosts
    on = f[f["change"] != Change.ENABLE_4688]
    today = (on[col] - on["added_" + col]).to_numpy(dtype=float).tolist()
    if options.budget_kind == BUDGET_GB_DAY:
        # What the command line adds to a host's GB/day (project.py: cmdline_bytes_per_event).
        events = on[f"events_day_{options.quantile}"].to_numpy(dtype=float)
        cmdline = (events * on["cmdline_bytes_per_event"].to_numpy(dtype=float) / projection.profile.gb_bytes).tolist()
    else:
        cmdline = [0.0] * len(on)  # the command line adds bytes, not events
    names = [str(n).lower() for n in on["host"].tolist()]
    changes = [str(c) for c in on["change"].tolist()]
    plans = [as_plan(p, "earlier plan") for p in earlier]
    same = [p for p in plans if p.siem == projection.profile.name
            and p.budget is not None and p.budget.kind == options.budget_kind]
    placed = _placed_as(same)
    rollout: list[float] = []
    for name, now, whole, cmd in zip(names, changes, today, cmdline, strict=True):
        then = placed.get(name)
        if then == Change.ENABLE_4688:
            added: float | None = whole
        else:
            added = cmd if then == Change.CMDLINE_ONLY and now == Change.NONE else None
        if added is not None and math.isfinite(added):
            rollout.append(added)
    first = same[0].budget.value if same and same[0].budget is not None else None
    return EnabledLoad(
        hosts=len(on),
        measured=int((on["source"] == str(EstimateSource.MEASURED_4688)).sum()),
        load=math.fsum(v for v in today if math.isfinite(v)),
        rollout_hosts=len(rollout),
        rollout_load=math.fsum(rollout),
        first_budget=float(first) if isinstance(first, int | float) and not isinstance(first, bool) else None,
        cmdline_only=changes.count(Change.CMDLINE_ONLY),
        placed_hosts=len(placed),
    )


def _pilot(
    candidates: Sequence[_Candidate], pilot_size: int | None, done: set[tuple[str, str, str]]
) -> tuple[list[_Candidate], str]:
    """One lowest-load host per (role, OS family, site) stratum not in `done` (strata where a
    host already audits 4688 with its command line: they need no pilot); above `pilot_size`
    strata, the fewest of those that still cover every role, OS family and site (greedy set cover)."""
    reps: dict[tuple[str, str, str], _Candidate] = {}
    for h in sorted(candidates, key=lambda h: (h.load, h.host)):
        if h.stratum not in done:
            reps.setdefault(h.stratum, h)
    chosen = sorted(reps.values(), key=lambda h: (h.load, h.host))
    if pilot_size is None or len(chosen) <= pilot_size:
        return chosen, "stratum"

    def values(h: _Candidate) -> set[tuple[int, str]]:
        return {(i, v) for i, v in enumerate(h.stratum)}

    uncovered = set().union(*(values(h) for h in chosen))
    picked: list[_Candidate] = []
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
    local_subcategories: Mapping[str, Iterable[LocalSubcategory | tuple[str, str, str]]] | None = None,
) -> Plan:
    """Place every projected host in a wave (0 = pilot) or in `unplaced` with the reason.
    Surveyed hosts without an estimate are unplaced too. Deterministic for equal inputs."""
    with gc_paused():
        return _plan(projection, options, survey, local_subcategories)


def _plan(
    projection: Projection,
    options: PlanOptions,
    survey: pd.DataFrame | None,
    local_subcategories: Mapping[str, Iterable[LocalSubcategory | tuple[str, str, str]]] | None,
) -> Plan:
    facts = _survey_facts(survey)
    hosts = _build_hosts(projection, options, facts, local_subcategories or {}, _prior_audit(survey))
    supported = dict(zip(projection.hosts["host"].astype(str).tolist(), projection.hosts["cmdline_supported"].tolist(),
                         strict=True))
    unplaced: list[_Candidate] = []
    eligible: list[_Candidate] = []
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
    done: set[Stratum] = {h.stratum for h in unplaced if h.reason.startswith(Reason.ALREADY_ENABLED)}
    pilot_hosts, coverage = _pilot(eligible, options.pilot_size, done)
    if options.pilot_size is not None and len(pilot_hosts) > options.pilot_size:
        warnings.append(
            f"pilot: {len(pilot_hosts)} hosts are needed to cover every role, OS family and site; "
            f"more than --pilot-size {options.pilot_size}"
        )
    waves: list[list[_Candidate]] = [[]]
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

    def order(h: _Candidate) -> tuple[int, float, str]:
        rank = next((i for i, s in enumerate(first) if _matches(s, h)), len(first))
        return (rank, h.load, h.host.lower())

    number = 1
    increment = 0.0
    waves.append([])
    # Without --first every rank is the same: the order is by load and name alone.
    for h in sorted(rest, key=order if first else lambda h: (h.load, h.host.lower())):
        if h.load > step:
            unplaced.append(_with(h, None, f"{Reason.EXCEEDS_STEP}: load {_fmt(h.load)} > step {_fmt(step)}"))
            continue
        if cumulative + h.load > budget:
            left = _fmt(budget - cumulative)
            unplaced.append(_with(h, None, f"{Reason.EXCEEDS_BUDGET}: load {_fmt(h.load)}, headroom left {left}"))
            continue
        if increment + h.load > step:
            if options.max_waves is not None and number >= options.max_waves:
                unplaced.append(_with(h, None, f"{Reason.MAX_WAVES}: all {options.max_waves} waves are full"))
                continue
            number += 1
            increment = 0.0
            waves.append([])
        waves[-1].append(_with(h, number, ""))
        increment += h.load
        cumulative += h.load
    return Plan(
        siem=projection.profile.name,
        waves=_waves([(i, members) for i, members in enumerate(waves) if members]),
        unplaced=tuple(_frozen(h) for h in sorted(unplaced, key=lambda h: h.host.lower())),
        budget=options.budget_record(),
        pilot=Pilot(PilotCoverage(coverage), len(strata), len(set(strata) & done)),
        warnings=tuple(warnings),
        done_strata=tuple(sorted(done)),
    )


# WaveLoad field -> the _Candidate field summed into it.
_LOAD_OF: Final = {"gb_day_p50": "gb_day_p50", "gb_day_p90": "gb_day_p90", "eps_mean_p50": "eps_mean_p50",
                   "eps_peak_p90": "eps_peak_p90", "budget": "load"}


def _waves(members: Sequence[tuple[int, Sequence[_Candidate]]]) -> tuple[Wave, ...]:
    """The frozen waves, each with its load and the running total (what plan.json records)."""
    out: list[Wave] = []
    cum = {"gb_day_p50": 0.0, "gb_day_p90": 0.0, "budget": 0.0}
    for number, hosts in members:
        # fsum is exactly rounded whatever the order: the same sums plan.json always carried.
        load = {key: math.fsum(map(operator.attrgetter(attr), hosts)) for key, attr in _LOAD_OF.items()}
        for key in cum:
            cum[key] += load[key]
        out.append(Wave(
            number, PILOT_NAME if number == 0 else f"wave {number}",
            tuple(_frozen(h) for h in sorted(hosts, key=lambda h: h.host.lower())),
            WaveLoad(**load),
            WaveLoad(gb_day_p50=cum["gb_day_p50"], gb_day_p90=cum["gb_day_p90"], budget=cum["budget"]),
        ))
    return tuple(out)


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _with(h: _Candidate, wave: int | None, reason: str) -> _Candidate:
    # The planner owns these records (built by _build_hosts for this call only).
    h.wave = wave
    h.reason = reason
    return h


def _orphan(name: str, facts: Mapping[str, Any], options: PlanOptions) -> _Candidate:
    where = options.exclude.get(name.lower())
    status = str(facts.get("status") or "")
    if where is not None:
        reason = f"{Reason.EXCLUDED}: {where}"
    elif status and status != STATUS_OK:
        why = str(facts.get("reason") or "").strip()
        reason = f"{Reason.UNREACHABLE}: survey {status}" + (f": {why}" if why else "")
    else:
        reason = f"{Reason.NO_ESTIMATE}: surveyed but not estimated (run `auditplan estimate`)"
    return _Candidate(
        host=name, role=None, site=None, os_family=None, group=_none(facts.get("group")), wave=None,
        reason=reason, change=None, source="", events_per_day_p50=0.0, events_per_day_p90=0.0,
        gb_day_p50=0.0, gb_day_p90=0.0, eps_mean_p50=0.0, eps_peak_p90=0.0, load=0.0,
        recommended_log_max_size_mb=None, local_hours_p90=None,
    )


