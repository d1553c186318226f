"""Alerts/day with a range, and the analyst hours they cost, fleet-wide and per wave of a plan.

The range of a rule's alerts/day comes from how many hits the sample holds (issue 15 item 7): with
K hits in n sampled events, the hit count is treated as Poisson and given Garwood's exact central 80 %
interval, so p10/p90 are the p50 (each host's hits over its sampled events × its 4688/day, summed)
scaled by lower/K and upper/K. With no hit at all the same interval's upper end is −ln(0.10) ≈ 2.30
hits: the rule of three's derivation (0 hits in n: the share is below −ln(α)/n with confidence 1 − α),
taken at 90 % instead of 95 % because it is a p90. So zero hits in a small sample still allow up to
2.30 / n of the fleet's 4688 events/day as alerts, never "0".
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from auditplan.records import Plan

# One-sided tail of each end: p10 and p90 are the ends of a central 80 % interval.
TAIL: Final = 0.10
ZERO_HIT_UPPER: Final = -math.log(TAIL)  # 2.302585...: the rule of three at 90 %
# Above this many hits the Poisson sums are replaced by the Wilson-Hilferty normal approximation
# (relative error far below the sampling error at these counts).
EXACT_MAX_HITS: Final = 5000
RANGE_RULE: Final = (
    "p50: each host's hits over its sampled 4688 events, times its 4688/day, summed over hosts; p10/p90: Garwood's "
    "exact Poisson 80 % interval on the hit count K, as a ratio to K; with no hit, p90 = the fleet's 4688/day "
    "x -ln(0.1)/n (the rule of three at 90 %: 0 hits in n sampled events)"
)
HOURS_RULE: Final = "analyst hours/day = alerts/day x minutes per alert / 60, at each of p10, p50, p90"
Z_10: Final = 1.2815515655446004  # standard normal quantile of 0.90


@dataclass(frozen=True)
class AlertRange:
    p10: float
    p50: float
    p90: float

    def scaled(self, factor: float) -> AlertRange:
        return AlertRange(self.p10 * factor, self.p50 * factor, self.p90 * factor)

    def document(self) -> dict[str, float]:
        return {"p10": self.p10, "p50": self.p50, "p90": self.p90}


def _poisson_cdf(k: int, mu: float) -> float:
    """P(X <= k) for X ~ Poisson(mu), summed in log space."""
    if mu <= 0:
        return 1.0
    log_mu = math.log(mu)
    terms = [i * log_mu - mu - math.lgamma(i + 1) for i in range(k + 1)]
    top = max(terms)
    return min(1.0, math.exp(top) * sum(math.exp(t - top) for t in terms))


def _solve(f: Any, lo: float, hi: float) -> float:
    """The root of a decreasing `f` on [lo, hi] by bisection (f(lo) > 0 > f(hi))."""
    for _ in range(200):
        mid = (lo + hi) / 2
        if f(mid) > 0:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2


def _wilson_hilferty(k: float, upper: bool) -> float:
    # The Poisson mean whose tail at k is TAIL: chi-square quantile / 2 via Wilson-Hilferty.
    dof = 2 * (k + 1) if upper else 2 * k
    z = Z_10 if upper else -Z_10
    return dof / 2 * (1 - 2 / (9 * dof) + z * math.sqrt(2 / (9 * dof))) ** 3


def poisson_interval(hits: int) -> tuple[float, float]:
    """Garwood's exact central 80 % interval for a Poisson mean, having seen `hits` events."""
    if hits < 0:
        raise ValueError(f"hits must be >= 0, got {hits}")
    if hits == 0:
        return 0.0, ZERO_HIT_UPPER
    if hits > EXACT_MAX_HITS:
        return _wilson_hilferty(hits, upper=False), _wilson_hilferty(hits, upper=True)
    span = hits + 10 * math.sqrt(hits) + 10
    # lower: P(X >= hits; mu) = TAIL; upper: P(X <= hits; mu) = TAIL.
    lower = _solve(lambda mu: TAIL - (1 - _poisson_cdf(hits - 1, mu)), 0.0, span)
    upper = _solve(lambda mu: _poisson_cdf(hits, mu) - TAIL, 0.0, span)
    return lower, upper


def alert_range(point: float | None, hits: int, sampled: int, events_per_day: float) -> AlertRange | None:
    """A rule's fleet alerts/day as p10/p50/p90 (module docstring); None where `point` is None."""
    if point is None or sampled <= 0:
        return None  # no sampled event of a host with a 4688/day: nothing to scale
    if hits == 0:
        return AlertRange(0.0, 0.0, events_per_day * ZERO_HIT_UPPER / sampled)
    lower, upper = poisson_interval(hits)
    return AlertRange(point * lower / hits, point, point * upper / hits)


