"""Per-host 4688/day estimates (p10/p50/p90) with a named source, and the fleet total.

Sources, best first (DESIGN.md "Collect", "Model"): measured_4688, sysmon_eid1, process_trace,
role_peers, role_prior. The method and a worked example are in docs/estimation.md.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from auditplan.model.calibrate import PeerFit, lognormal_range, measured_range, shrink_to_peers
from auditplan.model.priors import Z90, Priors, load_priors, lognormal_sigma
from auditplan.model.trace_rate import trace_range
from auditplan.records import (
    EstimateSource,
    HostEstimate,
    HostResult,
    HostStatus,
    OSInfo,
    ProductType,
    Range,
    SecurityLog,
    VolumeSample,
)

HOURS_PER_DAY = 24
# Fewer usable hours than this do not span enough of the day for the hour-of-day cycle to average out:
# a handful of hours may all sit in the night trough or the day peak. Half a day is the cut-off.
MIN_USABLE_HOURS = 12
# Extra log-sd for such short windows: day/peak vs night/trough ratios of about 2 either way (the role
# shapes' peak-hour factors, docs/estimation.md) put the hours-to-day factor's p90 at 2x. An assumption.
SHORT_WINDOW_LOG_SD = math.log(2.0) / Z90
# A measured host calibrates its role (counts as a peer) only with at least MIN_USABLE_HOURS usable
# hours: a shorter window (a seconds-long attack capture, a live trace) says little about a day and
# would otherwise weigh as much as a week of counts. A peer measured at zero counts as this many
# events over its window, so a quiet host pulls its role down instead of dropping out.
ZERO_PEER_EVENTS = 0.5


@dataclass(frozen=True)
class _Measured:
    rate: Range
    source: EstimateSource
    hourly: tuple[int, ...]
    start_hour: int  # hour of day (UTC) of hourly[0]
    notes: tuple[str, ...]


def os_family(os: OSInfo | None) -> str | None:
    """Short OS family from the build number (ProductType tells server from client)."""
    if os is None or os.current_build is None:
        return None
    build = os.current_build
    server = os.product_type in (ProductType.SERVER, ProductType.DOMAIN_CONTROLLER)
    if server:
        for low, name in ((26100, "2025"), (20348, "2022"), (17763, "2019"), (14393, "2016"),
                          (9600, "2012r2"), (9200, "2012"), (7600, "2008r2")):
            if build >= low:
                return name
        return "2008"
    if build >= 22000:
        return "win11"
    if build >= 10240:
        return "win10"
    if build >= 9600:
        return "win81"
    if build >= 7600:
        return "win7"
    return None


def _auditing_on(result: HostResult) -> bool | None:
    """Whether Process Creation (Success) was audited when the counts were taken."""
    if result.audit is not None and result.audit.process_creation is not None:
        return result.audit.process_creation.includes_success
    return None


def usable_hours(
    volume: VolumeSample,
    counts: tuple[int, ...],
    security_log: SecurityLog | None,
    *,
    capped: bool,
    log_oldest_partial: bool,
) -> tuple[int, tuple[str, ...]]:
    """How many leading (oldest) hours of `counts` to leave out of the rate, and why.

    - Hours that end before the log's oldest event read 0 only because the log no longer holds them
      (collect/winrm/probe.py). With `log_oldest_partial` (a survey: the log wrapped inside the window) the
      hour holding the oldest event is partial and goes too; an .evtx file's window starts at its first
      event's hour on purpose (collect/evtx/ingest.py), so there it stays.
    - With `capped`, /rd:true kept the newest events: the oldest hour with any count is partial and
      the hours before it read 0 for the same reason, so all of them go.
    """
    skip = 0
    notes: list[str] = []
    oldest = security_log.oldest_time if security_log is not None else None
    if oldest is not None and counts:
        hour = timedelta(hours=1)
        starts = [volume.window_start + i * hour for i in range(len(counts))]
        before = sum(1 for h in starts if h + hour <= oldest or (log_oldest_partial and h < oldest))
        if before:
            skip = before
            notes.append(
                f"{before} h of the window precede the Security log's oldest event "
                f"({oldest:%Y-%m-%d %H:%M} UTC) and read 0: left out of the rate"
            )
    if capped and counts:
        first = next((i for i, c in enumerate(counts) if c > 0), len(counts))
        if first + 1 > skip:
            notes.append(f"count hit the event cap: its oldest {first + 1} h (the last one partial) "
                         "left out of the rate")
            skip = first + 1
    return min(skip, len(counts)), tuple(notes)


def _series_capped(result: HostResult, counts: tuple[int, ...] | None) -> bool:
    """Whether this series hit the cap (VolumeSample.capped covers both series; caps tell which)."""
    if result.volume is None or not result.volume.capped or not counts:
        return False
    return result.caps is None or sum(counts) >= result.caps.max_events


def _widen_short(rate: Range, hours: int) -> Range:
    """Same median, log-sd grown by SHORT_WINDOW_LOG_SD when fewer than MIN_USABLE_HOURS hours remain."""
    if hours >= MIN_USABLE_HOURS or rate.p50 <= 0:
        return rate
    sigma = math.sqrt(lognormal_sigma(rate.p50, rate.p90) ** 2 + SHORT_WINDOW_LOG_SD**2)
    return lognormal_range(math.log(rate.p50), sigma)


def _rate(counts: tuple[int, ...], notes: list[str]) -> tuple[Range, list[str]]:
    rate = measured_range(counts)
    if len(counts) < MIN_USABLE_HOURS:
        rate = _widen_short(rate, len(counts))
        notes.append(f"measured over {len(counts)} usable h only (< {MIN_USABLE_HOURS}): range widened")
    elif len(counts) < HOURS_PER_DAY:
        notes.append(f"measured over {len(counts)} h only (< 1 day)")
    return rate, notes


def _own_measurement(result: HostResult, priors: Priors) -> tuple[_Measured | None, tuple[str, ...]]:
    """measured_4688, then sysmon_eid1, then process_trace from the host's own data; with no
    measurement, the notes that say why the host's own counts were not used."""
    if result.status is not HostStatus.OK:
        return None, ()
    notes: list[str] = []
    volume = result.volume
    if volume is None:
        return _traced(result, priors, 0, notes), tuple(notes)
    on = _auditing_on(result)
    winrm = result.source == "winrm"
    skip, skip_notes = usable_hours(volume, volume.hourly_4688, result.security_log,
                                    capped=_series_capped(result, volume.hourly_4688), log_oldest_partial=winrm)
    counts = volume.hourly_4688[skip:]
    start_hour = (volume.window_start + timedelta(hours=skip)).hour
    if counts and not volume.boot_only and (on is True or (on is None and sum(counts) > 0)):
        notes.extend(skip_notes)
        rate, notes = _rate(counts, notes)
        return _Measured(rate, EstimateSource.MEASURED_4688, counts, start_hour, tuple(notes)), ()
    if volume.hourly_4688 and not counts and on is not False:
        notes.extend(skip_notes)
        notes.append("no hour of the window is fully held by the Security log: no measured rate")
    if volume.boot_only:
        notes.append("only boot-time 4688s: process creation auditing is off")
    sysmon = volume.hourly_sysmon_eid1 or ()
    # The Sysmon log's own oldest event is not collected; only the cap can be accounted for.
    skip, skip_notes = usable_hours(volume, sysmon, None, capped=_series_capped(result, sysmon),
                                    log_oldest_partial=False)
    sysmon = sysmon[skip:]
    if sysmon and sum(sysmon) > 0:
        notes.extend(skip_notes)
        raw, notes = _rate(sysmon, notes)
        k = priors.sysmon_eid1_per_4688
        notes.append(f"Sysmon EID 1 as a proxy for 4688 (x{1 / k:g})")
        return _Measured(Range(raw.p10 / k, raw.p50 / k, raw.p90 / k), EstimateSource.SYSMON_EID1,
                         sysmon, (volume.window_start + timedelta(hours=skip)).hour, tuple(notes)), ()
    return _traced(result, priors, start_hour, notes), tuple(notes)


