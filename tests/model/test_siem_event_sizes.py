"""Bytes per 4688 per SIEM format, checked against renderings of the same real events built another way.

The code under test: the ingest sizes each 4688 as Windows renders it (collect/evtx/windows_xml.py, from
evtx-rs), the estimate turns a host's sample into its XML sizes (model/estimate.py), and each SIEM profile
(defaults.toml [siem.*], model/siem.py) turns those into bytes per event. The oracle here reads the same
files with python-evtx (another parser), rebuilds each event by hand with lxml, and renders every format
from the fields with its own code: Windows' compact XML (windows-tool-outputs.md §4.1), Splunk's classic
WinEventLog (header lines + `Message=` + the 4688 message of Microsoft's event-4688 page), WEF
RenderedText (the XML + RenderingInfo), the Winlogbeat document (elastic/beats golden-file shape), the
SecurityEvent row (column values) and a WinCollect syslog line. Each profile must land within 10 % of the
oracle's mean for every host. CC0/MIT files are in tests/data; GPL-3.0 ones are read from ../shared.
"""

from __future__ import annotations

import json
import re
import statistics
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from evtx import PyEvtxParser
from Evtx.Evtx import Evtx
from lxml import etree

from auditplan.collect.evtx.ingest import ingest_file
from auditplan.config import load_config
from auditplan.model.estimate import estimate_hosts
from auditplan.model.siem import load_siem_profiles

DATA = Path(__file__).resolve().parents[1] / "data"
CC0_FILES = ("mdec__ID4688-Clear_event_log_attempt_native.evtx", "mdec__ID4688_4778_4779_RDP_hijack_direct.evtx")
GPL_FILES = ("dbcli__powersploit-security.evtx", "sbou__DE_RDP_Tunnel_5156.evtx")  # read in place
NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"

# Microsoft "4688(S): A new process has been created" (event-4688.md), v2 message; %n = the n-th insert.
MESSAGE_V2 = """A new process has been created.

Creator Subject:
\tSecurity ID:\t\t%1
\tAccount Name:\t\t%2
\tAccount Domain:\t\t%3
\tLogon ID:\t\t%4

Target Subject:
\tSecurity ID:\t\t%10
\tAccount Name:\t\t%11
\tAccount Domain:\t\t%12
\tLogon ID:\t\t%13

Process Information:
\tNew Process ID:\t\t%5
\tNew Process Name:\t%6
\tToken Elevation Type:\t%7
\tMandatory Label:\t\t%15
\tCreator Process ID:\t%8
\tCreator Process Name:\t%14
\tProcess Command Line:\t%9

Token Elevation Type indicates the type of token that was assigned to the new process in accordance with \
User Account Control policy.

Type 1 is a full token with no privileges removed or groups disabled.  A full token is only used if User \
Account Control is disabled or if the user is the built-in Administrator account or a service account.

Type 2 is an elevated token with no privileges removed or groups disabled.  An elevated token is used when \
User Account Control is enabled and the user chooses to start the program using Run as administrator.  An \
elevated token is also used when an application is configured to always require administrative privilege or \
to always require maximum privilege, and the user is a member of the Administrators group.

Type 3 is a limited token with administrative privileges removed and administrative groups disabled.  The \
limited token is used when User Account Control is enabled, the application does not require administrative \
privilege, and the user does not choose to start the program using Run as administrator."""
# v1 (Server 2012 R2): one "Subject:" block, no target, label or creator name (gpo-backup-format.md §A5).
MESSAGE_V1 = re.sub(r"Target Subject:\n(?:\t.*\n)+\n", "", MESSAGE_V2.replace("Creator Subject:", "Subject:"))
MESSAGE_V1 = re.sub(r"\t(Mandatory Label|Creator Process Name):.*\n", "", MESSAGE_V1)
INSERTS = ("SubjectUserSid", "SubjectUserName", "SubjectDomainName", "SubjectLogonId", "NewProcessId",
           "NewProcessName", "TokenElevationType", "ProcessId", "CommandLine", "TargetUserSid", "TargetUserName",
           "TargetDomainName", "TargetLogonId", "ParentProcessName", "MandatoryLabel")
