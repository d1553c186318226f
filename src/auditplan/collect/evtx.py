"""Offline ingest of exported .evtx files with the `evtx` package (evtx-rs).

Facts relied on (reference/evtx-data.md and reference/evtx-dev/SOURCES.md):
- evtx-rs `records()` XML is the rendering to use (§2.3: ≈400 k records/s; JSON + json.loads
  ≈140 k/s; measured here, `records_json()` without json.loads is no faster than XML). The scan
  reads only the fields it needs from the XML text with str.find; a 4688's EventData fields
  are read only when it is drawn into the event sample (bench/ingest.py has the figures).
- Event time is `System/TimeCreated/@SystemTime`; the record-header timestamp is wrong in
  filtered exports (1601-01-01 or a neighbour's time, §2.3 trap 1).
- A 4688 is `EventID` 4688 *and* provider Microsoft-Windows-Security-Auditing (§2.3 trap 3;
  gpo-backup-format.md §A5). `EventID` may carry a Qualifiers attribute (trap 4).
- evtx-rs raises per-record errors on damaged chunks (trap 5): counted, not fatal.
- An EVTX file is a 4,096-byte header plus whole 65,536-byte chunks; any other size means the
  file was cut short. Such a file still ingests: its complete chunks are read and the cut is
  reported (see `Truncation`).
- With process auditing off, Windows still writes the early-boot 4688s (§2.2: 11 per boot, 12
  on a sysprep first boot). See `BOOT_PROCESSES` and `is_boot_only` for the exact rule.
"""

from __future__ import annotations

import html
import io
import math
import random
import struct
import zlib
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import BinaryIO

import evtx

from auditplan.collect.secrets import redact
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

EVTX_FILE_MAGIC = b"ElfFile\x00"
EVTX_HEADER_SIZE = 4096
EVTX_CHUNK_SIZE = 65536

# Header fields read to size up a cut-short file. evtx-data.md names only the 4,096-byte file
# header, the 65,536-byte chunks and the stale header `chunk_count` of dirty logs (§0, §2.3);
# the offsets are libyal's EVTX format description (libevtx documentation, "Windows XML Event Log
# (EVTX)"), checked against the CRC32s of every header and chunk of the dev set's audit-off log.
# File header: next record identifier (u64) at 24, number of chunks (u16) at 42, CRC32 of bytes
# 0..120 at 124. Chunk header: "ElfChnk\0", first/last event record number (u64) at 8/16, CRC32 of
# bytes 0..120 and 128..512 at 124.
EVTX_CHUNK_MAGIC = b"ElfChnk\x00"
FILE_HEADER_NEXT_RECORD = struct.Struct("<Q")
FILE_HEADER_NEXT_RECORD_OFFSET = 24
FILE_HEADER_CHUNK_COUNT = struct.Struct("<H")
FILE_HEADER_CHUNK_COUNT_OFFSET = 42
FILE_HEADER_CHECKSUMMED = 120
FILE_HEADER_CHECKSUM_OFFSET = 124
CHUNK_RECORD_NUMBERS = struct.Struct("<QQ")  # first, last event record number
CHUNK_RECORD_NUMBERS_OFFSET = 8
CHUNK_HEADER_CHECKSUMMED = ((0, 120), (128, 512))
CHUNK_HEADER_CHECKSUM_OFFSET = 124
CHUNK_HEADER_SIZE = 512  # the checksummed part: 128-byte header plus the string/template tables
CRC32 = struct.Struct("<I")

EVENT_NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"
SECURITY_AUDITING_PROVIDER = "Microsoft-Windows-Security-Auditing"
SYSMON_PROVIDER = "Microsoft-Windows-Sysmon"
EVENT_ID_PROCESS_CREATION = 4688
SYSMON_EVENT_ID_PROCESS_CREATE = 1
SECURITY_CHANNEL = "Security"

