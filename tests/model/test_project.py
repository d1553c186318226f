"""Projection: small fleets computed by hand; Monte Carlo reproducibility; local log sizing."""

from __future__ import annotations

import math
from dataclasses import replace

import pandas as pd
import pytest

from auditplan.config import load_defaults
from auditplan.model.local_log import LocalLogSettings
from auditplan.model.project import (
    CHANGE_CMDLINE,
    CHANGE_ENABLE,
    CHANGE_NONE,
    lognormal_params,
    project,
)
from auditplan.model.siem import SiemProfile, load_siem_profiles
from auditplan.records import EstimateSource, HostEstimate, Range

GIB = 2**30
MIB = 2**20
DAYS_PER_MONTH = 365.25 / 12


def profiles() -> dict[str, SiemProfile]:
    return load_siem_profiles(load_defaults())


def est(
    host: str,
    per_day: float | tuple[float, float, float],
    *,
    role: str = "member_server",
    site: str = "lon",
    xml: float = 1500.0,
    xml_no: float = 1420.0,
    on: bool = False,
    cmd_on: bool = False,
    peak: float = 1.0,
    shape: tuple[float, ...] = (),
    source: EstimateSource = EstimateSource.MEASURED_4688,
    cmd_len: float | None = 80.0,
) -> HostEstimate:
    p10, p50, p90 = per_day if isinstance(per_day, tuple) else (per_day, per_day, per_day)
    return HostEstimate(
        host=host, role=role, site=site, os_family="2022", events_per_day=Range(p10, p50, p90), source=source,
        peak_hour_factor=peak, hourly_shape=shape, bytes_per_event_xml=xml, bytes_per_event_xml_no_cmdline=xml_no,
        cmdline_length_p50=cmd_len, bytes_source="sampled", already_on=on, cmdline_already_on=cmd_on,
        cmdline_supported=True,
    )


def test_two_hosts_by_hand_splunk_xml() -> None:
    a = est("a", 86_400, peak=2.0)  # 4688 off: 1 event/s on average, 2/s in the peak hour
    b = est("b", 43_200, xml=1600.0, xml_no=1400.0, on=True)  # 4688 on, command line off: +200 B/event
    c = est("c", 10_000, on=True, cmd_on=True)  # both already on: adds nothing
    p = project([a, b, c], profiles()["splunk-xml"], retention_days=30, price_per_gb=2.0, currency="EUR", seed=7)
    h = p.hosts.set_index("host")
    assert list(h.loc[["a", "b", "c"], "change"]) == [CHANGE_ENABLE, CHANGE_CMDLINE, CHANGE_NONE]

    gb_a = 86_400 * 1500 / GIB  # 0.12069940567 GiB/day
    gb_b_added = 43_200 * 200 / GIB
    assert h.loc["a", "added_eps_mean_p50"] == pytest.approx(1.0)
    assert h.loc["a", "added_eps_peak_p90"] == pytest.approx(2.0)
    assert h.loc["a", "added_gb_day_p50"] == pytest.approx(gb_a)
    assert h.loc["a", "added_gb_held_p50"] == pytest.approx(gb_a * 30)
    assert h.loc["a", "added_cost_month_p50"] == pytest.approx(gb_a * DAYS_PER_MONTH * 2.0)
    # The command-line delta: no new events, only the CommandLine bytes of each existing one.
    assert h.loc["b", "added_eps_mean_p50"] == 0.0
    assert h.loc["b", "added_gb_day_p50"] == pytest.approx(gb_b_added)
    assert h.loc["b", "gb_day_p50"] == pytest.approx(43_200 * 1600 / GIB)  # whole stream after enablement
    assert h.loc["c", "added_gb_day_p90"] == 0.0

    # Point estimates (p10 = p50 = p90): the Monte Carlo sums are exact.
    f = p.fleet.iloc[0]
    assert f["hosts"] == 3
    for q in ("p10", "p50", "p90"):
        assert f[f"added_gb_day_{q}"] == pytest.approx(gb_a + gb_b_added, rel=1e-5)
        assert f[f"added_eps_mean_{q}"] == pytest.approx(1.0, rel=1e-5)
        assert f[f"events_day_{q}"] == pytest.approx(139_600, rel=1e-5)
    assert f["added_cost_month_p50"] == pytest.approx((gb_a + gb_b_added) * DAYS_PER_MONTH * 2.0, rel=1e-5)
    assert p.currency == "EUR"


