"""Every figure the report shows, computed once (tests compare the rendered text with these)."""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any

import pandas as pd

from auditplan.emit.gpo.backups import GpoOptions
from auditplan.emit.report.assumptions import assumption_rows, key_rows
from auditplan.emit.report.figures import charts_of
from auditplan.emit.report.inputs import ReportInputs
from auditplan.emit.report.noise_filters import noise_filters_line
from auditplan.emit.report.readiness import readiness
from auditplan.emit.report.review import detection_rows, log_readers, minutes_per_alert
from auditplan.emit.report.risks import CAPACITY_LIMITS, CAPACITY_REASONS, risks
from auditplan.emit.report.verdict import verdict
from auditplan.emit.report.waves import budget_summary, counted_basis, fleet_value, simulated_totals, timeline
from auditplan.model.api import Projection
from auditplan.records import HostEstimate

GROUP_LIMIT = 15  # roles/sites drawn and tabled; the rest are in the CSV
TOP_HOSTS = 10
FLEET_FIGURES = ("added_eps_mean_p50", "added_eps_peak_p90", "added_gb_day_p10", "added_gb_day_p50",
                 "added_gb_day_p90", "added_cost_month_p10", "added_cost_month_p50", "added_cost_month_p90",
                 "added_events_day_p50")
DEFAULT_MIN_LOCAL_HOURS = 168.0  # [local_log] min_local_hours, when there is no projection to say


def group_rows(frame: pd.DataFrame | None, limit: int = GROUP_LIMIT) -> tuple[list[dict[str, Any]], int]:
    """The `limit` groups with the most added load (p50), and how many more there are."""
    if frame is None or not len(frame):
        return [], 0
    if "added_gb_day_p50" in frame:
        frame = frame.sort_values("added_gb_day_p50", ascending=False, kind="stable")
    rows = []
    for name, row in frame.head(limit).iterrows():
        rows.append({"name": str(name), **{k: row.get(k) for k in (
            "hosts", "added_eps_mean_p50", "added_gb_day_p10", "added_gb_day_p50", "added_gb_day_p90",
            "added_cost_month_p50")}})
    return rows, max(0, len(frame) - limit)


