"""Probe output -> typed records: `interpret(sections, probe)`.

The per-tool parsers live in collect/parse/tools.py (auditpol, reg, wevtutil gl/gli, sc, ver,
hostname, find /c) and collect/parse/events.py (event XML). `interpret` never raises on host output:
every problem becomes a warning, and `unparseable` is set only when nothing at all could be read.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import TypeVar

from auditplan.collect.parse.audit_source import audit_policy_source, parse_audit_csv_file
from auditplan.collect.parse.boot import is_boot_only
from auditplan.collect.parse.channel_access import parse_channel_access
from auditplan.collect.parse.events import (
    SampledEvents,
    parse_event_time,
    parse_sampled_4688,
)
from auditplan.collect.parse.tools import (
    AuditpolBackup,
    AuditpolReport,
    LogConfig,
    LogStatus,
    ParseError,
    RegValue,
    ServiceState,
    WindowsVersion,
    cmdline_supported,
    parse_auditpol_backup,
    parse_auditpol_report,
    parse_hostname,
    parse_kb_present,
    parse_product_type,
    parse_reg_values,
    parse_sc_query,
    parse_ver,
    parse_wevtutil_gl,
    parse_wevtutil_gli,
    reg_value,
    registry_retention,
)
from auditplan.collect.winrm.hour_counts import parse_hour_counts
from auditplan.collect.winrm.probe import (
    BUILD_KB_CHECK,
    S_AUDIT_CSV_APPLIED,
    S_AUDIT_CSV_LOCAL_GPO,
    S_AUDITPOL_BACKUP,
    S_AUDITPOL_CSV,
    S_AUDITPOL_GET,
    S_COUNT_4688,
    S_COUNT_SYSMON,
    S_EVENTS,
    S_HOSTNAME,
    S_KB3004375,
    S_NEWEST,
    S_OLDEST,
    S_REG_CMDLINE,
    S_REG_CURRENT_VERSION,
    S_REG_EVENTLOG,
    S_REG_PRODUCT_TYPE,
    S_REG_SCE,
    S_SC_SYSMON,
    S_SC_SYSMON64,
    S_SYSMON_GLI,
    S_TRACE,
    S_VER,
    S_WEVTUTIL_GL,
    S_WEVTUTIL_GLI,
    SYSMON_SERVICES,
    ProbeCommand,
    Section,
)
from auditplan.collect.winrm.trace import parse_trace
from auditplan.records import (
    PROCESS_CREATION_GUID,
    AuditPolicy,
    ChannelAccess,
    OSInfo,
    ProcessTrace,
    SampledEvent,
    SecurityLog,
    SysmonInfo,
    VolumeSample,
)

MAX_EVENT_WARNINGS = 5

_T = TypeVar("_T")

_LABELS = {
    S_AUDITPOL_BACKUP: "auditpol",
    S_AUDITPOL_CSV: "auditpol",
    S_AUDITPOL_GET: "auditpol",
}


@dataclass(frozen=True)
class Interpretation:
    computer_name: str | None = None
    os: OSInfo | None = None
    audit: AuditPolicy | None = None
    security_log: SecurityLog | None = None
    sysmon: SysmonInfo | None = None
    volume: VolumeSample | None = None
    events: tuple[SampledEvent, ...] = ()
    warnings: tuple[str, ...] = field(default_factory=tuple)
    unparseable: bool = False  # no section could be read at all
    access_denied: bool = False  # auditpol and the Security log both refused: the account is not an admin
    trace: ProcessTrace | None = None
    own_events_dropped: int = 0  # sampled events that were the probe's own processes
    security_channel_access: ChannelAccess | None = None  # who can read the Security log (issue 18)
    audit_policy_source: str | None = None  # gpo | local | default | None (collect/parse/audit_source.py)


class _Reader:
    """Collects warnings and counts successful sections while interpreting."""

    def __init__(self, sections: dict[str, Section], probe: ProbeCommand) -> None:
        self.sections = sections
        self.probe = probe
        self.warnings: list[str] = []
        self.parsed = 0

    def get(self, name: str) -> Section | None:
        return self.sections.get(name)

    def warn(self, text: str) -> None:
        if text not in self.warnings:
            self.warnings.append(text)

    def error(self, err: ParseError) -> None:
        label = _LABELS.get(err.section, err.section)
        self.warn(f"{label}: {err.message}")

    def ok(self) -> None:
        self.parsed += 1

    def take(self, result: _T | ParseError) -> _T | None:
        """The parsed value, counted as read; or None once the error is recorded."""
        if isinstance(result, ParseError):
            self.error(result)
            return None
        self.ok()
        return result


def _is_denied(result: object) -> bool:
    return isinstance(result, ParseError) and result.kind == "access_denied"


def _missing_warnings(r: _Reader) -> None:
    names = r.probe.sections
    present = [n in r.sections for n in names]
    last_present = max((i for i, p in enumerate(present) if p), default=-1)
    for i, name in enumerate(names):
        if present[i]:
            if r.sections[name].truncated:
                r.warn(f"section {name} truncated: output hit the byte cap")
            continue
        reason = "output truncated" if i > last_present else "marker not found"
        r.warn(f"section {name} missing: {reason}")


def _reg(r: _Reader, name: str) -> dict[str, RegValue] | ParseError | None:
    sec = r.get(name)
    if sec is None:
        return ParseError(name, "absent", "absent")
    result = parse_reg_values(sec.text, sec.exit_code, name)
    if isinstance(result, ParseError):
        r.error(result)
    else:
        r.ok()
    return result


def _os(r: _Reader) -> OSInfo | None:
    ver: WindowsVersion | None = None
    if (sec := r.get(S_VER)) is not None:
        ver = r.take(parse_ver(sec.text, S_VER))
    cv = _reg(r, S_REG_CURRENT_VERSION)
    values = cv if isinstance(cv, dict) else None
    if cv is None:
        r.warn(f"{S_REG_CURRENT_VERSION}: key not found")

    def text(name: str) -> str | None:
        v = reg_value(values, name)
        return str(v.data) if v is not None and str(v.data).strip() else None

    build: int | None = None
    for name in ("CurrentBuild", "CurrentBuildNumber"):
        raw = text(name)
        if raw is not None and raw.strip().isdigit():
            build = int(raw.strip())
            break
    if build is None and ver is not None:
        build = ver.build
    ubr_v = reg_value(values, "UBR")
    ubr = ubr_v.data if ubr_v is not None and isinstance(ubr_v.data, int) else (ver.ubr if ver else None)
    product_type = None
    pt = _reg(r, S_REG_PRODUCT_TYPE)
    if isinstance(pt, dict):
        v = reg_value(pt, "ProductType")
        if v is not None:
            product_type = parse_product_type(str(v.data))
            if product_type is None:
                r.warn(f"{S_REG_PRODUCT_TYPE}: unknown ProductType")
    kb: bool | None = None
    if build in BUILD_KB_CHECK and (sec := r.get(S_KB3004375)) is not None:
        kb = parse_kb_present(sec.text)
    if values is None and ver is None and product_type is None:
        return None
    return OSInfo(
        product_name=text("ProductName"),
        current_build=build,
        ubr=ubr,
        product_type=product_type,
        display_version=text("DisplayVersion"),
        cmdline_supported=cmdline_supported(build, kb),
    )


def _dword_flag(r: _Reader, name: str, value_name: str) -> bool | None:
    """A policy DWORD: 1 -> True, anything else or absent -> False; unreadable -> None."""
    values = _reg(r, name)
    if isinstance(values, ParseError):
        return None
    v = reg_value(values, value_name)
    return v is not None and v.data == 1


def _audit(r: _Reader) -> tuple[AuditPolicy | None, bool]:
    denied = False
    backup: AuditpolBackup | None = None
    if (sec := r.get(S_AUDITPOL_CSV)) is not None:
        parsed = parse_auditpol_backup(sec.text, S_AUDITPOL_CSV)
        if isinstance(parsed, ParseError):
            # The /backup step's own output says why there is no file (e.g. 0x522), so prefer it.
            step = r.get(S_AUDITPOL_BACKUP)
            step_err = parse_auditpol_backup(step.text, S_AUDITPOL_BACKUP) if step is not None else None
            if isinstance(step_err, ParseError) and step_err.kind == "access_denied":
                parsed = step_err
            denied = denied or parsed.kind == "access_denied"
            r.error(parsed)
        else:
            backup = parsed
            r.ok()
    report: AuditpolReport | None = None
    if (sec := r.get(S_AUDITPOL_GET)) is not None:
        got = parse_auditpol_report(sec.text, S_AUDITPOL_GET)
        denied = denied or _is_denied(got)
        report = r.take(got)
        if report is not None:
            for guid, text in report.unrecognised:
                r.warn(f"auditpol: unrecognised inclusion setting {text!r} for {guid}")
    process_creation = backup.process_creation if backup is not None else None
    if report is not None:
        cross = report.setting_for(PROCESS_CREATION_GUID)
        if process_creation is None:
            process_creation = cross
        elif cross is not None and cross != process_creation:
            r.warn(f"auditpol: /backup says {process_creation} but /get /r says {cross} for Process Creation")
    if backup is not None and backup.process_creation is None:
        r.warn("auditpol: no Process Creation row in the backup")
    policy = AuditPolicy(
        process_creation=process_creation,
        cmdline_enabled=_dword_flag(r, S_REG_CMDLINE, "ProcessCreationIncludeCmdLine_Enabled"),
        sce_no_apply_legacy=_dword_flag(r, S_REG_SCE, "SCENoApplyLegacyAuditPolicy"),
        subcategories=backup.subcategories if backup is not None else (),
    )
    if policy == AuditPolicy(None, None, None):
        return None, denied
    return policy, denied


def _channel_access(r: _Reader) -> ChannelAccess | None:
    """The readers of the Security channel, from the same `wevtutil gl` output (parse/channel_access.py)."""
    if (sec := r.get(S_WEVTUTIL_GL)) is None:
        return None
    parsed = parse_channel_access(sec.text, S_WEVTUTIL_GL)
    if isinstance(parsed, ParseError):
        r.error(parsed)  # a warning on the host; the gl section itself was counted already
        return None
    return parsed


def _audit_source(r: _Reader, audit: AuditPolicy | None, os_info: OSInfo | None) -> str | None:
    """Where the host's audit policy comes from (collect/parse/audit_source.py); None when unknown."""
    files = []
    for name in (S_AUDIT_CSV_APPLIED, S_AUDIT_CSV_LOCAL_GPO):
        sec = r.get(name)
        parsed = parse_audit_csv_file(sec.text, sec.exit_code) if sec is not None else None
        if sec is not None and parsed is None:
            r.warn(f"{name}: not readable (access denied): the audit policy's source is unknown")
        files.append(parsed)
    effective = audit.subcategories if audit is not None and audit.subcategories else None
    build = os_info.current_build if os_info is not None else None
    product_type = os_info.product_type if os_info is not None else None
    return audit_policy_source(files[0], files[1], effective, build, product_type)


