"""The figures of a plan.json that must agree with each other, checked on read.

`auditplan plan` writes each wave's `load` as the sum of its hosts' figures, each `cumulative` as
the running total of the loads, and keeps every wave's load in the budget's unit under
`budget.max_step` and the running total under `budget.value` (model/planner.py). A plan whose
numbers break those rules was edited after `auditplan plan` wrote it, even when whoever edited it
recomputed its plan_id: a wave load of 987,654 GB/day over hosts adding 0.5 GB/day would otherwise
reach the report as if it had been planned. The reader refuses such a plan as edited (unless
--accept-edited-plan, which lists these lines among what changed).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Final

from auditplan.records.plan import Plan, Wave, WaveLoad

# plan.json writes every number with six significant digits (plan_number): a sum of rounded
# figures and the rounded sum may differ by half a unit in the sixth digit of each term.
_ROUNDING: Final = 1e-5
# The wave load keys that are sums of the host fields of the same name (eps_mean_p50 and the
# budget unit's load are not written per host).
_HOST_SUMS: Final = ("gb_day_p50", "gb_day_p90", "eps_peak_p90")
_CUMULATIVE_SUMS: Final = ("gb_day_p50", "gb_day_p90", "budget")


def _agree(written: float, terms: Iterable[float]) -> bool:
    values = list(terms)
    scale = math.fsum(abs(v) for v in values) + abs(written)
    return abs(written - math.fsum(values)) <= _ROUNDING * scale + 1e-12


def _fmt(value: float) -> str:
    return f"{value:.6g}"


def _load_sum(wave: Wave, key: str) -> str | None:
    written = getattr(wave.load, key, None) if wave.load is not None else None
    if written is None:
        return None
    figures = [getattr(h, key) for h in wave.hosts]
    if any(math.isnan(f) for f in figures):  # a host without the figure: nothing to add up
        return None
    if _agree(written, figures):
        return None
    return (f"wave {wave.number}: load.{key} {_fmt(written)} is not the sum of its {len(figures)} host(s)' "
            f"{key} ({_fmt(math.fsum(figures))})")


def sum_problems(plan: Plan) -> list[str]:
    """One line per figure that `auditplan plan` could not have written (none for a plan it wrote):
    a wave's load that is not the sum of its hosts' figures, a cumulative figure that is not the
    running total of the loads, a wave (or the running total) over the plan's budget."""
    problems: list[str] = []
    running: dict[str, list[float]] = {key: [] for key in _CUMULATIVE_SUMS}
    broken: set[str] = set()  # a wave without a load figure: later running totals cannot be checked
    budget = plan.budget
    for wave in plan.waves:
        problems.extend(p for key in _HOST_SUMS if (p := _load_sum(wave, key)) is not None)
        load = wave.load or WaveLoad()
        for key in _CUMULATIVE_SUMS:
            value = getattr(load, key)
            if value is None:
                broken.add(key)
            else:
                running[key].append(value)
            total = getattr(wave.cumulative, key, None) if wave.cumulative is not None else None
            if total is not None and key not in broken and not _agree(total, running[key]):
                problems.append(f"wave {wave.number}: cumulative.{key} {_fmt(total)} is not the total of the "
                                f"loads up to this wave ({_fmt(math.fsum(running[key]))})")
        if budget is None:
            continue
        step, total = load.budget, (wave.cumulative.budget if wave.cumulative is not None else None)
        if step is not None and budget.max_step is not None and not step <= budget.max_step * (1 + _ROUNDING):
            problems.append(f"wave {wave.number}: load.budget {_fmt(step)} is over budget.max_step "
                            f"{_fmt(budget.max_step)}, which the planner never exceeds")
        if total is not None and not total <= budget.value * (1 + _ROUNDING):
            problems.append(f"wave {wave.number}: cumulative.budget {_fmt(total)} is over budget.value "
                            f"{_fmt(budget.value)}, which the planner never exceeds")
    return problems