def test_sentinel_counts_decimal_gb_and_cost() -> None:
    e = est("s1", 1_000_000, xml=1000.0, xml_no=1000.0)
    p = project([e], profiles()["sentinel"], retention_days=90, price_per_gb=5.0, currency=None, seed=1)
    h = p.hosts.iloc[0]
    assert h["added_gb_day_p50"] == pytest.approx(1.0)  # 10^6 events x 1000 B = 10^9 B = 1 GB
    assert h["added_cost_month_p50"] == pytest.approx(5.0 * DAYS_PER_MONTH)
    assert h["added_gb_held_p50"] == pytest.approx(90.0)


def test_unknown_price_gives_no_cost() -> None:
    p = project([est("a", 1000)], profiles()["splunk-xml"], retention_days=1, price_per_gb=None, currency=None,
                seed=1)
    assert math.isnan(p.hosts.iloc[0]["added_cost_month_p50"])
    assert math.isnan(p.fleet.iloc[0]["added_cost_month_p90"])


def test_per_host_quantiles_are_exact_multiples_of_the_range() -> None:
    e = est("a", (1000.0, 2000.0, 5000.0))
    p = project([e], profiles()["splunk-xml"], retention_days=1, price_per_gb=None, currency=None, seed=1)
    h = p.hosts.iloc[0]
    assert (h["added_gb_day_p10"], h["added_gb_day_p50"], h["added_gb_day_p90"]) == pytest.approx(
        (1000 * 1500 / GIB, 2000 * 1500 / GIB, 5000 * 1500 / GIB)
    )


def test_lognormal_fit() -> None:
    mu, sigma = lognormal_params(1000.0, 2000.0, 4000.0)
    assert mu == pytest.approx(math.log(2000.0))
    assert sigma == pytest.approx(math.log(4.0) / (2 * 1.2815515655446004))
    assert lognormal_params(0.0, 0.0, 0.0) == (-math.inf, 0.0)


def test_single_host_group_matches_the_host_range() -> None:
    e = est("a", (1000.0, 2000.0, 4000.0))
    p = project([e], profiles()["splunk-xml"], retention_days=1, price_per_gb=None, currency=None, seed=3,
                draws=20_000)
    f = p.fleet.iloc[0]
    assert f["events_day_p50"] == pytest.approx(2000.0, rel=0.03)
    assert f["events_day_p10"] == pytest.approx(1000.0, rel=0.05)
    assert f["events_day_p90"] == pytest.approx(4000.0, rel=0.05)


def test_same_seed_same_numbers_and_input_order_does_not_matter() -> None:
    fleet = [est(f"h{i}", (100.0 * (i + 1), 300.0 * (i + 1), 900.0 * (i + 1)), role=f"r{i % 3}", site=f"s{i % 2}")
             for i in range(30)]
    prof = profiles()["splunk-classic"]
    one = project(fleet, prof, retention_days=30, price_per_gb=1.0, currency=None, seed=11)
    two = project(list(reversed(fleet)), prof, retention_days=30, price_per_gb=1.0, currency=None, seed=11)
    pd.testing.assert_frame_equal(one.fleet, two.fleet)
    pd.testing.assert_frame_equal(one.by_role, two.by_role)
    pd.testing.assert_frame_equal(one.by_site, two.by_site)
    other = project(fleet, prof, retention_days=30, price_per_gb=1.0, currency=None, seed=12)
    assert not one.fleet.equals(other.fleet)
    # Role and site tables partition the same draws: their sums add up to the fleet's draws'
    # mean, so their p50s are close to the fleet's (not equal: the median of a sum is not additive).
    assert set(one.by_role.index) == {"r0", "r1", "r2"} and set(one.by_site.index) == {"s0", "s1"}
    assert one.by_role["hosts"].sum() == one.by_site["hosts"].sum() == 30


