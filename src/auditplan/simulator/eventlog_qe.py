"""`wevtutil qe` on a simulated log: its options, the query's verdict per template, the output.

Output as windows-tool-outputs.md §4: event XML as wevtutil prints it, events back to back,
`/e:root`, zero matches = no output (§4.1); `/f:text` layout (§4.2); errors and exit codes
(§3.4, §4.3). UNVERIFIED (coded defensively): the CRLF placement of `/f:xml` output (one CRLF
after the last event); the exact text of `qe` errors other than those quoted in §4.3; v0/v1 4688
message text for `/f:text`; the descriptions of 4672/4798/4799/5379 (eventlog_messages.py) and the
abridged ones of 4624/4625/4648 (first sentence, then the event's fields).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache

import numpy as np

from auditplan.simulator.eventlog_identity import EventIdentity
from auditplan.simulator.eventlog_messages import security_message
from auditplan.simulator.eventlog_templates import PROCESS_CREATION, SYSMON_PROCESS_CREATE, Prepared, xml_text
from auditplan.simulator.interface import CommandOutput
from auditplan.simulator.tool_texts import EN, ToolTexts
from auditplan.simulator.xpath import (
    TICK_MAX,
    TICK_MIN,
    TICKS_PER_SECOND,
    EventFilter,
    TimeSet,
    format_system_time,
    parse_system_time,
)

# wevtutil exit codes (windows-tool-outputs.md §3.4, §4.3).
ERROR_INVALID_PARAMETER = 87
ERROR_EVT_INVALID_QUERY = 15001
MSG_PARAMETER_INCORRECT = "The parameter is incorrect."
MSG_INVALID_QUERY = "The specified query is invalid."
MSG_OPEN_QUERY_FAILED = "Failed to open event query."
CRLF = "\r\n"

# /f:text header fields per event id (Task name, Keyword), §4.2 layout.
_TEXT_INFO: dict[int, tuple[str, str, str]] = {
    # event id: (task, keyword, first sentence of the description)
    4688: ("Process Creation", "Audit Success", "A new process has been created."),
    4624: ("Logon", "Audit Success", "An account was successfully logged on."),
    4625: ("Logon", "Audit Failure", "An account failed to log on."),
    4648: ("Logon", "Audit Success", "A logon was attempted using explicit credentials."),
    4672: ("Special Logon", "Audit Success", "Special privileges assigned to new logon."),
    4798: ("User Account Management", "Audit Success", "A user's local group membership was enumerated."),
    4799: ("Security Group Management", "Audit Success",
           "A security-enabled local group membership was enumerated."),
    5379: ("User Account Management", "Audit Success", "Credential Manager credentials were read."),
    1: ("Process Create (rule: ProcessCreate)", "N/A", "Process Create:"),
}
_TOKEN_ELEVATION_HELP = (
    "Token Elevation Type indicates the type of token that was assigned to the new process in accordance "
    "with User Account Control policy.",
    "Type 1 is a full token with no privileges removed or groups disabled.  A full token is only used if "
    "User Account Control is disabled or if the user is the built-in Administrator account or a service "
    "account.",
    "Type 2 is an elevated token with no privileges removed or groups disabled.  An elevated token is "
    "used when User Account Control is enabled and the user chooses to start the program using Run as "
    "administrator.  An elevated token is also used when an application is configured to always require "
    "administrative privilege or to always require maximum privilege, and the user is a member of the "
    "Administrators group.",
    "Type 3 is a limited token with administrative privileges removed and administrative groups disabled.  "
    "The limited token is used when User Account Control is enabled, the application does not require "
    "administrative privilege, and the user does not choose to start the program using Run as "
    "administrator.",
)


@dataclass(frozen=True)
class QueryArgs:
    """The options of one `wevtutil qe` call."""

    query: str
    count: int | None
    reverse: bool
    fmt: str
    root: str | None


def parse_args(arguments: tuple[str, ...]) -> QueryArgs | CommandOutput:
    """wevtutil qe options, `/name:value` or `-name:value`, names case-insensitive."""
    names = {"q": "q", "query": "q", "c": "c", "count": "c", "rd": "rd", "reversedirection": "rd",
             "f": "f", "format": "f", "e": "e", "element": "e", "lf": "lf", "logfile": "lf"}
    query, count, reverse, fmt, root = "*", None, False, "xml", None
    for arg in arguments:
        if not arg or arg[0] not in "/-":
            return error(ERROR_INVALID_PARAMETER, MSG_PARAMETER_INCORRECT)
        name, _, value = arg[1:].partition(":")
        key = names.get(name.lower())
        if key is None:
            return error(ERROR_INVALID_PARAMETER, MSG_PARAMETER_INCORRECT)
        if key == "q":
            # The front end unquotes; a value still in quotes came through cmd quoting twice.
            query = value[1:-1] if len(value) >= 2 and value[0] == value[-1] == '"' else value
        elif key == "c":
            if not value.isdigit() or int(value) <= 0:
                return error(ERROR_INVALID_PARAMETER, "Invalid value for property count.")
            count = int(value)
        elif key in ("rd", "lf"):
            flag = value.lower() if value else "true"
            if flag not in ("true", "false"):
                return error(ERROR_INVALID_PARAMETER, f"Invalid value for option {name}.", MSG_PARAMETER_INCORRECT)
            if key == "rd":
                reverse = flag == "true"
            elif flag == "true":
                return error(ERROR_INVALID_PARAMETER, MSG_PARAMETER_INCORRECT)  # no files on a simulated host
        elif key == "f":
            fmt = value.lower()
            if fmt not in ("xml", "text", "renderedxml"):
                return error(ERROR_INVALID_PARAMETER, f"Invalid value for option {name}.", MSG_PARAMETER_INCORRECT)
        else:
            if not value or not value.replace("_", "").isalnum():
                return error(ERROR_INVALID_PARAMETER, f"Invalid value for option {name}.", MSG_PARAMETER_INCORRECT)
            root = value
    # /e has no effect with /f:text (§4.1).
    return QueryArgs(query, count, reverse, fmt, None if fmt == "text" else root)


def codec(codepage: int) -> str:
    return {65001: "utf-8"}.get(codepage, f"cp{codepage}")


def error(code: int, *lines: str) -> CommandOutput:
    return CommandOutput(b"", "".join(line + CRLF for line in lines).encode("ascii"), code)



# ------------------------------------------------------------------ which templates can match

GROUP_NONE, GROUP_ALL, GROUP_PER_EVENT = -1, -2, -3


@dataclass(frozen=True)
class Match:
    """A query's verdict per template: never, always, within time intervals, or per event."""

    templates: list[Prepared]  # held so that the id() in the cache key stays unique
    group_of: np.ndarray  # per template: GROUP_* or an index into bounds
    bounds: list[tuple[np.ndarray, np.ndarray]]  # interval starts and ends, per distinct condition
    hull: tuple[int, int]


