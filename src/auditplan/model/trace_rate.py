"""The process_trace estimate source: a live process-start count over S seconds -> 4688/day range.

Method (exact Garwood interval on a Poisson count, then scaled):
    n starts were counted in S seconds. For a Poisson count, the central 80 % confidence interval
    on its mean is [G(0.10; n), G(0.90; n + 1)], where G(q; k) is the q-quantile of a Gamma(k, 1)
    distribution (= chi-square(2k) quantile / 2), and G(.; 0) = 0. p50 is n itself (the maximum
    likelihood mean). Each figure is multiplied by 86400 / S to give a day.
    With n = 0 this gives p10 = p50 = 0 and p90 = ln 10 x 86400 / S, the same zero-count rule as
    calibrate.measured_range.

Scaling to a day by 86400 / S assumes the trace's minutes are typical of the day. With an
`hourly_shape` (24 weights, hour 0 = 00:00 UTC) and the trace's start time, the day factor is
instead 1 / (share of the day's starts that fall in the traced seconds), which corrects a trace
taken in a busy or quiet hour. Both ignore day-to-day variation, so the range is a lower bound on
the real uncertainty of a one-off trace.

Assumption (no reference source): one Win32_ProcessStartTrace event per process creation, the same
events 4688 records (both come from the kernel's process-creation notification).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, timedelta

from auditplan.records import ProcessTrace, Range

SECONDS_PER_DAY = 86400.0
SECONDS_PER_HOUR = 3600.0
P_LOW = 0.10
P_HIGH = 0.90
_ITERATIONS = 10_000
_EPS = 1e-15


def _lower_regularized_gamma(a: float, x: float) -> float:
    """P(a, x) = lower incomplete gamma / Gamma(a): series below a + 1, Lentz continued fraction above."""
    if x <= 0:
        return 0.0
    log_prefix = a * math.log(x) - x - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        ap = a
        for _ in range(_ITERATIONS):
            ap += 1
            term *= x / ap
            total += term
            if abs(term) < abs(total) * _EPS:
                break
        return min(1.0, total * math.exp(log_prefix))
    tiny = 1e-300
    b = x + 1 - a
    c = 1 / tiny
    d = 1 / b
    h = d
    for i in range(1, _ITERATIONS):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = tiny if abs(d) < tiny else d
        c = b + an / c
        c = tiny if abs(c) < tiny else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < _EPS:
            break
    return max(0.0, 1.0 - math.exp(log_prefix) * h)


def gamma_quantile(q: float, shape: float) -> float:
    """x with P(shape, x) = q, by bisection (shape > 0, 0 < q < 1)."""
    if not 0 < q < 1 or shape <= 0:
        raise ValueError("need 0 < q < 1 and shape > 0")
    lo, hi = 0.0, shape + 10 * math.sqrt(shape) + 10
    while _lower_regularized_gamma(shape, hi) < q:
        hi *= 2
    for _ in range(200):
        mid = (lo + hi) / 2
        if _lower_regularized_gamma(shape, mid) < q:
            lo = mid
        else:
            hi = mid
        if hi - lo <= 1e-12 * max(1.0, hi):
            break
    return (lo + hi) / 2


def poisson_interval(count: int) -> Range:
    """Garwood central 80 % interval on a Poisson mean, with the count as p50."""
    if count < 0:
        raise ValueError(f"count must be >= 0, got {count}")
    low = gamma_quantile(P_LOW, count) if count > 0 else 0.0
    return Range(low, float(count), gamma_quantile(P_HIGH, count + 1))


def day_factor(trace: ProcessTrace, hourly_shape: Sequence[float] | None = None) -> float:
    """How many traced windows make a day: 86400 / S, or 1 / (the shape's share of the traced seconds)."""
    if not trace.seconds > 0 or not math.isfinite(trace.seconds):
        raise ValueError(f"trace seconds must be > 0, got {trace.seconds}")
    flat = SECONDS_PER_DAY / trace.seconds
    if hourly_shape is None or trace.started_at is None:
        return flat
    if len(hourly_shape) != 24 or min(hourly_shape) < 0 or sum(hourly_shape) <= 0:
        raise ValueError("hourly_shape needs 24 non-negative weights with a positive sum")
    total = float(sum(hourly_shape))
    t = trace.started_at.astimezone(UTC)
    end = t + timedelta(seconds=trace.seconds)
    share = 0.0
    while t < end:
        hour_end = t.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        span = (min(hour_end, end) - t).total_seconds()
        share += hourly_shape[t.hour] / total * span / SECONDS_PER_HOUR
        t = min(hour_end, end)
    # A trace wholly inside hours the shape calls empty says nothing about the rest of the day.
    return flat if share <= 0 else 1.0 / share


def trace_range(trace: ProcessTrace, hourly_shape: Sequence[float] | None = None) -> Range:
    """4688/day p10/p50/p90 from a process-start trace (method in the module docstring)."""
    factor = day_factor(trace, hourly_shape)
    counts = poisson_interval(trace.process_starts)
    return Range(counts.p10 * factor, counts.p50 * factor, counts.p90 * factor)


# Gauss-Hermite nodes/weights (probabilists', 7 points) for the trace's extra log-normal noise.
_GH_NODES = (-3.7504397177257425, -2.3667594107345415, -1.1544053947399682, 0.0,
             1.1544053947399682, 2.3667594107345415, 3.7504397177257425)
_GH_WEIGHTS = (0.0005482688559722184, 0.030757123967586396, 0.24012317860501279, 0.45714285714285713,
               0.24012317860501279, 0.030757123967586396, 0.0005482688559722184)
_GRID = 600


MIN_SHAPES_FOR_SPREAD = 3  # peers' shapes needed before their spread at the traced hour replaces the configured sd


def trace_exposure(trace: ProcessTrace, role_shape: Sequence[float] | None, peer_shapes: Sequence[Sequence[float]],
                   shape_sd: float) -> tuple[float, float]:
    """(share of the host's day the traced seconds hold, log-sd of that share) for a host of unknown shape.

    The host's own hour shape is not measured (that is why it was traced), so the share its traced minutes
    hold is uncertain, most at hours where the role's hosts differ (an office host at night holds a third
    of a flat one's share). With MIN_SHAPES_FOR_SPREAD or more whole-day peers the share is the geometric
    mean of theirs at the traced seconds and its log-sd their spread there (measured per hour, not one
    figure for every hour); else the role shape's share with `shape_sd` (peer_shape_sigma or
    prior_shape_sigma, the same terms a partial window's unseen hours use)."""
    if len(peer_shapes) >= MIN_SHAPES_FOR_SPREAD:
        logs = [-math.log(day_factor(trace, shape)) for shape in peer_shapes]
        mean = sum(logs) / len(logs)
        sd = math.sqrt(sum((x - mean) ** 2 for x in logs) / (len(logs) - 1))
        return math.exp(mean), sd
    return 1.0 / day_factor(trace, role_shape), shape_sd


def trace_posterior(trace: ProcessTrace, hourly_shape: Sequence[float] | None, prior_mu: float,
                    prior_sigma: float, noise_sd: float, exposure: float | None = None) -> Range:
    """4688/day p10/p50/p90 of a traced host: its role's log-normal (peers or prior: ln D ~ N(prior_mu,
    prior_sigma^2)) updated by the trace's count (issue 15).

    The n starts in the traced seconds are Poisson with mean D x e x eps, e = 1 / day_factor (the share of
    the host's day the trace covered, by the shape at the trace's own hour) and eps a log-normal of log-sd
    `noise_sd` for what a few minutes cannot say about a day (minute-to-minute bursts, day-to-day variation).
    The posterior of ln D is computed on a grid of 600 points over the prior's +-6 sigma (eps integrated by
    7-point Gauss-Hermite). Zero starts therefore give a range below the role's but with p50 and p90 > 0,
    and a long busy trace overrides the role. Assumption: the trace's host is a typical member of its role
    apart from what the count says. `exposure` (trace_exposure) replaces the share `hourly_shape` gives.
    """
    if exposure is None:
        exposure = 1.0 / day_factor(trace, hourly_shape)
    n = trace.process_starts
    lo, hi = prior_mu - 6 * prior_sigma, prior_mu + 6 * prior_sigma
    # The likelihood can sit far from the prior (a busy trace on a quiet role): widen the grid to reach it.
    if n > 0:
        at = math.log(n / exposure)
        lo, hi = min(lo, at - 4), max(hi, at + 4)
    step = (hi - lo) / (_GRID - 1)
    log_post: list[float] = []
    for i in range(_GRID):
        x = lo + i * step
        prior = -0.5 * ((x - prior_mu) / prior_sigma) ** 2
        like = 0.0
        for node, weight in zip(_GH_NODES, _GH_WEIGHTS, strict=True):
            mean = math.exp(x + noise_sd * node) * exposure
            like += weight * math.exp(n * math.log(mean) - mean - math.lgamma(n + 1) if mean > 0 else -math.inf)
        log_post.append(prior + (math.log(like) if like > 0 else -1e300))
    top = max(log_post)
    mass = [math.exp(v - top) for v in log_post]
    total = sum(mass)
    cum = 0.0
    quantiles: dict[float, float] = {}
    targets = [P_LOW, 0.5, P_HIGH]
    for i, m in enumerate(mass):
        cum += m / total
        while targets and cum >= targets[0]:
            quantiles[targets.pop(0)] = math.exp(lo + i * step)
    return Range(quantiles[P_LOW], quantiles[0.5], quantiles[P_HIGH])