# Early-boot processes that log a 4688 even when Process Creation auditing is off (SOURCES.md,
# audit-off baseline; evtx-data.md §2.2): Registry, smss.exe x3, autochk.exe, csrss.exe x2,
# wininit.exe, winlogon.exe, services.exe, lsass.exe, plus setupcl.exe on a sysprep first boot.
BOOT_PROCESSES = frozenset(
    {
        "registry",
        "smss.exe",
        "autochk.exe",
        "setupcl.exe",
        "csrss.exe",
        "wininit.exe",
        "winlogon.exe",
        "services.exe",
        "lsass.exe",
    }
)
MAX_BOOT_4688_PER_BOOT = 12

DEFAULT_SAMPLE_SIZE = 200
DEFAULT_MAX_FILE_BYTES = 4 * 1024**3  # the largest Security log MaxSize Windows accepts
MAX_WINDOW_HOURS = 2 * 366 * 24  # hourly counts kept for at most the last two years of a log
MAX_CONSECUTIVE_RECORD_ERRORS = 10_000

_CANONICAL_TIME_LEN = len("2021-11-02T14:15:24.567327Z")


NO_RECORDS_ERROR = "no event records (header only, or an empty log)"


class EvtxIngestError(Exception):
    """A file could not be read as EVTX; the message says why."""


@dataclass(frozen=True)
class Stats:
    """Distribution of one per-event quantity (linear-interpolated percentiles)."""

    n: int
    mean: float | None
    p50: float | None
    p90: float | None
    p99: float | None
    max: float | None

    @classmethod
    def of(cls, values: Sequence[int]) -> Stats:
        if not values:
            return cls(0, None, None, None, None, None)
        ordered = sorted(values)
        return cls(
            n=len(ordered),
            mean=sum(ordered) / len(ordered),
            p50=percentile(ordered, 50),
            p90=percentile(ordered, 90),
            p99=percentile(ordered, 99),
            max=float(ordered[-1]),
        )


def percentile(ordered: Sequence[float], q: float) -> float:
    """Linear-interpolated percentile of sorted values (numpy's default method)."""
    if not ordered:
        raise ValueError("percentile of no values")
    pos = (len(ordered) - 1) * q / 100.0
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return float(ordered[lo]) + (float(ordered[hi]) - float(ordered[lo])) * (pos - lo)


@dataclass(frozen=True)
class FileSummary:
    """What one .evtx file holds, as `auditplan ingest --json` prints it."""

    file: str
    host: str | None
    computer_name: str | None
    file_bytes: int | None
    events_total: int = 0
    events_4688: int = 0
    sysmon_eid1: int = 0
    first_time: datetime | None = None  # TimeCreated over ALL events of the file
    last_time: datetime | None = None
    versions: dict[int, int] = field(default_factory=dict)  # 4688 Version -> count
    cmdline_populated: bool = False  # some 4688 has a non-empty CommandLine
    cmdline_length: Stats = field(default_factory=lambda: Stats.of(()))  # populated only, characters
    event_size_xml: Stats = field(default_factory=lambda: Stats.of(()))  # UTF-8 bytes of each 4688's XML
    hourly_profile: tuple[int, ...] = (0,) * 24  # 4688 per hour of day (UTC), summed over the file
    audit_off: bool = False
    boots: int = 0
    record_errors: int = 0
    warnings: tuple[str, ...] = ()
    error: str | None = None
    truncation: Truncation | None = None  # set when the file was cut short

    @property
    def truncation_warning(self) -> str | None:
        """The warning for a cut-short file (stored with the host's result when the file ingested)."""
        if self.truncation is None:
            return None
        if self.error is not None:
            return self.truncation.describe(self.file)
        return truncation_warning(self.truncation, self.file, self.events_total)

    def to_json(self) -> dict[str, object]:
        def iso(t: datetime | None) -> str | None:
            return None if t is None else t.astimezone(UTC).isoformat().replace("+00:00", "Z")

        def stats(s: Stats) -> dict[str, object]:
            return {"n": s.n, "mean": s.mean, "p50": s.p50, "p90": s.p90, "p99": s.p99, "max": s.max}

        return {
            "file": self.file,
            "host": self.host,
            "computer_name": self.computer_name,
            "file_bytes": self.file_bytes,
            "events_total": self.events_total,
            "events_4688": self.events_4688,
            "sysmon_eid1": self.sysmon_eid1,
            "first_time": iso(self.first_time),
            "last_time": iso(self.last_time),
            "versions": {str(k): v for k, v in sorted(self.versions.items())},
            "cmdline_populated": self.cmdline_populated,
            "cmdline_length": stats(self.cmdline_length),
            "event_size_xml": stats(self.event_size_xml),
            "hourly_profile": list(self.hourly_profile),
            "audit_off": self.audit_off,
            "boots": self.boots,
            "record_errors": self.record_errors,
            "warnings": list(self.warnings),
            "error": self.error,
            "truncated": None if self.truncation is None else {
                "cut_at": self.truncation.cut_at,
                "chunks_kept": self.truncation.chunks_kept,
                "chunks_lost": self.truncation.chunks_lost,
                "records_kept": self.events_total,
                "records_lost": self.truncation.records_lost,  # a lower bound; null when unknown
            },
        }


