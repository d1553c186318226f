"""What a plan adds after each wave, as the projection's Monte Carlo sees the total.

The planner holds the budget with each host's own p90 added up (planner.py): every host high at
once, a ceiling that is safe to budget on. That sum is not the p90 of the total, and the p50s added
up are not its median either: per-host ranges are skewed (log-normal), so the median of a sum lies
above the sum of medians. A reader shown "p50 to p90" of the plan must get the total's own
quantiles. They come from the projection's Monte Carlo model (per-host log-normals, one shared draw
per role for priors and peer fits, its seed and number of draws), so a plan holding every host ends
within Monte Carlo error of the projection's fleet figures. docs/projection.md "Plan totals".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from auditplan.model.project import Projection, draws_by_cell, host_coefficients, unusable_hosts
from auditplan.records import Range

# host_coefficients' columns: events, bytes, added events, added bytes per 4688.
_ADDED = [2, 3]


@dataclass(frozen=True)
class PlanTotal:
    """The simulated total after one wave (that wave and every one before it)."""

    wave: int
    hosts: int  # hosts placed up to this wave
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
    wave_of = np.full(len(frame), -1, dtype=np.int64)
    counts = []
    for k, (_, names) in enumerate(waves):
        for name in names:
            i = index.get(name.lower())
            if i is None:
                raise KeyError(name)
            wave_of[i] = k
        counts.append(int((wave_of >= 0).sum()))
    # The placed hosts in wave order (stable: the projection's order within a wave), one Monte Carlo
    # cell per wave, then running sums over the waves: one pass over the hosts whatever the number
    # of waves. The draws are the projection's model and seed, not its very numbers (its cells are
    # (role, site)): a plan holding every host ends within Monte Carlo error of the fleet figures.
    placed = np.flatnonzero(wave_of >= 0)
    hosts = frame.iloc[placed[np.argsort(wave_of[placed], kind="stable")]]
    cell = np.sort(wave_of[placed], kind="stable")
    coeffs = host_coefficients(hosts)
    bad = unusable_hosts(hosts, coeffs)
    added = coeffs[:, _ADDED]
    added[bad] = 0.0
    cells = draws_by_cell(hosts, bad, added, cell, len(waves), projection.draws, projection.seed)
    running = np.cumsum(cells, axis=0)  # (waves, 2, draws)
    qs = np.percentile(running, [10.0, 50.0, 90.0], axis=2)  # (3, waves, 2)
    gb = float(projection.profile.gb_bytes)
    return [
        PlanTotal(number, counts[k], Range(*(float(qs[q, k, 1]) / gb for q in range(3))),
                  Range(*(float(qs[q, k, 0]) for q in range(3))))
        for k, (number, _) in enumerate(waves)
    ]