def _traced(result: HostResult, priors: Priors, start_hour: int, notes: list[str]) -> _Measured | None:
    """process_trace: model/trace_rate.py scales the count to a day with the role's hourly shape; its
    range leaves out day-to-day variation, so it is widened like any window under MIN_USABLE_HOURS."""
    trace = result.trace
    if trace is None or not trace.seconds > 0:
        return None
    shape = priors.roles[_role_key(result, priors)].shape
    rate = _widen_short(trace_range(trace, shape), 0)
    notes.append(f"live process-start trace: {trace.process_starts} starts in {trace.seconds:g} s, "
                 "scaled to a day by the role's hourly shape (range widened for the short window)")
    return _Measured(rate, EstimateSource.PROCESS_TRACE, (), start_hour, tuple(notes))


def _shape_from_counts(hourly: Sequence[int], start_hour: int) -> tuple[float, ...] | None:
    """Hour-of-day shares from a window of >= 24 hourly counts (each hour averaged over days)."""
    if len(hourly) < HOURS_PER_DAY or sum(hourly) == 0:
        return None
    sums = [0.0] * HOURS_PER_DAY
    seen = [0] * HOURS_PER_DAY
    for i, c in enumerate(hourly):
        h = (start_hour + i) % HOURS_PER_DAY
        sums[h] += c
        seen[h] += 1
    means = [s / n for s, n in zip(sums, seen, strict=True)]
    total = sum(means)
    return tuple(m / total for m in means)