# Shared between hosts: a fleet probe sends the same queries (same text, same simulated clock)
# to every host with the same template set, and evaluating them per template is the slow part.
_CONDITIONS: OrderedDict[tuple[str, int, int], Match] = OrderedDict()
_CONDITIONS_MAX = 2048
_CONDITIONS_LOCK = threading.Lock()


# The same query moved in time: a probe counting hour by hour (collect/winrm/hour_counts.py) sends one
# query per hour that differs only in its time literals, all moved by the same amount. Time comparisons
# against literals are translation-invariant, so such a query's Match is the cached one with its bounds moved.
_ISO_LITERAL = re.compile(r"'(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(?:\.\d{1,9})?Z)'")
_SHIFTED: OrderedDict[tuple[str, int], tuple[int, Match]] = OrderedDict()


def _shift_key(query: str) -> tuple[str, int] | None:
    """(the query with its time literals replaced by offsets from the first, that first literal's ticks);
    None for a query whose verdict may not move with its literals (relative times, Computer, no literal)."""
    if "timediff" in query or "Computer" in query:
        return None
    literals = _ISO_LITERAL.findall(query)
    ticks = [parse_system_time(lit) for lit in literals]
    if not ticks or any(t is None for t in ticks):
        return None
    anchor = int(ticks[0] or 0)
    offsets = ",".join(str(int(t or 0) - anchor) for t in ticks)
    return _ISO_LITERAL.sub("'@'", query) + "|" + offsets, anchor


