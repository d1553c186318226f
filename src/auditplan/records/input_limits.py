"""Reading a file a user hands us (plan.json, a credentials JSON, a config or fleet TOML, a hosts list):
bounded in size and nesting, finite numbers only, one-line errors that name the file.

Python's own parsers recurse once per level of nesting, so `[[[[...]]]]` a few thousand deep ends in
a RecursionError traceback; a FIFO or /dev/zero is read forever; JSON's NaN and Infinity and TOML's
nan and inf load as floats that later arithmetic turns into nonsense. Everything here is checked
before (size, kind of file, JSON nesting) or right after (TOML nesting, non-finite numbers) parsing,
so a caller gets a plain value or an InputLimitError.
"""

from __future__ import annotations

import json
import math
import os
import re
import stat
import tomllib
from io import FileIO, RawIOBase
from itertools import accumulate
from pathlib import Path
from typing import Any, Final

MIB: Final = 1024 * 1024
MAX_DEPTH: Final = 32  # no auditplan input nests deeper than 6; 32 leaves room and stays far from recursion
JSON_MAX_BYTES: Final = 512 * MIB  # plan.json at 100,000 hosts is about 35 MB
SMALL_MAX_BYTES: Final = 16 * MIB  # credentials JSON, config TOML, fleet TOML: a few KB in practice
HOSTS_MAX_BYTES: Final = 64 * MIB  # a hosts list: 64 MB is over a million hosts

# A JSON string (escapes included), unrolled so that the regex engine does not backtrack per character.
_JSON_STRING: Final = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.S)
_NOT_BRACKET: Final = re.compile(r"[^\[\]{}]+")


class InputLimitError(ValueError):
    """A user's file is too large, nested too deeply, not a regular file, not parseable, or holds a
    number that is not finite. The message is one line and names the file (and the key, if any)."""


class CappedReader(RawIOBase):
    """A raw stream (a pipe, say) that raises `error` once more than `limit` bytes were read from it."""

    def __init__(self, raw: FileIO, limit: int, error: Exception) -> None:
        self._raw, self._limit, self._error, self._total = raw, limit, error, 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer) or 0
        self._total += n
        if self._total > self._limit:
            raise self._error
        return n

    def close(self) -> None:
        self._raw.close()
        super().close()


def _size_text(n: int) -> str:
    return f"{n // MIB} MB" if n >= MIB else f"{n} bytes"


