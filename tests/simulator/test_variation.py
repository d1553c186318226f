"""Issue 15's additions to the simulator: day-to-day and bursty rates, and per-hour queries answered from
one evaluated query moved in time."""

from __future__ import annotations

import math
from datetime import UTC, datetime

import numpy as np

from auditplan.records import AuditSetting
from auditplan.simulator import eventlog_qe
from auditplan.simulator.eventlog import SimEventLog
from auditplan.simulator.profile import AuditProfile, HostProfile, RateProfile, SecurityLogProfile
from auditplan.simulator.variation import rate_factors

NOW = datetime(2026, 11, 28, 7, 3, 12, tzinfo=UTC)


def test_factors_have_mean_one_and_the_asked_spread() -> None:
    hours = np.arange(480_000, 480_000 + 24 * 4000)
    day = rate_factors(7, hours, 0.2, 0.0)
    per_day = day[::24]
    assert np.all(day.reshape(-1, 24) == per_day[:, None])  # one factor per UTC day
    assert abs(per_day.mean() - 1) < 0.02
    assert abs(np.log(per_day).std() - 0.2) < 0.01
    burst = rate_factors(7, hours, 0.0, 1.0)
    assert abs(burst.mean() - 1) < 0.02 and abs(burst.std() - 1.0) < 0.05
    assert np.array_equal(rate_factors(7, hours, 0.2, 1.0), rate_factors(7, hours, 0.2, 1.0))
    assert np.all(rate_factors(7, hours, 0.0, 0.0) == 1.0)


def _log(day_sd: float) -> SimEventLog:
    profile = HostProfile(name="v", address="127.0.0.1", seed=3,
                          audit=AuditProfile(process_creation=AuditSetting.SUCCESS),
                          security_log=SecurityLogProfile(max_size_bytes=1 << 30),
                          rates=RateProfile(process_starts_per_day=24_000.0, day_to_day_sd=day_sd))
    return SimEventLog.for_security(profile, NOW)


def test_daily_counts_move_with_day_to_day_sd_but_keep_their_mean() -> None:
    def daily(log: SimEventLog) -> list[int]:
        # The 12 whole UTC days before NOW's (00:00-07:03, its last 8 held hours); the 1 GB log holds ~16 days.
        counts = [c for _, c in log.true_hourly_counts(4688)][-8 - 24 * 12:-8]
        return [sum(counts[i:i + 24]) for i in range(0, 24 * 12, 24)]

    flat, varied = daily(_log(0.0)), daily(_log(0.3))
    # Poisson alone: sd sqrt(24,000) = 155 (0.6 %); with log-sd 0.3 the days spread ~30 % (12 days: the sample
    # sd of a log-sd 0.3 is within 0.15..0.45 but for odds of about 1 in 10^4).
    assert np.std(flat) / np.mean(flat) < 0.02
    assert 0.15 < np.std(np.log(varied)) < 0.45
    assert abs(np.mean(varied) / 24_000 - 1) < 0.3


def _query(hour: int) -> str:
    return (f"*[System[EventID=4688 and TimeCreated[@SystemTime>='2026-11-27T{hour:02d}:00:00.000Z'"
            f" and @SystemTime<='2026-11-27T{hour:02d}:59:59.999Z']]]")


def test_a_query_moved_in_time_selects_what_a_fresh_evaluation_does() -> None:
    log = _log(0.0)
    counts = {start.hour: n for start, n in log.true_hourly_counts(4688) if start.day == 27}
    log.query((f"/q:{_query(3)}", "/f:text"))  # evaluated, then cached for its moves
    for hour in (4, 11, 23):
        moved = log.query((f"/q:{_query(hour)}", "/f:text")).stdout
        eventlog_qe._SHIFTED.clear()
        eventlog_qe._CONDITIONS.clear()
        fresh = log.query((f"/q:{_query(hour)}", "/f:text")).stdout
        assert moved == fresh
        assert moved.count(b"Date: ") == counts[hour] > 0
    assert math.isfinite(float(len(counts)))