def _security_log(r: _Reader) -> tuple[SecurityLog | None, bool]:
    denied = False
    config: LogConfig | None = None
    status: LogStatus | None = None
    if (sec := r.get(S_WEVTUTIL_GL)) is not None:
        gl = parse_wevtutil_gl(sec.text, sec.exit_code, S_WEVTUTIL_GL)
        denied = denied or _is_denied(gl)
        config = r.take(gl)
    if (sec := r.get(S_WEVTUTIL_GLI)) is not None:
        gli = parse_wevtutil_gli(sec.text, sec.exit_code, S_WEVTUTIL_GLI)
        denied = denied or _is_denied(gli)
        status = r.take(gli)
    reg = _reg(r, S_REG_EVENTLOG)
    reg_values = reg if isinstance(reg, dict) else None
    times = []
    for name in (S_OLDEST, S_NEWEST):
        t = None
        if (sec := r.get(name)) is not None:
            parsed = parse_event_time(sec.text, sec.exit_code, name)
            denied = denied or _is_denied(parsed)
            t = r.take(parsed)
        times.append(t)
    max_size = config.max_size_bytes if config is not None else None
    if max_size is None:
        v = reg_value(reg_values, "MaxSize")
        max_size = v.data if v is not None and isinstance(v.data, int) else None
    retention = config.retention if config is not None else None
    if retention is None:
        retention = registry_retention(reg_values)
    if config is None and status is None and reg_values is None and times == [None, None]:
        return None, denied
    return (
        SecurityLog(
            max_size_bytes=max_size,
            retention=retention,
            file_size_bytes=status.file_size_bytes if status else None,
            record_count=status.record_count if status else None,
            oldest_record_number=status.oldest_record_number if status else None,
            oldest_time=times[0],
            newest_time=times[1],
        ),
        denied,
    )


