"""Simulated event logs: real events re-stamped at a host's true rate, and `wevtutil qe`.

A `SimEventLog` keeps only per-hour counts. An hour's events (their times and which real
template each one is) are drawn on demand from (seed, hour), and XML is rendered only for the
events a query returns, from per-template format strings. So the truth is known exactly
(`true_hourly_counts`) and a 500-host fleet costs a few kilobytes per host.

Windows facts used (reference files under ../shared/reference/):
- event XML as wevtutil prints it, events back to back, `/e:root`, zero matches = no output:
  windows-tool-outputs.md §4.1; `/f:text` layout §4.2; errors and exit codes §3.4 and §4.3;
- 4688 versions and fields (v0 2008/Vista, v1 adds CommandLine, v2 adds 9-14):
  gpo-backup-format.md §A5; CommandLine is present but empty when the policy is off: §A2 and the
  real events in the dev set; 7601/9200 need KB3004375 for CommandLine: §A2;
- 11 early-boot 4688s per boot even with process auditing off: evtx-data.md §2.2;
- EVTX layout (4 KiB header, 64 KiB chunks with a 512-byte header) and record sizes measured on
  the dev set: see templates_build.py.

Process mix: which real template a process start uses is drawn by weight, not uniformly, so a
simulated host looks like a fleet member rather than an attack capture. Each process template
carries a class and a relative weight (templates_build.py); PROCESS_MIX gives each class its
share of process starts. These shares are an ASSUMPTION (every public EVTX with 4688 is an attack
capture or an audit-off log, evtx-data.md §5 item 1, so no measured benign/attack mix exists),
chosen so detections have a little to find:
attack-like command lines 0.3 % of process starts, of which 0.2 % match one of auditplan's five
detection families (emit/sigma) and 0.1 % are other techniques of the captures (wevtutil cl,
auditpol /clear, sc config, ...). A class absent from a host's pool (v1 originals are skipped
on v2 hosts) gives its share to the others in proportion.

UNVERIFIED (coded defensively): the CRLF placement of `/f:xml` output (one CRLF after the last
event); the exact text of `qe` errors other than those quoted in §4.3; whether record numbers
restart after an autobackup (they continue here); v0/v1 4688 message text for `/f:text` and
the description of non-4688 events (abridged: first sentence, then the event's fields).
"""

from __future__ import annotations

import json
import math
import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import cache
from importlib import resources
from typing import Any, Protocol

import numpy as np

from auditplan.records import AuditSetting
from auditplan.simulator.interface import CommandOutput, EventLogView
from auditplan.simulator.xpath import (
    DYN_COMPUTER,
    DYN_RID,
    DYN_TIME,
    DYN_UTC,
    TICK_MAX,
    TICK_MIN,
    TICKS_PER_SECOND,
    EventFilter,
    EvNode,
    TimeSet,
    XPathError,
    format_system_time,
)

SECURITY_LOG = "Security"
SYSMON_LOG = "Microsoft-Windows-Sysmon/Operational"
EVENT_NAMESPACE = "http://schemas.microsoft.com/win/2004/08/events/event"
PROCESS_CREATION = 4688
SYSMON_PROCESS_CREATE = 1

EVTX_HEADER_BYTES = 4096
EVTX_CHUNK_BYTES = 65536
EVTX_CHUNK_HEADER_BYTES = 512
# Sysmon's Operational channel size when the config sets none: UNVERIFIED (64 MiB commonly seen).
SYSMON_DEFAULT_MAX_SIZE = 67108864
# How far back a log can reach: a log that never fills was created (or cleared) this long ago.
MAX_HISTORY_HOURS = 90 * 24
HOURS_CACHED = 3  # drawn hours kept per log; the probe walks hours in order

# 4688 field sets by version (gpo-backup-format.md §A5).
FIELDS_V1_ONLY = ("CommandLine",)
FIELDS_V2_ONLY = ("TargetUserSid", "TargetUserName", "TargetDomainName", "TargetLogonId",
                  "ParentProcessName", "MandatoryLabel")
BUILD_4688_V1 = 9600  # 2012 R2 / 8.1
BUILD_4688_V2 = 10240  # Windows 10 / Server 2016
BUILD_TEXT_HEADER_NO_COLON = 20348  # Server 2022 / Windows 11 print "Event[N]" (§4.2)

# wevtutil exit codes (windows-tool-outputs.md §3.4, §4.3).
ERROR_INVALID_PARAMETER = 87
ERROR_EVT_INVALID_QUERY = 15001
MSG_PARAMETER_INCORRECT = "The parameter is incorrect."
MSG_INVALID_QUERY = "The specified query is invalid."
MSG_OPEN_QUERY_FAILED = "Failed to open event query."
CRLF = "\r\n"

KIND_PROCESS, KIND_OTHER, KIND_BOOT = 0, 1, 2
# Share of process starts per template class (ASSUMPTION, see the module docstring).
MIX_BENIGN, MIX_ATTACK, MIX_ATTACK_FAMILY = "benign", "attack", "attack_family"
PROCESS_MIX: dict[str, float] = {MIX_BENIGN: 0.997, MIX_ATTACK: 0.001, MIX_ATTACK_FAMILY: 0.002}
RETENTION_MODES = ("overwrite", "archive", "do_not_overwrite")  # as simulator/profile.py names them

