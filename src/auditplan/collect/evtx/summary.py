"""What one .evtx file held, as `auditplan ingest` reports it (FileSummary), and the per-file
outcome of reading it (IngestOutcome: the summary and, when it could be read, the HostResult)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from auditplan.collect.evtx.file import Truncation, truncation_warning
from auditplan.records import HostResult


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

