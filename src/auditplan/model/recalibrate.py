"""What changed since an earlier plan: hosts moved, load per wave, and measured against assumed
rates for hosts of earlier waves that now measure 4688 (`auditplan plan` writes it to
recalibration.json beside plan.json; docs/projection.md "Re-planning after a wave")."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from auditplan.model.planner import as_plan
from auditplan.records import EstimateSource, HostEstimate, Plan, plan_number


def measured(estimates: Sequence[HostEstimate]) -> dict[str, float]:
    """Host -> measured 4688/day p50, for hosts that audit 4688 and were measured doing it: the
    rates `recalibration` holds against the ones an earlier plan assumed."""
    return {
        e.host: e.events_per_day.p50
        for e in estimates
        if e.source == EstimateSource.MEASURED_4688 and e.already_on
    }


def _gb(value: float | None) -> float:
    return 0.0 if value is None else value


def recalibration(previous: Plan | Mapping[str, Any], plan: Plan, measured: Mapping[str, float]) -> dict[str, Any]:
    """What changed since `previous` (a Plan, or a plan.json document): hosts moved, load per wave,
    and, for hosts of earlier waves that now measure 4688 (`measured`: host -> events/day p50), the
    measured rate against the rate that plan assumed."""
    before_plan = as_plan(previous, "previous plan")
    before: dict[str, int | None] = {}
    assumed: dict[str, float] = {}
    old_load: dict[int, dict[str, float]] = {}
    for w in before_plan.waves:
        load = w.load
        old_load[w.number] = {"gb_day_p50": _gb(load.gb_day_p50 if load else None),
                              "gb_day_p90": _gb(load.gb_day_p90 if load else None)}
        for h in w.hosts:
            before[h.host] = w.number
            assumed[h.host] = 0.0 if math.isnan(h.events_per_day_p50) else h.events_per_day_p50
    for h in before_plan.unplaced:
        before[h.host] = None
    after = plan.wave_of()
    moved = [
        {"host": name, "from": before.get(name), "to": after.get(name)}
        for name in sorted(set(before) | set(after), key=str.lower)
        if before.get(name, -1) != after.get(name, -1)
    ]
    new_load = {
        w.number: {"gb_day_p50": _gb(w.load.gb_day_p50 if w.load else None),
                   "gb_day_p90": _gb(w.load.gb_day_p90 if w.load else None)}
        for w in plan.waves
    }
    zero = {"gb_day_p50": 0.0, "gb_day_p90": 0.0}
    waves = [
        {
            "wave": n,
            "previous": {k: plan_number(v) for k, v in old_load.get(n, zero).items()},
            "now": {k: plan_number(v) for k, v in new_load.get(n, zero).items()},
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
                "assumed_events_per_day_p50": plan_number(was),
                "measured_events_per_day_p50": plan_number(rate),
                "ratio": plan_number(rate / was) if was > 0 else None,
            }
        )
    return {
        "previous_plan_id": before_plan.plan_id,
        "moved": moved,
        "waves": waves,
        "enabled": enabled,
    }
