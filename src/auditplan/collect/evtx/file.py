"""An .evtx file's frame, read without evtx-rs: is it EVTX at all, and was it cut short?

An EVTX file is a 4,096-byte header plus whole 65,536-byte chunks; any other size means the file was
cut short. Such a file still ingests: its complete chunks are read (`Prefix` hands evtx-rs only
those) and the cut is reported (see `Truncation`).
"""

from __future__ import annotations

import io
import struct
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

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


class EvtxIngestError(Exception):
    """A file could not be read as EVTX; the message says why."""



def check_file(path: Path, max_file_bytes: int) -> int:
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


class Prefix(io.RawIOBase):
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