def top_hosts(projection: Projection | None, n: int = TOP_HOSTS) -> list[dict[str, Any]]:
    if projection is None or not len(projection.hosts):
        return []
    frame = projection.hosts.sort_values(["added_gb_day_p50", "host"], ascending=[False, True]).head(n)
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def previous_plan(recal: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """The comparison with the store's previous plan: its id, each wave's load then and now, and the hosts of
    earlier waves that now measure 4688 (measured against assumed)."""
    if not recal:
        return None
    waves = [w for w in recal.get("waves", []) if isinstance(w, Mapping)]
    enabled = [e for e in recal.get("enabled", []) if isinstance(e, Mapping)]
    return {"plan_id": str(recal.get("previous_plan_id", "")), "waves": waves, "enabled": enabled,
            "moved": len(recal.get("moved", []))}


def build_context(inputs: ReportInputs) -> dict[str, Any]:
    """All numbers the report shows, computed once."""
    projection = inputs.projection
    plan = inputs.plan
    ctx: dict[str, Any] = {"title": inputs.title, "org": inputs.org,
                           "generated": inputs.generated_at.strftime("%Y-%m-%d %H:%M UTC")}
    ctx["readiness"] = readiness(inputs.hosts)
    ctx["fleet"] = {name: fleet_value(projection, name) for name in FLEET_FIGURES}
    ctx["siem"] = projection.profile.name if projection else None
    ctx["projection_note"] = inputs.projection_note.text if inputs.projection_note else None
    ctx["currency"] = projection.currency if projection else ""
    ctx["price_per_gb"] = projection.price_per_gb if projection else None
    min_hours = projection.min_local_hours if projection else DEFAULT_MIN_LOCAL_HOURS
    ctx["min_local_hours"] = min_hours
    local = projection.hosts if projection is not None else pd.DataFrame()
    hours = [float(h) for h in local.get("local_hours_p90", pd.Series(dtype=float)).tolist() if h == h]
    ctx["logs_short"] = sum(1 for h in hours if h < min_hours)
    ctx["local_hours"] = hours
    ctx["mb_per_gb"] = 1000.0  # MB as a thousandth of the budget's GB, so 0.5 GB reads 500 MB
    start = inputs.first_wave_date or inputs.generated_at + timedelta(days=7)
    # The same rate the planner counts: the plan's profile's eps basis (model/planner.py _load_column).
    basis = counted_basis(plan, projection, inputs.plan_eps_basis)
    ctx["waves"] = timeline(plan, start, inputs.wave_interval_days, inputs.gpo_names, basis,
                            simulated_totals(plan, projection))
    ctx["simulated_totals"] = bool(ctx["waves"]) and all(math.isfinite(w["total_p50"]) for w in ctx["waves"])
    ctx["gpo_names_read"] = sum(1 for w in ctx["waves"] if not w["gpo_default"])
    ctx["gpo_default_prefix"] = GpoOptions.name_prefix
    ctx["budget"] = budget_summary(plan, ctx["waves"], projection, basis)
    unplaced = list(plan.unplaced) if plan else []
    capacity = [u for u in unplaced if u.reason_code in CAPACITY_REASONS]
    # Capacity first: those are the hosts the verdict and the top risk point at.
    ctx["unplaced"] = capacity + [u for u in unplaced if u.reason_code not in CAPACITY_REASONS]
    ctx["capacity_unplaced"] = capacity
    groups: dict[str, list[Any]] = {}
    for u in ctx["unplaced"]:
        groups.setdefault(str(u.reason_code), []).append(u)
    ctx["unplaced_groups"] = list(groups.items())  # by reason, capacity reasons first
    codes = {u.reason_code for u in capacity}
    ctx["capacity_limits"] = " and ".join(words for code, words in CAPACITY_LIMITS.items() if code in codes)
    ctx["local_settings_hosts"] = sum(1 for w in plan.waves for h in w.hosts
                                      if h.local_subcategories and h.audit_policy_source != "gpo") if plan else 0
    ctx["gpo_managed_hosts"] = (sum(1 for w in plan.waves for h in w.hosts if h.audit_policy_source == "gpo")
                                if plan else 0)
    ctx["log_readers"] = log_readers(inputs.hosts, inputs.exposure)  # issue 18: who reads the command lines
    ctx["review"] = detection_rows(inputs.detections, minutes_per_alert(inputs.config))
    ctx["risks"] = risks(ctx, inputs.exposure, inputs.detections)
    # The estimate sources of the hosts the projection counts (a plan's stored projection may
    # predate the store's latest estimates).
    projected = projection.hosts.get("source") if projection is not None else None
    ctx["sources"] = Counter(str(s) for s in projected) if projected is not None else Counter(
        str(e.source) for e in inputs.estimates)
    ctx["range_limits"] = range_limits(inputs.estimates)
    ctx["defaults"] = assumption_rows(inputs.defaults_text, inputs.config, inputs.config_sources)
    ctx["key_defaults"] = key_rows(ctx["defaults"], ctx["siem"])
    ctx["detections"] = inputs.detections
    ctx["exposure"] = inputs.exposure
    ctx["noise_filters"] = noise_filters_line(inputs.noise_filters)
    ctx["by_role"], ctx["by_role_more"] = group_rows(projection.by_role if projection else None)
    ctx["by_site"], ctx["by_site_more"] = group_rows(projection.by_site if projection else None)
    ctx["top_hosts"] = top_hosts(projection)
    ctx["charts"] = charts_of(ctx, inputs)
    ctx["verdict"] = verdict(ctx)
    ctx["previous"] = previous_plan(inputs.recalibration)
    ctx["severity_counts"] = Counter(f["severity"] for f in ctx["risks"])
    return ctx


# Issue 15: what limits the hosts' ranges (HostEstimate.flags), in words, most common first.
RANGE_LIMIT_WORDS = {
    "capped": "capped (hours over the per-hour cap, measured over part of the hour)",
    "censored": "censored (capped hours of unknown span)",
    "partial_day": "partial day (the window missed hours of the day)",
    "bursty": "bursty",
    "peers": "role peers only",
    "prior_only": "role prior only",
    "trace": "live trace only",
}


def range_limits(estimates: Sequence[HostEstimate]) -> dict[str, Any]:
    """How many hosts each limit applies to, and per limit the first host (by name) with what would narrow it."""
    counts: Counter[str] = Counter()
    example: dict[str, tuple[str, str]] = {}
    for e in sorted(estimates, key=lambda x: x.host.lower()):
        for flag in e.flags:
            counts[flag] += 1
            if e.narrow_by:
                example.setdefault(flag, (e.host, e.narrow_by))
    rows = [{"words": RANGE_LIMIT_WORDS.get(flag, flag), "hosts": n, "example": example.get(flag)}
            for flag, n in counts.most_common()]
    return {"rows": rows, "hosts": sum(1 for e in estimates if e.flags)}