@dataclass(frozen=True)
class IngestOutcome:
    summary: FileSummary
    result: HostResult | None  # None when the file could not be read (summary.error says why)


def is_boot_only(process_names: Sequence[str], cmdline_lengths: Sequence[int]) -> tuple[bool, int]:
    """Decide whether a file's 4688s are only the early-boot ones (auditing effectively off).

    Rule: at least one 4688; every 4688 has an empty (or absent) CommandLine; every
    NewProcessName's base name (case-insensitive) is in BOOT_PROCESSES; and there are at most
    MAX_BOOT_4688_PER_BOOT of them per boot, where boots = max(#Registry, #autochk.exe,
    ceil(#smss.exe / 3)). Returns (boot_only, boots).
    """
    if not process_names or any(n > 0 for n in cmdline_lengths):
        return False, 0
    bases = [_base_name(p) for p in process_names]
    if any(b not in BOOT_PROCESSES for b in bases):
        return False, 0
    counts = Counter(bases)
    boots = max(counts["registry"], counts["autochk.exe"], math.ceil(counts["smss.exe"] / 3))
    if boots == 0 or len(bases) > MAX_BOOT_4688_PER_BOOT * boots:
        return False, boots
    return True, boots


def _base_name(path: str) -> str:
    return path.rsplit("\\", 1)[-1].strip().lower()


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _canonical_time(text: str) -> str:
    """SystemTime in the fixed-width form evtx-rs prints, so that strings order like times."""
    return _parse_time(text).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _check_file(path: Path, max_file_bytes: int) -> int:
    """Raise EvtxIngestError if `path` is plainly not a readable EVTX file; return its size."""
    if not path.exists():
        raise EvtxIngestError("no such file")
    if path.is_dir():
        raise EvtxIngestError("is a directory, not an .evtx file")
    try:
        size = path.stat().st_size
        with path.open("rb") as fh:
            magic = fh.read(len(EVTX_FILE_MAGIC))
    except OSError as exc:
        raise EvtxIngestError(f"cannot read: {exc.strerror or exc}") from None
    if size == 0:
        raise EvtxIngestError("empty file (0 bytes)")
    if size > max_file_bytes:
        raise EvtxIngestError(f"file is {size:,} bytes, above the {max_file_bytes:,}-byte limit")
    if magic != EVTX_FILE_MAGIC:
        raise EvtxIngestError("not an EVTX file (no 'ElfFile' signature at offset 0)")
    if size < EVTX_HEADER_SIZE:
        raise EvtxIngestError(
            f"truncated inside the {EVTX_HEADER_SIZE:,}-byte file header: the file ends at byte {size:,}"
        )
    return size


