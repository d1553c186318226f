"""Read the host inventory: a plain hosts file or a CSV with a header row, into Host records.

hosts.txt: one entry per line: `name`, `name:port`, an IPv4 address (optionally `:port`),
`[IPv6]` or `[IPv6]:port`; `#` starts a comment at the start of a line or after whitespace.
CSV: detected by a first line whose cells include `host` (any case); see CSV_COLUMNS. Cells are
separated by `,` or, as Excel writes CSV on German and French systems, by `;`. Both checks read the
first line without its `#` comment. A first line with either separator but no `host` cell is
neither a plain entry (names cannot hold them) nor a usable header: when the next content line
has the same separator it is reported once as a header without a host column and the file is
not read further; otherwise it is one bad entry and the rest is read as a plain list.

The file is untrusted input. Every line is checked on its own; a bad line becomes an
InventoryError naming file and line, and the rest of the file is still read. Lines longer
than MAX_LINE_BYTES are skipped without being held in memory. Duplicate names (compared
case-insensitively, as Windows compares computer names) are merged into the first entry.

`read_exclude` reads the other host list, `auditplan plan --exclude`: names only, one per line.
"""

from __future__ import annotations

import codecs
import csv
import ipaddress
import os
import re
import stat
import urllib.parse
from collections.abc import Iterator
from dataclasses import dataclass, replace
from io import BufferedReader, BytesIO
from pathlib import Path
from typing import Any, BinaryIO

from auditplan.records import Host
from auditplan.records.input_limits import HOSTS_MAX_BYTES, CappedReader
from auditplan.text import CONTROL_EXCEPT_TAB, escaped, quoted

# A host entry plus a full CSV row fits easily; anything longer is hostile or a wrong file.
MAX_LINE_BYTES = 8192
# UTF-16 files are re-encoded in memory (no streaming decoder for split lines); bound that.
MAX_UTF16_BYTES = 64 << 20
# An --exclude file is read whole; anything this large is not a list of host names.
EXCLUDE_MAX_BYTES = 16 << 20
# RFC 1035 §2.3.4 / RFC 1123 §2.1: labels of 1-63 letters, digits and hyphens, not starting
# or ending with a hyphen; a name of at most 253 characters (255 octets on the wire).
MAX_LABEL_LENGTH = 63
MAX_NAME_LENGTH = 253
# WinRM HTTP/HTTPS listeners default to 5985/5986, but any TCP port is valid.
MIN_PORT = 1
MAX_PORT = 65535

TRANSPORTS = ("ntlm", "basic", "kerberos", "credssp", "certificate")
SCHEMES = ("http", "https")
CSV_COLUMNS = ("host", "address", "role", "site", "group", "port", "transport", "scheme", "tags")
TAG_SEPARATOR = ";"  # inside the tags cell (quote the cell in a ;-separated file)
CSV_DELIMITERS = (",", ";")
COMMENT = "#"

_UTF8_BOM = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)
_LABEL = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\Z")
_LABEL_CHARS = re.compile(r"[A-Za-z0-9-]+\Z")
_DOTTED_NUMERIC = re.compile(r"[0-9.]+\Z")
_BRACKETED = re.compile(r"\[([^\]]*)\](?::(.*))?\Z")
# Fast paths: a whole valid name / dotted-quad in one regex; the slow path explains failures.
_LABEL_PATTERN = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_NAME = re.compile(rf"{_LABEL_PATTERN}(?:\.{_LABEL_PATTERN})*\Z")
_OCTET = r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])"
_IPV4 = re.compile(rf"{_OCTET}(?:\.{_OCTET}){{3}}\Z")
_SPACE = re.compile(r"\s")
_TRAILING_COMMENT = re.compile(r"\s#")
_LINE_END = re.compile(r"\r\n|\r|\n")


class InventoryError(Exception):
    """A problem with one line (or the whole file when `line` is None): "hosts.txt:12: reason"."""

    def __init__(self, file: str, line: int | None, reason: str) -> None:
        super().__init__(file, line, reason)
        self.file = file
        self.line = line
        self.reason = reason

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        return f"{where}: {self.reason}"

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, InventoryError):
            return NotImplemented
        return (self.file, self.line, self.reason) == (other.file, other.line, other.reason)

    def __hash__(self) -> int:
        return hash((self.file, self.line, self.reason))


