"""Host and survey records: what the collect stage produces and the store persists.

Everything downstream (store, model, emit) reads these records, never raw host output.
All times are timezone-aware UTC datetimes. Records are frozen: a stage that wants to
change one builds a new one with dataclasses.replace().
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime


class HostStatus(enum.StrEnum):
    """How a host's survey ended. Every host ends with exactly one of these."""

    OK = "ok"
    AUTH_FAILED = "auth_failed"
    UNREACHABLE = "unreachable"
    TIMEOUT = "timeout"
    TLS_ERROR = "tls_error"
    PROTOCOL_ERROR = "protocol_error"
    ACCESS_DENIED = "access_denied"
    UNPARSEABLE = "unparseable"


class AuditSetting(enum.StrEnum):
    """An advanced audit subcategory's inclusion setting (auditpol /backup "Setting Value" 0-3)."""

    NONE = "none"
    SUCCESS = "success"
    FAILURE = "failure"
    SUCCESS_AND_FAILURE = "success_and_failure"

    @classmethod
    def from_setting_value(cls, value: int) -> AuditSetting:
        """Map the numeric auditpol /backup column (0 none, 1 success, 2 failure, 3 both)."""
        return _SETTING_VALUES[value]

    @property
    def setting_value(self) -> int:
        return _SETTING_VALUES.index(self)

    @property
    def includes_success(self) -> bool:
        return self in (AuditSetting.SUCCESS, AuditSetting.SUCCESS_AND_FAILURE)


_SETTING_VALUES = [AuditSetting.NONE, AuditSetting.SUCCESS, AuditSetting.FAILURE, AuditSetting.SUCCESS_AND_FAILURE]


class ProductType(enum.StrEnum):
    """HKLM\\SYSTEM\\CurrentControlSet\\Control\\ProductOptions ProductType."""

    WORKSTATION = "workstation"  # WinNT
    SERVER = "server"  # ServerNT
    DOMAIN_CONTROLLER = "domain_controller"  # LanmanNT


@dataclass(frozen=True)
class Host:
    """One inventory entry. `name` is the key everywhere (store, plan, GPO group)."""

    name: str  # the inventory key (CSV `host` column, or the hosts.txt entry)
    address: str  # what to connect to (CSV `address` column; defaults to name)
    port: int | None = None
    transport: str | None = None  # per-host override of --transport
    scheme: str | None = None  # "http" / "https" per-host override
    role: str | None = None
    site: str | None = None
    group: str | None = None
    tags: tuple[str, ...] = ()
    source: str = ""  # "hosts.txt:12" - where the entry came from, for error messages


@dataclass(frozen=True)
class OSInfo:
    product_name: str | None
    current_build: int | None
    ubr: int | None
    product_type: ProductType | None
    display_version: str | None = None
    # 4688 CommandLine needs build >= 9600 (2012 R2 / 8.1) or KB3004375 on 7 / 2008 R2.
    # None when the build is unknown or KB3004375 could not be checked.
    cmdline_supported: bool | None = None


@dataclass(frozen=True)
class SubcategorySetting:
    """One row of the advanced audit policy (auditpol /backup), keyed by GUID, never by name."""

    guid: str  # lower-case, with braces: "{0cce922b-69ae-11d9-bed3-505054503030}"
    name: str  # as the host printed it (may be localised); for display only
    setting: AuditSetting


@dataclass(frozen=True)
class AuditPolicy:
    process_creation: AuditSetting | None
    cmdline_enabled: bool | None  # ProcessCreationIncludeCmdLine_Enabled == 1
    sce_no_apply_legacy: bool | None  # SCENoApplyLegacyAuditPolicy == 1 ("force subcategory settings")
    subcategories: tuple[SubcategorySetting, ...] = ()


@dataclass(frozen=True)
class SecurityLog:
    max_size_bytes: int | None
    retention: str | None  # "overwrite" | "archive" | "do_not_overwrite"
    file_size_bytes: int | None
    record_count: int | None
    oldest_record_number: int | None
    oldest_time: datetime | None
    newest_time: datetime | None

    @property
    def history_hours(self) -> float | None:
        if self.oldest_time is None or self.newest_time is None:
            return None
        return max(0.0, (self.newest_time - self.oldest_time).total_seconds() / 3600.0)


@dataclass(frozen=True)
class SysmonInfo:
    installed: bool
    service_name: str | None = None  # "Sysmon64" / "Sysmon"
    running: bool | None = None


