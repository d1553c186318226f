"""The statistics behind per-host 4688/day ranges (docs/estimation.md has the worked examples).

- `measured_range`: hourly counts -> over-dispersed Poisson moments -> log-normal by moments.
- `shrink_to_peers`: normal-normal (empirical Bayes) update of a role's log-median from
  measured peers, with the prior's spread as the prior variance.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from auditplan.model.priors import Z90
from auditplan.records import Range

HOURS_PER_DAY = 24
ZERO_COUNT_UPPER = math.log(10.0)  # Poisson: P(0 events) = 0.1 when the mean is ln 10


def lognormal_range(mu: float, sigma: float) -> Range:
    """p10/p50/p90 of a log-normal with log-mean mu and log-sd sigma."""
    return Range(p10=math.exp(mu - Z90 * sigma), p50=math.exp(mu), p90=math.exp(mu + Z90 * sigma))


def measured_range(hourly: Sequence[int]) -> Range:
    """A day's 4688 count predicted from `hourly` counts (one per hour of the window).

    Over-dispersed Poisson: m = mean hourly count, v = max(sample variance (n-1), m) (at least
    Poisson; v = m when n = 1). A day D is 24 hours, so E[D] = 24 m and
    Var[D] = 24 v (day-to-day noise) + 24^2 v / n (uncertainty of m from n hours).
    D is then taken as log-normal with that mean and variance: sigma^2 = ln(1 + Var/E^2),
    mu = ln E - sigma^2 / 2. With no events in n hours the 90 % Poisson upper bound applies
    (mean <= ln 10 / n per hour) and p10 = p50 = 0.
    """
    n = len(hourly)
    if n == 0:
        raise ValueError("no hourly counts")
    total = sum(hourly)
    if total == 0:
        return Range(0.0, 0.0, HOURS_PER_DAY * ZERO_COUNT_UPPER / n)
    m = total / n
    v = m
    if n > 1:
        v = max(sum((c - m) ** 2 for c in hourly) / (n - 1), m)
    mean_day = HOURS_PER_DAY * m
    var_day = HOURS_PER_DAY * v + HOURS_PER_DAY**2 * v / n
    sigma2 = math.log1p(var_day / mean_day**2)
    return lognormal_range(math.log(mean_day) - sigma2 / 2, math.sqrt(sigma2))


@dataclass(frozen=True)
class PeerFit:
    mu: float  # posterior log-median of the role
    sigma: float  # predictive log-sd for an unmeasured host of the role
    peers: int
    spread: float  # within-role log-sd used (s_w)


def shrink_to_peers(prior_mu: float, prior_sigma: float, peer_logs: Sequence[float],
                    variances: Sequence[float] | None = None) -> PeerFit:
    """Normal-normal update of a role's log-median from k measured peers' log rates y_i, each measured
    with log-variance v_i (0 when not given).

    Within-role spread: s_w^2 = (prior_sigma^2 + (k-1) max(0, s^2 - mean v)) / k, s^2 the peers' sample
    variance less what their own measurement error explains (the prior spread counts as one
    pseudo-observation; s_w = prior_sigma when k = 1).
    The prior's variance for the role median is prior_sigma^2, or (ybar - prior_mu)^2 - s_w^2/k when the
    peers sit further from it than that (issue 15: a prior the data contradicts must not pull the role
    back toward itself; with the fixed variance, five peers 5x above a sigma-1.2 prior kept ~10 % of it).
    Posterior: precision P = 1/prior_var + sum 1/(s_w^2 + v_i),
    mu_post = (prior_mu/prior_var + sum y_i/(s_w^2 + v_i)) / P.
    Predictive for another host of the role: N(mu_post, s_w^2 + 1/P) on the log scale.
    """
    k = len(peer_logs)
    if k == 0:
        return PeerFit(prior_mu, prior_sigma, 0, prior_sigma)
    v = list(variances) if variances is not None else [0.0] * k
    ybar = sum(peer_logs) / k
    s2 = sum((y - ybar) ** 2 for y in peer_logs) / (k - 1) if k > 1 else 0.0
    sw2 = (prior_sigma**2 + (k - 1) * max(0.0, s2 - sum(v) / k)) / k
    prior_var = max(prior_sigma**2, (ybar - prior_mu) ** 2 - sw2 / k)
    weights = [1.0 / (sw2 + vi) for vi in v]
    precision = 1.0 / prior_var + sum(weights)
    mu_post = (prior_mu / prior_var + sum(w * y for w, y in zip(weights, peer_logs, strict=True))) / precision
    return PeerFit(mu_post, math.sqrt(sw2 + 1.0 / precision), k, math.sqrt(sw2))