@dataclass(frozen=True)
class Truncation:
    """A file cut short (a copy of a log still being written, a partial download): where it ends,
    what was read, and what its headers say is missing. Only chunks wholly inside the file are
    read; the header figures are lower bounds, since a live log's header lags its chunks (§2.3)."""

    cut_at: int  # the file's size: the byte offset where it was cut
    chunks_kept: int  # complete 65,536-byte chunks, the only ones read
    cut_chunk: int | None  # 0-based index of the chunk cut in two; None for a cut at a chunk boundary
    chunks_listed: int | None  # the file header's chunk count (None when its checksum fails)
    last_record_kept: int | None  # highest record number in the kept chunks' valid headers
    last_record_listed: int | None  # highest record number the file header or the cut chunk promises
    cut_chunk_records: int | None  # records the cut chunk's header lists (None: header cut or invalid)

    @property
    def kept_bytes(self) -> int:
        return EVTX_HEADER_SIZE + self.chunks_kept * EVTX_CHUNK_SIZE

    @property
    def chunks_lost(self) -> int:
        """Chunks known to be missing: the cut one, and any more the file header lists."""
        seen = self.chunks_kept + (1 if self.cut_chunk is not None else 0)
        return max(seen, self.chunks_listed or 0) - self.chunks_kept

    @property
    def records_lost(self) -> int | None:
        """At least this many records are missing, per the headers; None when they do not say."""
        bounds = [self.cut_chunk_records or 0]
        if self.last_record_listed is not None:
            bounds.append(self.last_record_listed - (self.last_record_kept or 0))
        lost = max(bounds)
        return lost if lost > 0 else None

    def describe(self, file: str) -> str:
        """The note for the operator and the store (file, cut offset, kept vs lost)."""
        if self.cut_chunk is not None:
            start = EVTX_HEADER_SIZE + self.cut_chunk * EVTX_CHUNK_SIZE
            where = (f"inside chunk {self.cut_chunk + 1} (bytes {start:,}..{start + EVTX_CHUNK_SIZE - 1:,}, "
                     f"{self.cut_at - start:,} of its {EVTX_CHUNK_SIZE:,} bytes present)")
        else:
            where = (f"at a chunk boundary (the file header lists {self.chunks_listed} chunks, "
                     f"the file holds {self.chunks_kept})")
        lost = self.records_lost
        records = ("an unknown number of records (no valid header says how many)"
                   if lost is None else f"at least {lost:,} record(s) per the file's headers")
        return (f"{file} is truncated at byte {self.cut_at:,}, {where}: read the {self.chunks_kept} "
                f"complete chunk(s) (bytes 0..{self.kept_bytes - 1:,}); lost {self.chunks_lost} chunk(s) "
                f"and {records}")


def truncation_warning(cut: Truncation, file: str, records_kept: int) -> str:
    return f"{cut.describe(file)}; kept {records_kept:,} record(s), and the measured window is theirs"


def _crc_ok(data: bytes, spans: Sequence[tuple[int, int]], stored_at: int) -> bool:
    crc = 0
    for lo, hi in spans:
        crc = zlib.crc32(data[lo:hi], crc)
    stored: int = CRC32.unpack_from(data, stored_at)[0]
    return crc == stored


def _chunk_records(fh: BinaryIO, index: int) -> tuple[int, int] | None:
    """(first, last) record number from chunk `index`'s header, or None when the header is
    absent, cut, unwritten (zeros) or fails its checksum."""
    fh.seek(EVTX_HEADER_SIZE + index * EVTX_CHUNK_SIZE)
    head = fh.read(CHUNK_HEADER_SIZE)
    if (len(head) < CHUNK_HEADER_SIZE or not head.startswith(EVTX_CHUNK_MAGIC)
            or not _crc_ok(head, CHUNK_HEADER_CHECKSUMMED, CHUNK_HEADER_CHECKSUM_OFFSET)):
        return None
    first, last = CHUNK_RECORD_NUMBERS.unpack_from(head, CHUNK_RECORD_NUMBERS_OFFSET)
    return (first, last) if last >= first else None