@dataclass(frozen=True)
class Inventory:
    """What a hosts file yielded. An empty `hosts` always comes with an error saying why."""

    hosts: tuple[Host, ...]
    errors: tuple[InventoryError, ...] = ()
    warnings: tuple[str, ...] = ()


class _LineError(ValueError):
    """A reason why one entry is unusable; becomes an InventoryError with file and line."""


def _check_port(text: str) -> int:
    if text == "":
        raise _LineError("empty port after ':'")
    if not text.isascii() or not text.isdigit():
        raise _LineError(f"port {quoted(text)} is not a number")
    port = int(text)
    if not MIN_PORT <= port <= MAX_PORT:
        raise _LineError(f"port {port} is out of range {MIN_PORT}-{MAX_PORT}")
    return port


def _check_ipv6(text: str) -> str:
    if "%" in text:
        # A zone ID would need %25-escaping in the WS-Man URL and means nothing off-link.
        raise _LineError(f"{quoted(text)}: IPv6 zone IDs (%...) are not supported")
    try:
        return ipaddress.IPv6Address(text).compressed
    except ValueError:
        raise _LineError(f"{quoted(text)} is not a valid IPv6 address") from None


def _check_name(text: str) -> str:
    """A DNS name (FQDN or single label, which covers NetBIOS-style names) or an IPv4 address."""
    if text == "":
        raise _LineError("empty host name")
    if _IPV4.match(text):
        return text
    if _DOTTED_NUMERIC.match(text):
        try:
            return str(ipaddress.IPv4Address(text))
        except ValueError:
            # RFC 1123 §2.1: a top-level label is never all-numeric, so this meant an address.
            raise _LineError(f"{quoted(text)} is not a valid IPv4 address") from None
    if not text.isascii():
        raise _LineError(f"{quoted(text)} has non-ASCII characters; use the punycode (xn--) form")
    name = text[:-1] if text.endswith(".") else text  # a trailing dot marks an absolute FQDN
    if len(name) <= MAX_NAME_LENGTH and _NAME.match(name):
        return name
    if len(name) > MAX_NAME_LENGTH:
        raise _LineError(f"host name is {len(name)} characters, longer than {MAX_NAME_LENGTH}")
    for label in name.split("."):
        if label == "":
            raise _LineError(f"{quoted(text)} has an empty label")
        if len(label) > MAX_LABEL_LENGTH:
            raise _LineError(
                f"label {quoted(label)} is {len(label)} characters, longer than {MAX_LABEL_LENGTH}"
            )
        if not _LABEL.match(label):
            if _LABEL_CHARS.match(label):
                raise _LineError(f"label {quoted(label)} starts or ends with a hyphen")
            bad = next(c for c in label if not (c.isascii() and (c.isalnum() or c == "-")))
            raise _LineError(
                f"{quoted(text)} has the character {bad!r}; DNS host names allow letters, digits, hyphens "
                "and dots between labels (give the DNS name or the IP address)"
            )
    return name


def _refuse_url(text: str, *, column: bool = False) -> None:
    """A URL where a host belongs (a pasted WinRM endpoint): say so, with the host to write instead
    (`column`: a CSV address cell, whose port goes in the port column)."""
    if "://" not in text and "/" not in text:
        return
    parsed = urllib.parse.urlsplit(text if "://" in text else f"//{text}")
    try:
        host, port = parsed.hostname or "", parsed.port
    except ValueError:
        host, port = "", None
    if not host:
        hint = "write the host name alone"
    elif port is None:
        hint = f"write {host}"
    else:
        hint = f"write {host} and {port} in the port column" if column else f"write {host}:{port}"
    raise _LineError(f"{quoted(text)} is a URL, not a host: {hint} (the survey builds the WinRM URL itself)")


def host_name_problem(text: str) -> str | None:
    """Why `text` is not a host name a hosts file would accept (a DNS name or IPv4 address), or None."""
    try:
        _check_name(text)
    except _LineError as exc:
        return str(exc)
    return None