def _sysmon(r: _Reader) -> tuple[SysmonInfo | None, bool | None]:
    """SysmonInfo, and whether its Operational log exists (None when unknown)."""
    found: list[tuple[str, ServiceState]] = []
    known = False
    for name, service in ((S_SC_SYSMON64, SYSMON_SERVICES[0]), (S_SC_SYSMON, SYSMON_SERVICES[1])):
        if (sec := r.get(name)) is None:
            continue
        state = r.take(parse_sc_query(sec.text, sec.exit_code, name))
        if state is None:
            continue
        known = True
        if state.present:
            found.append((service, state))
    log_exists: bool | None = None
    if (sec := r.get(S_SYSMON_GLI)) is not None:
        gli = parse_wevtutil_gli(sec.text, sec.exit_code, S_SYSMON_GLI)
        if isinstance(gli, ParseError):
            if gli.kind == "not_found":
                log_exists = False  # the missing-channel error means Sysmon is not installed
                r.ok()
            else:
                r.error(gli)
        else:
            log_exists = True
            r.ok()
    if found:
        service, state = found[0]
        return SysmonInfo(installed=True, service_name=service, running=state.running), log_exists
    if known:
        return SysmonInfo(installed=False), log_exists
    if log_exists is not None:
        return SysmonInfo(installed=log_exists), log_exists
    return None, log_exists