def test_prior_estimates_share_their_error_within_a_role() -> None:
    """100 hosts on one role prior move together; 100 measured hosts average out."""
    r = (1000.0, 2000.0, 5000.0)
    prior = [est(f"p{i}", r, source=EstimateSource.ROLE_PRIOR) for i in range(100)]
    measured = [est(f"m{i}", r, source=EstimateSource.MEASURED_4688) for i in range(100)]
    prof = profiles()["splunk-xml"]
    fp = project(prior, prof, retention_days=1, price_per_gb=None, currency=None, seed=5, draws=4000).fleet.iloc[0]
    fm = project(measured, prof, retention_days=1, price_per_gb=None, currency=None, seed=5, draws=4000).fleet.iloc[0]
    # Comonotonic: the fleet's p90/p50 is the single host's. The log-normal is fitted to p10 and
    # p90 (sigma = ln(5000/1000) / (2 z90)), so its p90/p50 = sqrt(5000/1000) = 2.236.
    assert fp["events_day_p90"] / fp["events_day_p50"] == pytest.approx(math.sqrt(5.0), rel=0.05)
    # Independent: the spread of a mean of 100 shrinks by ~10x in log terms.
    assert fm["events_day_p90"] / fm["events_day_p50"] < 1.2


def test_group_peak_from_hourly_shapes() -> None:
    night = tuple([1.0] + [0.0] * 23)  # everything in hour 0: peak factor 24
    noon = tuple([0.0] * 12 + [1.0] + [0.0] * 11)
    a = est("a", 86_400, shape=night, peak=24.0)
    b = est("b", 86_400, shape=noon, peak=24.0)
    p = project([a, b], profiles()["splunk-xml"], retention_days=1, price_per_gb=None, currency=None, seed=1)
    # Per host the peak is 24 events/s; together the two peaks fall in different hours:
    # the fleet's busiest hour carries 86,400 events = 24/s, mean 2/s, factor 12.
    assert p.hosts.set_index("host").loc["a", "added_eps_peak_p90"] == pytest.approx(24.0)
    f = p.fleet.iloc[0]
    assert f["peak_hour_factor"] == pytest.approx(12.0)
    assert f["added_eps_peak_p50"] == pytest.approx(24.0, rel=1e-5)


def test_local_log_hours_and_recommended_size_by_hand() -> None:
    e = est("a", 2400)  # 100 4688/h once enabled
    survey = pd.DataFrame(
        {"host": ["a"], "log_max_size_bytes": [20 * MIB], "log_file_size_bytes": [10 * MIB],
         "log_history_hours": [100.0], "status": ["ok"]}
    )
    p = project([e], profiles()["splunk-xml"], retention_days=1, price_per_gb=None, currency=None, seed=1,
                survey=survey, local_log=LocalLogSettings())
    h = p.hosts.iloc[0]
    current = 10 * MIB / 100.0  # 104,857.6 B/h today
    added = 100 * (1420 * 1.0 + 80 * 2.0)  # XML without command line + UTF-16 command line
    assert h["current_bytes_per_hour"] == pytest.approx(current)
    assert h["local_hours_p90"] == pytest.approx(20 * MIB / (current + added))  # ~80.4 h
    assert not h["meets_min_local_hours"]
    need_mb = 168 * (current + added) / MIB  # ~42.1 MB -> next multiple of 64 MB
    assert need_mb == pytest.approx(42.11, abs=0.01)
    assert h["recommended_log_max_size_mb"] == 64


def test_local_log_recommendation_is_capped_at_the_policy_maximum() -> None:
    e = est("busy", 5_000_000)
    survey = pd.DataFrame({"host": ["busy"], "log_max_size_bytes": [128 * MIB], "log_file_size_bytes": [128 * MIB],
                           "log_history_hours": [2.0]})
    p = project([e], profiles()["splunk-xml"], retention_days=1, price_per_gb=None, currency=None, seed=1,
                survey=survey)
    h = p.hosts.iloc[0]
    # gpo-backup-format.md §A4: MaximumLogSize <= 4,194,240 KB = 4095.9 MB; the largest 64 MB multiple is 4032.
    assert h["recommended_log_max_size_mb"] == 4032
    assert h["log_size_capped"]