def _best_result(results: Sequence[HostResult]) -> HostResult:
    """Of several results for one host (a survey and an ingest), the most useful one."""

    def rank(r: HostResult) -> tuple[int, int, float]:
        measured = r.volume is not None and bool(r.volume.hourly_4688) and not r.volume.boot_only
        return (r.status is HostStatus.OK, measured, r.collected_at.timestamp())

    return max(results, key=rank)


def _sizes(result: HostResult, priors: Priors) -> tuple[float, float, float | None, str]:
    """(xml bytes, xml bytes without CommandLine, CommandLine length p50, bytes_source)."""
    defaults = priors.event_size
    events = [e for e in result.events if e.event_id == 4688]
    if len(events) < priors.min_sampled_events:
        return defaults.xml_bytes, defaults.xml_bytes_no_cmdline, defaults.cmdline_length_p50, "dev_set"
    lengths = [len(e.command_line.encode("utf-8")) if e.command_line else 0 for e in events]
    no_cmd = sum(e.size_bytes - n for e, n in zip(events, lengths, strict=True)) / len(events)
    populated = sorted(len(e.command_line) for e in events if e.command_line)
    if not populated:
        # The command line is off on this host: its XML has no CommandLine text yet.
        return (no_cmd + defaults.xml_bytes - defaults.xml_bytes_no_cmdline, no_cmd,
                defaults.cmdline_length_p50, "sampled_no_cmdline+dev_set")
    mean_with = sum(e.size_bytes for e in events if e.command_line) / len(populated)
    return mean_with, no_cmd, float(statistics.median(populated)), "sampled"


def estimate_hosts(results: Sequence[HostResult], config: dict[str, Any]) -> list[HostEstimate]:
    """One HostEstimate per host (results for the same host name are merged; best kept)."""
    priors = load_priors(config)
    by_host: dict[str, list[HostResult]] = defaultdict(list)
    for r in results:
        by_host[r.host.name.lower()].append(r)
    chosen = [_best_result(rs) for rs in by_host.values()]

    measured: dict[str, _Measured] = {}
    why_not: dict[str, tuple[str, ...]] = {}
    peer_logs: dict[str, list[float]] = defaultdict(list)
    short: dict[str, int] = defaultdict(int)
    for r in chosen:
        m, unmeasured_notes = _own_measurement(r, priors)
        if m is None:
            why_not[r.host.name] = unmeasured_notes
            continue
        measured[r.host.name] = m
        log_rate = peer_log_rate(m.rate, len(m.hourly))
        if log_rate is None:
            short[_role_key(r, priors)] += 1
        else:
            peer_logs[_role_key(r, priors)].append(log_rate)

    fits: dict[str, PeerFit] = {}
    for key, prior in priors.roles.items():
        fits[key] = shrink_to_peers(math.log(prior.median_per_day), prior.sigma, peer_logs.get(key, []))

    estimates = [_estimate_one(r, measured.get(r.host.name), fits, priors, why_not.get(r.host.name, ()), short)
                 for r in chosen]
    return sorted(estimates, key=lambda e: e.host.lower())


