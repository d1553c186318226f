"""evtx-rs's XML of a record, re-rendered as Windows renders event XML: the one XML basis of sizes.

A survey reads events as `wevtutil qe /f:xml` prints them (Windows' EvtRender XML, compact), while
evtx-rs prints the same event indented, with an `<?xml?>` header, double quotes, empty elements as
open/close pairs, GUIDs without braces and 6-digit times: 16.5 % more bytes for the same 4688s
(evtx-data.md §2.1: p50 1,508 indented vs 1,294 with the whitespace between tags removed). So the
ingest sizes every 4688 on this rendering, and survey, ingest and the [event_size] defaults count
the same bytes. Windows' form (windows-tool-outputs.md §4.1, the verbatim `wevtutil qe` capture): no
declaration, no whitespace between tags, single-quoted attributes, empty elements self-closed
(`<Security/>`), GUIDs in braces and lower case, SystemTime with 7 fractional digits and `Z`, and `"`
in element text written `&quot;` (as the simulator renders it; UNVERIFIED, docs/windows-validation.md).
"""

from __future__ import annotations

import re

_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>\s*")
# Indentation: evtx-rs puts every tag on its own line; a newline right after '>' or before '<' is
# its layout, never event data (Data text would sit between the tags on the same line).
_LAYOUT = re.compile(r">\s*\n\s*<")
_EMPTY = re.compile(r"<([A-Za-z][\w.:-]*)([^<>]*?)\s*></\1>")
_TAG = re.compile(r"<[^<>]*>")
_GUID = re.compile(r"(Guid|ActivityID|RelatedActivityID)='\{?([0-9A-Fa-f]{8}-[0-9A-Fa-f-]{27})\}?'")
_SYSTEM_TIME = re.compile(r"SystemTime='([^'.]+)\.(\d{1,7})Z'")
_TEXT = re.compile(r"(?<=>)([^<]+)(?=<)")


def _seven_digits(m: re.Match[str]) -> str:
    return f"SystemTime='{m.group(1)}.{m.group(2).ljust(7, '0')}Z'"


def windows_xml(xml: str) -> str:
    """One record's evtx-rs XML as Windows renders it (see the module docstring)."""
    xml = _DECLARATION.sub("", xml, count=1)
    xml = _LAYOUT.sub("><", xml).strip()
    xml = _EMPTY.sub(r"<\1\2/>", xml)
    if '"' in xml:
        # Text first (evtx-rs leaves '"' in text as is), then the tags' attribute quotes.
        xml = _TEXT.sub(lambda m: m.group(1).replace('"', "&quot;"), xml)
        xml = _TAG.sub(lambda m: m.group(0).replace('"', "'"), xml)
    xml = _GUID.sub(lambda m: f"{m.group(1)}='{{{m.group(2).lower()}}}'", xml)
    return _SYSTEM_TIME.sub(_seven_digits, xml)


# For windows_xml_size: the same rules counted, not applied (the ingest sizes every 4688 of a log).
_LAYOUT_RUNS = re.compile(r">(\s*\n\s*)<")
# Possessive quantifiers: no backtracking at each '<' (a lazy scan took 38 us per 4688).
_EMPTY_NAMES = re.compile(r"<([A-Za-z][\w.:-]*+)[^<>]*+>\s*+</\1>")
_TEXTS = re.compile(r">([^<]*)<")
_TIME_ATTRIBUTE = 'SystemTime="'


def _time_padding(xml: str) -> int:
    """Digits SystemTime gains (evtx-rs prints 6 fractional digits, Windows 7)."""
    i = xml.find(_TIME_ATTRIBUTE)
    if i < 0:
        return 0
    dot, end = xml.find(".", i), xml.find("Z", i)
    return 7 - (end - dot - 1) if 0 <= dot < end and end - dot - 1 <= 7 else 0


def windows_xml_size(xml: str) -> int:
    """UTF-8 bytes of `windows_xml(xml)`, counted without building it (the rules only remove or add
    ASCII characters). tests/collect/test_windows_xml.py checks it equals len(windows_xml(xml))."""
    n = len(xml) if xml.isascii() else len(xml.encode("utf-8"))
    declaration = _DECLARATION.match(xml)
    if declaration:
        n -= declaration.end()
    n -= sum(map(len, _LAYOUT_RUNS.findall(xml)))
    n -= sum(len(name) + 2 for name in _EMPTY_NAMES.findall(xml))  # `></X>` becomes `/>`
    for name in ('Guid="', 'ActivityID="'):  # braces around a bare GUID (also counts RelatedActivityID)
        n += 2 * (xml.count(name) - xml.count(name + "{") - xml.count(name + '"'))
    text_quotes = "".join(_TEXTS.findall(xml)).count('"')
    return n + _time_padding(xml) + 5 * text_quotes  # `"` becomes `&quot;`
