"""Offline ingest of one exported .evtx file with the `evtx` package (evtx-rs): `ingest_file`.

The file's frame is checked first (file.py: EVTX at all, cut short), one pass reads every record
(scan.py), and the result is a FileSummary plus a HostResult (source "evtx") whose audit settings are
inferred from the events. Sampled 4688s become SampledEvents through the one builder the WinRM
path uses too (collect.parse.events.sampled_4688). With process auditing off, Windows still writes
the early-boot 4688s: collect.parse.boot.is_boot_only is the rule that spots them.
"""

from __future__ import annotations

import random
from collections import Counter
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import evtx

from auditplan.collect.evtx.file import (
    EvtxIngestError,
    Prefix,
    Truncation,
    check_file,
    find_truncation,
    truncation_warning,
)
from auditplan.collect.evtx.scan import Scan, parse_time, scan
from auditplan.collect.evtx.summary import FileSummary, IngestOutcome, Stats
from auditplan.collect.evtx.timeline import check_times
from auditplan.collect.evtx.windows_xml import windows_xml_size
from auditplan.collect.parse.boot import is_boot_only
from auditplan.collect.parse.events import sampled_4688_from_xml
from auditplan.collect.parse.tools import ParseError
from auditplan.collect.redact import redact
from auditplan.records import (
    AuditPolicy,
    AuditSetting,
    Host,
    HostResult,
    HostStatus,
    OSInfo,
    SampledEvent,
    SecurityLog,
    VolumeSample,
)
from auditplan.text import error_line

SECURITY_CHANNEL = "Security"
DEFAULT_SAMPLE_SIZE = 200
DEFAULT_MAX_FILE_BYTES = 4 * 1024**3  # the largest Security log MaxSize Windows accepts
MAX_WINDOW_HOURS = 2 * 366 * 24  # hourly counts kept for at most the last two years of a log
NO_RECORDS_ERROR = "no event records (header only, or an empty log)"


def _sampled_events(sample: list[str]) -> tuple[SampledEvent, ...]:
    """The sampled 4688 records, through the one builder the WinRM sample uses (each record sized as
    Windows renders it, windows_xml.py, as a survey reads it). Real logs repeat the same command
    lines many times, so each distinct one is redacted once per file."""
    redacted: dict[str, tuple[str, int]] = {}

    def cached(command_line: str) -> tuple[str, int]:
        if command_line not in redacted:
            redacted[command_line] = redact(command_line)
        return redacted[command_line]

    events = []
    for xml in sample:
        event = sampled_4688_from_xml(xml, "evtx", size_bytes=windows_xml_size(xml), redactor=cached)
        if not isinstance(event, ParseError):
            events.append(event)
    return tuple(events)


