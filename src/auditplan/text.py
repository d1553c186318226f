"""The one place untrusted text is made safe to show.

Everything read from a host, an EVTX file, a plan or a user's file is untrusted: it may carry
terminal escape sequences, bidi overrides that reorder what a reader sees, spreadsheet formulas,
or characters XML forbids. Each output has its own function here, and only here:

- `terminal`: one line for a terminal (escape sequences dropped, other controls as a space)
- `escaped`: text for a terminal with every non-printable character shown as \\xNN
- `excerpt`: a short single-line excerpt of host output for an error message
- `error_line`: an exception's message as one line (a host's reason, a file's error)
- `quoted`: a value quoted for a message (repr, cut if long)
- `csv_cell`: a spreadsheet cell that is never run as a formula
- `xml_chars`: text with every character XML 1.0 forbids replaced
- `chart_label`: a short label drawn in a chart (a strict allow-list)
- `number`: numbers for people (three significant digits, thousands separators, "n/a")
- `percent`: a share as a percentage for people ("25%", "n/a")
"""

from __future__ import annotations

import math
import re
from typing import Final

# Every character that must never reach a reader as itself: C0 and C1 controls, DEL, the
# zero-width and bidi formatting characters (embeddings, overrides, isolates: they reorder what a
# terminal or a report shows), and an inner BOM. TAB is included: a cell or a reason is one line.
CONTROL: Final = re.compile(r"[\x00-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2060-\u2069\ufeff]")
# CONTROL without TAB: for reading a user's input file, where TAB is blank space between an entry and
# its comment (inventory.py: `web01<TAB># primary DC`). Output still goes through CONTROL.
CONTROL_EXCEPT_TAB: Final = re.compile(r"(?!\t)" + CONTROL.pattern)

# Terminal escape sequences, dropped whole so that no parameter bytes are left behind.
ESCAPE_SEQUENCE: Final = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI (colours, cursor, erase)
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC (window title, hyperlinks)
    r"|\x1b[ -/]*[0-~]"  # the other ESC forms (ESC c resets the terminal)
    r"|\x9b[0-?]*[ -/]*[@-~]"  # C1 CSI
)

# What Excel, LibreOffice and Sheets read as the start of a formula, or strip before reading one.
# The full-width forms are normalised to ASCII by some spreadsheets, so they count too.
FORMULA_TRIGGERS: Final = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")
NEUTRALISER: Final = "'"

# XML 1.0 Char production: TAB, LF, CR and the ranges below; everything else is forbidden.
NOT_XML_CHAR: Final = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
REPLACEMENT_CHARACTER: Final = "\ufffd"

_CHART_UNSAFE: Final = re.compile(r"[^A-Za-z0-9 _.,:()+#/]")
_SPACES: Final = re.compile(r"\s+")


def terminal(text: str) -> str:
    """`text` as one harmless terminal line: escape sequences dropped, other controls a space."""
    return CONTROL.sub(" ", ESCAPE_SEQUENCE.sub("", text))


def escaped(text: str | None) -> str:
    """`text` for a terminal with every non-printable character shown as \\xNN (nothing hidden)."""
    if text is None:
        return ""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def excerpt(text: str, limit: int = 80) -> str:
    """A short, single-line, control-free excerpt of untrusted text for a message."""
    text = text.strip()
    # Clean a prefix first: a parser's error path may hold a whole tool's output, and only `limit`
    # characters are kept. Cleaning never lengthens text, so once the cleaned prefix is longer than
    # `limit` its first `limit` characters are those of the whole text cleaned (a run of spaces cut at
    # the prefix's end collapses to the same one space).
    for size in (4 * limit + 16, len(text)):
        cleaned = _SPACES.sub(" ", "".join(ch if ch.isprintable() else " " for ch in text[:size]))
        if len(cleaned) > limit or size >= len(text):
            return cleaned[:limit] + ("..." if len(cleaned) > limit else "")
    return ""  # not reached: the second size is the whole text


def error_line(exc: BaseException, limit: int = 300, *, empty: str | None = None) -> str:
    """An exception's message as one line for a host's reason or a file's error: its first line, cut
    at `limit`; when it has no message, `empty` (the exception's class name unless given)."""
    message = str(exc).strip()
    if not message:
        return type(exc).__name__ if empty is None else empty
    return message.splitlines()[0][:limit]


def quoted(text: str, limit: int = 60) -> str:
    """`text` quoted for a message: repr (ascii() when it holds a non-printable), cut if long."""
    cut = text if len(text) <= limit else text[:limit] + "…"
    return ascii(cut) if not cut.isprintable() else repr(cut)


def csv_cell(text: str) -> str:
    """`text` made safe to open in a spreadsheet: a formula trigger first gets an apostrophe."""
    return NEUTRALISER + text if text.startswith(FORMULA_TRIGGERS) else text


def xml_chars(text: str, replacement: str = REPLACEMENT_CHARACTER) -> str:
    """`text` with every character XML 1.0 forbids replaced (by U+FFFD unless told otherwise)."""
    return NOT_XML_CHAR.sub(replacement, text)


def chart_label(text: object, limit: int = 32) -> str:
    """A label drawn into an SVG chart: only a small allow-list of characters, at most `limit`."""
    cleaned = _CHART_UNSAFE.sub("_", str(text))
    return cleaned if len(cleaned) <= limit else cleaned[: limit - 1] + "_"


def _as_float(value: object) -> float:
    try:
        return float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan


def number(value: object, digits: int = 3, *, trim: bool = False) -> str:
    """Numbers for people: `digits` significant digits, thousands separators, 'n/a' when unknown.
    `trim` drops trailing zeros after the point (0.5, not 0.500): the terminal output of
    `auditplan plan` and `project`, which tests and users quote (e.g. "give --budget-gb-day 0.4")."""
    x = _as_float(value)
    if not math.isfinite(x):
        return "n/a"
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    text = f"{x:.{max(0, digits - 1 - math.floor(math.log10(abs(x))))}f}"
    return text.rstrip("0").rstrip(".") if trim and "." in text else text


def percent(part: object, whole: object = 1, digits: int = 0) -> str:
    """`part` of `whole` as a percentage for people ("25%"); with `whole` left at 1, `part` is a share
    (0.25). 'n/a' when either is unknown or `whole` is 0."""
    x, of = _as_float(part), _as_float(whole)
    if not (math.isfinite(x) and math.isfinite(of)) or of == 0:
        return "n/a"
    return f"{100 * x / of:.{digits}f}%"


def gb_for_people(value: object, *, mb_per_gb: float = 1000.0) -> tuple[float, str]:
    """`value` GB as the figure and unit people read: MB below 1 GB (0.00548 GB -> 5.48 MB), else GB.
    `mb_per_gb` is 1024 for profiles that count GiB. Returns (scaled value, "MB" | "GB")."""
    x = _as_float(value)
    if math.isfinite(x) and abs(x) < 1:
        return x * mb_per_gb, "MB"
    return x, "GB"