# /f:text header fields per event id (Task name, Keyword), §4.2 layout.
_TEXT_INFO: dict[int, tuple[str, str, str]] = {
    # event id: (task, keyword, first sentence of the description)
    4688: ("Process Creation", "Audit Success", "A new process has been created."),
    4624: ("Logon", "Audit Success", "An account was successfully logged on."),
    4625: ("Logon", "Audit Failure", "An account failed to log on."),
    4648: ("Logon", "Audit Success", "A logon was attempted using explicit credentials."),
    4672: ("Special Logon", "Audit Success", "Special privileges assigned to new logon."),
    4798: ("User Account Management", "Audit Success", "A user's local group membership was enumerated."),
    4799: ("Security Group Management", "Audit Success",
           "A security-enabled local group membership was enumerated."),
    5379: ("User Account Management", "Audit Success", "Credential Manager credentials were read."),
    1: ("Process Create (rule: ProcessCreate)", "N/A", "Process Create:"),
}
_TOKEN_ELEVATION_HELP = (
    "Token Elevation Type indicates the type of token that was assigned to the new process in accordance "
    "with User Account Control policy.",
    "Type 1 is a full token with no privileges removed or groups disabled.  A full token is only used if "
    "User Account Control is disabled or if the user is the built-in Administrator account or a service "
    "account.",
    "Type 2 is an elevated token with no privileges removed or groups disabled.  An elevated token is "
    "used when User Account Control is enabled and the user chooses to start the program using Run as "
    "administrator.  An elevated token is also used when an application is configured to always require "
    "administrative privilege or to always require maximum privilege, and the user is a member of the "
    "Administrators group.",
    "Type 3 is a limited token with administrative privileges removed and administrative groups disabled.  "
    "The limited token is used when User Account Control is enabled, the application does not require "
    "administrative privilege, and the user does not choose to start the program using Run as "
    "administrator.",
)


# ------------------------------------------------------------------ profile shape


class _Audit(Protocol):
    @property
    def process_creation(self) -> AuditSetting: ...
    @property
    def cmdline_enabled(self) -> bool: ...


class _Rates(Protocol):
    @property
    def process_starts_per_day(self) -> float: ...
    @property
    def hourly_shape(self) -> tuple[float, ...]: ...
    @property
    def other_security_events_per_day(self) -> float: ...
    @property
    def boots_per_day(self) -> float: ...


class _LogConfig(Protocol):
    @property
    def max_size_bytes(self) -> int: ...
    @property
    def retention(self) -> str: ...


class _Sysmon(Protocol):
    @property
    def installed(self) -> bool: ...


class _OS(Protocol):
    @property
    def build(self) -> int: ...


class HostProfileLike(Protocol):
    """The fields of simulator/profile.py's HostProfile that the event logs read."""

    @property
    def name(self) -> str: ...
    @property
    def seed(self) -> int: ...
    @property
    def computer_name(self) -> str: ...
    @property
    def audit(self) -> _Audit: ...
    @property
    def rates(self) -> _Rates: ...
    @property
    def security_log(self) -> _LogConfig: ...
    @property
    def sysmon(self) -> _Sysmon: ...
    @property
    def os(self) -> _OS: ...


# ------------------------------------------------------------------ templates


@cache
def load_templates() -> dict[str, Any]:
    """The packaged event_templates.json (built by templates_build.py)."""
    text = resources.files("auditplan.simulator").joinpath("data/event_templates.json").read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def _xml_text(s: str) -> str:
    # Windows escapes quotes in element text too (CommandLine shows &quot;): UNVERIFIED for '.
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _xml_attr(s: str) -> str:
    return _xml_text(s).replace("'", "&apos;")


_SLOT_TIME, _SLOT_RID, _SLOT_UTC, _SLOT_COMPUTER = "\x00T\x00", "\x00R\x00", "\x00U\x00", "\x00C\x00"


@dataclass(frozen=True)
class Prepared:
    """One template made ready for a host: format string, XPath view, size, text fields."""

    kind: int
    event_id: int
    version: int
    provider: str
    channel: str
    pieces: tuple[str, ...]  # literal XML between the slots
    slots: tuple[str, ...]  # "t" SystemTime, "r" EventRecordID, "c" Computer, "u" Sysmon UtcTime
    root: EvNode
    record_size: int
    data: tuple[tuple[str, str], ...]
    source: dict[str, Any]
    boot_offset_ticks: int = 0
    mix: str = MIX_BENIGN  # class of a process template (PROCESS_MIX)
    weight: float = 1.0  # relative weight within its class


def _adapt_4688(data: list[tuple[str, str]], version: int, cmdline: bool) -> tuple[list[tuple[str, str]], int]:
    """Bring a real 4688 to the host's version and policy; returns data and bytes removed."""
    removed = 0
    out: list[tuple[str, str]] = []
    for name, value in data:
        if (version < 2 and name in FIELDS_V2_ONLY) or (version < 1 and name in FIELDS_V1_ONLY):
            removed += 4 + 2 * len(value)  # value descriptor + UTF-16 text
            continue
        if name == "CommandLine" and not cmdline:
            removed += 2 * len(value)
            value = ""
        out.append((name, value))
    return out, removed