def _moved(match: Match, delta: int) -> Match:
    def move(a: np.ndarray) -> np.ndarray:
        return np.where((a == TICK_MIN) | (a == TICK_MAX), a, a + delta)

    lo, hi = match.hull
    return Match(match.templates, match.group_of, [(move(a), move(b)) for a, b in match.bounds],
                 (lo if lo == TICK_MIN else lo + delta, hi if hi == TICK_MAX else hi + delta))


def conditions(flt: EventFilter, templates: list[Prepared]) -> Match | None:
    """The query's verdict per template; None when no template can match."""
    shift = _shift_key(flt.query)
    if shift is not None:
        with _CONDITIONS_LOCK:
            moved = _SHIFTED.get((shift[0], id(templates)))
            if moved is not None and moved[1].templates is templates:
                return _moved(moved[1], shift[1] - moved[0])
    match = _conditions(flt, templates)
    if shift is not None and match is not None:
        with _CONDITIONS_LOCK:
            _SHIFTED[(shift[0], id(templates))] = (shift[1], match)
            if len(_SHIFTED) > _CONDITIONS_MAX:
                _SHIFTED.popitem(last=False)
    return match


def _conditions(flt: EventFilter, templates: list[Prepared]) -> Match | None:
    # A query naming Computer depends on the host; everything else only on the templates.
    key = (flt.query, flt.now, id(templates)) if "Computer" not in flt.query else None
    if key is not None:
        with _CONDITIONS_LOCK:
            hit = _CONDITIONS.get(key)
            if hit is not None and hit.templates is templates:
                _CONDITIONS.move_to_end(key)
                return hit
    group_of = np.full(len(templates), GROUP_NONE, dtype=np.int64)
    distinct: dict[TimeSet, int] = {}
    los: list[int] = []
    his: list[int] = []
    for i, p in enumerate(templates):
        c = flt.time_condition(p.root)
        if c is None:
            group_of[i] = GROUP_PER_EVENT
            los.append(TICK_MIN)
            his.append(TICK_MAX)
        elif c:
            group_of[i] = GROUP_ALL if c.is_all else distinct.setdefault(c, len(distinct))
            los.append(c.intervals[0][0])
            his.append(c.intervals[-1][1])
    if not los:
        return None
    bounds = [(np.array([lo for lo, _ in c.intervals], dtype=np.int64),
               np.array([hi for _, hi in c.intervals], dtype=np.int64)) for c in distinct]
    match = Match(templates, group_of, bounds, (min(los), max(his)))
    if key is not None:
        with _CONDITIONS_LOCK:
            _CONDITIONS[key] = match
            if len(_CONDITIONS) > _CONDITIONS_MAX:
                _CONDITIONS.popitem(last=False)
    return match


# ------------------------------------------------------------------ rendering

@dataclass(frozen=True)
class HostLayout:
    """A template with one host's names filled in (eventlog_identity.py): what is left to fill per
    event is time, record id and computer, so the common case keeps the plain-concatenation path."""

    pieces: tuple[str, ...]
    slots: tuple[str, ...]
    data: dict[str, str]  # the event's fields with the host's names, for rendered messages


