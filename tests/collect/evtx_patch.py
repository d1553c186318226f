"""Damage a real EVTX file the way a bad sector or a broken clock would: rewrite the TimeCreated of
chosen records. python-evtx (an independent parser) finds each record's SystemTime FILETIME in its
substitution array; the 8 bytes are replaced in a copy of the file. Chunk checksums are left as they
were, as a damaged file would have them (evtx-rs reads records without checking them)."""

from __future__ import annotations

import struct
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from Evtx.Evtx import Evtx
from Evtx.Nodes import FiletimeTypeNode

FILETIME_EPOCH = datetime(1601, 1, 1, tzinfo=UTC)


def filetime(when: datetime) -> int:
    return int((when - FILETIME_EPOCH).total_seconds() * 10**7)


def with_times(source: Path, target: Path, times: Mapping[int, datetime]) -> Path:
    """A copy of `source` where the record at each index (0-based, file order) has the given time."""
    data = bytearray(source.read_bytes())
    with Evtx(str(source)) as fh:
        records = [rec for chunk in fh.chunks() for rec in chunk.records()]
        for index, when in times.items():
            node = next(s for s in records[index].root().substitutions() if isinstance(s, FiletimeTypeNode))
            struct.pack_into("<Q", data, node.offset(), filetime(when))
    target.write_bytes(bytes(data))
    return target
