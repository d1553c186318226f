"""One event, one record: a 4688 read over WinRM (wevtutil's XML, parse_sampled_4688) and the same
event ingested from an .evtx file give the same SampledEvent (collect.parse.events.sampled_4688).

The events are real (tests/data, SOURCES.md), rendered to XML by the `evtx` package, re-rendered as
Windows does (collect/evtx/windows_xml.py) and written back to back as `wevtutil qe /f:xml` does. The DFIRArtifactMuseum log's boot-time 4688s carry an empty
ParentProcessName and an empty CommandLine: the case the two paths used to disagree on ('' over
WinRM, None from EVTX).
"""

from __future__ import annotations

import re
from pathlib import Path

import evtx
import pytest

from auditplan.collect import api
from auditplan.collect.evtx.windows_xml import windows_xml
from auditplan.collect.parse.events import SampledEvents, parse_sampled_4688
from auditplan.records import SampledEvent

DATA_DIR = Path(__file__).resolve().parents[1] / "data"
FILES = (
    "dfirmuseum__APTSimulatorVM_EventLogs_Server2022__Security.evtx",  # 34 boot-time 4688s, audit off
    "mdec__ID4688-Clear_event_log_attempt_native.evtx",  # 28 4688s with command lines
    "mdec__ID4688-Audit_policy_clear_attempt.evtx",  # 2
)
_IS_4688 = re.compile(r"<EventID[^>]*>4688</EventID>")
_EMPTY_PARENT = '<Data Name="ParentProcessName"></Data>'


def _records_4688(path: Path) -> list[str]:
    """Every 4688 record of the file as evtx-rs renders it (an XML declaration, then the Event)."""
    records = []
    for record in evtx.PyEvtxParser(str(path)).records():
        assert record is not None  # the stub types __next__ as Optional; it never yields None
        if _IS_4688.search(record["data"]):
            records.append(record["data"])
    return records


def _event_element(record: str) -> str:
    return record[record.index("<Event") : record.rindex("</Event>") + len("</Event>")]


def _in_file_order(events: tuple[SampledEvent, ...] | list[SampledEvent]) -> list[SampledEvent]:
    return sorted(events, key=lambda e: e.time)  # stable: events of one instant keep the file's order


@pytest.mark.parametrize("name", FILES)
def test_the_same_event_gives_the_same_record_over_winrm_and_from_evtx(name: str) -> None:
    path = DATA_DIR / name
    records = _records_4688(path)
    # What wevtutil would send for these events: Windows' rendering of each (collect/evtx/windows_xml.py).
    over_winrm = parse_sampled_4688("".join(windows_xml(r) for r in records), 0)
    assert isinstance(over_winrm, SampledEvents) and over_winrm.problems == ()
    ingested = api.read_evtx(path, sample_size=1000)  # large enough to keep every 4688
    assert ingested.result is not None

    winrm_events = _in_file_order(over_winrm.events)
    evtx_events = _in_file_order(ingested.result.events)
    assert len(winrm_events) == len(evtx_events) == len(records) > 0
    around = {len(r.encode("utf-8")) - len(_event_element(r).encode("utf-8")) for r in records}
    assert around == {40}  # '<?xml version="1.0" encoding="utf-8"?>' and two line breaks
    for w, e in zip(winrm_events, evtx_events, strict=True):
        # One XML basis: evtx-rs's record holds an XML declaration, indentation and line breaks that
        # wevtutil does not write, so the ingest sizes it as Windows renders it; both paths agree.
        assert e == w
    assert sum(e.size_bytes for e in evtx_events) < sum(len(_event_element(r).encode("utf-8")) for r in records)


def test_empty_fields_follow_one_rule_on_both_paths() -> None:
    path = DATA_DIR / FILES[0]
    records = _records_4688(path)
    with_empty_parent = [r for r in records if _EMPTY_PARENT in r]
    assert len(with_empty_parent) == 6  # the evtx package's rendering of this log (checked by hand)
    over_winrm = parse_sampled_4688("".join(with_empty_parent), 0)
    assert isinstance(over_winrm, SampledEvents)
    ingested = api.read_evtx(path, sample_size=1000)
    assert ingested.result is not None
    for event in (*over_winrm.events, *ingested.result.events):
        assert event.command_line == ""  # present but empty: command-line auditing was off
        assert event.new_process_name  # every boot-time 4688 names its process
    # An empty ParentProcessName names no process: None on both paths.
    assert all(e.parent_process_name is None for e in over_winrm.events)
    assert sum(e.parent_process_name is None for e in ingested.result.events) == 6
