"""A host's estimated 4688 volume, the record `auditplan estimate` saves and `project` reads.

HostEstimate: events/day as a Range (p10/p50/p90) with the EstimateSource it came from, the
hour-of-day shape and peak factor, bytes per event with and without the command line, and what
the host already audits. Range is any quantity with its 10th, 50th and 90th percentile.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass


class EstimateSource(enum.StrEnum):
    """Where a host's 4688/day figure came from, best first."""

    MEASURED_4688 = "measured_4688"
    SYSMON_EID1 = "sysmon_eid1"
    PROCESS_TRACE = "process_trace"
    ROLE_PEERS = "role_peers"
    ROLE_PRIOR = "role_prior"


@dataclass(frozen=True)
class Range:
    """A quantity with its 10th, 50th and 90th percentile."""

    p10: float
    p50: float
    p90: float


@dataclass(frozen=True)
class HostEstimate:
    host: str
    role: str | None
    site: str | None
    os_family: str | None  # "2008r2", "2012r2", "2016", "2019", "2022", "2025", "win10", "win11", ...
    events_per_day: Range  # 4688 events/day once Process Creation (Success) is on
    source: EstimateSource
    peak_hour_factor: float  # peak hour rate / mean hour rate (>= 1)
    hourly_shape: tuple[float, ...]  # 24 shares summing to 1, hour 0 = 00:00 UTC
    bytes_per_event_xml: float  # with CommandLine
    bytes_per_event_xml_no_cmdline: float
    cmdline_length_p50: float | None
    bytes_source: str  # "sampled" | "dev_set" | ...
    already_on: bool  # Process Creation success is already audited
    cmdline_already_on: bool
    cmdline_supported: bool | None
    notes: tuple[str, ...] = ()
    # What limits this host's range (issue 15): "capped" (hours over the per-hour cap, measured over part of
    # the hour), "censored" (capped hours of unknown span), "partial_day" (the window missed hours of the day),
    # "bursty" (hours swing far beyond Poisson), "peers" / "prior_only" / "trace" (nothing of its own
    # measured over hours); and in words what would narrow it ("" when nothing would, much).
    flags: tuple[str, ...] = ()
    narrow_by: str = ""
