"""The plan's waves against its budget: each wave's load, the running total, dates and GPO names."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from auditplan.emit.gpo.backups import gpo_display_name
from auditplan.model.api import EPS_BASIS_MEAN, EPS_BASIS_PEAK, PlanTotal, Projection, plan_totals
from auditplan.records import BudgetKind, Plan, WaveLoad

UNKNOWN_BASIS = "mean or peak, as the plan's SIEM profile counts"  # neither plan.json nor the profile says
HOST_NAMES_SHOWN = 12  # per wave; the rest are in the CSV


def as_float(value: Any) -> float:
    """A number of plan.json or a frame cell as a float; NaN when it is not one."""
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _basis(profile_basis: str) -> str:
    """A SIEM profile's eps_basis as the planner reads it (model/planner.py _load_column)."""
    return EPS_BASIS_PEAK if profile_basis == EPS_BASIS_PEAK else EPS_BASIS_MEAN


def eps_basis(plan: Plan, projection: Projection | None, planned: str | None = None) -> str | None:
    """Which events/s the plan's budget counts: "mean" or "peak", the basis of its SIEM profile's
    licence (model/planner.py _load_column); None when nothing tells.

    `planned`, the eps_basis of the profile of the projection stored with the plan (the one the
    planner counted with), settles it. Without a stored projection, the report's projection's
    profile tells when it is the plan's (`auditplan report --siem` may cost another)."""
    if planned is not None:
        return _basis(planned)
    if projection is not None and (not plan.siem or projection.profile.name == plan.siem):
        return _basis(projection.profile.eps_basis)
    # Only a guess, for plans with no projection stored (stores written before auditplan kept one)
    # costed with another profile: the waves' loads tell where plan.json carries that rate under its
    # own name as well as under `budget` (mean p50, peak p90).
    quantile = plan.budget.quantile if plan.budget else "p90"
    loads = [w.load for w in plan.waves]
    for basis, held in ((EPS_BASIS_MEAN, "eps_mean_p50"), (EPS_BASIS_PEAK, "eps_peak_p90")):
        if loads and held.endswith(quantile) and all(
                math.isclose(_held(x, "budget"), _held(x, held), rel_tol=1e-4) for x in loads):
            return basis
    return None


def _held(load: WaveLoad | None, name: str) -> float:
    """A figure of a wave's load, NaN when the plan does not carry it."""
    return as_float(getattr(load, name, None))


def _wave_budget(load: WaveLoad | None, kind: str | None, quantile: str, basis: str | None) -> float:
    """A wave's (or, from `cumulative`, the running) load in the budget's unit and basis, as the
    planner held it under the budget. Plans written before `budget` existed there
    (docs/plan-json.md's first example) carry the rate under its own name, when at all."""
    value = _held(load, "budget")
    if not math.isfinite(value):
        value = _held(load, f"gb_day_{quantile}" if kind == BudgetKind.GB_DAY else f"eps_{basis}_{quantile}")
    return value


def simulated_totals(plan: Plan | None, projection: Projection | None) -> list[PlanTotal] | None:
    """The added GB/day after each wave as the projection's Monte Carlo sums it (model/plan_totals.py):
    the quantiles of the total, where the plan's own figures add up each host's quantile. None when
    the projection does not hold every planned host (a plan made from other estimates)."""
    if plan is None or projection is None or not plan.waves:
        return None
    try:
        return plan_totals(projection, [(w.number, [h.host for h in w.hosts]) for w in plan.waves])
    except KeyError:
        return None


