"""A measured host's expected 4688/day from its hourly counts: the day's shape kept apart from
day-to-day variation (issue 15; method and worked examples in docs/estimation.md, "Measured hosts").

Each usable hour i (hour of day h_i, UTC day d_i) holds a count c_i over s_i seconds: 3,600 for a whole
hour, less for an hour whose query hit its per-hour cap (its newest `cap` events spanned s_i seconds), 0 for
a capped hour whose span is unknown (censored: at least `cap`). With a shape w (24 shares summing to 1: the
host's own when its window covers every hour of the day, else its role peers', else the role prior's):

    x_i = c_i x 3600 / s_i                      (the hour's count; a censored hour: max(cap, D w_h))
    W   = sum_i w_{h_i}                          (how many days' worth of the shape the window saw)
    D   = sum_i x_i / W                          (the ratio estimator: p50 of the host's 4688/day)

A whole day seen makes W = 1 and D the day's count, whatever w is; a window of office hours only is
scaled up by the night the shape says it missed. The log-variance of D adds independent parts:

    Poisson             sum_i x_i^2 / c_i / X^2                           (X = sum_i x_i)
    day-to-day          sigma_d^2 x sum_d (W_d / W)^2                     (W_d: the part of W on UTC day d)
    bursts              k^2 x sum_i w_{h_i}^2 / W^2                       (k^2: hour-to-hour over-dispersion)
    unseen hours        (sigma_shape x (1 - f))^2                         (f: share of the day the window covers)
    partial hours       sum over capped hours (CAPPED_HOUR_SD x x_i / X)^2
    censored hours      sum over censored hours (CENSORED_HOUR_SD x x_i / X)^2

so p10/p90 = D x exp(-/+ 1.2816 sigma). The range is for the host's expected day, the figure a budget
rests on; one given day moves around it by sigma_d (and the bursts).
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

from auditplan.model.priors import Z90
from auditplan.records import Range

HOURS_PER_DAY = 24
HOUR_SECONDS = 3600.0
ZERO_COUNT_UPPER = math.log(10.0)  # Poisson: P(0 events) = 0.1 when the mean is ln 10
# A capped hour is measured over its newest minutes; activity inside an hour is not even (scheduled tasks
# at :00, logon storms), so its extrapolated count carries this log-sd. Assumption.
CAPPED_HOUR_SD = 0.25
# A censored hour (capped, span unknown) is filled from the shape: its count is known only to be >= cap.
CENSORED_HOUR_SD = 0.5
# Successive hours of a smooth shape differ by less than this share of their mean without being bursty;
# the office shape's steepest step (07:00 -> 08:00) is about this. Assumption.
SMOOTH_STEP = 0.5
BURSTY_K2 = 0.25  # hour-to-hour over-dispersion (CV^2) from which a host is called bursty: CV 0.5
# choose_shape: no candidate fits a host's hours better than a log-sd of 0.05 (assumption).
SHAPE_FIT_FLOOR = 0.05**2


@dataclass(frozen=True)
class Hour:
    hour_of_day: int
    day: int  # UTC day number (any consistent numbering)
    count: int
    seconds: float  # HOUR_SECONDS, less for a capped hour, 0 = capped with unknown span (censored)


@dataclass(frozen=True)
class DayRate:
    rate: Range
    shape: tuple[float, ...]  # 24 shares: the host's own where seen, the reference shape elsewhere
    coverage: float  # f: share of the day (by the reference shape) the window covered
    days: float  # W
    capped_hours: int
    censored_hours: int
    burst_k2: float
    log_sd: float


def hours_from_series(counts: Sequence[int], seconds: Sequence[float], start_hour: int, start_day: int) -> list[Hour]:
    """Hour records for consecutive hourly counts starting at (start_day, start_hour); `seconds` may be empty
    (every hour whole)."""
    out = []
    for i, c in enumerate(counts):
        h = start_hour + i
        out.append(Hour(h % HOURS_PER_DAY, start_day + h // HOURS_PER_DAY, int(c),
                        float(seconds[i]) if i < len(seconds) else HOUR_SECONDS))
    return out


def own_shape(hours: Sequence[Hour]) -> tuple[float, ...] | None:
    """The host's own hour-of-day shares when its window covers all 24 hours (each hour averaged over the
    days it appears; capped hours at their extrapolated count), else None."""
    sums = [0.0] * HOURS_PER_DAY
    seen = [0] * HOURS_PER_DAY
    for hr in hours:
        if hr.seconds <= 0:
            return None  # a censored hour's count is not known
        sums[hr.hour_of_day] += hr.count * HOUR_SECONDS / hr.seconds
        seen[hr.hour_of_day] += 1
    if min(seen) == 0:
        return None
    means = [s / n for s, n in zip(sums, seen, strict=True)]
    total = sum(means)
    return tuple(m / total for m in means) if total > 0 else None


def burst_k2(values: Sequence[float]) -> float:
    """Hour-to-hour over-dispersion k^2 (an hour's count ~ mean x (1 + k e), beyond Poisson) from successive
    differences, which a smooth hour-of-day shape barely moves: E[(x_i - x_j)^2] = x_i + x_j + k^2 (x_i^2 + x_j^2)
    for neighbouring hours of similar mean. Steps up to SMOOTH_STEP of the mean are forgiven as shape."""
    num = den = 0.0
    for a, b in itertools.pairwise(values):
        m = (a + b) / 2
        if m <= 0:
            continue
        excess = (a - b) ** 2 - (a + b) - (SMOOTH_STEP * m) ** 2
        num += excess
        den += a * a + b * b
    return max(0.0, num / den) if den > 0 else 0.0


def day_rate(hours: Sequence[Hour], reference: Sequence[float], *, shape_sd: float, day_sd: float,
             cap: int | None, shape_var: float = 0.0) -> DayRate:
    """The host's expected 4688/day from its usable hours (method in the module docstring)."""
    if not hours:
        raise ValueError("no hourly counts")
    own = own_shape(hours)
    w = tuple(own) if own is not None else tuple(reference)
    covered = {hr.hour_of_day for hr in hours}
    coverage = 1.0 if own is not None else min(1.0, sum(w[h] for h in covered))
    big_w = sum(w[hr.hour_of_day] for hr in hours)
    known = [hr for hr in hours if hr.seconds > 0]
    censored = [hr for hr in hours if hr.seconds <= 0]
    x_known = [hr.count * HOUR_SECONDS / hr.seconds for hr in known]
    w_known = sum(w[hr.hour_of_day] for hr in known)
    total_known = sum(x_known)
    if big_w <= 0 or (total_known == 0 and not censored):
        # Nothing seen: the 90 % Poisson bound over the days' worth the window covered.
        days = big_w if big_w > 0 else len(hours) / HOURS_PER_DAY
        return DayRate(Range(0.0, 0.0, ZERO_COUNT_UPPER / days), w, coverage, days, 0, 0, 0.0, 0.0)
    d = total_known / w_known if w_known > 0 else 0.0
    x_censored = []
    for _ in range(3):  # fill censored hours from the shape, at least the cap; D moves with them
        x_censored = [max(float(cap or hr.count), d * w[hr.hour_of_day]) for hr in censored]
        d = (total_known + sum(x_censored)) / big_w
    total = total_known + sum(x_censored)
    capped = [x for hr, x in zip(known, x_known, strict=True) if hr.seconds < HOUR_SECONDS]
    var_poisson = sum(x * x / hr.count for hr, x in zip(known, x_known, strict=True) if hr.count > 0) / total**2
    by_day: dict[int, float] = {}
    for hr in hours:
        by_day[hr.day] = by_day.get(hr.day, 0.0) + w[hr.hour_of_day]
    var_day = day_sd**2 * sum((v / big_w) ** 2 for v in by_day.values())
    series = [hr.count * HOUR_SECONDS / hr.seconds if hr.seconds > 0 else d * w[hr.hour_of_day] for hr in hours]
    k2 = burst_k2(series)
    var_burst = k2 * sum(w[hr.hour_of_day] ** 2 for hr in hours) / big_w**2
    var_unseen = (shape_sd * (1.0 - coverage)) ** 2 + (shape_var if own is None else 0.0)
    var_capped = sum((CAPPED_HOUR_SD * x / total) ** 2 for x in capped)
    var_censored = sum((CENSORED_HOUR_SD * x / total) ** 2 for x in x_censored)
    sigma = math.sqrt(var_poisson + var_day + var_burst + var_unseen + var_capped + var_censored)
    shape = _filled_shape(hours, series, w, d)
    rate = Range(d * math.exp(-Z90 * sigma), d, d * math.exp(Z90 * sigma))
    return DayRate(rate, shape, coverage, big_w, len(capped), len(censored), k2, sigma)


def choose_shape(hours: Sequence[Hour], candidates: Sequence[Sequence[float]]) -> tuple[tuple[float, ...], float]:
    """The shape a partial window is extrapolated with, and the log-variance of its share of the day seen.

    Each candidate (the role's measured peers' own shapes, the configured shapes) is weighted by how well it
    fits the hours the host did show: log residuals r_i = ln((x_i + 1) / (D_j w_j(h_i) + 1)), D_j scaling the
    candidate to the host, and weight ~ (RSS_j / n + floor)^(-n/2), the profile likelihood of a log-normal
    error of unknown spread (floor: Poisson's 1/x and SHAPE_FIT_FLOOR, so no shape is certain). A flat host
    seen only at night thus takes its flat peers' shape, not the office peers' the role's mean would give.
    The mixture's shape is the weighted mean; the log-variance is the weighted spread of ln W_j (W_j: the
    day's share the window saw by candidate j), which the caller adds to the unseen-hours term.
    """
    known = [hr for hr in hours if hr.seconds > 0]
    xs = [hr.count * HOUR_SECONDS / hr.seconds for hr in known]
    n = len(known)
    shapes = [tuple(c) for c in candidates]
    logs: list[float] = []
    for w in shapes:
        seen = sum(w[hr.hour_of_day] for hr in known)
        if n < 3 or seen <= 0 or sum(xs) <= 0:
            logs.append(0.0)
            continue
        d = sum(xs) / seen
        rss = sum(math.log((x + 1) / (d * w[hr.hour_of_day] + 1)) ** 2 for hr, x in zip(known, xs, strict=True))
        floor = SHAPE_FIT_FLOOR + sum(1 / (x + 1) for x in xs) / n
        logs.append(-n / 2 * math.log(rss / n + floor))
    top = max(logs)
    weights = [math.exp(v - top) for v in logs]
    total = sum(weights)
    weights = [v / total for v in weights]
    mixed = tuple(sum(p * w[h] for p, w in zip(weights, shapes, strict=True)) for h in range(HOURS_PER_DAY))
    seen_all = [sum(w[hr.hour_of_day] for hr in hours) for w in shapes]
    seen_mixed = sum(mixed[hr.hour_of_day] for hr in hours)
    if seen_mixed <= 0 or min(seen_all) <= 0:
        return mixed, 0.0
    spread = sum(p * math.log(s / seen_mixed) ** 2 for p, s in zip(weights, seen_all, strict=True))
    return mixed, spread


def _filled_shape(hours: Sequence[Hour], series: Sequence[float], w: Sequence[float], d: float) -> tuple[float, ...]:
    """Hour-of-day shares: the host's own mean count where seen, the reference shape x D elsewhere."""
    sums = [0.0] * HOURS_PER_DAY
    seen = [0] * HOURS_PER_DAY
    for hr, x in zip(hours, series, strict=True):
        sums[hr.hour_of_day] += x
        seen[hr.hour_of_day] += 1
    means = [sums[h] / seen[h] if seen[h] else d * w[h] for h in range(HOURS_PER_DAY)]
    total = sum(means)
    return tuple(m / total for m in means) if total > 0 else tuple(w)
