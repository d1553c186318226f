"""Time sanity of an EVTX file: records whose TimeCreated cannot be right are set aside and counted,
and a window the kept records do not support is refused as a measurement.

One damaged record dated 2029 in a 2021 log used to stretch the measured window to 70,369 hours,
so the host's 4688 rate came out near 0/day and `plan` costed it at nothing. A Security log is
written in time order, so its records sit in one run of hours; what lies far outside that run is
damage (or a clock set wrong for a moment), not hours the log covered:

- after the ingest time (with a day's allowance for clock skew), or before 2006 (EVTX did not exist
  before Windows Vista): impossible;
- in a small group (at most MAX_OUTLIER_SHARE of the records, or MAX_OUTLIER_RECORDS records)
  separated from the bulk of the log by more than OUTLIER_GAP with no record at all: implausible.

What is left must then cover its window: when one stretch with no record at all spans more than
half of a window longer than MIN_SUPPORTED_HOURS, the window's length is not something the records
measured (the rate over it would be diluted by hours nobody logged), so the file gives no rate; the
host is flagged and estimated from its role, never costed at zero.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from typing import Final

EARLIEST: Final = datetime(2006, 1, 1, tzinfo=UTC)  # EVTX came with Windows Vista (2006)
FUTURE_ALLOWANCE: Final = timedelta(days=1)  # clock skew between the host and this machine
OUTLIER_GAP: Final = timedelta(days=14)
MAX_OUTLIER_SHARE: Final = 0.01
MAX_OUTLIER_RECORDS: Final = 3
MIN_SUPPORTED_HOURS: Final = 72
MAX_GAP_SHARE: Final = 0.5


def hour_of(key: str) -> datetime:
    """"YYYY-MM-DDTHH" (the scan's hour key) as an aware UTC datetime."""
    return datetime(int(key[0:4]), int(key[5:7]), int(key[8:10]), int(key[11:13]), tzinfo=UTC)


@dataclass(frozen=True)
class Timeline:
    """Which hours of the file are believed, and what was set aside."""

    kept_hours: frozenset[str]
    set_aside: int  # records whose time was implausible
    set_aside_hours: tuple[str, ...]  # their hour keys, oldest first
    first_hour: datetime | None  # the kept records' first and last hour (None: nothing kept)
    last_hour: datetime | None
    unsupported: str | None  # why the kept window is not a measurement, or None

    def warnings(self, file: str) -> list[str]:
        out: list[str] = []
        if self.set_aside:
            shown = ", ".join(f"{k}:00Z" for k in self.set_aside_hours[:3])
            more = f" and {len(self.set_aside_hours) - 3} more hour(s)" if len(self.set_aside_hours) > 3 else ""
            out.append(f"{file}: {self.set_aside} record(s) with an implausible time set aside ({shown}{more}); "
                       "the window and rates are those of the other records")
        if self.unsupported:
            out.append(f"{file}: {self.unsupported}: no measured rate from this file; "
                       "the host is estimated from its role")
        return out


def check_times(hours_all: Counter[str], now: datetime) -> Timeline:
    """Decide which hours (all events, by "YYYY-MM-DDTHH") to keep; `now` is the ingest time."""
    if not hours_all:
        return Timeline(frozenset(), 0, (), None, None, None)
    latest = now + FUTURE_ALLOWANCE
    times = {key: hour_of(key) for key in hours_all}
    possible = sorted((t, k) for k, t in times.items() if EARLIEST <= t <= latest)
    # Runs of hours with no gap over OUTLIER_GAP; the run with most records is the log itself.
    runs: list[list[tuple[datetime, str]]] = []
    for t, k in possible:
        if runs and t - runs[-1][-1][0] <= OUTLIER_GAP:
            runs[-1].append((t, k))
        else:
            runs.append([(t, k)])
    total = sum(hours_all.values())
    limit = max(MAX_OUTLIER_RECORDS, int(total * MAX_OUTLIER_SHARE))
    kept: set[str] = set()
    if runs:
        main = max(runs, key=lambda run: sum(hours_all[k] for _, k in run))
        for run in runs:
            if run is main or sum(hours_all[k] for _, k in run) > limit:
                kept.update(k for _, k in run)
    aside = sorted((k for k in hours_all if k not in kept), key=lambda k: times[k])
    if not kept:
        return Timeline(frozenset(), sum(hours_all.values()), tuple(aside), None, None,
                        "every record's time is implausible")
    ordered = sorted(times[k] for k in kept)
    first, last = ordered[0], ordered[-1]
    window_hours = (last - first) / timedelta(hours=1) + 1
    gap = max((b - a for a, b in pairwise(ordered)), default=timedelta(0))
    gap_hours = gap / timedelta(hours=1) - 1  # hours with no record between two that have one
    unsupported = None
    if window_hours > MIN_SUPPORTED_HOURS and gap_hours > MAX_GAP_SHARE * window_hours:
        unsupported = (f"its records leave {gap_hours:,.0f} of the {window_hours:,.0f} hours between the first "
                       "and the last without a single event")
    return Timeline(frozenset(kept), sum(hours_all[k] for k in aside), tuple(aside), first, last, unsupported)
