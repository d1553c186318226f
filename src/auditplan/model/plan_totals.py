"""What a plan adds after each wave, as the projection's Monte Carlo sees the total.

The planner holds the budget with each host's own p90 added up (planner.py): every host high at
once, a ceiling that is safe to budget on. That sum is not the p90 of the total, and the p50s added
up are not its median either: per-host ranges are skewed (log-normal), so the median of a sum lies
above the sum of medians. A reader shown "p50 to p90" of the plan must get the total's own
quantiles. They come from the same draws as the projection (same hosts, order, seed and draws), so a
plan holding every host ends on the projection's fleet figures. docs/projection.md "Plan totals".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from auditplan.model.project import (
    Projection,
    _draw_cells,
    _sum_cells,
    host_coefficients,
    unusable_hosts,
)
from auditplan.records import Range

# host_coefficients' columns: events, bytes, added events, added bytes per 4688.
_ADDED_EVENTS, _ADDED_BYTES = 2, 3


@dataclass(frozen=True)
class PlanTotal:
    """The simulated total after one wave (that wave and every one before it)."""

    wave: int
    hosts: int  # hosts placed up to this wave that the projection knows
    added_gb_day: Range
    added_events_day: Range


def plan_totals(projection: Projection, waves: Sequence[tuple[int, Sequence[str]]]) -> list[PlanTotal]:
    """For each (wave number, host names) in plan order, the p10/p50/p90 of the added load of that
    wave and all before it. Raises KeyError naming a host the projection does not hold (a plan
    made from another projection: its totals would be wrong)."""
    frame = projection.hosts
    if not waves:
        return []
    index = {str(h).lower(): i for i, h in enumerate(frame["host"].tolist())}
    for _, names in waves:
        for name in names:
            if name.lower() not in index:
                raise KeyError(name)
    coeffs = host_coefficients(frame)
    bad = unusable_hosts(frame, coeffs)
    coeffs[bad] = 0.0
    # One coefficient column per cumulative total: a host counts from its wave on. The draws do
    # not depend on the coefficients (project._draw_cells), so they are the projection's own.
    masks = np.zeros((len(frame), len(waves)), dtype=bool)
    counts = []
    placed: set[int] = set()
    for k, (_, names) in enumerate(waves):
        placed.update(index[n.lower()] for n in names)
        masks[sorted(placed), k] = True
        counts.append(len(placed))
    both = np.concatenate([masks * coeffs[:, [_ADDED_EVENTS]], masks * coeffs[:, [_ADDED_BYTES]]], axis=1)
    cells, _, _ = _draw_cells(frame, bad, both, projection.draws, projection.seed)
    sums = _sum_cells(cells, np.zeros(len(cells), dtype=np.int64), 1)[0]  # (2 * waves, draws)
    qs = np.percentile(sums, [10.0, 50.0, 90.0], axis=1) if len(cells) else np.zeros((3, 2 * len(waves)))
    gb = float(projection.profile.gb_bytes)
    out = []
    for k, (number, _) in enumerate(waves):
        events = Range(*(float(qs[q, k]) for q in range(3)))
        added = Range(*(float(qs[q, len(waves) + k]) / gb for q in range(3)))
        out.append(PlanTotal(number, counts[k], added, events))
    return out