def read_bytes_limited(path: Path, max_bytes: int, *, what: str = "file") -> bytes:
    """The bytes of `path`, refusing what is not a regular file (a FIFO, /dev/zero, a folder) and
    anything over `max_bytes` (checked before reading and again while reading: a file can grow)."""
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_BINARY", 0))
    except OSError as exc:
        raise InputLimitError(f"{path}: cannot read: {exc.strerror or exc}") from None
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            raise InputLimitError(f"{path}: cannot read: Is a directory")
        if not stat.S_ISREG(info.st_mode):
            raise InputLimitError(f"{path}: not a regular file (a device, FIFO or socket); give a {what}")
        if info.st_size > max_bytes:
            raise InputLimitError(f"{path}: {_size_text(info.st_size)} is over the {_size_text(max_bytes)} limit "
                                  f"for a {what}")
        chunks: list[bytes] = []
        total = 0
        while True:
            chunk = os.read(fd, min(MIB, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise InputLimitError(f"{path}: over the {_size_text(max_bytes)} limit for a {what}")
        return b"".join(chunks)
    except OSError as exc:
        raise InputLimitError(f"{path}: cannot read: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def read_text_limited(path: Path, max_bytes: int, *, what: str = "file") -> str:
    """read_bytes_limited, decoded as UTF-8 (a leading BOM, as Notepad writes it, is dropped)."""
    data = read_bytes_limited(path, max_bytes, what=what)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputLimitError(f"{path}: not UTF-8 (byte {exc.start})") from None


def json_depth(text: str) -> int:
    """How deeply the arrays and objects of a JSON text nest (0 for a scalar). Strings are removed
    first, so brackets inside them do not count; malformed text gives some number, and json.loads
    then names the error."""
    brackets = _NOT_BRACKET.sub("", _JSON_STRING.sub("", text))
    return max(accumulate(1 if c in "[{" else -1 for c in brackets), default=0)


class _NotFinite(ValueError):
    pass


def _not_finite(constant: str) -> float:
    raise _NotFinite(constant)


def loads_json(text: str, where: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """json.loads with the nesting bounded and NaN/Infinity refused; InputLimitError naming `where`."""
    depth = json_depth(text)
    if depth > max_depth:
        raise InputLimitError(f"{where}: nested {depth} levels deep; the limit is {max_depth}")
    try:
        return json.loads(text, parse_constant=_not_finite)
    except json.JSONDecodeError as exc:
        raise InputLimitError(f"{where}: not JSON: line {exc.lineno} column {exc.colno}: {exc.msg}") from None
    except RecursionError:  # the scan above should make this unreachable; never a traceback
        raise InputLimitError(f"{where}: nested too deeply; the limit is {max_depth}") from None
    except _NotFinite as exc:
        raise InputLimitError(f"{where}: holds {exc}: NaN or Infinity, which JSON does not allow") from None
    except ValueError as exc:  # NaN/Infinity, or an integer with more digits than Python converts
        raise InputLimitError(f"{where}: not JSON auditplan accepts: {exc}") from None


def load_json(path: Path, *, max_bytes: int = JSON_MAX_BYTES, max_depth: int = MAX_DEPTH,
              what: str = "JSON file") -> Any:
    """A JSON file read with read_text_limited and loads_json."""
    return loads_json(read_text_limited(path, max_bytes, what=what), str(path), max_depth=max_depth)


def _key(key: object) -> str:
    """A key as it may appear in a one-line message: printable as is, else escaped (ascii())."""
    text = str(key)
    return text if text.isprintable() and text.isascii() else ascii(text)


def check_toml_values(doc: dict[str, Any], where: str, *, max_depth: int = MAX_DEPTH) -> None:
    """Refuse a parsed TOML document nested over `max_depth` or holding nan/inf (TOML allows both).
    Iterative, so a document that tomllib could still parse cannot exhaust the stack here."""
    stack: list[tuple[str, Any, int]] = [("", doc, 0)]
    while stack:
        key, value, depth = stack.pop()
        if depth > max_depth:
            raise InputLimitError(f"{where}: {key}: nested over {max_depth} levels deep")
        if isinstance(value, float) and not math.isfinite(value):
            raise InputLimitError(f"{where}: {key}: {value} is not a finite number")
        if isinstance(value, dict):
            stack += [(f"{key}.{_key(k)}" if key else _key(k), v, depth + 1) for k, v in value.items()]
        elif isinstance(value, list):
            stack += [(f"{key}[{i}]", v, depth + 1) for i, v in enumerate(value)]


def loads_toml(text: str, where: str, *, max_depth: int = MAX_DEPTH) -> dict[str, Any]:
    """tomllib.loads with nesting bounded and nan/inf refused; InputLimitError naming `where`."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise InputLimitError(f"{where}: TOML syntax error: {exc}") from None
    except RecursionError:  # tomllib recurses per nested inline table or array
        raise InputLimitError(f"{where}: nested too deeply; the limit is {max_depth}") from None
    check_toml_values(doc, where, max_depth=max_depth)
    return doc


def load_toml(path: Path, *, max_bytes: int = SMALL_MAX_BYTES, max_depth: int = MAX_DEPTH,
              what: str = "TOML file") -> dict[str, Any]:
    """A TOML file read with read_text_limited and loads_toml."""
    return loads_toml(read_text_limited(path, max_bytes, what=what), str(path), max_depth=max_depth)
