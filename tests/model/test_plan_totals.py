"""The simulated total after each wave (model/plan_totals.py), checked against the projection's own
fleet figures, a host's own range, a Monte Carlo written here independently, and by-hand cases."""

from __future__ import annotations

import math
from itertools import pairwise

import numpy as np
import pytest
from test_project import GIB, est, profiles

from auditplan.model.api import plan_totals
from auditplan.model.project import lognormal_params, project
from auditplan.records import EstimateSource, HostEstimate


def _fleet(n: int = 40) -> list[HostEstimate]:
    # Skewed, independent (measured) hosts: p90/p50 = 3, p50/p10 = 3.
    return [est(f"h{i:02d}", (1000.0 * (1 + i % 7) / 3, 1000.0 * (1 + i % 7), 3000.0 * (1 + i % 7)),
                site=f"s{i % 3}") for i in range(n)]


def test_a_plan_holding_every_host_ends_on_the_projections_fleet_figures() -> None:
    p = project(_fleet(), profiles()["splunk-xml"], retention_days=30, price_per_gb=None, currency=None, seed=3)
    names = p.hosts["host"].tolist()
    totals = plan_totals(p, [(0, names[:5]), (1, names[5:25]), (2, names[25:])])
    assert [t.wave for t in totals] == [0, 1, 2] and [t.hosts for t in totals] == [5, 25, 40]
    last, fleet = totals[-1], p.fleet.iloc[0]
    # Waves that are slices of the projection's host order draw the very same numbers: equal up to
    # float32 summation order.
    for q in ("p10", "p50", "p90"):
        assert getattr(last.added_gb_day, q) == pytest.approx(fleet[f"added_gb_day_{q}"], rel=1e-6)
        assert getattr(last.added_events_day, q) == pytest.approx(fleet[f"added_events_day_{q}"], rel=1e-6)
    # Running totals grow wave by wave.
    for a, b in pairwise(totals):
        assert a.added_gb_day.p50 < b.added_gb_day.p50 and a.added_gb_day.p90 < b.added_gb_day.p90


def test_waves_in_any_host_order_end_within_monte_carlo_error_of_the_fleet() -> None:
    p = project(_fleet(), profiles()["splunk-xml"], retention_days=30, price_per_gb=None, currency=None, seed=3,
                draws=4000)
    names = p.hosts["host"].tolist()
    totals = plan_totals(p, [(0, names[1::2]), (1, names[::2])])  # interleaved: other draws, same model
    fleet = p.fleet.iloc[0]
    for q in ("p10", "p50", "p90"):
        assert getattr(totals[-1].added_gb_day, q) == pytest.approx(fleet[f"added_gb_day_{q}"], rel=0.03)


def test_the_total_lies_between_the_plans_added_up_quantiles() -> None:
    # Added up host by host, p50s fall below the total's median and p90s above its p90 (skewed
    # hosts, drawn independently): why the report shows the simulated total.
    p = project(_fleet(), profiles()["splunk-xml"], retention_days=30, price_per_gb=None, currency=None, seed=3)
    (total,) = plan_totals(p, [(0, p.hosts["host"].tolist())])
    assert p.hosts["added_gb_day_p50"].sum() < total.added_gb_day.p50
    assert total.added_gb_day.p90 < p.hosts["added_gb_day_p90"].sum()


def test_against_a_monte_carlo_written_here() -> None:
    # Independent route: numpy's own log-normal sampler, another seed, 40,000 draws, the
    # log-normal fitted by the textbook z-score of the 90th percentile (1.2816).
    hosts = _fleet(30)
    p = project(hosts, profiles()["splunk-xml"], retention_days=30, price_per_gb=None, currency=None, seed=11,
                draws=4000)
    wave0 = [h.host for h in hosts[:10]]
    totals = plan_totals(p, [(0, wave0), (1, [h.host for h in hosts[10:]])])
    rng = np.random.default_rng(2024)
    z90 = 1.2815515655446004
    sums = np.zeros(40_000)
    for h in hosts[:10]:
        r = h.events_per_day
        sigma = (math.log(r.p90) - math.log(r.p10)) / (2 * z90)
        sums += rng.lognormal(math.log(r.p50), sigma, size=sums.size)
    bytes_per_event = float(p.hosts.set_index("host")["added_bytes_per_event"].to_dict()[wave0[0]])
    expected = np.percentile(sums, [10, 50, 90])
    got = totals[0].added_events_day
    assert [got.p10, got.p50, got.p90] == pytest.approx(expected.tolist(), rel=0.05)
    assert totals[0].added_gb_day.p50 == pytest.approx(expected[1] * bytes_per_event / GIB, rel=0.05)
    # lognormal_params is the same fit.
    mu, sigma = lognormal_params(*(hosts[0].events_per_day.p10, hosts[0].events_per_day.p50,
                                   hosts[0].events_per_day.p90))
    assert sigma == pytest.approx((math.log(3000) - math.log(1000 / 3)) / (2 * z90))
    assert mu == pytest.approx(math.log(1000))


def test_hosts_on_one_role_prior_move_together() -> None:
    # Ten hosts on one role prior share one draw: the total's p90 is ten times a host's p90, the
    # plan's added-up ceiling exactly (no diversification for a prior that is wrong for all of them).
    hosts = [est(f"w{i}", (1000.0 / 3, 1000.0, 3000.0), role="workstation", source=EstimateSource.ROLE_PRIOR)
             for i in range(10)]
    p = project(hosts, profiles()["splunk-xml"], retention_days=30, price_per_gb=None, currency=None, seed=5,
                draws=2000)
    (total,) = plan_totals(p, [(0, [h.host for h in hosts])])
    one = plan_totals(p, [(0, ["w0"])])[0]
    assert total.added_events_day.p90 == pytest.approx(10 * one.added_events_day.p90, rel=1e-6)
    assert total.added_gb_day.p90 == pytest.approx(p.hosts["added_gb_day_p90"].sum(), rel=0.1)


def test_a_host_the_projection_does_not_hold_is_refused() -> None:
    p = project(_fleet(3), profiles()["splunk-xml"], retention_days=30, price_per_gb=None, currency=None, seed=3)
    with pytest.raises(KeyError, match="ghost"):
        plan_totals(p, [(0, ["h00", "ghost"])])
    assert plan_totals(p, []) == []
    # Host names match in any case, as everywhere else.
    assert plan_totals(p, [(0, ["H00"])])[0].hosts == 1