def _volume(r: _Reader, security_log: SecurityLog | None, sysmon_log: bool | None, log_denied: bool) -> VolumeSample:
    probe = r.probe
    hourly: tuple[int, ...] = ()
    seconds: tuple[float, ...] = ()
    capped = False
    if (sec := r.get(S_COUNT_4688)) is not None:
        if log_denied:
            # The counting pipe hides wevtutil's error; zeros would be a lie.
            r.warn(f"{S_COUNT_4688}: Security log not readable, hourly counts dropped")
        else:
            counts = r.take(parse_hour_counts(sec.text, probe.hour_starts, probe.hour_cap, S_COUNT_4688))
            if counts is not None:
                hourly, seconds, capped = counts.counts, counts.seconds, counts.capped_hours > 0
    sysmon_hourly: tuple[int, ...] | None = None
    sysmon_seconds: tuple[float, ...] = ()
    if sysmon_log and (sec := r.get(S_COUNT_SYSMON)) is not None:
        sysmon = r.take(parse_hour_counts(sec.text, probe.hour_starts, probe.hour_cap, S_COUNT_SYSMON))
        if sysmon is not None:
            sysmon_hourly, sysmon_seconds = sysmon.counts, sysmon.seconds
            capped = capped or sysmon.capped_hours > 0
    rate: float | None = None
    if security_log is not None and security_log.record_count is not None:
        hours = security_log.history_hours
        if hours is not None and hours > 0:
            rate = security_log.record_count / hours
    return VolumeSample(
        window_start=probe.window_start,
        window_end=probe.window_end,
        hourly_4688=hourly,
        hourly_sysmon_eid1=sysmon_hourly,
        security_events_per_hour=rate,
        capped=capped,
        seconds_4688=seconds,
        seconds_sysmon_eid1=sysmon_seconds,
        hour_cap=probe.hour_cap,
    )


def _events(r: _Reader) -> tuple[SampledEvents | None, bool]:
    sec = r.get(S_EVENTS)
    if sec is None:
        return None, False
    parsed = parse_sampled_4688(sec.text, sec.exit_code, S_EVENTS, nonce=r.probe.nonce)
    if isinstance(parsed, ParseError):
        r.error(parsed)
        return None, parsed.kind == "access_denied"
    r.ok()
    for problem in parsed.problems[:MAX_EVENT_WARNINGS]:
        r.error(problem)
    if len(parsed.problems) > MAX_EVENT_WARNINGS:
        r.warn(f"{S_EVENTS}: {len(parsed.problems) - MAX_EVENT_WARNINGS} more event problems")
    if sec.truncated:
        return replace(parsed, complete=False), False
    return parsed, False


def sample_boot_only(sample: SampledEvents | None, sample_events: int) -> bool:
    """Whether the sampled 4688s show that auditing is effectively off (only early-boot events).

    The sample can tell only when it holds every 4688 before the window's end: fewer events than asked
    for, none unreadable, output not cut. The rule itself is collect.parse.boot.is_boot_only.
    """
    if sample is None or not sample.complete or not sample.events or len(sample.events) >= sample_events:
        return False
    names = [e.new_process_name or "" for e in sample.events]
    lengths = [len(e.command_line or "") for e in sample.events]
    return is_boot_only(names, lengths)[0]


def _trace(r: _Reader) -> ProcessTrace | None:
    """The live process-start trace (winrm/trace.py parses its section)."""
    sec = r.get(S_TRACE)
    if sec is None:
        return None
    return r.take(parse_trace(sec.text, sec.exit_code))


def interpret(sections: dict[str, Section], probe: ProbeCommand) -> Interpretation:
    """All records the probe output holds, plus warnings; never raises on host output."""
    r = _Reader(sections, probe)
    _missing_warnings(r)
    computer_name: str | None = None
    if (sec := r.get(S_HOSTNAME)) is not None:
        computer_name = r.take(parse_hostname(sec.text, S_HOSTNAME))
    os_info = _os(r)
    audit, audit_denied = _audit(r)
    security_log, log_denied = _security_log(r)
    sample, events_denied = _events(r)
    sysmon, sysmon_log = _sysmon(r)
    volume = _volume(r, security_log, sysmon_log, log_denied or events_denied)
    if sample_boot_only(sample, probe.sample_events):
        volume = replace(volume, boot_only=True)
    trace = _trace(r)
    access_denied = audit_denied and (log_denied or events_denied)
    return Interpretation(
        computer_name=computer_name,
        os=os_info,
        audit=audit,
        security_log=security_log,
        sysmon=sysmon,
        volume=volume,
        events=sample.events if sample is not None else (),
        warnings=tuple(r.warnings),
        unparseable=r.parsed == 0,
        access_denied=access_denied,
        trace=trace,
        own_events_dropped=sample.own_dropped if sample is not None else 0,
        security_channel_access=_channel_access(r),
        audit_policy_source=_audit_source(r, audit, os_info),
    )
