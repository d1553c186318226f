"""Which of a host's hourly counts measure its 4688/day: the series (4688, else Sysmon EID 1), the hours of
it that are usable, and why the others are not (docs/estimation.md, "Which hours count")."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from auditplan.model.hours import Hour, hours_from_series
from auditplan.model.priors import Priors
from auditplan.records import EstimateSource, HostResult, HostStatus, SecurityLog, VolumeSample

HOURS_PER_DAY = 24


@dataclass(frozen=True)
class Series:
    """A host's usable hourly counts of one source, already in 4688 units (Sysmon divided by its ratio)."""

    source: EstimateSource
    hours: tuple[Hour, ...]
    cap: int | None  # the per-hour cap, when the survey counted hour by hour
    scale: float  # 4688 per counted event (1 / sysmon_eid1_per_4688 for Sysmon)
    notes: tuple[str, ...]


def auditing_on(result: HostResult) -> bool | None:
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
    - With `capped` (one cap over the whole window, as surveys before issue 15 counted), /rd:true kept the
      newest events: the oldest hour with any count is partial and the hours before it read 0 for the same
      reason, so all of them go. Per-hour caps (VolumeSample.hour_cap) need none of this: their capped hours
      carry their own span.
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


def _whole_window_capped(result: HostResult, counts: tuple[int, ...] | None) -> bool:
    """Whether this series hit a whole-window cap (stores from before per-hour caps)."""
    volume = result.volume
    if volume is None or volume.hour_cap is not None or not volume.capped or not counts:
        return False
    return result.caps is None or sum(counts) >= result.caps.max_events


def _series(result: HostResult, volume: VolumeSample, counts: tuple[int, ...], seconds: tuple[float, ...],
            log: SecurityLog | None, winrm: bool) -> tuple[int, tuple[Hour, ...], tuple[str, ...]]:
    skip, notes = usable_hours(volume, counts, log, capped=_whole_window_capped(result, counts),
                               log_oldest_partial=winrm)
    start = volume.window_start + timedelta(hours=skip)
    day = int(start.timestamp() // 3600) // HOURS_PER_DAY
    # Seconds exist only for a survey with per-hour caps; an older survey or an ingest counts whole hours.
    secs = seconds[skip:] if len(seconds) == len(counts) else ()
    return skip, tuple(hours_from_series(counts[skip:], secs, start.hour, day)), notes


def host_series(result: HostResult, priors: Priors) -> tuple[Series | None, tuple[str, ...]]:
    """measured_4688, else sysmon_eid1, from the host's own counts; with neither, the notes saying why."""
    if result.status is not HostStatus.OK or result.volume is None:
        return None, ()
    volume = result.volume
    notes: list[str] = []
    on = auditing_on(result)
    winrm = result.source == "winrm"
    counts = volume.hourly_4688
    _skip, hours, skip_notes = _series(result, volume, counts, volume.seconds_4688, result.security_log, winrm)
    total = sum(h.count for h in hours)
    if hours and not volume.boot_only and (on is True or (on is None and total > 0)):
        return Series(EstimateSource.MEASURED_4688, hours, volume.hour_cap, 1.0, skip_notes), ()
    if counts and not hours and on is not False:
        notes.extend(skip_notes)
        notes.append("no hour of the window is fully held by the Security log: no measured rate")
    if volume.boot_only:
        notes.append("only boot-time 4688s: process creation auditing is off")
    sysmon = volume.hourly_sysmon_eid1 or ()
    # The Sysmon log's own oldest event is not collected: a log that wrapped inside the window shows as a run
    # of empty hours before busy ones (wrapped_hours).
    _skip, s_hours, s_notes = _series(result, volume, sysmon, volume.seconds_sysmon_eid1, None, False)
    wrapped = wrapped_hours(s_hours)
    if wrapped:
        s_hours = s_hours[wrapped:]
        s_notes = (*s_notes, f"the Sysmon log holds only part of the window: its oldest {wrapped} h "
                             "(the last one partial) left out of the rate")
    if s_hours and sum(h.count for h in s_hours) > 0:
        k = priors.sysmon_eid1_per_4688
        return Series(EstimateSource.SYSMON_EID1, s_hours, volume.hour_cap, 1.0 / k,
                      (*notes, *s_notes, f"Sysmon EID 1 as a proxy for 4688 (x{1 / k:g})")), ()
    return None, tuple(notes)



# Mean events per hour from which a leading run of empty hours cannot be chance: P(0) = e^-5 per hour.
WRAP_MEAN = 5.0


def wrapped_hours(hours: tuple[Hour, ...]) -> int:
    """Leading hours to drop where a log wrapped inside the window and its oldest event is unknown: the
    run of empty hours and the (partial) first non-empty one, when the hours after it average at least
    WRAP_MEAN events (so the empty ones are not a quiet night)."""
    first = next((i for i, h in enumerate(hours) if h.count > 0), len(hours))
    rest = hours[first + 1:]
    if first == 0 or not rest or sum(h.count for h in rest) / len(rest) < WRAP_MEAN:
        return 0
    return first + 1
