"""collect/parse/events.py: event XML (windows-tool-outputs.md §4.1, gpo-backup-format.md §A5) into
times and sampled 4688 records; every parser against hostile input; the probe's own processes dropped.

Expected values were read off the reference text by hand (section named next to each test), not
produced by running the parsers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditplan.collect.parse.events import (
    SampledEvents,
    parse_event_time,
    parse_sampled_4688,
    parse_system_time,
)
from auditplan.collect.parse.tools import (
    AuditpolBackup,
    AuditpolReport,
    ParseError,
    parse_auditpol_backup,
    parse_auditpol_report,
    parse_find_counts,
    parse_hostname,
    parse_reg_values,
    parse_sc_query,
    parse_ver,
    parse_wevtutil_gl,
    parse_wevtutil_gli,
)

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"


def capture(name: str, encoding: str = "utf-8") -> str:
    return (CAPTURES / name).read_bytes().decode(encoding, errors="replace")



# --- event XML (windows-tool-outputs.md §4.1, gpo-backup-format.md §A5) -----------------------------


def test_system_time_seven_digits() -> None:
    assert parse_system_time("2026-08-14T20:10:49.4173297Z") == datetime(2026, 8, 14, 20, 10, 49, 417329, tzinfo=UTC)
    assert parse_system_time("2026-13-14T20:10:49Z") is None
    assert parse_system_time("yesterday") is None


def test_event_time_from_verbatim_4624_capture() -> None:
    # §4.1: first event's TimeCreated SystemTime='2026-08-14T20:10:49.4173297Z'; the text then starts a
    # second event that the quote cuts off.
    got = parse_event_time(capture("wevtutil-qe-security-4624-xml-partial.xml"), 0)
    assert got == datetime(2026, 8, 14, 20, 10, 49, 417329, tzinfo=UTC)


def test_event_time_empty_log() -> None:
    # §4.1: a query with zero matches: exit 0 and 0 bytes.
    assert parse_event_time("", 0) is None


def test_sampled_events_skip_other_ids_and_flag_truncation() -> None:
    got = parse_sampled_4688(capture("wevtutil-qe-security-4624-xml-partial.xml"), 0)
    assert isinstance(got, SampledEvents)
    assert got.events == ()
    kinds = {p.kind for p in got.problems}
    assert "truncated" in kinds
    assert any("4624" in p.message for p in got.problems)


NS = "http://schemas.microsoft.com/win/2004/08/events/event"


def make_4688(version: int, time: str, data: dict[str, str | None]) -> str:
    """A 4688 in wevtutil's /f:xml shape (§4.1: single quotes, one line) with §A5's fields."""
    items = "".join(f"<Data Name='{k}'/>" if v is None else f"<Data Name='{k}'>{v}</Data>" for k, v in data.items())
    return (
        f"<Event xmlns='{NS}'><System><Provider Name='Microsoft-Windows-Security-Auditing' "
        "Guid='{54849625-5478-4994-a5ba-3e3b0328c30d}'/><EventID>4688</EventID>"
        f"<Version>{version}</Version><Level>0</Level><Task>13312</Task><Opcode>0</Opcode>"
        f"<Keywords>0x8020000000000000</Keywords><TimeCreated SystemTime='{time}'/>"
        "<EventRecordID>1001</EventRecordID><Correlation/><Execution ProcessID='4' ThreadID='8'/>"
        "<Channel>Security</Channel><Computer>WS01.corp.example</Computer><Security/></System>"
        f"<EventData>{items}</EventData></Event>"
    )


V2 = make_4688(
    2,
    "2026-11-28T06:59:01.1234567Z",
    {
        "SubjectUserSid": "S-1-5-18",
        "SubjectUserName": "WS01$",
        "NewProcessName": "C:\\Windows\\System32\\net.exe",
        "CommandLine": "net user eve Hunter2Secret /add",
        "ParentProcessName": "C:\\Windows\\System32\\cmd.exe",
    },
)
V1_EMPTY = make_4688(
    1,
    "2026-11-28T06:58:00.0000000Z",
    {"SubjectUserName": "alice", "NewProcessName": "C:\\x.exe", "CommandLine": None},
)
V0 = make_4688(0, "2026-11-28T06:57:00Z", {"SubjectUserName": "bob", "NewProcessName": "C:\\y.exe"})


def test_sampled_4688_fields_versions_and_redaction() -> None:
    text = V2 + V1_EMPTY + V0 + "\r\n"
    got = parse_sampled_4688(text, 0)
    assert isinstance(got, SampledEvents)
    assert got.problems == ()
    v2, v1, v0 = got.events
    assert (v2.version, v2.event_id) == (2, 4688)
    assert v2.time == datetime(2026, 11, 28, 6, 59, 1, 123456, tzinfo=UTC)
    assert v2.new_process_name == "C:\\Windows\\System32\\net.exe"
    assert v2.parent_process_name == "C:\\Windows\\System32\\cmd.exe"
    assert v2.subject_user_name == "WS01$"
    assert v2.command_line is not None and "Hunter2Secret" not in v2.command_line
    assert v2.secrets_found == 1
    assert v2.size_bytes == len(V2.encode("utf-8"))
    assert v1.command_line == ""  # present but empty: policy off (gpo §A2)
    assert v1.parent_process_name is None
    assert v0.command_line is None  # no CommandLine field at all (version 0)


def test_sampled_4688_entity_declarations_refused() -> None:
    bomb = (
        "<?xml version='1.0'?><!DOCTYPE Event [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;'>]>"
        f"<Event xmlns='{NS}'><System><EventID>4688</EventID></System><EventData><Data Name='CommandLine'>&b;</Data>"
        "</EventData></Event>"
    )
    got = parse_sampled_4688(bomb, 0)
    assert isinstance(got, ParseError)
    assert "declaration" in got.message


def test_sampled_4688_one_bad_event_keeps_the_good_ones() -> None:
    broken = V2.replace("</EventData>", "</EventDta>")
    got = parse_sampled_4688(broken + V1_EMPTY, 0)
    assert isinstance(got, SampledEvents)
    assert len(got.events) == 1
    assert len(got.problems) == 1


def test_sampled_4688_access_denied_and_missing_log() -> None:
    # §4.3: Security as non-admin: exit 5 "Access is denied."; missing channel 15007.
    denied = parse_sampled_4688("Access is denied.\r\n", 5)
    assert isinstance(denied, ParseError) and denied.kind == "access_denied"
    missing = parse_sampled_4688("The specified channel could not be found.\r\nFailed to open event query.\r\n", 15007)
    assert isinstance(missing, ParseError) and missing.kind == "not_found"


def test_sampled_4688_real_events_from_cc0_evtx(evtx_dev_dir: Path) -> None:
    """Real 4688s (CC0-1.0, mdecrevoisier) rendered by the `evtx` package and concatenated as wevtutil
    does. facts.csv (written independently, with the evtx package) gives the truth: 2 events, both at
    2020-07-09T20:09:33.789004Z, CommandLine populated. The rendering differs from wevtutil's (indented,
    double quotes, an <?xml?> header per record) - the parser must not care."""
    from evtx import PyEvtxParser

    path = evtx_dev_dir / "mdec__ID4688-Audit_policy_clear_attempt.evtx"
    parts: list[str] = []
    for rec in PyEvtxParser(str(path)).records():
        assert rec is not None  # evtx's stub types __next__ as Optional; it never yields None
        parts.append(rec["data"])
    xml = "".join(parts)
    got = parse_sampled_4688(xml, 0)
    assert isinstance(got, SampledEvents)
    assert len(got.events) == 2
    assert {e.time for e in got.events} == {datetime(2020, 7, 9, 20, 9, 33, 789004, tzinfo=UTC)}
    assert all(e.command_line for e in got.events)
    assert any("auditpol" in (e.command_line or "").lower() for e in got.events)
    # This filtered export's events (read with the evtx package) carry no ParentProcessName element.
    assert all(e.version == 2 and e.parent_process_name is None for e in got.events)
    assert "C:\\Windows\\System32\\auditpol.exe" in {e.new_process_name for e in got.events}


# --- hostile input -----------------------------------------------------------------------------------

TEXT_PARSERS: list[Callable[[str], object]] = [
    lambda t: parse_auditpol_backup(t),
    lambda t: parse_auditpol_report(t),
    lambda t: parse_reg_values(t, 0),
    lambda t: parse_wevtutil_gl(t, 0),
    lambda t: parse_wevtutil_gli(t, 0),
    lambda t: parse_sc_query(t, 0),
    lambda t: parse_find_counts(t, 24),
    lambda t: parse_ver(t),
    lambda t: parse_hostname(t),
    lambda t: parse_event_time(t, 0),
    lambda t: parse_sampled_4688(t, 0),
]


@pytest.mark.parametrize("parser", TEXT_PARSERS)
def test_ten_megabytes_of_junk(parser: Callable[[str], object]) -> None:
    junk = ("\x00\xff<Event " + "A,{0CCE922B-69AE-11D9-BED3-505054503030}," * 3 + "\r\n") * 80_000
    junk = (junk * 2)[: 10 * 1024 * 1024]
    got = parser(junk)
    assert isinstance(got, ParseError | AuditpolBackup | AuditpolReport | SampledEvents | type(None))


@pytest.mark.parametrize("parser", TEXT_PARSERS)
def test_nul_bytes_and_truncated_xml(parser: Callable[[str], object]) -> None:
    for text in ("\x00" * 1000, V2[: len(V2) // 2], "<Event><System>", "\ufffd\r\n\r\n"):
        parser(text)  # must not raise


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=500))
def test_no_parser_raises_on_arbitrary_text(text: str) -> None:
    for parser in TEXT_PARSERS:
        parser(text)


PATHOLOGICAL = [
    "\r\n" * 1_000_000,
    " " * 2_000_000 + "x",
    "a: " + " " * 1_000_000 + "x",
    "    n" + "    " * 200_000 + "x",
    "<Event " * 200_000,
    "<Event>" + "</Event><Event>" * 100_000,
]


@pytest.mark.parametrize("text", PATHOLOGICAL, ids=range(len(PATHOLOGICAL)))
def test_pathological_input_finishes(text: str) -> None:
    """Backtracking traps (long whitespace runs, many event starts) must stay linear: this test would
    hang, not fail, if a regex went quadratic."""
    for parser in TEXT_PARSERS:
        parser(text)


# --- task T12: the probe's own processes are dropped from the sample --------------------------------

_NS = "http://schemas.microsoft.com/win/2004/08/events/event"


def _own_4688(minute: int, new_pid: str, creator_pid: str, image: str, cmd: str) -> str:
    # Field names and the 0x-hex process ids: the 4688 schema (gpo-backup-format.md §A5).
    return (
        f"<Event xmlns='{_NS}'><System><Provider Name='Microsoft-Windows-Security-Auditing'/>"
        f"<EventID>4688</EventID><Version>2</Version><TimeCreated SystemTime='2026-11-28T06:{minute:02d}:00.0000000Z'/>"
        "<Computer>WIN-HOST</Computer></System><EventData>"
        f"<Data Name='NewProcessId'>{new_pid}</Data><Data Name='NewProcessName'>{image}</Data>"
        f"<Data Name='ProcessId'>{creator_pid}</Data><Data Name='CommandLine'>{cmd}</Data></EventData></Event>"
    )


def test_sample_drops_the_probes_own_process_tree() -> None:
    """Newest first, as /rd:true returns them. The probe's cmd.exe (nonce in its CommandLine, pid 0x100)
    started wevtutil (0x200) and find (0x300); wevtutil started conhost (0x400, a grandchild). An older
    process with creator pid 0x100 (recycled id, before cmd.exe started) and unrelated processes stay."""
    nonce = "c0ffee"
    events = [
        _own_4688(50, "0x400", "0x200", "C:\\Windows\\System32\\conhost.exe", "conhost.exe 0xffffffff"),
        _own_4688(49, "0x300", "0x100", "C:\\Windows\\System32\\find.exe", 'find /c ": 2026"'),
        _own_4688(48, "0x999", "0x555", "C:\\Windows\\System32\\svchost.exe", "svchost.exe -k netsvcs"),
        _own_4688(47, "0x200", "0x100", "C:\\Windows\\System32\\wevtutil.exe", "wevtutil qe Security /c:1"),
        _own_4688(46, "0x100", "0x50", "C:\\Windows\\System32\\cmd.exe", f"cmd /c echo ##AP{nonce}:hostname"),
        _own_4688(10, "0x700", "0x100", "C:\\Windows\\System32\\net.exe", "net use"),  # before cmd.exe: kept
    ]
    parsed = parse_sampled_4688("".join(events), 0, nonce=nonce)
    assert not isinstance(parsed, ParseError)
    assert [e.new_process_name.rsplit("\\", 1)[-1] for e in parsed.events if e.new_process_name] == [
        "svchost.exe", "net.exe"
    ]
    assert parsed.own_dropped == 4 and parsed.problems == ()
    # Without the nonce nothing can be told apart, so nothing is dropped.
    plain = parse_sampled_4688("".join(events), 0)
    assert not isinstance(plain, ParseError) and len(plain.events) == 6 and plain.own_dropped == 0
