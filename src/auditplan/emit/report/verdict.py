"""The verdict a manager reads first: go / go with conditions / no-go, the conditions, the next action and its
date, and the three numbers that matter (added load and money against the budget, hosts covered, local log
history after enablement). Computed from the report's context, so it shows the figures the sections show."""

from __future__ import annotations

import math
import statistics
from collections.abc import Mapping
from typing import Any

from auditplan.text import number

DAYS_PER_MONTH = 365.25 / 12  # as model/project.py prices a month
GO, CONDITIONS, NO_GO = "go", "go-with-conditions", "no-go"
BADGES = {GO: "GO", CONDITIONS: "GO WITH CONDITIONS", NO_GO: "NO-GO"}


def hours_for_people(hours: float) -> str:
    """Hours as people say them: "7.5 hours" below two days, else "3.2 days"."""
    if not math.isfinite(hours):
        return "n/a"
    return f"{number(hours, trim=True)} hours" if hours < 48 else f"{number(hours / 24, trim=True)} days"


def size_for_people(gb: float, mb_per_gb: float = 1000.0) -> str:
    """GB as people read them: "184 MB" below 1 GB, else "1.2 GB"."""
    if not math.isfinite(gb):
        return "n/a"
    return f"{number(gb * mb_per_gb, trim=True)} MB" if abs(gb) < 1 else f"{number(gb, trim=True)} GB"


def _local(ctx: Mapping[str, Any]) -> dict[str, Any]:
    hours = ctx["local_hours"]
    target = ctx["min_local_hours"]
    return {"hosts": len(hours), "short": ctx["logs_short"], "target": hours_for_people(target),
            "median": hours_for_people(statistics.median(hours)) if hours else "n/a"}


def verdict(ctx: Mapping[str, Any]) -> dict[str, Any]:
    """The verdict block's content: kind (data-verdict), badge, sentence, conditions, next action, date, numbers."""
    b, waves, r = ctx["budget"], ctx["waves"], ctx["readiness"]
    conditions = [f for f in ctx["risks"] if f["severity"] == "high"]
    placed = sum(w["hosts"] for w in waves)
    already = r["categories"][0][1]  # 4688 with command line on: nothing to do there
    out: dict[str, Any] = {"conditions": conditions, "placed": placed, "already": already,
                           "surveyed": r["surveyed"], "local": _local(ctx)}
    if not waves or b is None:
        out.update(kind=NO_GO, reason="there is no rollout plan for this store yet",
                   action="Run auditplan plan (without a budget it suggests one from this projection), then "
                          "auditplan report again.", date=ctx["generated"][:10])
    elif b["share"] is not None and b["share"] > 1:
        out.update(kind=NO_GO, reason="the planned waves add more than the SIEM budget",
                   action="Re-run auditplan plan with a budget the SIEM has room for.", date=ctx["generated"][:10])
    elif r["surveyed"] and r["reachable"] * 2 < r["surveyed"]:
        out.update(kind=NO_GO, reason=f"only {r['reachable']} of {r['surveyed']} hosts could be surveyed",
                   action="Fix access to the failed hosts and re-run auditplan survey --retry-failed.",
                   date=ctx["generated"][:10])
    else:
        first = waves[0]
        out.update(kind=CONDITIONS if conditions else GO, reason="",
                   action=(("Meet the conditions above, then import" if conditions else "Import") +
                           f" and link the pilot GPO \"{first['gpo']}\" for its {first['hosts']} host(s); "
                           "re-survey them a week later and re-plan from what they measure."),
                   date=first["date"])
    out["badge"] = BADGES[out["kind"]]
    out["load"] = _load(ctx, b, waves) if b is not None and waves else None
    return out


def _load(ctx: Mapping[str, Any], b: Mapping[str, Any], waves: list[dict[str, Any]]) -> dict[str, Any]:
    """What the plan adds (p50-p90) in people's units, with money when a price is known, against the budget."""
    last = waves[-1]
    mb = ctx["mb_per_gb"]
    price = ctx["price_per_gb"]
    if b["kind"] == "gb_day":
        # The simulated total's p50 and p90 (the plan's own figures add up each host's quantile: a
        # sum of p50s lies below the total's median, a sum of p90s above its p90).
        simulated = ctx.get("simulated_totals", False)
        low = float(last["total_p50"] if simulated else last["cumulative_p50"])
        high = float(last["total_p90"] if simulated else last["cumulative_gb_day_p90"])
        amount = f"{size_for_people(low, mb)} to {size_for_people(high, mb)} a day"
        budget = f"{size_for_people(b['value'], mb)} a day"
        money = (f"{number(low * price * DAYS_PER_MONTH, trim=True)} to "
                 f"{number(high * price * DAYS_PER_MONTH, trim=True)} {ctx['currency']} a month"
                 if price else "")
    else:
        amount = f"{number(b['planned'])} {b['unit_basis']}"
        budget = f"{number(b['value'])} {b['unit_basis']}"
        money = ""
    return {"amount": amount, "budget": budget, "money": money}