def _check_address(text: str) -> str:
    """A connectable address without a port: a name, IPv4, bare or bracketed IPv6."""
    _refuse_url(text, column=True)
    if _SPACE.search(text):
        raise _LineError(f"{quoted(text)} has spaces inside")
    bracketed = _BRACKETED.match(text)
    if bracketed:
        if bracketed.group(2) is not None:
            raise _LineError("put the port in the port column, not in the address")
        return _check_ipv6(bracketed.group(1))
    if text.count(":") >= 2:
        return _check_ipv6(text)
    if ":" in text:
        raise _LineError("put the port in the port column, not in the address")
    return _check_name(text)


def _split_bare_ipv6(text: str) -> str:
    """A bare IPv6 entry, accepted only when its last group cannot be read as a port."""
    address = _check_ipv6(text)
    head, _, tail = text.rpartition(":")
    if tail.isascii() and tail.isdigit() and MIN_PORT <= int(tail) <= MAX_PORT:
        try:
            ipaddress.IPv6Address(head)
        except ValueError:
            return address
        raise _LineError(
            f"{quoted(text)} is ambiguous: write [{head}]:{tail} for a port, or [{text}] for the address"
        )
    return address


def _parse_plain_entry(entry: str) -> tuple[str, int | None]:
    """`name`, `name:port`, IPv4[:port], `[IPv6]`, `[IPv6]:port` or an unambiguous bare IPv6."""
    _refuse_url(entry)
    if _SPACE.search(entry):
        raise _LineError(f"{quoted(entry)} has spaces inside; one host per line")
    bracketed = _BRACKETED.match(entry)
    if bracketed:
        address = _check_ipv6(bracketed.group(1))
        port_text = bracketed.group(2)
        return address, None if port_text is None else _check_port(port_text)
    if entry.startswith("["):
        raise _LineError(f"{quoted(entry)}: unbalanced '[' (IPv6 is written [address] or [address]:port)")
    if entry.count(":") >= 2:
        return _split_bare_ipv6(entry), None
    name, colon, port_text = entry.partition(":")
    return _check_name(name), _check_port(port_text) if colon else None


def _strip_comment(text: str) -> str:
    """Drop a `#` comment that starts the line or follows whitespace."""
    if text.lstrip().startswith(COMMENT):
        return ""
    found = _TRAILING_COMMENT.search(text)
    return text if found is None else text[: found.start()]


def _control_character(text: str) -> str | None:
    # TAB is blank space in an input file; every other control or invisible character is refused.
    found = CONTROL_EXCEPT_TAB.search(text)
    return None if found is None else f"U+{ord(found.group()):04X}"


def _read_lines(stream: BinaryIO) -> Iterator[tuple[int, bytes | None]]:
    """(line number, raw line without EOL) or (line number, None) for an over-long line."""
    number = 0
    while True:
        raw = stream.readline(MAX_LINE_BYTES + 2)  # room for CR LF
        if not raw:
            return
        number += 1
        complete = raw.endswith(b"\n")
        body = raw[:-1] if complete else raw
        body = body[:-1] if body.endswith(b"\r") else body
        if len(body) > MAX_LINE_BYTES:
            # Drain the rest of the line in bounded chunks so memory stays flat.
            while not complete:
                chunk = stream.readline(1 << 16)
                if not chunk:
                    break
                complete = chunk.endswith(b"\n")
            yield number, None
            continue
        yield number, body