def find_truncation(fh: BinaryIO, size: int) -> Truncation | None:
    """Whether a file of `size` bytes (at least the file header) was cut short; None if not.

    Cut inside a chunk: the size is not the header plus whole chunks. Cut at a chunk boundary:
    detectable only when the file header (checksum valid) lists more chunks than the file holds;
    a live log's header lags behind (§2.3), so a cut beyond its stale count cannot be seen."""
    fh.seek(0)
    header = fh.read(EVTX_HEADER_SIZE)
    chunks_kept, partial = divmod(size - EVTX_HEADER_SIZE, EVTX_CHUNK_SIZE)
    chunks_listed: int | None = None
    next_record: int | None = None
    if _crc_ok(header, ((0, FILE_HEADER_CHECKSUMMED),), FILE_HEADER_CHECKSUM_OFFSET):
        chunks_listed = FILE_HEADER_CHUNK_COUNT.unpack_from(header, FILE_HEADER_CHUNK_COUNT_OFFSET)[0]
        next_record = FILE_HEADER_NEXT_RECORD.unpack_from(header, FILE_HEADER_NEXT_RECORD_OFFSET)[0]
    if not partial and (chunks_listed is None or chunks_listed <= chunks_kept):
        return None
    cut_chunk = chunks_kept if partial else None
    cut_range = _chunk_records(fh, cut_chunk) if cut_chunk is not None else None
    # Record numbers wrap around the chunks of a circular log, so take the highest of all.
    kept_last = [r[1] for r in (_chunk_records(fh, i) for i in range(chunks_kept)) if r is not None]
    listed = [n for n in ((next_record - 1) if next_record else None,
                          cut_range[1] if cut_range else None) if n is not None]
    return Truncation(
        cut_at=size,
        chunks_kept=chunks_kept,
        cut_chunk=cut_chunk,
        chunks_listed=chunks_listed,
        last_record_kept=max(kept_last) if kept_last else None,
        last_record_listed=max(listed) if listed else None,
        cut_chunk_records=(cut_range[1] - cut_range[0] + 1) if cut_range else None,
    )


class _Prefix(io.RawIOBase):
    """The first `limit` bytes of an open file, for evtx-rs (PyEvtxParser takes a file-like
    object), so that a cut chunk is never handed to the parser."""

    def __init__(self, fh: BinaryIO, limit: int) -> None:
        super().__init__()
        self._fh = fh
        self._limit = limit
        self._pos = 0

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        n = min(len(buffer), self._limit - self._pos)
        if n <= 0:
            return 0
        self._fh.seek(self._pos)
        got = self._fh.readinto(memoryview(buffer)[:n])  # type: ignore[attr-defined]
        self._pos += got
        return int(got)

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: 0, io.SEEK_CUR: self._pos, io.SEEK_END: self._limit}[whence]
        self._pos = max(0, base + offset)
        return self._pos

    def tell(self) -> int:
        return self._pos


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _field(xml: str, open_tag: str, start: int) -> str | None:
    """Text between `open_tag` (searched from `start`) and the next '<'; None if absent."""
    i = xml.find(open_tag, start)
    if i < 0:
        return None
    i += len(open_tag)
    return xml[i:xml.find("<", i)]


@dataclass
class _Scan:
    events_total: int = 0
    sysmon_eid1: int = 0
    first: str | None = None
    last: str | None = None
    hours_4688: Counter[str] = field(default_factory=Counter)  # "YYYY-MM-DDTHH" -> count
    hours_sysmon: Counter[str] = field(default_factory=Counter)
    versions: Counter[int] = field(default_factory=Counter)
    computers: Counter[str] = field(default_factory=Counter)
    first_computer: str | None = None
    first_channel: str | None = None
    sizes: list[int] = field(default_factory=list)
    cmdline_lengths: list[int] = field(default_factory=list)  # per 4688, 0 when empty or absent
    process_names: list[str] = field(default_factory=list)
    sample: list[str] = field(default_factory=list)
    unparsed: int = 0
    error_count: int = 0
    first_error: str | None = None


