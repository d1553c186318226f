"""Simulated event logs: real events re-stamped at a host's true rate, and `wevtutil qe`.

A `SimEventLog` keeps only per-hour counts. An hour's events (their times and which real
template each one is) are drawn on demand from (seed, hour), and XML is rendered only for the
events a query returns, from per-template format strings. So the truth is known exactly
(`true_hourly_counts`) and a 500-host fleet costs a few kilobytes per host.

The templates and the process mix are eventlog_templates.py; `qe`'s options and output are
eventlog_qe.py. Windows facts used here (reference files under ../shared/reference/):
- 7601/9200 need KB3004375 for CommandLine: gpo-backup-format.md §A2;
- 11 early-boot 4688s per boot even with process auditing off: evtx-data.md §2.2;
- EVTX layout (4 KiB header, 64 KiB chunks with a 512-byte header) and record sizes measured on
  the dev set: see tools/build_event_templates.py.

UNVERIFIED (coded defensively): whether record numbers restart after an autobackup (they
continue here).
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

import numpy as np

from auditplan.records import AuditSetting
from auditplan.simulator.eventlog_identity import EventIdentity
from auditplan.simulator.eventlog_qe import (
    ERROR_EVT_INVALID_QUERY,
    GROUP_ALL,
    GROUP_PER_EVENT,
    MSG_INVALID_QUERY,
    MSG_OPEN_QUERY_FAILED,
    HostLayout,
    Match,
    codec,
    conditions,
    error,
    host_layouts,
    parse_args,
    render,
)
from auditplan.simulator.eventlog_templates import (
    KIND_BOOT,
    KIND_OTHER,
    KIND_PROCESS,
    Prepared,
    process_draw_table,
    security_templates,
    sysmon_templates,
)
from auditplan.simulator.interface import CommandOutput, EventLogView
from auditplan.simulator.tool_texts import texts_for
from auditplan.simulator.variation import rate_factors
from auditplan.simulator.xpath import TICK_MAX, TICK_MIN, TICKS_PER_SECOND, EventFilter, XPathError

SECURITY_LOG = "Security"
SYSMON_LOG = "Microsoft-Windows-Sysmon/Operational"

EVTX_HEADER_BYTES = 4096
EVTX_CHUNK_BYTES = 65536
EVTX_CHUNK_HEADER_BYTES = 512
# Sysmon's Operational channel size when the config sets none: UNVERIFIED (64 MiB commonly seen).
SYSMON_DEFAULT_MAX_SIZE = 67108864
# How far back a log can reach: a log that never fills was created (or cleared) this long ago.
MAX_HISTORY_HOURS = 90 * 24
HOURS_CACHED = 3  # drawn hours kept per log; the probe walks hours in order

BUILD_4688_V1 = 9600  # 2012 R2 / 8.1
BUILD_4688_V2 = 10240  # Windows 10 / Server 2016
BUILD_TEXT_HEADER_NO_COLON = 20348  # Server 2022 / Windows 11 print "Event[N]" (§4.2)

RETENTION_MODES = ("overwrite", "archive", "do_not_overwrite")  # as simulator/profile.py names them


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


# ------------------------------------------------------------------ the log


@dataclass
class _Hour:
    ticks: np.ndarray  # absolute ticks since 1970, sorted
    templates: np.ndarray  # index into SimEventLog.templates




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
        variation: tuple[int, float, float] = (0, 0.0, 0.0),
        locale: str = "en-US",
    ) -> None:
        if now.tzinfo is None:
            raise ValueError("now must be timezone-aware (UTC)")
        if len(hourly_shape) != 24 or sum(hourly_shape) <= 0 or min(hourly_shape) < 0:
            raise ValueError("hourly_shape needs 24 non-negative weights with a positive sum")
        if retention not in RETENTION_MODES:
            raise ValueError(f"retention {retention!r}: expected one of {', '.join(RETENTION_MODES)}")
        self._log_name = log_name
        self.computer = computer
        self.identity = EventIdentity.for_computer(computer)
        self._layouts: list[HostLayout] | None = None  # built on the first query
        self.seed = seed
        self.now = now.astimezone(UTC)
        self.now_ticks = int(self.now.timestamp()) * TICKS_PER_SECOND + self.now.microsecond * 10
        self._max_size = max_size_bytes
        self.retention = retention
        self.templates = templates
        self.codepage = codepage
        self.text_header_colon = text_header_colon
        self.texts = texts_for(locale)  # `/f:text` values in the host's language
        self.process_rate = process_rate
        self.boots_per_day = boots_per_day
        self._pool = {k: np.array([i for i, t in enumerate(templates) if t.kind == k], dtype=np.int64)
                      for k in (KIND_PROCESS, KIND_OTHER, KIND_BOOT)}
        self._process_cum = process_draw_table([templates[i] for i in self._pool[KIND_PROCESS]])
        self._boot_seq = sorted(self._pool[KIND_BOOT].tolist(), key=lambda i: templates[i].boot_offset_ticks)
        self._boot_span = (templates[self._boot_seq[-1]].boot_offset_ticks + 1) if self._boot_seq else 0
        self._cache: OrderedDict[int, _Hour] = OrderedDict()
        self._lock = threading.Lock()
        self._variation = variation  # (host seed, day_to_day_sd, burstiness): simulator/variation.py
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
            text_header_colon=build < BUILD_TEXT_HEADER_NO_COLON, variation=_variation(profile),
            locale=str(getattr(profile, "locale", "en-US")),
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
            text_header_colon=profile.os.build < BUILD_TEXT_HEADER_NO_COLON, variation=_variation(profile),
            locale=str(getattr(profile, "locale", "en-US")),
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
        # Process starts only: the host's activity varies, the other Security events keep their rate.
        seed, day_sd, burst = self._variation
        process_hour = per_hour * rate_factors(seed, hours, day_sd, burst)
        self.n_process = rng.poisson(process_rate * process_hour) if self._pool[KIND_PROCESS].size else np.zeros(
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
        parsed = parse_args(arguments)
        if isinstance(parsed, CommandOutput):
            return parsed
        try:
            flt = (EventFilter(parsed.query, self.now_ticks, self.computer)
                   if parsed.query.strip() not in ("", "*") else None)
        except XPathError:
            return error(ERROR_EVT_INVALID_QUERY, MSG_INVALID_QUERY, MSG_OPEN_QUERY_FAILED)
        selected = self._select(flt, parsed.count, parsed.reverse)
        if self._layouts is None:
            self._layouts = host_layouts(self.templates, self.identity)
        text = render(self.templates, selected, parsed, computer=self.computer,
                      text_header_colon=self.text_header_colon, layouts=self._layouts, texts=self.texts)
        try:
            data = text.encode("ascii")  # the common case, and much faster than a charmap codec
        except UnicodeEncodeError:
            data = text.encode(codec(self.codepage), "replace")
        return CommandOutput(data, b"", 0)

    def _select(self, flt: EventFilter | None, limit: int | None, reverse: bool) -> list[tuple[int, int, int]]:
        """Matching events as (template, ticks, record id), in output order, at most `limit`."""
        match: Match | None = None
        hull_lo, hull_hi = TICK_MIN, TICK_MAX
        if flt is not None:
            match = conditions(flt, self.templates)
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

    def _mask(self, flt: EventFilter, match: Match, ticks: np.ndarray, tpls: np.ndarray, base: int) -> np.ndarray:
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


def _variation(profile: HostProfileLike) -> tuple[int, float, float]:
    rates = profile.rates
    return (profile.seed, float(getattr(rates, "day_to_day_sd", 0.0)), float(getattr(rates, "burstiness", 0.0)))


def as_view(log: SimEventLog) -> EventLogView:
    """The log as the EventLogView contract (mypy checks that SimEventLog satisfies it)."""
    return log