ELEVATION = {"%%1936": "TokenElevationTypeDefault (1)", "%%1937": "TokenElevationTypeFull (2)",
             "%%1938": "TokenElevationTypeLimited (3)"}
LEVELS = {"0": "Untrusted", "4096": "Low", "8192": "Medium", "8448": "Medium Plus", "12288": "High",
          "16384": "System"}


@dataclass
class Real:
    """One 4688 as python-evtx reads it, its values normalised to what Windows writes."""

    version: int
    computer: str
    record: str
    time: str  # Windows form: 2021-10-25T07:57:04.3616960Z
    pid: str
    tid: str
    data: dict[str, str]

    def message(self) -> str:
        values = dict(self.data)
        values["TokenElevationType"] = ELEVATION.get(values.get("TokenElevationType", ""), "")
        label = values.get("MandatoryLabel", "")
        values["MandatoryLabel"] = f"Mandatory Label\\{LEVELS.get(label.rsplit('-', 1)[-1], '')} Mandatory Level"
        text = MESSAGE_V2 if self.version >= 2 else MESSAGE_V1
        if self.version == 0:
            text = text.replace("\tProcess Command Line:\t%9\n", "")
        filled = re.sub(r"%(\d+)", lambda m: values.get(INSERTS[int(m.group(1)) - 1], ""), text)
        return filled.replace("\n", "\r\n")

    def xml(self, rendering_info: str = "") -> str:
        """Windows' compact XML, written element by element with lxml."""
        event = etree.Element("Event", nsmap={None: NS[1:-1]})
        system = etree.SubElement(event, "System")
        etree.SubElement(system, "Provider", Name="Microsoft-Windows-Security-Auditing",
                         Guid="{54849625-5478-4994-a5ba-3e3b0328c30d}")
        for tag, text in (("EventID", "4688"), ("Version", str(self.version)), ("Level", "0"), ("Task", "13312"),
                          ("Opcode", "0"), ("Keywords", "0x8020000000000000")):
            etree.SubElement(system, tag).text = text
        etree.SubElement(system, "TimeCreated", SystemTime=self.time)
        etree.SubElement(system, "EventRecordID").text = self.record
        etree.SubElement(system, "Correlation")
        etree.SubElement(system, "Execution", ProcessID=self.pid, ThreadID=self.tid)
        etree.SubElement(system, "Channel").text = "Security"
        etree.SubElement(system, "Computer").text = self.computer
        etree.SubElement(system, "Security")
        data = etree.SubElement(event, "EventData")
        for name, value in self.data.items():
            etree.SubElement(data, "Data", Name=name).text = value or None
        text = etree.tostring(event, encoding="unicode")
        # lxml writes double quotes and leaves '"' in text; Windows quotes with ' and writes &quot;.
        text = re.sub(r">([^<]+)<", lambda m: ">" + m.group(1).replace('"', "&quot;") + "<", text)
        text = re.sub(r"<[^>]+>", lambda m: m.group(0).replace('"', "'"), text)
        return text.replace("</Event>", rendering_info + "</Event>")


def _hex(value: str) -> str:
    # python-evtx pads HexInt64 values to 16 digits; Windows writes them short (0x3e7).
    return hex(int(value, 16)) if re.fullmatch(r"0x[0-9a-fA-F]{16}", value) else value


def read_real(path: Path) -> list[Real]:
    out = []
    with Evtx(str(path)) as log:
        for record in log.records():
            root = etree.fromstring(record.xml().encode("utf-8"))
            system = root.find(f"{NS}System")
            if system is None or system.findtext(f"{NS}EventID") != "4688":
                continue
            when = system.find(f"{NS}TimeCreated").get("SystemTime")  # "2021-10-25 07:57:04.361696+00:00"
            date, clock = when[:26].split(" ")
            execution = system.find(f"{NS}Execution")
            out.append(Real(
                version=int(system.findtext(f"{NS}Version")), computer=system.findtext(f"{NS}Computer"),
                record=system.findtext(f"{NS}EventRecordID"), time=f"{date}T{clock.ljust(15, '0')}0Z",
                pid=execution.get("ProcessID"), tid=execution.get("ThreadID"),
                data={d.get("Name"): _hex(d.text or "") for d in root.iter(f"{NS}Data")}))
    return out


