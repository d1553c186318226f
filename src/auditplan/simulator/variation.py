"""Day-to-day and hour-to-hour variation of a simulated host's process-start rate.

A real host's daily count moves from day to day (patch nights, users on leave, jobs that run some
days only) and a bursty host's hours swing far more than its hour-of-day shape says. Without this the
simulated rates are stationary Poisson and a model's day-to-day noise term is never exercised (issue 15).

Both factors have mean 1, so `RateProfile.process_starts_per_day` stays the host's expected 4688/day
(the truth a model is scored against). They depend only on the host's seed and the absolute UTC
day/hour, so the Security log and Sysmon's log of one host share them, and a fleet rebuilt with the same
seed has the same days. Assumptions, not measurements: no public source gives day-to-day spreads of 4688.
"""

from __future__ import annotations

import numpy as np

VARIATION_STREAM = 0xDD  # keeps these draws apart from eventlog.py's per-hour count draws


def rate_factors(seed: int, abs_hours: np.ndarray, day_to_day_sd: float, burstiness: float) -> np.ndarray:
    """A mean-1 multiplier per absolute hour (hours since 1970, UTC): log-normal per day x gamma per hour."""
    factors = np.ones(len(abs_hours))
    if len(abs_hours) == 0 or (day_to_day_sd <= 0 and burstiness <= 0):
        return factors
    first = int(abs_hours.min())
    if day_to_day_sd > 0:
        days = abs_hours // 24
        d0 = int(days.min())
        rng = np.random.default_rng([seed & 0xFFFFFFFF, VARIATION_STREAM, 1, d0])
        z = rng.standard_normal(int(days.max()) - d0 + 1)
        factors *= np.exp(day_to_day_sd * z - day_to_day_sd**2 / 2)[days - d0]
    if burstiness > 0:
        rng = np.random.default_rng([seed & 0xFFFFFFFF, VARIATION_STREAM, 2, first])
        k = 1.0 / burstiness**2
        g = rng.gamma(k, 1.0 / k, int(abs_hours.max()) - first + 1)
        factors *= g[abs_hours - first]
    return factors
