"""Pure parsers of event XML (`wevtutil qe ... /f:xml` output, or evtx-rs's rendering of a record):
times, EventSummary, and `sampled_4688`, the one builder of SampledEvent records that the WinRM
sample and the EVTX ingest both use.

Events arrive back to back with no separator and no root element (windows-tool-outputs.md §4.1), so
the text is cut at `<Event ...>...</Event>` boundaries first and each event is parsed on its own.

Hardened parsing (defusedxml is not installed): every event is size-capped (MAX_EVENT_BYTES) and
rejected before parsing if it holds any markup declaration (`<!` - DOCTYPE, ENTITY, CDATA; wevtutil
never writes one) or processing instruction (`<?`). With no DTD there are no entities to expand, so
xml.etree (expat) only sees plain elements; the five predefined entities and character references are
all it resolves. Event fields come from the 4688 schema (gpo-backup-format.md §A5).
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from auditplan.collect.parse.tools import ParseError, looks_access_denied
from auditplan.collect.redact import redact
from auditplan.records import SampledEvent
from auditplan.text import excerpt

MAX_EVENT_BYTES = 256 * 1024  # a 4688 is ~1.5 KB, at most ~64 KB with a 32K-character command line
MAX_EVENTS_TEXT_CHARS = 64 * 1024 * 1024
EVENT_NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"
# What makes an event a 4688 (gpo-backup-format.md §A5; evtx-data.md §2.3 trap 3: the provider too) or
# a Sysmon process creation.
SECURITY_AUDITING_PROVIDER = "Microsoft-Windows-Security-Auditing"
PROCESS_CREATION_EVENT_ID = 4688
SYSMON_PROVIDER = "Microsoft-Windows-Sysmon"
SYSMON_PROCESS_CREATE_EVENT_ID = 1

# A command-line redactor: (redacted line, secrets replaced). collect.redact.redact, or a cache of it.
Redactor = Callable[[str], tuple[str, int]]

_EVENT_START = re.compile(r"<Event[\s>]")
_EVENT_END = "</Event>"
_SYSTEM_TIME = re.compile(r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]00:00)?$")


def parse_system_time(value: str) -> datetime | None:
    """`2026-08-14T20:10:49.4173297Z` (7 fractional digits, tool-outputs §4.1) -> aware UTC datetime."""
    m = _SYSTEM_TIME.match(value.strip())
    if not m:
        return None
    year, month, day, hour, minute, second = (int(m.group(i)) for i in range(1, 7))
    micro = int((m.group(7) or "0")[:6].ljust(6, "0"))
    try:
        return datetime(year, month, day, hour, minute, second, micro, tzinfo=UTC)
    except ValueError:
        return None


def split_events(text: str, limit: int | None = None) -> tuple[list[str], bool]:
    """The `<Event>` elements in order (at most `limit`), and whether a partial event was left over.

    A linear scan with str.find: a regex with a lazy `.*?` goes quadratic on junk full of `<Event `.
    """
    events: list[str] = []
    pos = 0
    while limit is None or len(events) < limit:
        start = _EVENT_START.search(text, pos)
        if start is None:
            return events, False
        end = text.find(_EVENT_END, start.start())
        if end < 0:
            return events, True
        pos = end + len(_EVENT_END)
        events.append(text[start.start() : pos])
    return events, False


def _local(tag: str) -> str:
    return tag[tag.rfind("}") + 1 :]


def _utf8_size(text: str) -> int:
    # Both paths size every sampled event: skip the encode for the (usual) all-ASCII XML.
    return len(text) if text.isascii() else len(text.encode("utf-8", errors="replace"))


def _parse_event_xml(xml_text: str, section: str) -> ET.Element | ParseError:
    size = _utf8_size(xml_text)
    if size > MAX_EVENT_BYTES:
        return ParseError(section, f"event XML of {size} bytes exceeds {MAX_EVENT_BYTES}", "too_large")
    if "<!" in xml_text or "<?" in xml_text:
        return ParseError(section, "event XML holds a declaration or processing instruction; refused")
    if "\x00" in xml_text:
        return ParseError(section, "event XML holds NUL characters")
    try:
        return ET.fromstring(xml_text)  # noqa: S314 - no DTD possible (checked above), size-capped
    except ET.ParseError as exc:
        return ParseError(section, f"event XML does not parse: {exc}")


@dataclass(frozen=True)
class EventSummary:
    """System fields of one event plus its EventData as {Name: text or None}."""

    event_id: int | None
    version: int | None
    provider: str | None
    time: datetime | None
    record_id: int | None
    computer: str | None
    data: dict[str, str]  # Data Name -> text ("" for an empty element); absent names are absent
    size_bytes: int


def _int_or_none(text: str | None) -> int | None:
    if text is None:
        return None
    text = text.strip()
    return int(text) if text.isdigit() and len(text) < 20 else None


def summarize_event(xml_text: str, section: str = "events") -> EventSummary | ParseError:
    root = _parse_event_xml(xml_text, section)
    if isinstance(root, ParseError):
        return root
    if _local(root.tag) != "Event":
        return ParseError(section, f"root element is {_local(root.tag)!r}, not Event")
    system = next((c for c in root if _local(c.tag) == "System"), None)
    if system is None:
        return ParseError(section, "event has no System element")
    fields = {_local(c.tag): c for c in system}
    provider = fields["Provider"].get("Name") if "Provider" in fields else None
    time = parse_system_time(fields["TimeCreated"].get("SystemTime", "")) if "TimeCreated" in fields else None
    data: dict[str, str] = {}
    for child in root:
        if _local(child.tag) != "EventData":
            continue
        for item in child:
            name = item.get("Name")
            if name is not None and name not in data and _local(item.tag) == "Data":
                data[name] = item.text or ""
    return EventSummary(
        event_id=_int_or_none(fields["EventID"].text) if "EventID" in fields else None,
        version=_int_or_none(fields["Version"].text) if "Version" in fields else None,
        provider=provider,
        time=time,
        record_id=_int_or_none(fields["EventRecordID"].text) if "EventRecordID" in fields else None,
        computer=(fields["Computer"].text or None) if "Computer" in fields else None,
        data=data,
        size_bytes=_utf8_size(xml_text),
    )


def _events_error(section: str, text: str, exit_code: int | None) -> ParseError | None:
    if len(text) > MAX_EVENTS_TEXT_CHARS:
        return ParseError(section, f"output is {len(text)} characters, more than {MAX_EVENTS_TEXT_CHARS}", "too_large")
    if "<!" in text:
        # wevtutil escapes "<" in data as "&lt;", so a raw markup declaration (DOCTYPE, ENTITY) is never real.
        return ParseError(section, "output holds a markup declaration (DOCTYPE/ENTITY); refused")
    if "<Event" in text:
        return None
    head = text[:4096]
    if exit_code == 15007 or re.search(r"(?i)channel could not be found", head):
        return ParseError(section, "log not found (15007)", "not_found")
    if looks_access_denied(head, exit_code):
        return ParseError(section, "access denied", "access_denied")
    if exit_code not in (0, None) or head.strip():
        return ParseError(section, f"no events (exit code {exit_code}): {excerpt(head)}")
    return None


def parse_event_time(text: str, exit_code: int | None = None, section: str = "event") -> datetime | ParseError | None:
    """The TimeCreated of the one event a `/c:1` query returned; None for an empty log (0 bytes, exit 0)."""
    if err := _events_error(section, text, exit_code):
        return err
    events, _ = split_events(text, limit=1)
    if not events:
        return None
    summary = summarize_event(events[0], section)
    if isinstance(summary, ParseError):
        return summary
    if summary.time is None:
        return ParseError(section, "event has no readable TimeCreated/@SystemTime")
    return summary.time


@dataclass(frozen=True)
class SampledEvents:
    events: tuple[SampledEvent, ...]
    problems: tuple[ParseError, ...]  # per-event problems; the good events are still returned
    own_dropped: int = 0  # the probe's own processes, left out (see own_process_events)
    complete: bool = False  # every event of the output was read and kept or knowingly dropped


def _process_id(text: str | None) -> int | None:
    """4688 NewProcessId / ProcessId: hex with 0x (`0x1a2c`, gpo-backup-format.md §A5); decimal accepted."""
    if text is None:
        return None
    text = text.strip().lower()
    try:
        return int(text, 16) if text.startswith("0x") else int(text)
    except ValueError:
        return None


def own_process_events(summaries: list[EventSummary], nonce: str) -> set[int]:
    """Indexes of the events the probe itself caused: CommandLine holds the nonce (its cmd.exe), or the
    creator ProcessId is the NewProcessId of such an event, recursively (wevtutil, find, reg ... and
    their children). A descendant must not start before its root, which keeps a recycled process id of
    an older, unrelated process out. Without CommandLine in the events (policy off) no root is known and
    nothing is dropped; the sample's `@SystemTime < window_end` bound is then the only guard.
    """
    own: set[int] = set()
    pids: dict[int, datetime] = {}  # own NewProcessId -> when that process started
    for i, s in enumerate(summaries):
        if nonce in (s.data.get("CommandLine") or ""):
            own.add(i)
            pid = _process_id(s.data.get("NewProcessId"))
            if pid is not None and s.time is not None:
                pids[pid] = min(s.time, pids.get(pid, s.time))
    grew = bool(pids)
    while grew:
        grew = False
        for i, s in enumerate(summaries):
            if i in own:
                continue
            parent = _process_id(s.data.get("ProcessId"))
            if parent is None or parent not in pids or s.time is None or s.time < pids[parent]:
                continue
            own.add(i)
            grew = True
            pid = _process_id(s.data.get("NewProcessId"))
            if pid is not None:
                pids[pid] = min(s.time, pids.get(pid, s.time))
    return own


def parse_sampled_4688(
    text: str, exit_code: int | None = None, section: str = "events_4688", nonce: str | None = None
) -> SampledEvents | ParseError:
    """Newest-first 4688 events (`/rd:true /f:xml`) -> records, each built by `sampled_4688` (its
    docstring has the field rules). With `nonce`, the probe's own processes are dropped
    (own_process_events).
    """
    if err := _events_error(section, text, exit_code):
        return err
    chunks, partial = split_events(text)
    problems: list[ParseError] = []
    if partial:
        problems.append(ParseError(section, "output ends inside an event (truncated)", "truncated"))
    records: list[SampledEvent] = []
    summaries: list[EventSummary] = []
    for chunk in chunks:
        summary = summarize_event(chunk, section)
        if isinstance(summary, ParseError):
            problems.append(summary)
            continue
        summaries.append(summary)
    own = own_process_events(summaries, nonce) if nonce else set()
    for index, summary in enumerate(summaries):
        if index in own:
            continue
        record = sampled_4688(summary, section)
        if isinstance(record, ParseError):
            problems.append(record)
            continue
        records.append(record)
    if not records and problems and not partial:
        return problems[0]
    return SampledEvents(
        events=tuple(records), problems=tuple(problems), own_dropped=len(own), complete=not problems
    )


def _text_field(summary: EventSummary, name: str) -> str | None:
    return summary.data.get(name) or None


def sampled_4688(
    summary: EventSummary, section: str = "events", *, size_bytes: int | None = None, redactor: Redactor = redact
) -> SampledEvent | ParseError:
    """The one event -> SampledEvent builder, for the WinRM sample and for EVTX ingest alike, so that
    the same event gives the same record on both paths. Rules:

    - only a 4688 of Microsoft-Windows-Security-Auditing with a readable TimeCreated/@SystemTime
      (anything else is a ParseError saying what was skipped);
    - NewProcessName, ParentProcessName, SubjectUserName: the Data element's text; None when the
      element is absent (ParentProcessName exists from version 2) or empty (it names nothing);
    - CommandLine: None when the event has no such Data element (version 0, or 7601 without
      KB3004375); "" when present but empty, which is what "command line auditing off" looks like
      (gpo-backup-format.md §A2, evtx-data.md §2.1) and so is kept apart from None; otherwise the
      text with every secret replaced by `redactor` (collect.redact), and how many were;
    - size_bytes: the UTF-8 size of the event's XML as the caller received it (wevtutil's element,
      or evtx-rs's whole record with its XML declaration); the summary's size when not given.
    """
    if summary.event_id != PROCESS_CREATION_EVENT_ID or summary.provider != SECURITY_AUDITING_PROVIDER:
        return ParseError(section, f"skipped event {summary.event_id} from {summary.provider!r}")
    if summary.time is None:
        return ParseError(section, "skipped event without TimeCreated/@SystemTime")
    raw_cmd = summary.data.get("CommandLine")
    command_line, found = (None, 0) if raw_cmd is None else redactor(raw_cmd)
    return SampledEvent(
        time=summary.time,
        event_id=summary.event_id,
        version=summary.version,
        new_process_name=_text_field(summary, "NewProcessName"),
        parent_process_name=_text_field(summary, "ParentProcessName"),
        subject_user_name=_text_field(summary, "SubjectUserName"),
        command_line=command_line,
        size_bytes=summary.size_bytes if size_bytes is None else size_bytes,
        secrets_found=found,
    )


def sampled_4688_from_xml(
    xml_text: str, section: str = "events", *, size_bytes: int | None = None, redactor: Redactor = redact
) -> SampledEvent | ParseError:
    """One rendered event (its `<Event>` element, with anything around it such as evtx-rs's XML
    declaration ignored) -> SampledEvent, through summarize_event and sampled_4688."""
    events, _ = split_events(xml_text, limit=1)
    if not events:
        return ParseError(section, "no <Event> element")
    summary = summarize_event(events[0], section)
    if isinstance(summary, ParseError):
        return summary
    return sampled_4688(summary, section, size_bytes=size_bytes, redactor=redactor)