def splunk_classic(e: Real) -> str:
    # Splunk WinEventLog (classic): a timestamp line, then key=value lines, then Message= and the text.
    clock = e.time[11:19]
    hour = int(clock[:2])
    stamp = f"{e.time[5:7]}/{e.time[8:10]}/{e.time[:4]} {(hour % 12) or 12:02d}{clock[2:]} {'AM' if hour < 12 else 'PM'}"
    pairs = {"LogName": "Security", "EventCode": "4688", "EventType": "0", "ComputerName": e.computer,
             "SourceName": "Microsoft Windows security auditing.", "Type": "Information", "RecordNumber": e.record,
             "Keywords": "Audit Success", "TaskCategory": "Process Creation", "OpCode": "Info",
             "Message": e.message()}
    return stamp + "\n" + "\n".join(f"{k}={v}" for k, v in pairs.items())


def wef(e: Real) -> str:
    info = etree.Element("RenderingInfo", Culture="en-US")
    for tag, text in (("Message", e.message()), ("Level", "Information"), ("Task", "Process Creation"),
                      ("Opcode", "Info"), ("Channel", "Security"), ("Provider", "Microsoft Windows security auditing.")):
        etree.SubElement(info, tag).text = text
    etree.SubElement(etree.SubElement(info, "Keywords"), "Keyword").text = "Audit Success"
    return e.xml(etree.tostring(info, encoding="unicode").replace("&#13;", "\r"))


def winlogbeat(e: Real) -> str:
    doc = {"@timestamp": e.time, "agent": {"ephemeral_id": "x" * 36, "id": "y" * 36, "name": e.computer.split(".")[0],
                                          "type": "winlogbeat", "version": "8.15.0"},
           "ecs": {"version": "8.0.0"},
           "event": {"action": "Process Creation", "code": "4688", "created": e.time, "kind": "event",
                     "outcome": "success", "provider": "Microsoft-Windows-Security-Auditing"},
           "host": {"name": e.computer}, "log": {"level": "information"},
           "message": e.message().replace("\r\n", "\n"),
           "winlog": {"channel": "Security", "computer_name": e.computer, "event_data": e.data, "event_id": "4688",
                      "keywords": ["Audit Success"], "opcode": "Info",
                      "process": {"pid": int(e.pid), "thread": {"id": int(e.tid)}},
                      "provider_guid": "{54849625-5478-4994-A5BA-3E3B0328C30D}",
                      "provider_name": "Microsoft-Windows-Security-Auditing", "record_id": int(e.record),
                      "task": "Process Creation", "version": e.version}}
    return json.dumps(doc, separators=(",", ":"))


def sentinel(e: Real) -> str:
    # SecurityEvent: the values of its stored columns (Azure Monitor bills their string form).
    xml = e.xml()
    event_data = xml[xml.index("<EventData>"):xml.index("</Event>")].replace(
        "<EventData>", f"<EventData xmlns='{NS[1:-1]}'>")
    d = e.data
    account = d.get("SubjectDomainName", "") + "\\" + d.get("SubjectUserName", "")
    guid = "0" * 8 + "-0000-0000-0000-" + "0" * 12
    fixed = [e.time, e.time, "OpsManager", "Machine" if account.endswith("$") else "User", e.computer,
             "Microsoft-Windows-Security-Auditing", "Security", "13312", "8", "4688",
             "4688 - A new process has been created.", guid, guid, guid, "AOI-" + guid, account, account, event_data,
             d.get("NewProcessName", "").split("\\")[-1]]
    if e.version >= 2:
        fixed.append(d.get("TargetDomainName", "") + "\\" + d.get("TargetUserName", ""))
    return "".join(fixed) + "".join(d.values())