def timeline(plan: Plan | None, start: datetime, interval: int,
             gpo_names: Mapping[int, str] | None = None, basis: str | None = None,
             totals: Sequence[PlanTotal] | None = None) -> list[dict[str, Any]]:
    """One row per wave: its load, the running load in the budget's unit, the simulated running
    total (`totals`, GB/day p10/p50/p90; NaN without), date and GPO name."""
    if not plan:
        return []
    budget = plan.budget
    kind = budget.kind if budget else None
    quantile, value = (budget.quantile, as_float(budget.value)) if budget else ("p90", math.nan)
    out = []
    running = 0.0
    for i, wave in enumerate(plan.waves):
        load, cumulative = wave.load or WaveLoad(), wave.cumulative or WaveLoad()
        own = _wave_budget(wave.load, kind, quantile, basis)
        running += own
        held = _wave_budget(wave.cumulative, kind, quantile, basis)
        if not math.isfinite(held):
            held = running
        real_name = gpo_names.get(wave.number) if gpo_names else None
        out.append({
            "wave": wave.number, "name": wave.name, "hosts": len(wave.hosts),
            "gb_day_p50": load.gb_day_p50, "gb_day_p90": load.gb_day_p90,
            "eps_peak_p90": load.eps_peak_p90, "cumulative_gb_day_p90": cumulative.gb_day_p90,
            "cumulative_p50": cumulative.gb_day_p50, "load_budget": own, "cumulative_budget": held,
            **_total_columns(totals[i] if totals is not None and i < len(totals) else None),
            "cumulative_share": held / value if math.isfinite(held) and value > 0 else None,
            "date": (start + timedelta(days=interval * i)).date().isoformat(),
            "gpo": real_name or gpo_display_name(wave.number, wave.name),
            "gpo_default": real_name is None,
            "host_names": [h.host for h in wave.hosts][:HOST_NAMES_SHOWN],
            "more_hosts": max(0, len(wave.hosts) - HOST_NAMES_SHOWN),
        })
    return out


def _total_columns(total: PlanTotal | None) -> dict[str, float]:
    r = total.added_gb_day if total is not None else None
    return {"total_p10": r.p10 if r else math.nan, "total_p50": r.p50 if r else math.nan,
            "total_p90": r.p90 if r else math.nan}


def fleet_value(projection: Projection | None, column: str) -> float:
    if projection is None or column not in projection.fleet.columns or not len(projection.fleet):
        return math.nan
    return float(projection.fleet[column].iloc[0])


def budget_summary(plan: Plan | None, waves: list[dict[str, Any]], projection: Projection | None,
                   basis: str | None) -> dict[str, Any] | None:
    """The plan's budget, what the waves hold under it, and the simulated whole fleet beside it."""
    b = plan.budget if plan else None
    if b is None:
        return None
    kind, value, quantile = b.kind, as_float(b.value), b.quantile
    # The verdict's share is the plan's: the last wave's cumulative load, the figure the
    # wave table and the chart end on. The simulated fleet total is only context.
    planned = waves[-1]["cumulative_budget"] if waves else 0.0
    column = f"added_gb_day_{quantile}" if kind == BudgetKind.GB_DAY else f"added_eps_{basis}_{quantile}"
    need = fleet_value(projection, column)
    unit = "GB/day" if kind == BudgetKind.GB_DAY else "events/s"
    # An events/s budget counts one rate, mean or peak: every figure held against it names it.
    shown = unit if kind == BudgetKind.GB_DAY else f"{unit} ({basis or UNKNOWN_BASIS})"
    return {"kind": kind, "value": value, "quantile": quantile, "unit": unit, "basis": basis,
            "unit_basis": shown, "column": f"{unit} {basis + ' ' if basis else ''}{quantile}",
            "planned": planned, "share": planned / value if value > 0 and math.isfinite(planned) else None,
            "fleet_need": need, "share_fleet": need / value if value > 0 and math.isfinite(need) else None}


def counted_basis(plan: Plan | None, projection: Projection | None, planned: str | None = None) -> str | None:
    """The events/s basis an events/s budget counts (the plan's profile's, model/planner.py _load_column);
    `planned` as eps_basis takes it."""
    if plan is None or plan.budget is None or plan.budget.kind != BudgetKind.EPS:
        return None
    return eps_basis(plan, projection, planned)