def peer_log_rate(rate: Range, hours: int) -> float | None:
    """A measured host's log 4688/day as a calibration peer of its role, or None when its window
    is too short to count (< MIN_USABLE_HOURS usable hours; a live trace has none).

    A host measured at zero (auditing on, no 4688 in `hours` hours) counts as ZERO_PEER_EVENTS
    events over its window: ln(24 * 0.5 / hours) per day (docs/estimation.md, "Role peers").
    """
    if hours < MIN_USABLE_HOURS:
        return None
    if rate.p50 > 0:
        return math.log(rate.p50)
    return math.log(HOURS_PER_DAY * ZERO_PEER_EVENTS / hours)


def _role_key(r: HostResult, priors: Priors) -> str:
    return priors.role_key(r.host.role, r.os.product_type if r.os else None)


def _estimate_one(r: HostResult, m: _Measured | None, fits: dict[str, PeerFit], priors: Priors,
                  unmeasured_notes: tuple[str, ...] = (), short_peers: dict[str, int] | None = None) -> HostEstimate:
    key = _role_key(r, priors)
    prior = priors.roles[key]
    notes: list[str] = list(unmeasured_notes)
    if r.host.role and priors.role_key(r.host.role) == priors.default_role and key == priors.default_role:
        notes.append(f"no prior for role {r.host.role!r}: default prior used")
    shape: tuple[float, ...] | None = None
    if m is not None:
        rate, source = m.rate, m.source
        notes.extend(m.notes)
        shape = _shape_from_counts(m.hourly, m.start_hour)
    else:
        fit = fits[key]
        left_out = (short_peers or {}).get(key, 0)
        if fit.peers:
            rate, source = lognormal_range(fit.mu, fit.sigma), EstimateSource.ROLE_PEERS
            notes.append(f"role {key!r} calibrated from {fit.peers} measured peer(s)")
        else:
            rate, source = lognormal_range(fit.mu, fit.sigma), EstimateSource.ROLE_PRIOR
        if left_out:
            notes.append(f"{left_out} measured host(s) of role {key!r} left out of its calibration: "
                         f"< {MIN_USABLE_HOURS} usable h")
        if r.status is not HostStatus.OK:
            used = "role peers" if source is EstimateSource.ROLE_PEERS else "the role prior"
            notes.insert(0, f"survey {r.status.value}: {r.reason or 'no detail'}; estimate from {used}")
        if r.volume is not None and r.volume.boot_only and not any("boot-time" in n for n in notes):
            notes.append("only boot-time 4688s: process creation auditing is off")
    if shape is None:
        shape = prior.shape
    xml, xml_no_cmd, cmd_p50, bytes_source = _sizes(r, priors)
    audit = r.audit
    already_on = bool(audit and audit.process_creation is not None and audit.process_creation.includes_success)
    if r.volume is not None and r.volume.boot_only:
        already_on = False
    return HostEstimate(
        host=r.host.name,
        role=r.host.role,
        site=r.host.site,
        os_family=os_family(r.os),
        events_per_day=rate,
        source=source,
        peak_hour_factor=max(1.0, HOURS_PER_DAY * max(shape)),
        hourly_shape=shape,
        bytes_per_event_xml=xml,
        bytes_per_event_xml_no_cmdline=xml_no_cmd,
        cmdline_length_p50=cmd_p50,
        bytes_source=bytes_source,
        already_on=already_on,
        cmdline_already_on=bool(audit and audit.cmdline_enabled),
        cmdline_supported=r.os.cmdline_supported if r.os else None,
        notes=tuple(notes),
    )