def _hourly_window(hours: Counter[str], start: datetime, n_hours: int) -> tuple[int, ...]:
    counts = [0] * n_hours
    for key, count in hours.items():
        t = datetime.fromisoformat(key + ":00:00+00:00")
        i = int((t - start).total_seconds() // 3600)
        if 0 <= i < n_hours:
            counts[i] += count
    return tuple(counts)


def ingest_file(
    path: Path,
    host_name: str | None = None,
    *,
    role: str | None = None,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    seed: int = 0,
) -> IngestOutcome:
    """Read one exported .evtx file into a summary and a HostResult (source "evtx").

    Never raises for a bad file: the summary's `error` names the problem and `result` is None.
    """
    path = Path(path)
    file_bytes: int | None = None
    try:
        file_bytes = check_file(path, max_file_bytes)
        with path.open("rb") as fh:
            cut = find_truncation(fh, file_bytes)
            if cut is None:
                parser = evtx.PyEvtxParser(str(path))
            elif cut.chunks_kept == 0:
                return _failed(path, host_name, file_bytes, NO_RECORDS_ERROR, cut)
            else:
                parser = evtx.PyEvtxParser(Prefix(fh, cut.kept_bytes))
            try:
                s = scan(parser, sample_size, random.Random(seed))
            except Exception as exc:  # anything the parser throws past the per-record guard
                return _failed(path, host_name, file_bytes, f"parse failed: {error_line(exc, 200)}", cut)
    except EvtxIngestError as exc:
        return _failed(path, host_name, file_bytes, str(exc))
    except Exception as exc:  # evtx-rs raises OSError subclasses for unreadable headers
        return _failed(path, host_name, file_bytes, f"not readable as EVTX: {error_line(exc, 200)}")
    return _outcome(path, host_name, role, file_bytes, s, cut)


def _failed(path: Path, host: str | None, file_bytes: int | None, why: str,
            truncation: Truncation | None = None) -> IngestOutcome:
    warnings = () if truncation is None else (truncation.describe(str(path)),)
    return IngestOutcome(FileSummary(file=str(path), host=host, computer_name=None, file_bytes=file_bytes,
                                     warnings=warnings, error=why, truncation=truncation), None)


def _outcome(
    path: Path, host_name: str | None, role: str | None, file_bytes: int | None, s: Scan,
    cut: Truncation | None = None,
) -> IngestOutcome:
    warnings: list[str] = []
    if cut is not None:
        # Only the kept chunks were scanned, so first/last time, the hourly window and the rates
        # below are those of the kept records: the lost tail adds neither events nor hours.
        warnings.append(truncation_warning(cut, str(path), s.events_total))
    if s.error_count:
        warnings.append(f"{s.error_count} damaged record(s)/chunk(s) skipped; first: {s.first_error}")
    if s.unparsed:
        warnings.append(f"{s.unparsed} record(s) without Provider/EventID/TimeCreated skipped")
    n4688 = len(s.sizes)
    if s.events_total == 0 and s.error_count:
        return _failed(path, host_name, file_bytes,
                       f"no readable records ({s.error_count} damaged; first: {s.first_error})", cut)
    if s.events_total == 0:
        # Nothing was measured: stored, it would be a host with no data that estimate and plan
        # treat as real. A file with records but no 4688 is different: it measured 0 process
        # creations, and stays valid.
        return _failed(path, host_name, file_bytes, NO_RECORDS_ERROR, cut)

    computer = s.computers.most_common(1)[0][0] if s.computers else s.first_computer
    host = host_name or computer or path.stem
    first = parse_time(s.first) if s.first else None
    last = parse_time(s.last) if s.last else None
    # Records dated where the log cannot have been (a damaged TimeCreated: 2029 in a 2021 log) are
    # set aside and counted; a window the rest does not support gives no rate (timeline.py).
    timeline = check_times(s.hours_all, datetime.now(UTC))
    warnings.extend(timeline.warnings(str(path)))
    events_kept = s.events_total - timeline.set_aside
    if timeline.set_aside:
        kept = timeline.kept_hours
        s.hours_4688 = Counter({k: n for k, n in s.hours_4688.items() if k in kept})
        s.hours_sysmon = Counter({k: n for k, n in s.hours_sysmon.items() if k in kept})
        s.sysmon_eid1 = sum(s.hours_sysmon.values())
        if timeline.first_hour is None or timeline.last_hour is None:
            first = last = None
        else:
            if s.first is None or s.first[:13] not in kept:
                first = timeline.first_hour
            if s.last is None or s.last[:13] not in kept:
                last = timeline.last_hour + timedelta(hours=1) - timedelta(microseconds=1)
    boot_only, boots = is_boot_only(s.process_names, s.cmdline_lengths)
    profile = [0] * 24
    for key, count in s.hours_4688.items():
        profile[int(key[11:13])] += count
    populated = [n for n in s.cmdline_lengths if n > 0]

    summary = FileSummary(
        file=str(path),
        host=host,
        computer_name=computer,
        file_bytes=file_bytes,
        events_total=s.events_total,
        events_4688=n4688,
        sysmon_eid1=s.sysmon_eid1,
        first_time=first,
        last_time=last,
        versions=dict(s.versions),
        cmdline_populated=bool(populated),
        cmdline_length=Stats.of(populated),
        event_size_xml=Stats.of(s.sizes),
        hourly_profile=tuple(profile),
        audit_off=boot_only,
        boots=boots,
        record_errors=s.error_count,
        warnings=tuple(warnings),
        truncation=cut,
    )

    volume: VolumeSample | None = None
    if first is not None and last is not None and timeline.unsupported is None:
        window_end = last.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        window_start = first.replace(minute=0, second=0, microsecond=0)
        n_hours = round((window_end - window_start).total_seconds() / 3600)
        if n_hours > MAX_WINDOW_HOURS:
            warnings.append(f"log spans {n_hours} hours; hourly counts kept for the last {MAX_WINDOW_HOURS}")
            window_start = window_end - timedelta(hours=MAX_WINDOW_HOURS)
            n_hours = MAX_WINDOW_HOURS
        span_hours = max((last - first).total_seconds() / 3600.0, 1e-9)
        volume = VolumeSample(
            window_start=window_start,
            window_end=window_end,
            hourly_4688=_hourly_window(s.hours_4688, window_start, n_hours),
            hourly_sysmon_eid1=_hourly_window(s.hours_sysmon, window_start, n_hours) if s.sysmon_eid1 else None,
            security_events_per_hour=(events_kept / span_hours if s.first_channel == SECURITY_CHANNEL
                                      and last > first else None),
            boot_only=boot_only,
        )

    events = _sampled_events(s.sample)
    any_cmdline_version = any(v >= 1 for v in s.versions)
    audit = None
    inferred = ""
    if n4688:
        # Inferred from the events, not read from policy: non-boot 4688s prove Success auditing;
        # a populated CommandLine proves the command-line setting; empty fields in v1+ events
        # mean the setting was off when they were written.
        audit = AuditPolicy(
            process_creation=None if boot_only else AuditSetting.SUCCESS,
            cmdline_enabled=True if populated else (False if any_cmdline_version and not boot_only else None),
            sce_no_apply_legacy=None,
        )
        inferred = "audit settings inferred from the events in the file"
    security_log = None
    if s.first_channel == SECURITY_CHANNEL:
        security_log = SecurityLog(
            max_size_bytes=None, retention=None, file_size_bytes=file_bytes, record_count=s.events_total,
            oldest_record_number=None, oldest_time=first, newest_time=last,
        )
    result = HostResult(
        host=Host(name=host, address=host, role=role, source=str(path)),
        status=HostStatus.OK,
        reason="",
        collected_at=datetime.now(UTC),
        source="evtx",
        computer_name=computer,
        os=OSInfo(product_name=None, current_build=None, ubr=None, product_type=None,
                  cmdline_supported=True if any_cmdline_version else None),
        audit=audit,
        security_log=security_log,
        volume=volume,
        events=tuple(sorted(events, key=lambda e: e.time)),
        warnings=tuple(warnings) + ((inferred,) if inferred else ()),
    )
    return IngestOutcome(replace(summary, warnings=tuple(warnings)), result)