def wincollect(e: Real) -> str:
    one_line = " ".join(e.message().replace("\t", " ").split("\r\n"))
    pairs = [("AgentDevice", "WindowsLog"), ("AgentLogFile", "Security"), ("PluginVersion", "7.3.1.16"),
             ("Source", "Microsoft-Windows-Security-Auditing"), ("Computer", e.computer),
             ("OriginatingComputer", e.computer), ("User", ""), ("Domain", ""), ("EventID", "4688"),
             ("EventIDCode", "4688"), ("EventType", "8"), ("EventCategory", "13312"), ("RecordNumber", e.record),
             ("TimeGenerated", "1" * 10), ("TimeWritten", "1" * 10), ("Level", "Log Always"),
             ("Keywords", "Audit Success"), ("Task", "SE_ADT_DETAILEDTRACKING_PROCESSCREATION"), ("Opcode", "Info"),
             ("Message", one_line)]
    return "<13>Oct 25 07:57:04 " + e.computer + " " + "\t".join(f"{k}={v}" for k, v in pairs)


ORACLES: dict[str, Callable[[Real], str]] = {"splunk-xml": Real.xml, "splunk-classic": splunk_classic, "wef": wef, "elastic": winlogbeat,
           "sentinel": sentinel, "qradar": wincollect, "arcsight": wincollect}


def _files() -> list[Path]:
    files = [DATA / name for name in CC0_FILES]
    shared = Path(__file__).resolve().parents[3] / "shared" / "reference" / "evtx-dev"
    files += [shared / name for name in GPL_FILES if (shared / name).is_file()]
    return files


def _size(text: str) -> int:
    return len(text.encode("utf-8"))


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name[:40])
def test_ingest_sizes_each_4688_as_windows_renders_it(path: Path) -> None:
    outcome = ingest_file(path, sample_size=1000)
    assert outcome.result is not None
    ingested = sorted(e.size_bytes for e in outcome.result.events)
    oracle = sorted(_size(e.xml()) for e in read_real(path))
    assert len(ingested) == len(oracle) >= 10
    for got, want in zip(ingested, oracle, strict=True):
        assert abs(got / want - 1) < 0.02, (got, want)
    # Not evtx-rs's indented rendering, which has about 20 % more bytes for the same events.
    records = [r["data"] for r in PyEvtxParser(str(path)).records() if r is not None]
    indented = [_size(x) for x in records if "<EventID>4688<" in x]
    assert statistics.fmean(ingested) < 0.9 * statistics.fmean(indented)


@pytest.mark.parametrize("path", _files(), ids=lambda p: p.name[:40])
@pytest.mark.parametrize("siem", sorted(ORACLES))
def test_each_siem_profile_is_within_10_percent_of_an_independent_rendering(path: Path, siem: str) -> None:
    config = load_config()
    outcome = ingest_file(path, sample_size=1000)
    assert outcome.result is not None
    [estimate] = estimate_hosts([outcome.result], config)
    assert estimate.bytes_source in ("sampled", "sampled_no_cmdline+dev_set")
    events = read_real(path)
    with_cmdline = any(e.data.get("CommandLine") for e in events)
    xml = estimate.bytes_per_event_xml if with_cmdline else estimate.bytes_per_event_xml_no_cmdline
    profile = load_siem_profiles(config)[siem]
    modelled = profile.event_bytes(xml, estimate.bytes_per_event_xml_no_cmdline)
    rendered = statistics.fmean(_size(ORACLES[siem](e)) for e in events)
    assert abs(modelled / rendered - 1) <= 0.10, f"{siem}: model {modelled:.0f} B vs rendered {rendered:.0f} B"


def test_classic_is_not_doubled_xml_and_rendered_text_is_more_than_double() -> None:
    """The two errors this replaces: classic sized as 2 x XML (+29-56 %), WEF RenderedText as 2 x (-23 %)."""
    events = read_real(DATA / CC0_FILES[0])
    xml = statistics.fmean(_size(e.xml()) for e in events)
    assert 1.3 < statistics.fmean(_size(splunk_classic(e)) for e in events) / xml < 1.8
    assert statistics.fmean(_size(wef(e)) for e in events) / xml > 2.3