def _prepare(t: dict[str, Any], kind: int, version: int | None, cmdline: bool) -> Prepared:
    s = t["system"]
    data = [(n, v) for n, v in t["data"]]
    size = int(t["record_size"])
    ver = int(s["version"])
    if s["event_id"] == PROCESS_CREATION and s["provider_name"] == "Microsoft-Windows-Security-Auditing":
        ver = min(ver, version) if version is not None else ver
        data, removed = _adapt_4688(data, ver, cmdline)
        size = max(64, size - removed)
    guid = f" Guid='{s['provider_guid']}'" if s.get("provider_guid") else ""
    corr = f"<Correlation ActivityID='{s['activity_id']}'/>" if s.get("activity_id") else "<Correlation/>"
    sec = f"<Security UserID='{s['user_id']}'/>" if s.get("user_id") else "<Security/>"
    parts = [
        f"<Event xmlns='{EVENT_NAMESPACE}'><System>",
        f"<Provider Name='{_xml_attr(s['provider_name'])}'{guid}/>",
        f"<EventID>{s['event_id']}</EventID><Version>{ver}</Version><Level>{s['level']}</Level>",
        f"<Task>{s['task']}</Task><Opcode>{s['opcode']}</Opcode><Keywords>{s['keywords']}</Keywords>",
        f"<TimeCreated SystemTime='{_SLOT_TIME}'/><EventRecordID>{_SLOT_RID}</EventRecordID>",
        corr,
        f"<Execution ProcessID='{s['process_id']}' ThreadID='{s['thread_id']}'/>",
        f"<Channel>{_xml_text(s['channel'])}</Channel><Computer>{_SLOT_COMPUTER}</Computer>",
        sec,
        "</System><EventData>",
    ]
    for name, value in data:
        text = _SLOT_UTC if (kind == KIND_PROCESS and name == "UtcTime" and s["event_id"] == 1) else _xml_text(value)
        parts.append(f"<Data Name='{_xml_attr(name)}'>{text}</Data>")
    parts.append("</EventData></Event>")
    split = re.split("(\x00[TRUC]\x00)", "".join(parts))
    pieces = tuple(split[0::2])
    slots = tuple(x[1].lower() for x in split[1::2])

    def leaf(name: str, text: str) -> EvNode:
        return EvNode(name, text=text)

    system = EvNode("System", children=[
        EvNode("Provider", attrs={"Name": s["provider_name"], **({"Guid": s["provider_guid"]} if guid else {})}),
        leaf("EventID", str(s["event_id"])), leaf("Version", str(ver)), leaf("Level", str(s["level"])),
        leaf("Task", str(s["task"])), leaf("Opcode", str(s["opcode"])), leaf("Keywords", s["keywords"]),
        EvNode("TimeCreated", attrs={"SystemTime": DYN_TIME}),
        EvNode("EventRecordID", text=DYN_RID),
        EvNode("Correlation", attrs={"ActivityID": s["activity_id"]} if s.get("activity_id") else {}),
        EvNode("Execution", attrs={"ProcessID": str(s["process_id"]), "ThreadID": str(s["thread_id"])}),
        leaf("Channel", s["channel"]), EvNode("Computer", text=DYN_COMPUTER),
        EvNode("Security", attrs={"UserID": s["user_id"]} if s.get("user_id") else {}),
    ])
    event_data = EvNode("EventData", children=[
        EvNode("Data", attrs={"Name": n}, text=DYN_UTC if (s["event_id"] == 1 and n == "UtcTime") else v)
        for n, v in data
    ])
    return Prepared(
        kind=kind, event_id=int(s["event_id"]), version=ver, provider=s["provider_name"],
        channel=s["channel"], pieces=pieces, slots=slots, root=EvNode("Event", children=[system, event_data]),
        record_size=size, data=tuple(data), source=t["source"],
        boot_offset_ticks=int(t.get("boot_offset_ticks", 0)),
        mix=str(t.get("mix", MIX_BENIGN)), weight=float(t.get("weight", 1.0)),
    )


@cache
def security_templates(version: int, cmdline: bool) -> list[Prepared]:
    """Security templates for a 4688 version and command-line policy, shared by every such host."""
    out: list[Prepared] = []
    for t in load_templates()["templates"]:
        kind = {"process": KIND_PROCESS, "other": KIND_OTHER, "boot": KIND_BOOT}.get(t["kind"])
        if kind is None:
            continue
        if kind == KIND_PROCESS and version == 2 and int(t["system"]["version"]) < 2:
            continue  # a v2 host writes every field; v1 originals lack fields 9-14
        out.append(_prepare(t, kind, version, cmdline))
    return out


@cache
def sysmon_templates() -> list[Prepared]:
    return [_prepare(t, KIND_PROCESS, None, True) for t in load_templates()["templates"] if t["kind"] == "sysmon"]


def process_draw_table(pool: list[Prepared]) -> np.ndarray:
    """Cumulative draw probabilities of a process pool: PROCESS_MIX over the classes present, then weight."""
    class_weight: dict[str, float] = {}
    for t in pool:
        class_weight[t.mix] = class_weight.get(t.mix, 0.0) + max(t.weight, 0.0)
    # an unknown class or one whose templates all weigh 0 gets no share; if none is left, draw uniformly
    share = {m: PROCESS_MIX.get(m, 0.0) for m, w in class_weight.items() if w > 0}
    total = sum(share.values())
    if not pool or total <= 0:
        return np.linspace(1.0 / max(len(pool), 1), 1.0, len(pool))
    p = np.array([share.get(t.mix, 0.0) / total * max(t.weight, 0.0) / class_weight[t.mix]
                  if class_weight[t.mix] > 0 else 0.0 for t in pool])
    cum = np.cumsum(p)
    cum[-1] = 1.0  # rounding must not leave a gap that searchsorted would map past the end
    return cum


# ------------------------------------------------------------------ the log


@dataclass
class _Hour:
    ticks: np.ndarray  # absolute ticks since 1970, sorted
    templates: np.ndarray  # index into SimEventLog.templates


@dataclass(frozen=True)
class _Args:
    query: str
    count: int | None
    reverse: bool
    fmt: str
    root: str | None