@dataclass(frozen=True)
class VolumeSample:
    """Counts taken on the host (or from an EVTX file) over a window, oldest hour first."""

    window_start: datetime
    window_end: datetime
    hourly_4688: tuple[int, ...]  # one count per hour of the window; empty when not sampled
    hourly_sysmon_eid1: tuple[int, ...] | None = None
    security_events_per_hour: float | None = None  # whole Security log rate, from record ids/times
    capped: bool = False  # a count hit the per-query event cap: the true count is higher
    boot_only: bool = False  # only the boot-time 4688s were present: auditing is effectively off
    # Per-hour caps (collect/winrm/hour_counts.py): the seconds of each hour its count covers, 3600 for a
    # whole hour, less for a capped hour (its newest `hour_cap` events span that much), 0 for a capped hour
    # of unknown span. Empty: every count covers its whole hour (an .evtx ingest, or a whole-window cap).
    seconds_4688: tuple[float, ...] = ()
    seconds_sysmon_eid1: tuple[float, ...] = ()
    hour_cap: int | None = None  # events per hour's query; None: one cap over the whole window


@dataclass(frozen=True)
class SampledEvent:
    """One 4688 event read from a host or file. CommandLine is already redacted."""

    time: datetime
    event_id: int
    version: int | None
    new_process_name: str | None
    parent_process_name: str | None
    subject_user_name: str | None
    command_line: str | None  # redacted; None when the event has no CommandLine field
    size_bytes: int  # size of the event's XML as received
    secrets_found: int = 0  # credentials redacted out of command_line


@dataclass(frozen=True)
class ProbeCaps:
    max_events: int
    max_bytes: int
    deadline_seconds: float
    max_events_per_hour: int | None = None  # each hour's count query reads at most this many events


@dataclass(frozen=True)
class ProbeCost:
    requests: int
    bytes_sent: int
    bytes_received: int
    seconds: float
    truncated: bool = False  # output hit max_bytes and was cut


@dataclass(frozen=True)
class ProcessTrace:
    """A short live Win32_ProcessStartTrace count (collect/winrm/trace.py): `process_starts` in `seconds`."""

    seconds: float
    process_starts: int
    started_at: datetime | None = None


@dataclass(frozen=True)
class LogReader:
    """A principal the Security channel's ACL (`wevtutil gl Security` channelAccess) lets read the log."""

    sid: str  # "S-1-5-32-573"; a domain-relative SDDL alias ("DU") when the domain SID is not in the SDDL
    name: str | None  # the Windows name where the SID is well known ("BUILTIN\\Event Log Readers")
    access_mask: int  # the allow ACE's mask (event log rights: 0x1 read, 0x2 write, 0x4 clear)
    default: bool  # granted by Windows' own default Security channel ACL
    broad: bool  # a group most accounts are in (Everyone, Authenticated Users, Users, Domain Users, ...)


@dataclass(frozen=True)
class ChannelAccess:
    """The Security channel's access: the SDDL the host printed and the principals it lets read."""

    sddl: str
    readers: tuple[LogReader, ...] = ()

    @property
    def beyond_default(self) -> tuple[LogReader, ...]:
        return tuple(r for r in self.readers if not r.default)

    @property
    def broad(self) -> tuple[LogReader, ...]:
        return tuple(r for r in self.readers if r.broad)


@dataclass(frozen=True)
class HostResult:
    """Everything known about one host after one survey (or one EVTX ingest)."""

    host: Host
    status: HostStatus
    reason: str  # one line; "" when ok
    collected_at: datetime
    source: str = "winrm"  # "winrm" | "evtx"
    computer_name: str | None = None  # what `hostname` printed (or the EVTX Computer field)
    os: OSInfo | None = None
    audit: AuditPolicy | None = None
    security_log: SecurityLog | None = None
    sysmon: SysmonInfo | None = None
    volume: VolumeSample | None = None
    events: tuple[SampledEvent, ...] = ()
    cost: ProbeCost | None = None
    caps: ProbeCaps | None = None
    warnings: tuple[str, ...] = field(default_factory=tuple)  # per-section parse problems
    trace: ProcessTrace | None = None  # only with --trace-seconds
    # Who can read the Security log, from `wevtutil gl Security` channelAccess (issue 18); None: not read.
    security_channel_access: ChannelAccess | None = None
    # Where the advanced audit policy comes from: "gpo" (a domain GPO), "local" (auditpol or the local
    # GPO), "default" (nothing set), None (unknown). collect/parse/audit_source.py; docs/audit-policy-source.md.
    audit_policy_source: str | None = None


# HostResult.audit_policy_source values (docs/audit-policy-source.md); None is "unknown".
AUDIT_POLICY_SOURCES = ("gpo", "local", "default")


# The GUID of Process Creation (auditpol subcategory). Lower case, braces, as stored.
PROCESS_CREATION_GUID = "{0cce922b-69ae-11d9-bed3-505054503030}"


# What a redacted secret is replaced with in a stored command line (collect/redact). Detections
# count it to tell how many sampled command lines exposed a secret.
REDACTED = "********"