def host_layouts(templates: list[Prepared], identity: EventIdentity) -> list[HostLayout]:
    """Each template's layout for the host `identity` names (built once per log)."""
    names_xml = {k: xml_text(v) for k, v in identity.slots().items()}
    layouts = []
    for p in templates:
        pieces, slots = [p.pieces[0]], []
        for i, slot in enumerate(p.slots):
            if slot in names_xml:
                pieces[-1] += names_xml[slot] + p.pieces[i + 1]
            else:
                slots.append(slot)
                pieces.append(p.pieces[i + 1])
        layouts.append(HostLayout(tuple(pieces), tuple(slots), {k: identity.resolve(v) for k, v in p.data}))
    return layouts


def render(
    templates: list[Prepared], events: list[tuple[int, int, int]], args: QueryArgs, *, computer: str,
    text_header_colon: bool, layouts: list[HostLayout] | None = None, texts: ToolTexts = EN,
) -> str:
    """The output for the selected events, each (template index, ticks, EventRecordID), in order."""
    if layouts is None:
        layouts = host_layouts(templates, EventIdentity.for_computer(computer))
    if args.fmt == "text":
        return "".join(_render_text(n, templates[tpl], t, computer, text_header_colon, layouts[tpl], texts)
                       for n, (tpl, t, _rid) in enumerate(events))
    rendered = args.fmt == "renderedxml"
    computer_xml = xml_text(computer)
    body = "".join(_render_xml(templates[tpl], layouts[tpl], t, rid, computer_xml, rendered=rendered)
                   for tpl, t, rid in events)
    if args.root is not None:
        return f"<{args.root}>{CRLF}{body}</{args.root}>{CRLF}"
    return body + CRLF if body else ""


def _render_xml(p: Prepared, lay: HostLayout, t: int, rid: int, computer_xml: str, *, rendered: bool) -> str:
    st = _system_time(t)
    if lay.slots == ("t", "r", "c"):  # every Security event: plain concatenation is the fast path
        xml = lay.pieces[0] + st + lay.pieces[1] + str(rid) + lay.pieces[2] + computer_xml + lay.pieces[3]
    else:
        values = {"t": st, "r": str(rid), "c": computer_xml, "u": st[:10] + " " + st[11:23]}
        xml = lay.pieces[0] + "".join(values[k] + lay.pieces[i + 1] for i, k in enumerate(lay.slots))
    if rendered:
        info = _text_info(p)
        message = xml_text(_message(p, st, lay.data).replace(CRLF, "\n"))
        xml = xml[: -len("</Event>")] + (
            f"<RenderingInfo Culture='en-US'><Message>{message}</Message><Level>Information</Level>"
            f"<Task>{xml_text(info[0])}</Task><Opcode>Info</Opcode><Channel>{xml_text(p.channel)}</Channel>"
            f"<Provider>{xml_text(p.provider)}</Provider><Keywords><Keyword>{info[1]}</Keyword></Keywords>"
            "</RenderingInfo></Event>")
    return xml


def _message(p: Prepared, st: str, data: dict[str, str]) -> str:
    d = dict(data)
    if p.event_id == PROCESS_CREATION and p.provider == "Microsoft-Windows-Security-Auditing":
        return _message_4688(d, p.version)
    if p.event_id == SYSMON_PROCESS_CREATE:
        d["UtcTime"] = st[:10] + " " + st[11:23]
        return "Process Create:" + CRLF + CRLF.join(f"{k}: {v}" for k, v in d.items())
    known = security_message(p.event_id, d) if p.provider == "Microsoft-Windows-Security-Auditing" else None
    if known is not None:
        return known
    first = _text_info(p)[2]
    return first + CRLF + CRLF + CRLF.join(f"\t{k}:\t{v}" for k, v in d.items())