def _float_at(frame: pd.DataFrame, row: str, column: str) -> float:
    """One cell of a float64 column (pandas-stubs types .loc[row, column] as any scalar)."""
    value = frame.loc[row, column]
    assert isinstance(value, float), (row, column, type(value))  # numpy.float64 subclasses float
    return value


def test_host_meeting_the_target_keeps_its_size_and_unsurveyed_host_is_unknown() -> None:
    quiet = est("quiet", 24)
    ghost = est("ghost", 24)
    survey = pd.DataFrame({"host": ["quiet"], "log_max_size_bytes": [1024 * MIB], "log_file_size_bytes": [1 * MIB],
                           "log_history_hours": [1000.0]})
    p = project([quiet, ghost], profiles()["splunk-xml"], retention_days=1, price_per_gb=None, currency=None,
                seed=1, survey=survey, local_log=LocalLogSettings(min_local_hours=24.0))
    h = p.hosts.set_index("host")
    assert h.loc["quiet", "meets_min_local_hours"]
    assert math.isnan(_float_at(h, "quiet", "recommended_log_max_size_mb"))
    assert math.isnan(_float_at(h, "ghost", "local_hours_p90"))
    assert any("without a current Security log rate" in w for w in p.warnings)


def test_duplicate_hosts_are_warned_not_double_counted() -> None:
    a = est("dup", 1000)
    p = project([a, replace(a, host="DUP")], profiles()["splunk-xml"], retention_days=1, price_per_gb=None,
                currency=None, seed=1)
    assert len(p.hosts) == 1
    assert any("duplicate" in w for w in p.warnings)


def test_empty_fleet_projects_zero() -> None:
    p = project([], profiles()["splunk-xml"], retention_days=1, price_per_gb=None, currency=None, seed=1)
    assert p.fleet.iloc[0]["added_gb_day_p90"] == 0.0


def test_vectorised_lognormal_fit_matches_the_scalar_one() -> None:
    import numpy as np

    from auditplan.model.project import _lognormal_arrays

    cases = [(1000.0, 2000.0, 4000.0), (0.0, 50.0, 400.0), (0.0, 0.0, 0.0), (10.0, 10.0, 10.0),
             (5.0, 20.0, 0.0), (float("nan"), 10.0, 30.0)]
    mu, sigma = _lognormal_arrays(*(np.array(c) for c in zip(*cases, strict=True)))
    for i, case in enumerate(cases):
        want_mu, want_sigma = lognormal_params(*case)
        assert mu[i] == pytest.approx(want_mu) and sigma[i] == pytest.approx(want_sigma), case


def test_group_peak_factors_sum_each_group_hour_by_hour() -> None:
    """The per-hour sums against a plain loop over the hosts (the peak of a group's summed shape)."""
    import numpy as np

    from auditplan.model.project import _group_peak_factors

    rng = np.random.default_rng(17)
    n, groups = 500, 7
    group = rng.integers(0, groups - 1, n)  # the last group has no host
    weights = rng.uniform(0.0, 100.0, n)
    shapes = rng.uniform(0.0, 1.0, (n, 24))
    shapes /= shapes.sum(axis=1, keepdims=True)
    shape_ok = rng.random(n) < 0.8
    factors = rng.uniform(1.0, 3.0, n)
    got = _group_peak_factors(group, groups, weights, shapes, shape_ok, factors)
    for g in range(groups):
        hourly = [0.0] * 24
        total = unshaped = 0.0
        for i in range(n):
            if group[i] != g:
                continue
            total += weights[i]
            if shape_ok[i]:
                for h in range(24):
                    hourly[h] += weights[i] * shapes[i, h]
            else:
                unshaped += weights[i] * factors[i]
        want = max(1.0, (max(hourly) * 24 + unshaped) / total) if total > 0 else 1.0
        assert got[g] == pytest.approx(want, rel=1e-12), g
