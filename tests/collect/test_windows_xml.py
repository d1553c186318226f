"""collect/evtx/windows_xml.py: evtx-rs's records re-rendered (and sized) as Windows renders event XML.

Oracles: the verbatim `wevtutil qe /f:xml` capture of windows-tool-outputs.md §4.1 (tests/data/captures)
for the form, and the rendering itself for the counted size (the ingest's fast paths must agree with it
byte for byte). tests/model/test_siem_event_sizes.py checks the sizes against python-evtx besides.
"""

from __future__ import annotations

import random
import re
from pathlib import Path

import evtx
import pytest

from auditplan.collect.evtx.scan import scan
from auditplan.collect.evtx.windows_xml import windows_xml, windows_xml_size

DATA = Path(__file__).resolve().parents[1] / "data"
SHARED = Path(__file__).resolve().parents[3] / "shared" / "reference" / "evtx-dev"
CAPTURE = DATA / "captures" / "wevtutil-qe-security-4624-xml-partial.xml"
CLEAR_LOG = DATA / "mdec__ID4688-Clear_event_log_attempt_native.evtx"


def _files() -> list[Path]:
    # Every event id of the dev set when ../shared is there, else the copied CC0/MIT files.
    return sorted(SHARED.glob("*.evtx")) if SHARED.is_dir() else sorted(DATA.glob("*.evtx"))


def _records(path: Path) -> list[str]:
    return [r["data"] for r in evtx.PyEvtxParser(str(path)).records() if r is not None]


def _skeleton(xml: str) -> str:
    """Tags only: text and attribute values emptied, the Correlation's optional attribute dropped."""
    xml = re.sub(r">[^<]*<", "><", xml)
    xml = re.sub(r"='[^']*'", "=''", xml)
    return xml.replace("<Correlation ActivityID=''/>", "<Correlation/>")


def test_a_real_4688_takes_the_form_wevtutil_prints() -> None:
    capture = CAPTURE.read_text(encoding="utf-8")
    mine = windows_xml(_records(CLEAR_LOG)[0])
    system = slice(0, mine.index("</System>") + len("</System>"))
    assert _skeleton(mine)[system] == _skeleton(capture)[: len(_skeleton(mine)[system])]
    assert mine.startswith("<Event xmlns='http://schemas.microsoft.com/win/2004/08/events/event'><System>"
                           "<Provider Name='Microsoft-Windows-Security-Auditing' "
                           "Guid='{54849625-5478-4994-a5ba-3e3b0328c30d}'/><EventID>4688</EventID>")
    assert re.search(r"<TimeCreated SystemTime='\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{7}Z'/>", mine)
    assert "\n" not in mine and '"' not in mine and "<?xml" not in mine
    assert mine.endswith("</EventData></Event>")


def test_quotes_in_text_are_escaped_and_text_whitespace_kept() -> None:
    raw = ('<?xml version="1.0" encoding="utf-8"?>\n<Event xmlns="x">\n  <EventData>\n'
           '    <Data Name="CommandLine">"C:\\a b\\c.exe"  /x  y="z"</Data>\n    <Data Name="Empty"></Data>\n'
           '  </EventData>\n</Event>\n')
    assert windows_xml(raw) == ("<Event xmlns='x'><EventData><Data Name='CommandLine'>&quot;C:\\a b\\c.exe&quot;  /x"
                                "  y=&quot;z&quot;</Data><Data Name='Empty'/></EventData></Event>")
    assert windows_xml_size(raw) == len(windows_xml(raw))


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name[:40])
def test_counted_size_equals_the_rendering_for_every_record(path: Path) -> None:
    for xml in _records(path):
        assert windows_xml_size(xml) == len(windows_xml(xml).encode("utf-8"))


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name[:40])
def test_the_scan_sizes_every_4688_as_the_rendering_does(path: Path) -> None:
    # A sample as large as the log keeps every 4688 (reservoir sampling fills first).
    s = scan(evtx.PyEvtxParser(str(path)), 10_000, random.Random(0))
    assert len(s.sample) == len(s.sizes)
    assert sorted(s.sizes) == sorted(len(windows_xml(x).encode("utf-8")) for x in s.sample)
