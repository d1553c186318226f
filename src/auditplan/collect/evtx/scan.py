"""One fast pass over an .evtx file's records: counts, time span, hourly 4688 and Sysmon EID 1, the
4688s' versions, sizes, command-line lengths and process names, and a reservoir sample of 4688 XML.

evtx-rs `records()` XML is the rendering to use (evtx-data.md §2.3: ≈400 k records/s; JSON +
json.loads ≈140 k/s; measured here, `records_json()` without json.loads is no faster than XML). The
scan reads only the fields it needs from the XML text with str.find (of a 4688: its version,
command-line length and process name); a 4688's whole XML is parsed (collect.parse.events) only when
it is drawn into the event sample (bench/ingest.py has the figures).

Facts relied on (evtx-data.md §2.3): the event time is `System/TimeCreated/@SystemTime` (the
record-header timestamp is wrong in filtered exports, trap 1); a 4688 is `EventID` 4688 *and*
provider Microsoft-Windows-Security-Auditing (trap 3), and `EventID` may carry a Qualifiers attribute
(trap 4); evtx-rs raises per-record errors on damaged chunks (trap 5): counted, not fatal.
"""

from __future__ import annotations

import html
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime

import evtx

from auditplan.collect.evtx.windows_xml import windows_xml_size
from auditplan.collect.parse.events import SECURITY_AUDITING_PROVIDER, SYSMON_PROVIDER
from auditplan.text import error_line

MAX_CONSECUTIVE_RECORD_ERRORS = 10_000
_CANONICAL_TIME_LEN = len("2021-11-02T14:15:24.567327Z")


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


def _canonical_time(text: str) -> str:
    """SystemTime in the fixed-width form evtx-rs prints, so that strings order like times."""
    return parse_time(text).strftime("%Y-%m-%dT%H:%M:%S.%fZ")



def _field(xml: str, open_tag: str, start: int) -> str | None:
    """Text between `open_tag` (searched from `start`) and the next '<'; None if absent."""
    i = xml.find(open_tag, start)
    if i < 0:
        return None
    i += len(open_tag)
    return xml[i:xml.find("<", i)]


@dataclass
class Scan:
    events_total: int = 0
    sysmon_eid1: int = 0
    first: str | None = None
    last: str | None = None
    hours_4688: Counter[str] = field(default_factory=Counter)  # "YYYY-MM-DDTHH" -> count
    hours_sysmon: Counter[str] = field(default_factory=Counter)
    hours_all: Counter[str] = field(default_factory=Counter)  # every parsed record, for time sanity (timeline.py)
    versions: Counter[int] = field(default_factory=Counter)
    computers: Counter[str] = field(default_factory=Counter)
    first_computer: str | None = None
    first_channel: str | None = None
    sizes: list[int] = field(default_factory=list)
    cmdline_lengths: list[int] = field(default_factory=list)  # per 4688, 0 when empty or absent
    process_names: list[str] = field(default_factory=list)
    sample: list[str] = field(default_factory=list)
    unparsed: int = 0
    # What Windows' rendering removes from evtx-rs's, per (version, lines, empty elements): see _size.
    layout: dict[tuple[str | None, int, int], int] = field(default_factory=dict)
    error_count: int = 0
    first_error: str | None = None


_PROVIDER_OPEN = '<Provider Name="'
_EVENT_ID_OPEN = "<EventID"
_SYSTEM_TIME_OPEN = 'SystemTime="'


def scan(parser: evtx.PyEvtxParser, sample_size: int, rng: random.Random) -> Scan:
    """One pass over the records. This runs for every record of a log, so it is written for
    speed: str.find on evtx-rs's fixed layout (about twice as fast as one regex per record),
    locals instead of attributes, and a plain for loop that is re-entered after a damaged record."""
    s = Scan()
    it = parser.records()
    consecutive_errors = 0
    total = 0
    first = "~"  # sorts after any "YYYY-..." time
    last = ""
    hours_sysmon = s.hours_sysmon
    hours_all = s.hours_all
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
                hours_all[when[:13]] += 1
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
                s.first_error = error_line(exc, 200)
            consecutive_errors += 1
            if consecutive_errors >= MAX_CONSECUTIVE_RECORD_ERRORS:
                break
    s.events_total = total
    s.sysmon_eid1 = sum(hours_sysmon.values())
    if last:
        s.first, s.last = first, last
    return s


def _size(s: Scan, xml: str, version: str | None, cmdline: str) -> int:
    """The 4688's size as Windows renders it (windows_xml.py), the basis the survey and [event_size] use.

    Counting the rules on every 4688 costs ~25 us, far over the scan's budget (bench/ingest.py), but the
    records of one template share their tags, so what the rendering removes is the same for all of them
    but the `&quot;` of each quote in the command line (the only 4688 text that holds quotes). It is
    counted once per (version, lines, empty Data elements: `"></Data>`, the only `><` evtx-rs writes)
    and reused; the sampled events the estimate sizes from are counted one by one (ingest._sampled_events).
    Not told apart: a Correlation with or without an ActivityID (2 bytes of braces)."""
    n = len(xml) if xml.isascii() else len(xml.encode("utf-8"))
    quotes = 5 * cmdline.count('"')
    key = (version, xml.count("\n"), xml.count("><"))
    removed = s.layout.get(key)
    if removed is None:
        removed = s.layout[key] = n + quotes - windows_xml_size(xml)
    return n - removed + quotes


def _take_4688(s: Scan, xml: str, when: str, pos: int, sample_size: int, rng: random.Random) -> None:
    s.hours_4688[when[:13]] += 1
    version = _field(xml, "<Version>", 0)
    s.versions[int(version) if version and version.isdigit() else -1] += 1
    computer = _field(xml, "<Computer>", pos)
    if computer is not None:
        s.computers[computer] += 1
    cmdline = _field(xml, '<Data Name="CommandLine">', pos) or ""
    s.sizes.append(_size(s, xml, version, cmdline))
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