def _render_text(
    n: int, p: Prepared, t: int, computer: str, text_header_colon: bool, lay: HostLayout, texts: ToolTexts
) -> str:
    """One event of `/f:text`: the field names stay English, the values are the host's language (§4.2)."""
    task, keyword, _ = _text_info(p)
    keyword = {"Audit Success": texts.keyword_success, "Audit Failure": texts.keyword_failure}.get(keyword, keyword)
    st = format_system_time(t)
    user = "S-1-5-18" if p.provider == "Microsoft-Windows-Sysmon" else "N/A"
    user_name = "NT AUTHORITY\\SYSTEM" if user != "N/A" else "N/A"
    lines = [
        f"Event[{n}]" + (":" if text_header_colon else ""),
        f"  Log Name: {p.channel}",
        f"  Source: {p.provider}",
        f"  Date: {st}",
        f"  Event ID: {p.event_id}",
        f"  Task: {texts.task(task)}",
        f"  Level: {texts.level_information}",
        f"  Opcode: {texts.opcode_info}",
        f"  Keyword: {keyword}",
        f"  User: {user}",
        f"  User Name: {user_name}",
        f"  Computer: {computer}",
        "  Description: ",
        _message(p, st, lay.data),
    ]
    return CRLF.join(lines) + CRLF + CRLF


@cache
def _hour_prefix(abs_hour: int) -> str:
    return datetime.fromtimestamp(abs_hour * 3600, UTC).strftime("%Y-%m-%dT%H:")


def _system_time(ticks: int) -> str:
    """format_system_time, with the date and hour cached: rendering is the hot path."""
    hour, rest = divmod(ticks, 3600 * TICKS_PER_SECOND)
    minute, rest = divmod(rest, 60 * TICKS_PER_SECOND)
    second, frac = divmod(rest, TICKS_PER_SECOND)
    return f"{_hour_prefix(hour)}{minute:02d}:{second:02d}.{frac:07d}Z"


def _text_info(p: Prepared) -> tuple[str, str, str]:
    return _TEXT_INFO.get(p.event_id, ("None", "Audit Success", f"Event {p.event_id}."))


def _logon_id(v: str) -> str:
    # The message prints logon ids with upper-case hex digits (0x3E7) while Data keeps 0x3e7.
    return "0x" + v[2:].upper() if v.lower().startswith("0x") else v


def _message_4688(d: dict[str, str], version: int) -> str:
    """The English 4688 description; v2 follows a real rendering, v0/v1 are UNVERIFIED."""
    subject = [
        f"\tSecurity ID:\t\t{d.get('SubjectUserSid', '')}",
        f"\tAccount Name:\t\t{d.get('SubjectUserName', '')}",
        f"\tAccount Domain:\t\t{d.get('SubjectDomainName', '')}",
        f"\tLogon ID:\t\t{_logon_id(d.get('SubjectLogonId', ''))}",
    ]
    lines = ["A new process has been created.", ""]
    if version >= 2:
        lines += ["Creator Subject:", *subject, "", "Target Subject:",
                  f"\tSecurity ID:\t\t{d.get('TargetUserSid', '')}",
                  f"\tAccount Name:\t\t{d.get('TargetUserName', '')}",
                  f"\tAccount Domain:\t\t{d.get('TargetDomainName', '')}",
                  f"\tLogon ID:\t\t{_logon_id(d.get('TargetLogonId', ''))}", ""]
    else:
        lines += ["Subject:", *subject, ""]
    lines += ["Process Information:",
              f"\tNew Process ID:\t\t{d.get('NewProcessId', '')}",
              f"\tNew Process Name:\t{d.get('NewProcessName', '')}",
              f"\tToken Elevation Type:\t{d.get('TokenElevationType', '')}"]
    if version >= 2:
        lines.append(f"\tMandatory Label:\t\t{d.get('MandatoryLabel', '')}")
    lines.append(f"\tCreator Process ID:\t{d.get('ProcessId', '')}")
    if version >= 2:
        lines.append(f"\tCreator Process Name:\t{d.get('ParentProcessName', '')}")
    if version >= 1:
        lines.append(f"\tProcess Command Line:\t{d.get('CommandLine', '')}")
    lines.append("")
    for para in _TOKEN_ELEVATION_HELP:
        lines += [para, ""]
    return CRLF.join(lines[:-1])