class SimEventLog:
    """One simulated event log (EventLogView). Build it with for_security / for_sysmon."""

    def __init__(
        self,
        *,
        log_name: str,
        seed: int,
        now: datetime,
        computer: str,
        max_size_bytes: int,
        retention: str,
        templates: list[Prepared],
        process_rate: float,
        other_rate: float,
        boots_per_day: float,
        hourly_shape: tuple[float, ...],
        codepage: int = 437,
        text_header_colon: bool = False,
    ) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware (UTC)")
        if len(hourly_shape) != 24 or sum(hourly_shape) <= 0 or min(hourly_shape) < 0:
            raise ValueError("hourly_shape needs 24 non-negative weights with a positive sum")
        if retention not in RETENTION_MODES:
            raise ValueError(f"retention {retention!r}: expected one of {', '.join(RETENTION_MODES)}")
        self._log_name = log_name
        self.computer = computer
        self.seed = seed
        self.now = now.astimezone(UTC)
        self.now_ticks = int(self.now.timestamp()) * TICKS_PER_SECOND + self.now.microsecond * 10
        self._max_size = max_size_bytes
        self.retention = retention
        self.templates = templates
        self.codepage = codepage
        self.text_header_colon = text_header_colon
        self.process_rate = process_rate
        self.boots_per_day = boots_per_day
        self._pool = {k: np.array([i for i, t in enumerate(templates) if t.kind == k], dtype=np.int64)
                      for k in (KIND_PROCESS, KIND_OTHER, KIND_BOOT)}
        self._process_cum = process_draw_table([templates[i] for i in self._pool[KIND_PROCESS]])
        self._boot_seq = sorted(self._pool[KIND_BOOT].tolist(), key=lambda i: templates[i].boot_offset_ticks)
        self._boot_span = (templates[self._boot_seq[-1]].boot_offset_ticks + 1) if self._boot_seq else 0
        self._computer_xml = _xml_text(computer)
        self._cache: OrderedDict[int, _Hour] = OrderedDict()
        self._lock = threading.Lock()
        self._generate_counts(process_rate, other_rate, boots_per_day, hourly_shape)
        self._apply_retention()

    # -------------------------------------------------------------- construction

    @classmethod
    def for_security(cls, profile: HostProfileLike, now: datetime) -> SimEventLog:
        """The host's Security log: 4688 when Process Creation audits Success, boots, other events."""
        build = profile.os.build
        kb = bool(getattr(profile.os, "kb3004375", False))
        version = 2 if build >= BUILD_4688_V2 else 1 if (build >= BUILD_4688_V1 or kb) else 0
        cmdline = bool(profile.audit.cmdline_enabled) and version >= 1
        on = profile.audit.process_creation.includes_success
        return cls(
            log_name=SECURITY_LOG, seed=profile.seed, now=now, computer=profile.computer_name or profile.name,
            max_size_bytes=profile.security_log.max_size_bytes, retention=profile.security_log.retention,
            templates=security_templates(version, cmdline),
            process_rate=profile.rates.process_starts_per_day if on else 0.0,
            other_rate=profile.rates.other_security_events_per_day, boots_per_day=profile.rates.boots_per_day,
            hourly_shape=tuple(profile.rates.hourly_shape), codepage=int(getattr(profile, "oem_codepage", 437)),
            text_header_colon=build < BUILD_TEXT_HEADER_NO_COLON,
        )

    @classmethod
    def for_sysmon(cls, profile: HostProfileLike, now: datetime) -> SimEventLog | None:
        """Sysmon's Operational log (EID 1 at the process-start rate); None when not installed."""
        if not profile.sysmon.installed:
            return None
        return cls(
            log_name=SYSMON_LOG, seed=profile.seed ^ 0x5E5E, now=now, computer=profile.computer_name or profile.name,
            max_size_bytes=int(getattr(profile.sysmon, "max_size_bytes", SYSMON_DEFAULT_MAX_SIZE)),
            retention="overwrite", templates=sysmon_templates(),
            # A stopped Sysmon service writes nothing: the log exists but holds no process starts.
            process_rate=profile.rates.process_starts_per_day if getattr(profile.sysmon, "running", True) else 0.0,
            other_rate=0.0, boots_per_day=0.0, hourly_shape=tuple(profile.rates.hourly_shape),
            codepage=int(getattr(profile, "oem_codepage", 437)),
            text_header_colon=profile.os.build < BUILD_TEXT_HEADER_NO_COLON,
        )

    def _generate_counts(self, process_rate: float, other_rate: float, boots: float,
                         shape: tuple[float, ...]) -> None:
        now_hour = self.now_ticks // (3600 * TICKS_PER_SECOND)
        self.first_abs_hour = now_hour - MAX_HISTORY_HOURS + 1
        hours = np.arange(self.first_abs_hour, now_hour + 1, dtype=np.int64)
        weights = np.array(shape, dtype=float) / float(sum(shape))
        frac = np.ones(len(hours))
        self._last_span = self.now_ticks - now_hour * 3600 * TICKS_PER_SECOND
        frac[-1] = self._last_span / (3600 * TICKS_PER_SECOND)
        per_hour = weights[hours % 24] * frac
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, 0xE7, len(self._log_name)])
        self.n_process = rng.poisson(process_rate * per_hour) if self._pool[KIND_PROCESS].size else np.zeros(
            len(hours), np.int64)
        self.n_other = rng.poisson(other_rate * per_hour) if self._pool[KIND_OTHER].size else np.zeros(
            len(hours), np.int64)
        boots_per_hour = np.full(len(hours), boots / 24.0) * frac
        if self._last_span <= self._boot_span:
            boots_per_hour[-1] = 0.0
        self.n_boots = rng.poisson(boots_per_hour) if self._boot_seq else np.zeros(len(hours), np.int64)
        # int32 halves the per-host footprint (a 500-host fleet lives in one process)
        self.n_process = self.n_process.astype(np.int32)
        self.n_other = self.n_other.astype(np.int32)
        self.n_boots = self.n_boots.astype(np.int32)
        self.n_total = self.n_process + self.n_other + self.n_boots * np.int32(len(self._boot_seq))
        self._cum_before = np.concatenate(([0], np.cumsum(self.n_total, dtype=np.int64)[:-1]))

    def _mean_size(self, kind: int) -> float:
        pool = self._pool[kind]
        if not pool.size:
            return 0.0
        sizes = np.array([self.templates[i].record_size for i in pool], dtype=float)
        if kind == KIND_PROCESS:
            return float(np.dot(sizes, np.diff(self._process_cum, prepend=0.0)))
        return float(sizes.mean())

    @property
    def capacity_bytes(self) -> int:
        """Record bytes the log holds when full: whole 64 KiB chunks after the 4 KiB header."""
        chunks = max(1, (self._max_size - EVTX_HEADER_BYTES) // EVTX_CHUNK_BYTES)
        return chunks * (EVTX_CHUNK_BYTES - EVTX_CHUNK_HEADER_BYTES)

    def _apply_retention(self) -> None:
        boot_bytes = sum(self.templates[i].record_size for i in self._boot_seq)
        hour_bytes = (self.n_process * self._mean_size(KIND_PROCESS) + self.n_other * self._mean_size(KIND_OTHER)
                      + self.n_boots * boot_bytes)
        cap = float(self.capacity_bytes)
        n = self.n_total
        last = len(n) - 1
        i0, skip0, i1, drop1 = 0, 0, last, 0
        if self.retention == "overwrite":
            acc = 0.0
            for h in range(last, -1, -1):
                if acc + hour_bytes[h] > cap:
                    keep = int((cap - acc) / (hour_bytes[h] / n[h]))
                    i0, skip0 = h, int(n[h]) - keep
                    break
                acc += hour_bytes[h]
        else:
            acc = 0.0
            for h in range(last + 1):
                if acc + hour_bytes[h] <= cap:
                    acc += hour_bytes[h]
                    continue
                keep = int((cap - acc) / (hour_bytes[h] / n[h]))
                if self.retention == "do_not_overwrite":
                    # A full log that may not overwrite drops new events.
                    i1, drop1 = h, int(n[h]) - keep
                    break
                # archive (AutoBackup): the full file is backed up and a new one started.
                i0, skip0 = h, keep
                acc = hour_bytes[h] * (n[h] - keep) / n[h]
        self._i0, self._skip0, self._i1, self._drop1 = i0, skip0, i1, drop1
        self._retained_bytes = float(
            sum(hour_bytes[i0:i1 + 1]) - (hour_bytes[i0] * skip0 / n[i0] if n[i0] else 0.0)
            - (hour_bytes[i1] * drop1 / n[i1] if n[i1] else 0.0))

    def _keep_range(self, h: int) -> tuple[int, int]:
        """Indexes [lo, hi) of hour h's events that the log still holds."""
        if h < self._i0 or h > self._i1:
            return 0, 0
        lo = self._skip0 if h == self._i0 else 0
        hi = int(self.n_total[h]) - (self._drop1 if h == self._i1 else 0)
        return lo, max(lo, hi)

    # -------------------------------------------------------------- drawing one hour

    def _hour(self, h: int) -> _Hour:
        with self._lock:  # the server may answer two shells of one host at once
            cached = self._cache.get(h)
            if cached is not None:
                self._cache.move_to_end(h)
                return cached
        hour = self._draw_hour(h)
        with self._lock:
            self._cache[h] = hour
            if len(self._cache) > HOURS_CACHED:
                self._cache.popitem(last=False)
        return hour

    def _draw_hour(self, h: int) -> _Hour:
        abs_hour = self.first_abs_hour + h
        span = self._last_span if h == len(self.n_total) - 1 else 3600 * TICKS_PER_SECOND
        rng = np.random.default_rng([self.seed & 0xFFFFFFFF, 0x4F, abs_hour, len(self._log_name)])
        parts_t: list[np.ndarray] = []
        parts_k: list[np.ndarray] = []
        for kind, count in ((KIND_PROCESS, self.n_process[h]), (KIND_OTHER, self.n_other[h])):
            if count:
                pool = self._pool[kind]
                parts_t.append(rng.integers(0, span, int(count)))
                if kind == KIND_PROCESS:
                    picks = np.searchsorted(self._process_cum, rng.random(int(count)), side="right")
                    parts_k.append(pool[np.minimum(picks, pool.size - 1)])
                else:
                    parts_k.append(pool[rng.integers(0, pool.size, int(count))])
        if self.n_boots[h]:
            seq = np.array(self._boot_seq, dtype=np.int64)
            offs = np.array([self.templates[i].boot_offset_ticks for i in self._boot_seq], dtype=np.int64)
            for start in rng.integers(0, max(1, span - self._boot_span), int(self.n_boots[h])):
                parts_t.append(start + offs)
                parts_k.append(seq)
        if not parts_t:
            hour = _Hour(np.zeros(0, np.int64), np.zeros(0, np.int64))
        else:
            ticks = np.concatenate(parts_t)
            tpls = np.concatenate(parts_k)
            order = np.argsort(ticks, kind="stable")
            hour = _Hour(ticks[order] + abs_hour * 3600 * TICKS_PER_SECOND, tpls[order])
        return hour

    def _hour_start(self, h: int) -> datetime:
        return datetime.fromtimestamp((self.first_abs_hour + h) * 3600, UTC)

    # -------------------------------------------------------------- EventLogView

    @property
    def log_name(self) -> str:
        return self._log_name

    @property
    def record_count(self) -> int:
        return int(self.n_total[self._i0:self._i1 + 1].sum()) - self._skip0 - self._drop1

    @property
    def oldest_record_number(self) -> int:
        """EventRecordID of the oldest event held (0 for an empty log)."""
        if self.record_count == 0:
            return 0
        return 1 + int(self._cum_before[self._i0]) + self._skip0

    @property
    def file_size_bytes(self) -> int:
        """What gli reports: header plus the chunks the held records fill (whole chunks)."""
        per_chunk = EVTX_CHUNK_BYTES - EVTX_CHUNK_HEADER_BYTES
        chunks = max(1, math.ceil(self._retained_bytes / per_chunk))
        chunks = min(chunks, max(1, (self._max_size - EVTX_HEADER_BYTES) // EVTX_CHUNK_BYTES))
        return EVTX_HEADER_BYTES + chunks * EVTX_CHUNK_BYTES

    @property
    def max_size_bytes(self) -> int:
        return self._max_size

    @property
    def creation_time(self) -> datetime:
        """When the simulated log file began (the start of the simulated history)."""
        return self._hour_start(0)

    def _edge_time(self, newest: bool) -> datetime | None:
        hours = range(self._i1, self._i0 - 1, -1) if newest else range(self._i0, self._i1 + 1)
        for h in hours:
            lo, hi = self._keep_range(h)
            if hi > lo:
                ticks = int(self._hour(h).ticks[hi - 1 if newest else lo])
                return datetime.fromtimestamp(ticks // TICKS_PER_SECOND, UTC) + timedelta(
                    microseconds=(ticks % TICKS_PER_SECOND) // 10)
        return None

    @property
    def oldest_time(self) -> datetime | None:
        return self._edge_time(newest=False)

    @property
    def newest_time(self) -> datetime | None:
        return self._edge_time(newest=True)

    # -------------------------------------------------------------- truth for tests

    @property
    def true_daily_rate(self) -> float:
        """Expected process-creation events/day: 4688 (incl. 11 per boot) or Sysmon EID 1."""
        return self.process_rate + self.boots_per_day * len(self._boot_seq)

    def true_hourly_counts(self, event_id: int) -> list[tuple[datetime, int]]:
        """Events of this id the log holds, per UTC hour, oldest first (every held hour listed)."""
        out: list[tuple[datetime, int]] = []
        process_ids = {self.templates[i].event_id for i in self._pool[KIND_PROCESS]}
        boot_ids = {self.templates[i].event_id for i in self._boot_seq}
        other_ids = {self.templates[i].event_id for i in self._pool[KIND_OTHER]}
        for h in range(self._i0, self._i1 + 1):
            lo, hi = self._keep_range(h)
            whole = lo == 0 and hi == int(self.n_total[h])
            if whole and event_id not in other_ids:
                count = 0
                if event_id in process_ids:
                    count += int(self.n_process[h])
                if event_id in boot_ids:
                    count += int(self.n_boots[h]) * len(self._boot_seq)
            else:
                tpls = self._hour(h).templates[lo:hi]
                count = sum(1 for i in tpls.tolist() if self.templates[i].event_id == event_id)
            out.append((self._hour_start(h), count))
        return out

    # -------------------------------------------------------------- wevtutil qe

    def query(self, arguments: tuple[str, ...]) -> CommandOutput:
        """`wevtutil qe <log> <arguments...>`: /q /c /rd /f /e as windows-tool-outputs.md §4."""
        parsed = _parse_args(arguments)
        if isinstance(parsed, CommandOutput):
            return parsed
        try:
            flt = (EventFilter(parsed.query, self.now_ticks, self.computer)
                   if parsed.query.strip() not in ("", "*") else None)
        except XPathError:
            return _error(ERROR_EVT_INVALID_QUERY, MSG_INVALID_QUERY, MSG_OPEN_QUERY_FAILED)
        selected = self._select(flt, parsed.count, parsed.reverse)
        text = self._render(selected, parsed)
        try:
            data = text.encode("ascii")  # the common case, and much faster than a charmap codec
        except UnicodeEncodeError:
            data = text.encode(_codec(self.codepage), "replace")
        return CommandOutput(data, b"", 0)

    def _select(self, flt: EventFilter | None, limit: int | None, reverse: bool) -> list[tuple[int, int, int]]:
        """Matching events as (template, ticks, record id), in output order, at most `limit`."""
        match: _Match | None = None
        hull_lo, hull_hi = TICK_MIN, TICK_MAX
        if flt is not None:
            match = _conditions(flt, self.templates)
            if match is None:
                return []
            hull_lo, hull_hi = match.hull
        hour_ticks = 3600 * TICKS_PER_SECOND
        first = max(self._i0, (hull_lo // hour_ticks) - self.first_abs_hour)
        last = min(self._i1, ((hull_hi - 1) // hour_ticks) - self.first_abs_hour)
        hours = range(last, first - 1, -1) if reverse else range(first, last + 1)
        out: list[tuple[int, int, int]] = []
        for h in hours:
            lo, hi = self._keep_range(h)
            if hi <= lo:
                continue
            hour = self._hour(h)
            ticks, tpls = hour.ticks[lo:hi], hour.templates[lo:hi]
            base = 1 + int(self._cum_before[h]) + lo
            keep = (np.ones(len(ticks), dtype=bool) if flt is None or match is None
                    else self._mask(flt, match, ticks, tpls, base))
            idx = np.flatnonzero(keep)
            if reverse:
                idx = idx[::-1]
            if limit is not None:
                idx = idx[: limit - len(out)]
            out += [(tpl, t, base + j) for j, tpl, t in zip(
                idx.tolist(), tpls[idx].tolist(), ticks[idx].tolist(), strict=True)]
            if limit is not None and len(out) >= limit:
                break
        return out

    def _mask(self, flt: EventFilter, match: _Match, ticks: np.ndarray, tpls: np.ndarray, base: int) -> np.ndarray:
        """Which of an hour's events match: by template, then by time, per event only if needed."""
        group = match.group_of[tpls]
        keep: np.ndarray = np.asarray(group == GROUP_ALL)
        for g in np.unique(group[group >= 0]).tolist():
            where = group == g
            los, his = match.bounds[g]
            k = np.searchsorted(los, ticks, side="right") - 1
            keep |= where & (k >= 0) & (ticks < his[np.maximum(k, 0)])
        for j in np.flatnonzero(group == GROUP_PER_EVENT).tolist():
            keep[j] = flt.matches(self.templates[int(tpls[j])].root, int(ticks[j]), base + j)
        return keep

    def _render(self, events: list[tuple[int, int, int]], args: _Args) -> str:
        if args.fmt == "text":
            return "".join(self._render_text(n, *e) for n, e in enumerate(events))
        rendered = args.fmt == "renderedxml"
        body = "".join(self._render_xml(*e, rendered=rendered) for e in events)
        if args.root is not None:
            return f"<{args.root}>{CRLF}{body}</{args.root}>{CRLF}"
        return body + CRLF if body else ""

    def _render_xml(self, tpl: int, t: int, rid: int, rendered: bool = False) -> str:
        p = self.templates[tpl]
        st = _system_time(t)
        if p.slots == ("t", "r", "c"):  # every Security event: plain concatenation is the fast path
            xml = p.pieces[0] + st + p.pieces[1] + str(rid) + p.pieces[2] + self._computer_xml + p.pieces[3]
        else:
            values = {"t": st, "r": str(rid), "c": self._computer_xml, "u": st[:10] + " " + st[11:23]}
            xml = p.pieces[0] + "".join(values[k] + p.pieces[i + 1] for i, k in enumerate(p.slots))
        if rendered:
            info = _text_info(p)
            message = _xml_text(self._message(p, st).replace(CRLF, "\n"))
            xml = xml[: -len("</Event>")] + (
                f"<RenderingInfo Culture='en-US'><Message>{message}</Message><Level>Information</Level>"
                f"<Task>{_xml_text(info[0])}</Task><Opcode>Info</Opcode><Channel>{_xml_text(p.channel)}</Channel>"
                f"<Provider>{_xml_text(p.provider)}</Provider><Keywords><Keyword>{info[1]}</Keyword></Keywords>"
                "</RenderingInfo></Event>")
        return xml

    def _message(self, p: Prepared, st: str) -> str:
        d = dict(p.data)
        if p.event_id == PROCESS_CREATION and p.provider == "Microsoft-Windows-Security-Auditing":
            return _message_4688(d, p.version)
        if p.event_id == SYSMON_PROCESS_CREATE:
            d["UtcTime"] = st[:10] + " " + st[11:23]
            return "Process Create:" + CRLF + CRLF.join(f"{k}: {v}" for k, v in d.items())
        first = _text_info(p)[2]
        return first + CRLF + CRLF + CRLF.join(f"\t{k}:\t{v}" for k, v in d.items())

    def _render_text(self, n: int, tpl: int, t: int, rid: int) -> str:
        p = self.templates[tpl]
        task, keyword, _ = _text_info(p)
        st = format_system_time(t)
        user = "S-1-5-18" if p.provider == "Microsoft-Windows-Sysmon" else "N/A"
        user_name = "NT AUTHORITY\\SYSTEM" if user != "N/A" else "N/A"
        computer = self.computer
        lines = [
            f"Event[{n}]" + (":" if self.text_header_colon else ""),
            f"  Log Name: {p.channel}",
            f"  Source: {p.provider}",
            f"  Date: {st}",
            f"  Event ID: {p.event_id}",
            f"  Task: {task}",
            "  Level: Information",
            "  Opcode: Info",
            f"  Keyword: {keyword}",
            f"  User: {user}",
            f"  User Name: {user_name}",
            f"  Computer: {computer}",
            "  Description: ",
            self._message(p, st),
        ]
        return CRLF.join(lines) + CRLF + CRLF


# ------------------------------------------------------------------ helpers

GROUP_NONE, GROUP_ALL, GROUP_PER_EVENT = -1, -2, -3


@dataclass(frozen=True)
class _Match:
    """A query's verdict per template: never, always, within time intervals, or per event."""

    templates: list[Prepared]  # held so that the id() in the cache key stays unique
    group_of: np.ndarray  # per template: GROUP_* or an index into bounds
    bounds: list[tuple[np.ndarray, np.ndarray]]  # interval starts and ends, per distinct condition
    hull: tuple[int, int]


# Shared between hosts: a fleet probe sends the same queries (same text, same simulated clock)
# to every host with the same template set, and evaluating them per template is the slow part.
_CONDITIONS: OrderedDict[tuple[str, int, int], _Match] = OrderedDict()
_CONDITIONS_MAX = 2048
_CONDITIONS_LOCK = threading.Lock()


def _conditions(flt: EventFilter, templates: list[Prepared]) -> _Match | None:
    """The query's verdict per template; None when no template can match."""
    # A query naming Computer depends on the host; everything else only on the templates.
    key = (flt.query, flt.now, id(templates)) if "Computer" not in flt.query else None
    if key is not None:
        with _CONDITIONS_LOCK:
            hit = _CONDITIONS.get(key)
            if hit is not None and hit.templates is templates:
                _CONDITIONS.move_to_end(key)
                return hit
    group_of = np.full(len(templates), GROUP_NONE, dtype=np.int64)
    distinct: dict[TimeSet, int] = {}
    los: list[int] = []
    his: list[int] = []
    for i, p in enumerate(templates):
        c = flt.time_condition(p.root)
        if c is None:
            group_of[i] = GROUP_PER_EVENT
            los.append(TICK_MIN)
            his.append(TICK_MAX)
        elif c:
            group_of[i] = GROUP_ALL if c.is_all else distinct.setdefault(c, len(distinct))
            los.append(c.intervals[0][0])
            his.append(c.intervals[-1][1])
    if not los:
        return None
    bounds = [(np.array([lo for lo, _ in c.intervals], dtype=np.int64),
               np.array([hi for _, hi in c.intervals], dtype=np.int64)) for c in distinct]
    match = _Match(templates, group_of, bounds, (min(los), max(his)))
    if key is not None:
        with _CONDITIONS_LOCK:
            _CONDITIONS[key] = match
            if len(_CONDITIONS) > _CONDITIONS_MAX:
                _CONDITIONS.popitem(last=False)
    return match


@cache
def _hour_prefix(abs_hour: int) -> str:
    return datetime.fromtimestamp(abs_hour * 3600, UTC).strftime("%Y-%m-%dT%H:")


def _system_time(ticks: int) -> str:
    """format_system_time, with the date and hour cached: rendering is the hot path."""
    hour, rest = divmod(ticks, 3600 * TICKS_PER_SECOND)
    minute, rest = divmod(rest, 60 * TICKS_PER_SECOND)
    second, frac = divmod(rest, TICKS_PER_SECOND)
    return f"{_hour_prefix(hour)}{minute:02d}:{second:02d}.{frac:07d}Z"


def _text_info(p: Prepared) -> tuple[str, str, str]:
    return _TEXT_INFO.get(p.event_id, ("None", "Audit Success", f"Event {p.event_id}."))


def _logon_id(v: str) -> str:
    # The message prints logon ids with upper-case hex digits (0x3E7) while Data keeps 0x3e7.
    return "0x" + v[2:].upper() if v.lower().startswith("0x") else v


def _message_4688(d: dict[str, str], version: int) -> str:
    """The English 4688 description; v2 follows a real rendering, v0/v1 are UNVERIFIED."""
    subject = [
        f"\tSecurity ID:\t\t{d.get('SubjectUserSid', '')}",
        f"\tAccount Name:\t\t{d.get('SubjectUserName', '')}",
        f"\tAccount Domain:\t\t{d.get('SubjectDomainName', '')}",
        f"\tLogon ID:\t\t{_logon_id(d.get('SubjectLogonId', ''))}",
    ]
    lines = ["A new process has been created.", ""]
    if version >= 2:
        lines += ["Creator Subject:", *subject, "", "Target Subject:",
                  f"\tSecurity ID:\t\t{d.get('TargetUserSid', '')}",
                  f"\tAccount Name:\t\t{d.get('TargetUserName', '')}",
                  f"\tAccount Domain:\t\t{d.get('TargetDomainName', '')}",
                  f"\tLogon ID:\t\t{_logon_id(d.get('TargetLogonId', ''))}", ""]
    else:
        lines += ["Subject:", *subject, ""]
    lines += ["Process Information:",
              f"\tNew Process ID:\t\t{d.get('NewProcessId', '')}",
              f"\tNew Process Name:\t{d.get('NewProcessName', '')}",
              f"\tToken Elevation Type:\t{d.get('TokenElevationType', '')}"]
    if version >= 2:
        lines.append(f"\tMandatory Label:\t\t{d.get('MandatoryLabel', '')}")
    lines.append(f"\tCreator Process ID:\t{d.get('ProcessId', '')}")
    if version >= 2:
        lines.append(f"\tCreator Process Name:\t{d.get('ParentProcessName', '')}")
    if version >= 1:
        lines.append(f"\tProcess Command Line:\t{d.get('CommandLine', '')}")
    lines.append("")
    for para in _TOKEN_ELEVATION_HELP:
        lines += [para, ""]
    return CRLF.join(lines[:-1])


def _codec(codepage: int) -> str:
    return {65001: "utf-8"}.get(codepage, f"cp{codepage}")


def _error(code: int, *lines: str) -> CommandOutput:
    return CommandOutput(b"", "".join(line + CRLF for line in lines).encode("ascii"), code)


def _parse_args(arguments: tuple[str, ...]) -> _Args | CommandOutput:
    """wevtutil qe options, `/name:value` or `-name:value`, names case-insensitive."""
    names = {"q": "q", "query": "q", "c": "c", "count": "c", "rd": "rd", "reversedirection": "rd",
             "f": "f", "format": "f", "e": "e", "element": "e", "lf": "lf", "logfile": "lf"}
    query, count, reverse, fmt, root = "*", None, False, "xml", None
    for arg in arguments:
        if not arg or arg[0] not in "/-":
            return _error(ERROR_INVALID_PARAMETER, MSG_PARAMETER_INCORRECT)
        name, _, value = arg[1:].partition(":")
        key = names.get(name.lower())
        if key is None:
            return _error(ERROR_INVALID_PARAMETER, MSG_PARAMETER_INCORRECT)
        if key == "q":
            # The front end unquotes; a value still in quotes came through cmd quoting twice.
            query = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
        elif key == "c":
            if not value.isdigit() or int(value) <= 0:
                return _error(ERROR_INVALID_PARAMETER, "Invalid value for property count.")
            count = int(value)
        elif key in ("rd", "lf"):
            flag = value.lower() if value else "true"
            if flag not in ("true", "false"):
                return _error(ERROR_INVALID_PARAMETER, f"Invalid value for option {name}.", MSG_PARAMETER_INCORRECT)
            if key == "rd":
                reverse = flag == "true"
            elif flag == "true":
                return _error(ERROR_INVALID_PARAMETER, MSG_PARAMETER_INCORRECT)  # no files on a simulated host
        elif key == "f":
            fmt = value.lower()
            if fmt not in ("xml", "text", "renderedxml"):
                return _error(ERROR_INVALID_PARAMETER, f"Invalid value for option {name}.", MSG_PARAMETER_INCORRECT)
        else:
            if not value or not value.replace("_", "").isalnum():
                return _error(ERROR_INVALID_PARAMETER, f"Invalid value for option {name}.", MSG_PARAMETER_INCORRECT)
            root = value
    # /e has no effect with /f:text (§4.1).
    return _Args(query, count, reverse, fmt, None if fmt == "text" else root)


def as_view(log: SimEventLog) -> EventLogView:
    """The log as the EventLogView contract (mypy checks that SimEventLog satisfies it)."""
    return log
