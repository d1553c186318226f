"""Several ingested files of one host (Security.evtx and its archives) merged into one result."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from auditplan.collect.evtx.ingest import DEFAULT_SAMPLE_SIZE, MAX_WINDOW_HOURS
from auditplan.records import AuditPolicy, AuditSetting, HostResult, OSInfo, SampledEvent, VolumeSample


def _time_range(r: HostResult) -> tuple[datetime, datetime] | None:
    log = r.security_log
    if log is not None and log.oldest_time is not None and log.newest_time is not None:
        return log.oldest_time, log.newest_time
    if r.volume is not None:
        return r.volume.window_start, r.volume.window_end
    return None


def _merge_volumes(results: Sequence[HostResult], overlapping: bool) -> VolumeSample | None:
    volumes = [r.volume for r in results if r.volume is not None]
    if not volumes:
        return None
    start = min(v.window_start for v in volumes)
    end = max(v.window_end for v in volumes)
    if end - start > timedelta(hours=MAX_WINDOW_HOURS):
        start = end - timedelta(hours=MAX_WINDOW_HOURS)
    n_hours = round((end - start).total_seconds() / 3600)
    combine = max if overlapping else int.__add__

    def merged(series: list[tuple[datetime, tuple[int, ...]]]) -> tuple[int, ...]:
        counts = [0] * n_hours
        for window_start, hourly in series:
            offset = round((window_start - start).total_seconds() / 3600)
            for i, c in enumerate(hourly):
                if 0 <= offset + i < n_hours:
                    counts[offset + i] = combine(counts[offset + i], c)
        return tuple(counts)

    sysmon = [(v.window_start, v.hourly_sysmon_eid1) for v in volumes if v.hourly_sysmon_eid1 is not None]
    with_4688 = [v for v in volumes if sum(v.hourly_4688)]
    return VolumeSample(
        window_start=start,
        window_end=end,
        hourly_4688=merged([(v.window_start, v.hourly_4688) for v in volumes]),
        hourly_sysmon_eid1=merged(sysmon) if sysmon else None,
        boot_only=bool(with_4688) and all(v.boot_only for v in with_4688),
    )


def merge_results(results: Sequence[HostResult], sample_size: int = DEFAULT_SAMPLE_SIZE, seed: int = 0) -> HostResult:
    """One HostResult from several ingested files of the same host (e.g. Security.evtx and its
    archives). Hourly counts add up; if the files' time ranges overlap (the same log exported
    twice) each hour takes the largest count instead, and a warning says so. Sampled events are
    pooled, exact duplicates dropped, and a seeded random subset of `sample_size` kept."""
    if not results:
        raise ValueError("no results to merge")
    if len(results) == 1:
        return results[0]
    ranges = sorted(rng for rng in (_time_range(r) for r in results) if rng is not None)
    overlapping = False
    latest_end: datetime | None = None
    for range_start, range_end in ranges:
        if latest_end is not None and range_start < latest_end:
            overlapping = True
        latest_end = range_end if latest_end is None else max(latest_end, range_end)
    warnings = list(dict.fromkeys(w for r in results for w in r.warnings))
    warnings.append(f"merged from {len(results)} files")
    if overlapping:
        warnings.append("files overlap in time (exported twice?): each hour counts the largest file's events")
    seen: set[tuple[object, ...]] = set()
    events: list[SampledEvent] = []
    for e in (e for r in results for e in r.events):
        key = (e.time, e.new_process_name, e.command_line, e.size_bytes)
        if key not in seen:
            seen.add(key)
            events.append(e)
    if len(events) > sample_size:
        events = random.Random(seed).sample(events, sample_size)
    audits = [r.audit for r in results if r.audit is not None]
    audit = None
    if audits:
        on = any(a.process_creation is AuditSetting.SUCCESS for a in audits)
        cmdline = [a.cmdline_enabled for a in audits if a.cmdline_enabled is not None]
        audit = AuditPolicy(process_creation=AuditSetting.SUCCESS if on else None,
                            cmdline_enabled=any(cmdline) if cmdline else None, sce_no_apply_legacy=None)
    newest = max(results, key=lambda r: (_time_range(r) or (r.collected_at, r.collected_at))[1])
    supported = any(r.os is not None and r.os.cmdline_supported for r in results)
    first = results[0]
    return replace(
        first,
        host=replace(first.host, source="; ".join(r.host.source for r in results)),
        collected_at=max(r.collected_at for r in results),
        computer_name=next((r.computer_name for r in results if r.computer_name), None),
        os=OSInfo(product_name=None, current_build=None, ubr=None, product_type=None,
                  cmdline_supported=True if supported else None),
        audit=audit,
        security_log=newest.security_log,
        volume=_merge_volumes(results, overlapping),
        events=tuple(sorted(events, key=lambda e: e.time)),
        warnings=tuple(warnings),
    )

