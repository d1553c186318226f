"""The report's charts, from its context: inline SVG drawn by emit/report/charts.py."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from markupsafe import Markup

from auditplan.emit.report import charts
from auditplan.emit.report.inputs import ReportInputs, projected_rates
from auditplan.emit.report.waves import as_float
from auditplan.records import BudgetKind


def charts_of(ctx: Mapping[str, Any], inputs: ReportInputs) -> dict[str, Markup]:
    """Chart name -> its SVG, for the charts the context has data for."""
    out: dict[str, str] = {}
    waves = ctx["waves"]
    budget = ctx["budget"]
    if waves:
        labels = [f"wave {w['wave']}" for w in waves]
        if budget and budget["kind"] != BudgetKind.GB_DAY:
            held = [as_float(w["cumulative_budget"]) for w in waves]
            out["cumulative"] = charts.cumulative_by_wave(
                labels, held, budget["value"], budget["unit_basis"],
                held_label=f"held against the budget ({budget['quantile']})")
        else:
            # The simulated total is in GB/day, the unit of this chart only.
            t10, t50, t90 = ([as_float(w[f"total_{q}"]) for w in waves] for q in ("p10", "p50", "p90"))
            out["cumulative"] = charts.cumulative_by_wave(
                labels, [as_float(w["cumulative_gb_day_p90"]) for w in waves], budget["value"] if budget else None,
                "GB/day", held_label="budget check: each host's p90 added up",
                total=(t10, t50, t90) if ctx["simulated_totals"] else None)
    for key, what in (("by_role", "role"), ("by_site", "site")):
        rows, more = ctx[key], ctx[f"{key}_more"]
        title = f"Added load by {what}" + (f" (top {len(rows)} of {len(rows) + more})" if more else "")
        if rows:
            out[key] = charts.bars_with_range(
                [r["name"] for r in rows], [as_float(r["added_gb_day_p10"]) for r in rows],
                [as_float(r["added_gb_day_p50"]) for r in rows], [as_float(r["added_gb_day_p90"]) for r in rows],
                title, "GB/day")
    if inputs.estimates:
        flat = (1 / 24,) * 24
        shapes = np.array([e.hourly_shape if len(e.hourly_shape) == 24 else flat for e in inputs.estimates],
                          dtype=float)
        # Each host's hour-of-day shape, weighted by the 4688/day the projection counts for it.
        rates = projected_rates(inputs.projection)
        p50 = np.array([rates.get(e.host, e.events_per_day.p50) for e in inputs.estimates], dtype=float)
        per_hour = np.nan_to_num(shapes * p50[:, None], nan=0.0, posinf=0.0, neginf=0.0).sum(axis=0)
        out["hours"] = charts.hour_of_day([float(v) for v in per_hour])
    if ctx["readiness"]["surveyed"]:
        out["readiness"] = charts.readiness(ctx["readiness"]["categories"], ctx["readiness"]["colours"])
    if inputs.projection is not None and "local_hours_p90" in inputs.projection.hosts:
        out["local"] = charts.local_history(
            [float(h) for h in inputs.projection.hosts["local_hours_p90"].tolist() if h == h], ctx["min_local_hours"])
    # Our own SVG from matplotlib, with sanitised labels and comments stripped: safe to inline.
    return {k: Markup(v) for k, v in out.items()}  # noqa: S704
