"""The wevtutil XPath subset (MS-EVEN6 §2.2.15) on hand-built events; expectations by hand."""

from __future__ import annotations

import pytest

from auditplan.simulator.xpath import (
    DYN_COMPUTER,
    DYN_RID,
    DYN_TIME,
    EventFilter,
    EvNode,
    XPathError,
    format_system_time,
    parse_system_time,
)

NOW = "2026-11-28T12:00:00.0000000Z"
NOW_TICKS = 1795867200 * 10_000_000  # 2026-11-28T12:00:00Z, computed by hand: checked below


def event(event_id: int = 4688, provider: str = "Microsoft-Windows-Security-Auditing",
          data: dict[str, str] | None = None) -> EvNode:
    system = EvNode("System", children=[
        EvNode("Provider", attrs={"Name": provider, "Guid": "{54849625-5478-4994-a5ba-3e3b0328c30d}"}),
        EvNode("EventID", text=str(event_id)),
        EvNode("Level", text="0"),
        EvNode("Keywords", text="0x8020000000000000"),
        EvNode("TimeCreated", attrs={"SystemTime": DYN_TIME}),
        EvNode("EventRecordID", text=DYN_RID),
        EvNode("Computer", text=DYN_COMPUTER),
    ])
    ed = EvNode("EventData", children=[EvNode("Data", attrs={"Name": k}, text=v) for k, v in (data or {}).items()])
    return EvNode("Event", children=[system, ed])


def matches(query: str, ev: EvNode, t: str = "2026-11-28T11:00:00.0000000Z", rid: int = 10) -> bool:
    ticks = parse_system_time(t)
    assert ticks is not None
    return EventFilter(query, NOW_TICKS, "HOST01.corp.example").matches(ev, ticks, rid)


def test_time_parsing_round_trip_and_utc() -> None:
    assert parse_system_time(NOW) == NOW_TICKS
    assert parse_system_time("2026-11-28T12:00:00Z") == NOW_TICKS
    assert parse_system_time("2026-11-28T12:00:00") == NOW_TICKS  # no designator: UTC
    assert parse_system_time("2026-11-28T12:00:00.5Z") == NOW_TICKS + 5_000_000
    assert format_system_time(NOW_TICKS + 1234567) == "2026-11-28T12:00:00.1234567Z"
    assert parse_system_time("yesterday") is None


@pytest.mark.parametrize(("query", "expected"), [
    ("*", True),
    ("Event", True),
    ("*[System[(EventID=4688)]]", True),
    ("*[System[EventID=4688]]", True),
    ("*[System[(EventID=4689)]]", False),
    ("*[System[EventID=1 or EventID=4688]]", True),
    ("*[System[(EventID=1 or EventID=2)]]", False),
    ("*[System/EventID=4688]", True),
    ("*[System[Provider[@Name='Microsoft-Windows-Security-Auditing']]]", True),
    ("*[System[Provider[@Name='Microsoft-Windows-Sysmon']]]", False),
    ("*[System[Provider[@Name='Microsoft-Windows-Security-Auditing'] and EventID=4688]]", True),
    ("*[System[Provider[@Name='Microsoft-Windows-Security-Auditing'] and EventID=1]]", False),
    ("*[System[Level <= 3]]", True),
    ("*[System[band(Keywords, 9007199254740992)]]", True),  # 0x0020000000000000: Audit Success bit
    ("*[System[band(Keywords, 4503599627370496)]]", False),  # 0x0010000000000000: Audit Failure bit
    ("*[EventData[Data[@Name='NewProcessName']='C:\\Windows\\System32\\cmd.exe']]", True),
    ("*[EventData[Data[@Name='NewProcessName']='C:\\Windows\\System32\\calc.exe']]", False),
    ("*[EventData[Data[1]='C:\\Windows\\System32\\cmd.exe']]", True),
    ("*[System[Computer='HOST01.corp.example']]", True),
    ("*[System[EventRecordID > 5]]", True),
    ("*[System[EventRecordID > 10]]", False),
    ("*[System[(EventID=4688)] and System[Level=1]]", False),
    ("*[(System[EventID=1]) or (System[EventID=4688] and System[Level=0])]", True),
    # a misspelt attribute name selects nothing (windows-tool-outputs.md §4.1), no error
    ("*[System[Provider[@Nmae='Microsoft-Windows-Security-Auditing']]]", False),
    ("*[System[EventId=4688]]", False),  # names are case-sensitive
])
def test_static_predicates(query: str, expected: bool) -> None:
    ev = event(data={"NewProcessName": "C:\\Windows\\System32\\cmd.exe"})
    assert matches(query, ev) is expected


def test_time_window_is_half_open() -> None:
    q = ("*[System[(EventID=4688) and TimeCreated[@SystemTime>='2026-11-28T10:00:00.000Z' "
         "and @SystemTime<'2026-11-28T11:00:00.000Z']]]")
    ev = event()
    assert matches(q, ev, "2026-11-28T10:00:00.0000000Z")  # lower bound included
    assert matches(q, ev, "2026-11-28T10:59:59.9999999Z")
    assert not matches(q, ev, "2026-11-28T11:00:00.0000000Z")  # upper bound excluded
    assert not matches(q, ev, "2026-11-28T09:59:59.9999999Z")


def test_time_condition_is_the_window_in_ticks() -> None:
    q = ("*[System[TimeCreated[@SystemTime>='2026-11-28T10:00:00.000Z' "
         "and @SystemTime<'2026-11-28T11:00:00.000Z']]]")
    cond = EventFilter(q, NOW_TICKS).time_condition(event())
    lo = parse_system_time("2026-11-28T10:00:00Z")
    hi = parse_system_time("2026-11-28T11:00:00Z")
    assert cond is not None and cond.intervals == ((lo, hi),)
    # A record-number test cannot be decided per template: the log asks per event.
    assert EventFilter("*[System[EventRecordID=3]]", NOW_TICKS).time_condition(event()) is None


def test_timediff_in_milliseconds_from_now() -> None:
    q = "*[System[TimeCreated[timediff(@SystemTime) <= 3600000]]]"  # the last hour
    ev = event()
    assert matches(q, ev, "2026-11-28T11:00:00.0000000Z")  # exactly 3,600,000 ms ago
    assert matches(q, ev, "2026-11-28T11:30:00.0000000Z")
    assert not matches(q, ev, "2026-11-28T10:59:59.9990000Z")
    q2 = "*[System[TimeCreated[timediff(@SystemTime) > 86400000]]]"  # older than a day
    assert matches(q2, ev, "2026-11-27T11:59:59.0000000Z")
    assert not matches(q2, ev, "2026-11-27T12:00:01.0000000Z")


@pytest.mark.parametrize("query", [
    "",
    "*[System[EventID=4688]",  # unbalanced
    "*[System[EventID=]]",
    "//Event",
    "/Event[System[EventID=4688]]",  # absolute paths are not supported
    "*[System[contains(Computer, 'x')]]",
    "*[System[not(EventID=4688)]]",
    "*[System[EventID=4688 | EventID=1]]",
    "*[System[EventID+1=4689]]",
    "Event/System[EventID=4688]",  # selects a non-event element
    "*[System[descendant::EventID=4688]]",
    "*[System[timediff()]]",
    "*[System[EventID=4688]] junk",
])
def test_refused_queries(query: str) -> None:
    with pytest.raises(XPathError):
        EventFilter(query, NOW_TICKS)