class _Builder:
    """Collects hosts, errors and warnings; merges duplicates into the first entry."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.hosts: dict[str, Host] = {}
        self.first_line: dict[str, int] = {}
        self.errors: list[InventoryError] = []
        self.warnings: list[str] = []

    def error(self, line: int | None, reason: str) -> None:
        self.errors.append(InventoryError(self.file, line, reason))

    def warn(self, line: int | None, message: str) -> None:
        where = self.file if line is None else f"{self.file}:{line}"
        self.warnings.append(f"{where}: {message}")

    def add(self, line: int, host: Host) -> None:
        key = host.name.casefold()
        first = self.hosts.get(key)
        if first is None:
            self.hosts[key] = host
            self.first_line[key] = line
            return
        merged, conflicts = _merge(first, host)
        self.hosts[key] = merged
        message = f"duplicate of line {self.first_line[key]} ({first.name}), merged"
        if conflicts:
            message += "; kept the first " + ", ".join(conflicts)
        self.warn(line, message)

    def result(self) -> Inventory:
        if not self.hosts:
            self.error(None, "no hosts found")
        return Inventory(tuple(self.hosts.values()), tuple(self.errors), tuple(self.warnings))


_MERGED_FIELDS = ("address", "port", "transport", "scheme", "role", "site", "group")


def _merge(first: Host, later: Host) -> tuple[Host, list[str]]:
    """The first entry, with blanks filled from the later one and tags united."""
    changes: dict[str, object] = {}
    conflicts: list[str] = []
    for name in _MERGED_FIELDS:
        mine, theirs = getattr(first, name), getattr(later, name)
        if name == "address":
            # An address equal to the name is the default, not a choice the user made.
            mine = None if mine == first.name else mine
            theirs = None if theirs == later.name else theirs
        if mine is None and theirs is not None:
            changes[name] = theirs
        elif mine is not None and theirs is not None and mine != theirs:
            conflicts.append(f"{name} {mine!s} (ignored {theirs!s})")
    tags = first.tags + tuple(t for t in later.tags if t not in first.tags)
    if tags != first.tags:
        changes["tags"] = tags
    return (replace(first, **changes) if changes else first), conflicts  # type: ignore[arg-type]


def _decode(raw: bytes) -> str:
    if b"\x00" in raw:
        raise _LineError("contains a NUL byte; skipped (is the file UTF-16 without a BOM?)")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        shown = quoted(raw.decode("utf-8", errors="replace"))
        raise _LineError(f"not valid UTF-8 at byte {exc.start + 1}: {shown}; skipped") from None
    control = _control_character(text)
    if control is not None:
        raise _LineError(f"contains the control or invisible character {control}; skipped")
    return text


def _csv_header_delimiter(text: str) -> str | None:
    """The separator of a CSV header row (one of its cells is `host`), else None."""
    for delimiter in CSV_DELIMITERS:
        if any(cell.strip().casefold() == "host" for cell in next(csv.reader([text], delimiter=delimiter), [])):
            return delimiter
    return None


def _headerless_csv_delimiter(entry: str) -> str | None:
    """The separator a first entry holding `,` or `;` (never part of a host entry) seems to use."""
    found = [d for d in CSV_DELIMITERS if d in entry]
    return max(found, key=entry.count) if found else None


def _headerless_csv_reason(entry: str, delimiter: str) -> str:
    """Why a first entry that looks like a header row without a host column stops the file."""
    return (
        f"{quoted(entry)} looks like a CSV header row (cells separated by {delimiter!r}) but has no 'host' "
        f"column: name the column of host names 'host' (columns: {', '.join(CSV_COLUMNS)}), e.g. "
        f"host{delimiter}role{delimiter}site; a plain hosts file has one host per line. File not read further"
    )


class _CsvReader:
    def __init__(self, builder: _Builder, header_line: int, header: str, delimiter: str = ",") -> None:
        self.builder = builder
        self.delimiter = delimiter
        self.columns: dict[str, int] = {}
        for index, cell in enumerate(next(csv.reader([header], delimiter=delimiter))):
            column = cell.strip().casefold()
            if column in self.columns:
                builder.warn(header_line, f"column {quoted(column)} appears twice; using the first")
            elif column not in CSV_COLUMNS:
                builder.warn(header_line, f"unknown column {quoted(cell.strip())} ignored")
            else:
                self.columns[column] = index
        self.width = len(next(csv.reader([header], delimiter=delimiter)))
        if self.width == 1:
            # A lone "host" is also what a plain list whose first computer is named host looks like.
            builder.warn(
                header_line,
                "'host' read as the header of a one-column CSV; if it is a computer named host, "
                "write it as 'host.' (a trailing dot is allowed)",
            )

    def row(self, line: int, text: str) -> Host:
        try:
            cells = next(csv.reader([text], delimiter=self.delimiter, strict=True))
        except csv.Error as exc:
            raise _LineError(f"bad CSV: {exc}") from None
        if len(cells) > self.width and any(c.strip() for c in cells[self.width :]):
            hint = ""
            if self.delimiter == TAG_SEPARATOR and "tags" in self.columns:
                hint = (
                    f"; in a {TAG_SEPARATOR!r}-separated file quote a tags cell that holds "
                    f'{TAG_SEPARATOR!r}, e.g. "a;b"'
                )
            raise _LineError(f"{len(cells)} cells but the header has {self.width} columns{hint}")

        values = {column: cells[index].strip() for column, index in self.columns.items() if index < len(cells)}

        def cell(column: str) -> str | None:
            return values.get(column) or None

        host_text = cell("host")
        if host_text is None:
            raise _LineError("the host cell is empty")
        name = _check_address(host_text)
        address_text = cell("address")
        address = name if address_text is None else _check_address(address_text)
        port_text = cell("port")
        transport = _choice(cell("transport"), "transport", TRANSPORTS)
        scheme = _choice(cell("scheme"), "scheme", SCHEMES)
        tags_text = cell("tags") or ""
        tags = tuple(dict.fromkeys(t.strip() for t in tags_text.split(TAG_SEPARATOR) if t.strip()))
        return Host(
            name=name,
            address=address,
            port=None if port_text is None else _check_port(port_text),
            transport=transport,
            scheme=scheme,
            role=cell("role"),
            site=cell("site"),
            group=cell("group"),
            tags=tags,
            source=f"{self.builder.file}:{line}",
        )


def _choice(value: str | None, column: str, allowed: tuple[str, ...]) -> str | None:
    if value is None:
        return None
    if value.casefold() not in allowed:
        raise _LineError(f"{column} {quoted(value)} is not one of {', '.join(allowed)}")
    return value.casefold()


def _lines_of(stream: BufferedReader[Any], builder: _Builder) -> Iterator[tuple[int, bytes | None]]:
    # peek, not seek: the hosts file may be a pipe, e.g. bash's <(grep ... hosts.txt).
    head = stream.peek(4)[:4]
    if head.startswith(_UTF16_BOMS):
        # Notepad's "Unicode" is UTF-16 with a BOM; re-encode it and read it like any other file.
        encoding = "utf-16-le" if head.startswith(codecs.BOM_UTF16_LE) else "utf-16-be"
        data = stream.read(MAX_UTF16_BYTES + 1)
        if len(data) > MAX_UTF16_BYTES:
            raise InventoryError(
                builder.file, None, f"UTF-16 file larger than {MAX_UTF16_BYTES >> 20} MiB; save it as UTF-8"
            )
        text = data[2:].decode(encoding, errors="replace")
        if "\ufffd" in text:
            builder.warn(None, f"not valid {encoding.upper()}: undecodable bytes shown as U+FFFD")
        yield from _read_lines(BytesIO(text.encode("utf-8", errors="replace")))
        return
    if head.startswith(_UTF8_BOM):
        stream.read(len(_UTF8_BOM))
    yield from _read_lines(stream)


def load_inventory(path: Path) -> Inventory:
    """Read a hosts file or CSV. Raises InventoryError only when the file cannot be opened."""
    file = str(path)
    builder = _Builder(file)
    try:
        source = path.open("rb", buffering=0)
    except IsADirectoryError:
        raise InventoryError(file, None, "is a directory, not a hosts file") from None
    except FileNotFoundError:
        raise InventoryError(file, None, "no such file") from None
    except OSError as exc:
        raise InventoryError(file, None, f"cannot read: {exc.strerror or exc}") from None
    # A device (`survey /dev/zero`) would be read forever: refused. A pipe (bash's <(...)) is read,
    # but no further than a file may be long; 64 MB holds over a million hosts.
    info = os.fstat(source.fileno())
    if stat.S_ISCHR(info.st_mode) or stat.S_ISBLK(info.st_mode) or stat.S_ISSOCK(info.st_mode):
        source.close()
        raise InventoryError(file, None, "a device, not a hosts file")
    if info.st_size > HOSTS_MAX_BYTES:
        source.close()
        raise InventoryError(file, None, f"{info.st_size >> 20} MB is over the {HOSTS_MAX_BYTES >> 20} MB limit "
                                         "for a hosts file")
    over = InventoryError(file, None, f"over the {HOSTS_MAX_BYTES >> 20} MB limit for a hosts file")
    stream: BufferedReader[Any] = BufferedReader(CappedReader(source, HOSTS_MAX_BYTES, over))
    csv_reader: _CsvReader | None = None
    seen_content = False
    # A first entry with a separator but no host cell: (line, entry, separator) until the next
    # content line shows whether the file is a CSV without a host column or a plain list.
    pending: tuple[int, str, str] | None = None
    with stream:
        try:
            for line, raw in _lines_of(stream, builder):
                if raw is None:
                    builder.error(line, f"line is longer than {MAX_LINE_BYTES} bytes; skipped")
                    continue
                try:
                    text = _decode(raw)
                    if not text.strip() or text.lstrip().startswith(COMMENT):
                        continue
                    if not seen_content:
                        seen_content = True
                        first = _strip_comment(text)
                        delimiter = _csv_header_delimiter(first)
                        if delimiter is not None:
                            csv_reader = _CsvReader(builder, line, first, delimiter)
                            continue
                        delimiter = _headerless_csv_delimiter(first.strip())
                        if delimiter is not None:
                            pending = (line, first.strip(), delimiter)
                            continue
                    elif pending is not None:
                        first_line, first_entry, delimiter = pending
                        pending = None
                        if delimiter in _strip_comment(text):
                            builder.error(first_line, _headerless_csv_reason(first_entry, delimiter))
                            break  # every further line would fail the same way: one clear error instead
                        _report_plain_entry(builder, first_line, first_entry)
                    if csv_reader is not None:
                        builder.add(line, csv_reader.row(line, text))
                        continue
                    entry = _strip_comment(text).strip()
                    if not entry:
                        continue
                    name, port = _parse_plain_entry(entry)
                    builder.add(line, Host(name=name, address=name, port=port, source=f"{file}:{line}"))
                except _LineError as exc:
                    builder.error(line, str(exc))
        except IsADirectoryError:
            raise InventoryError(file, None, "is a directory, not a hosts file") from None
        except OSError as exc:
            raise InventoryError(file, None, f"cannot read: {exc.strerror or exc}") from None
    if pending is not None:
        _report_plain_entry(builder, pending[0], pending[1])
    return builder.result()


def _report_plain_entry(builder: _Builder, line: int, entry: str) -> None:
    """A deferred first entry read as a plain one (it holds a separator, so it is rejected)."""
    try:
        name, port = _parse_plain_entry(entry)
    except _LineError as exc:
        builder.error(line, str(exc))
        return
    builder.add(line, Host(name=name, address=name, port=port, source=f"{builder.file}:{line}"))


def read_exclude(path: Path) -> tuple[dict[str, str], list[str]]:
    """Host names to leave out of a plan, one per line (`#` starts a comment anywhere; blank lines;
    only the first word of a line counts). Returns (name lower-case -> "FILE:LINE", warnings naming
    FILE:LINE for the lines skipped or cut); InventoryError when the file cannot be read."""
    file = str(path)
    try:
        if path.stat().st_size > EXCLUDE_MAX_BYTES:
            raise InventoryError(file, None, f"larger than {EXCLUDE_MAX_BYTES >> 20} MB; not a host list")
        raw = path.read_bytes()
    except OSError as exc:
        raise InventoryError(file, None, f"cannot read: {exc.strerror or exc}") from None
    text = raw.decode("utf-8-sig", errors="replace")
    out: dict[str, str] = {}
    warnings: list[str] = []
    # Lines end at CR LF, LF or CR only: str.splitlines would also break at FS, GS, RS, NEL and
    # U+2028, hiding those characters from the check below and numbering lines unlike an editor.
    for number, line in enumerate(_LINE_END.split(text), start=1):
        entry = line.split(COMMENT, 1)[0].strip(" \t")
        if not entry:
            continue
        if "\ufffd" in entry:
            warnings.append(f"{file}:{number}: not a host name (bytes that are not UTF-8), skipped")
            continue
        control = _control_character(entry)
        if control is not None:
            warnings.append(f"{file}:{number}: not a host name (the control or invisible character {control}), "
                            "skipped")
            continue
        words = entry.split()
        if not words:
            continue  # only blank space (e.g. a no-break space)
        name, *extra = words
        if extra:
            warnings.append(f"{file}:{number}: only the first word ({escaped(name)}) is a host name; "
                            "the rest is ignored")
        out.setdefault(name.lower(), f"{path.name}:{number}")
    return out, warnings