_PROVIDER_OPEN = '<Provider Name="'
_EVENT_ID_OPEN = "<EventID"
_SYSTEM_TIME_OPEN = 'SystemTime="'


def _scan(parser: evtx.PyEvtxParser, sample_size: int, rng: random.Random) -> _Scan:
    """One pass over the records. This runs for every record of a log, so it is written for
    speed: str.find on evtx-rs's fixed layout (about twice as fast as one regex per record),
    locals instead of attributes, and a plain for loop that is re-entered after a damaged record."""
    s = _Scan()
    it = parser.records()
    consecutive_errors = 0
    total = 0
    first = "~"  # sorts after any "YYYY-..." time
    last = ""
    hours_sysmon = s.hours_sysmon
    while True:
        try:
            for record in it:
                consecutive_errors = 0
                if record is None:
                    continue
                xml: str = record["data"]
                total += 1
                i = xml.find(_PROVIDER_OPEN)
                j = xml.find('"', i + 16)
                k = xml.find(_EVENT_ID_OPEN, j)
                k2 = xml.find(">", k)
                k3 = xml.find("<", k2)
                t = xml.find(_SYSTEM_TIME_OPEN, k3)
                t2 = xml.find('"', t + 12)
                if i < 0 or k < 0 or t < 0 or t2 < 0:
                    s.unparsed += 1
                    continue
                when = xml[t + 12:t2]
                if len(when) != _CANONICAL_TIME_LEN:
                    try:
                        when = _canonical_time(when)
                    except ValueError:
                        s.unparsed += 1
                        continue
                if when < first:
                    first = when
                if when > last:
                    last = when
                event_id = xml[k2 + 1:k3]
                if event_id == "4688":
                    if xml[i + 16:j] == SECURITY_AUDITING_PROVIDER:
                        _take_4688(s, xml, when, t2, sample_size, rng)
                elif event_id == "1" and xml[i + 16:j] == SYSMON_PROVIDER:
                    hours_sysmon[when[:13]] += 1
                if total == 1:
                    s.first_computer = _field(xml, "<Computer>", t2)
                    s.first_channel = _field(xml, "<Channel>", t2)
            break
        except Exception as exc:  # evtx-rs raises per damaged record/chunk (evtx-data.md §2.3 trap 5)
            s.error_count += 1
            if s.first_error is None:
                s.first_error = _first_line(exc)
            consecutive_errors += 1
            if consecutive_errors >= MAX_CONSECUTIVE_RECORD_ERRORS:
                break
    s.events_total = total
    s.sysmon_eid1 = sum(hours_sysmon.values())
    if last:
        s.first, s.last = first, last
    return s


def _take_4688(s: _Scan, xml: str, when: str, pos: int, sample_size: int, rng: random.Random) -> None:
    s.hours_4688[when[:13]] += 1
    version = _field(xml, "<Version>", 0)
    s.versions[int(version) if version and version.isdigit() else -1] += 1
    computer = _field(xml, "<Computer>", pos)
    if computer is not None:
        s.computers[computer] += 1
    s.sizes.append(len(xml) if xml.isascii() else len(xml.encode("utf-8")))
    cmdline = _field(xml, '<Data Name="CommandLine">', pos) or ""
    if "&" in cmdline:
        cmdline = html.unescape(cmdline)
    s.cmdline_lengths.append(len(cmdline))
    name = _field(xml, '<Data Name="NewProcessName">', pos) or ""
    s.process_names.append(html.unescape(name) if "&" in name else name)
    # Reservoir sampling (Algorithm R): every 4688 has the same chance to be kept.
    seen = len(s.sizes)
    if len(s.sample) < sample_size:
        s.sample.append(xml)
    elif sample_size:
        j = rng.randrange(seen)
        if j < sample_size:
            s.sample[j] = xml