def analyst_hours(alerts: AlertRange | None, minutes_per_alert: float) -> AlertRange | None:
    return None if alerts is None else alerts.scaled(minutes_per_alert / 60)


def total(ranges: Iterable[AlertRange | None]) -> AlertRange | None:
    """The rules' p10s, p50s and p90s summed: wider than the total's own range (the rules' errors
    are not all at their ends at once), so it errs on the side of more hours."""
    known = [r for r in ranges if r is not None]
    if not known:
        return None
    return AlertRange(sum(r.p10 for r in known), sum(r.p50 for r in known), sum(r.p90 for r in known))


@dataclass(frozen=True)
class WaveWorkload:
    wave: int
    name: str
    hosts: int
    events_per_day: float  # the wave's hosts' projected 4688/day (p50 of the plan)
    alerts_per_day: AlertRange | None  # every rule, summed
    analyst_hours_per_day: AlertRange | None
    cumulative_alerts_per_day: AlertRange | None  # this wave and every earlier one
    cumulative_analyst_hours_per_day: AlertRange | None

    def document(self) -> dict[str, Any]:
        def doc(r: AlertRange | None) -> dict[str, float] | None:
            return None if r is None else r.document()

        return {"wave": self.wave, "name": self.name, "hosts": self.hosts, "events_per_day": self.events_per_day,
                "alerts_per_day": doc(self.alerts_per_day), "analyst_hours_per_day": doc(self.analyst_hours_per_day),
                "cumulative_alerts_per_day": doc(self.cumulative_alerts_per_day),
                "cumulative_analyst_hours_per_day": doc(self.cumulative_analyst_hours_per_day)}


def per_wave(plan: Plan, shares: Sequence[AlertRange | None], minutes_per_alert: float) -> list[WaveWorkload]:
    """Alerts/day and analyst hours/day each wave adds once its hosts audit command lines, and the running
    total, from each rule's alerts per sampled-fleet 4688 event (`shares`) times the wave's projected 4688/day.
    Hosts without a projected rate in the plan add nothing (the plan has no 4688/day for them)."""
    out: list[WaveWorkload] = []
    running: AlertRange | None = None
    for wave in sorted(plan.waves, key=lambda w: w.number):
        volume = sum(h.events_per_day_p50 for h in wave.hosts if math.isfinite(h.events_per_day_p50))
        alerts = total(s.scaled(volume) if s is not None else None for s in shares)
        running = total([running, alerts])
        out.append(WaveWorkload(wave.number, wave.name, len(wave.hosts), volume, alerts,
                                analyst_hours(alerts, minutes_per_alert), running,
                                analyst_hours(running, minutes_per_alert)))
    return out


def share_of(alerts: AlertRange | None, events_per_day: float) -> AlertRange | None:
    """Alerts per 4688 event: the rule's fleet alerts/day over the sampled fleet's 4688/day."""
    if alerts is None or events_per_day <= 0:
        return None
    return alerts.scaled(1 / events_per_day)


@dataclass(frozen=True)
class Workload:
    """What the rules cost an analyst: minutes per alert with its basis, the fleet total and, with a
    plan, each wave."""

    minutes_per_alert: float
    basis: str  # "--minutes-per-alert", the --config file, or the default's documented source
    alerts_per_day: AlertRange | None  # every rule, summed (total())
    analyst_hours_per_day: AlertRange | None
    waves: tuple[WaveWorkload, ...] = ()

    def document(self) -> dict[str, Any]:
        def doc(r: AlertRange | None) -> dict[str, float] | None:
            return None if r is None else r.document()

        return {
            "minutes_per_alert": {"value": self.minutes_per_alert, "source": self.basis},
            "alerts_per_day_rule": RANGE_RULE,
            "analyst_hours_rule": HOURS_RULE,
            "alerts_per_day": doc(self.alerts_per_day),
            "analyst_hours_per_day": doc(self.analyst_hours_per_day),
            **({"waves": [w.document() for w in self.waves]} if self.waves else {}),
        }


def workload(results: Sequence[Any], minutes_per_alert: float, basis: str, plan: Plan | None) -> Workload:
    """The analyst workload of evaluated rules (RuleResult: alerts_per_day_range, alerts_per_event)."""
    alerts = total(r.alerts_per_day_range for r in results)
    waves = per_wave(plan, [r.alerts_per_event for r in results], minutes_per_alert) if plan else []
    return Workload(minutes_per_alert, basis, alerts, analyst_hours(alerts, minutes_per_alert), tuple(waves))