def _data(xml: str, name: str) -> str | None:
    """An EventData field's text (entities decoded); "" when empty, None when absent."""
    i = xml.find(f'<Data Name="{name}"')
    if i < 0:
        return None
    i = xml.find(">", i)
    if xml[i - 1] == "/":
        return ""
    value = xml[i + 1:xml.find("<", i)]
    return html.unescape(value) if "&" in value else value


def _sampled_event(xml: str, redacted: dict[str, tuple[str, int]]) -> SampledEvent | None:
    """One sampled 4688 as a SampledEvent, CommandLine redacted (`redacted` caches per file:
    real logs repeat the same command lines many times)."""
    when_text = _field(xml, _SYSTEM_TIME_OPEN, 0)
    version = _field(xml, "<Version>", 0)
    if when_text is None:
        return None
    try:
        when = _parse_time(when_text.split('"', 1)[0])
    except ValueError:
        return None
    raw_cmdline = _data(xml, "CommandLine")
    command_line: str | None = None
    secrets_found = 0
    if raw_cmdline is not None:
        if raw_cmdline not in redacted:
            redacted[raw_cmdline] = redact(raw_cmdline) if raw_cmdline else ("", 0)
        command_line, secrets_found = redacted[raw_cmdline]
    return SampledEvent(
        time=when,
        event_id=EVENT_ID_PROCESS_CREATION,
        version=int(version) if version and version.isdigit() else None,
        new_process_name=_data(xml, "NewProcessName"),
        parent_process_name=_data(xml, "ParentProcessName") or None,
        subject_user_name=_data(xml, "SubjectUserName"),
        command_line=command_line,
        size_bytes=len(xml.encode("utf-8")),
        secrets_found=secrets_found,
    )


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
        file_bytes = _check_file(path, max_file_bytes)
        with path.open("rb") as fh:
            cut = find_truncation(fh, file_bytes)
            if cut is None:
                parser = evtx.PyEvtxParser(str(path))
            elif cut.chunks_kept == 0:
                return _failed(path, host_name, file_bytes, NO_RECORDS_ERROR, cut)
            else:
                parser = evtx.PyEvtxParser(_Prefix(fh, cut.kept_bytes))
            try:
                s = _scan(parser, sample_size, random.Random(seed))
            except Exception as exc:  # anything the parser throws past the per-record guard
                return _failed(path, host_name, file_bytes, f"parse failed: {_first_line(exc)}", cut)
    except EvtxIngestError as exc:
        return _failed(path, host_name, file_bytes, str(exc))
    except Exception as exc:  # evtx-rs raises OSError subclasses for unreadable headers
        return _failed(path, host_name, file_bytes, f"not readable as EVTX: {_first_line(exc)}")
    return _outcome(path, host_name, role, file_bytes, s, cut)


def _failed(path: Path, host: str | None, file_bytes: int | None, why: str,
            truncation: Truncation | None = None) -> IngestOutcome:
    warnings = () if truncation is None else (truncation.describe(str(path)),)
    return IngestOutcome(FileSummary(file=str(path), host=host, computer_name=None, file_bytes=file_bytes,
                                     warnings=warnings, error=why, truncation=truncation), None)


def _outcome(
    path: Path, host_name: str | None, role: str | None, file_bytes: int | None, s: _Scan,
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
    first = _parse_time(s.first) if s.first else None
    last = _parse_time(s.last) if s.last else None
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
    if first is not None and last is not None:
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
            security_events_per_hour=(s.events_total / span_hours if s.first_channel == SECURITY_CHANNEL
                                      and last > first else None),
            boot_only=boot_only,
        )

    redacted: dict[str, tuple[str, int]] = {}
    events = tuple(e for e in (_sampled_event(x, redacted) for x in s.sample) if e is not None)
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
