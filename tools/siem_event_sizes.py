"""Measure what one real 4688 costs in each SIEM format: the [siem.*] byte factors of defaults.toml.

    .venv/bin/python tools/siem_event_sizes.py [EVTX_DIR ...]

A development script (not part of the installed package). Reads every 4688 of the .evtx files given
(default: ../shared/reference/evtx-dev, 169 real 4688s from 12 hosts, v1 and v2), renders each one in
every format below, and prints per format the mean/p10/p50/p90 bytes and the linear model the projection
uses (model/siem.py):

    bytes = add_bytes + size_factor * xml_no_cmdline + cmdline_factor * cmdline_bytes

with xml = the event as Windows renders it (collect/evtx/windows_xml.py, the basis the survey reads and the
ingest sizes on), size_factor 1 (every format carries each field value once more or less as the XML does),
cmdline_factor = 1 + the bytes one more CommandLine byte adds to the format beyond what it adds to the XML
(measured by rendering each event with and without its command line) and add_bytes = the mean of what the
format adds beyond that. Method and figures: docs/projection.md "How the byte factors were measured".

Formats (sources in docs/projection.md):
- splunk-xml: XmlWinEventLog = the event XML as Windows renders it.
- splunk-classic: WinEventLog = a key=value header (LogName, EventCode, ..., one per line) + `Message=` and
  the rendered English message (the 4688 template, gpo-backup-format.md §A5 fields).
- wef: RenderedText = the XML with a <RenderingInfo> holding the message, level, task, opcode, keywords.
- elastic: the Winlogbeat document (elastic/beats winlogbeat security golden files' shape, compact JSON).
- sentinel: the SecurityEvent row's billed size = the string values of its stored columns (Azure Monitor:
  "string representation of the columns stored"; evtx-data.md §3.4).
- qradar / arcsight: a WinCollect-style syslog line: tab-separated key=value header + the message on one line.
"""

from __future__ import annotations

import json
import statistics
import sys
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path

import evtx

from auditplan.collect.evtx.windows_xml import windows_xml

NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "shared" / "reference" / "evtx-dev"
ELEVATION = {"%%1936": "TokenElevationTypeDefault (1)", "%%1937": "TokenElevationTypeFull (2)",
             "%%1938": "TokenElevationTypeLimited (3)"}
LABELS = {"S-1-16-0": "Mandatory Label\\Untrusted Mandatory Level",
          "S-1-16-4096": "Mandatory Label\\Low Mandatory Level",
          "S-1-16-8192": "Mandatory Label\\Medium Mandatory Level",
          "S-1-16-8448": "Mandatory Label\\Medium Plus Mandatory Level",
          "S-1-16-12288": "Mandatory Label\\High Mandatory Level",
          "S-1-16-16384": "Mandatory Label\\System Mandatory Level"}
HELP = (
    "Token Elevation Type indicates the type of token that was assigned to the new process in accordance with "
    "User Account Control policy.\r\n\r\nType 1 is a full token with no privileges removed or groups disabled.  "
    "A full token is only used if User Account Control is disabled or if the user is the built-in Administrator "
    "account or a service account.\r\n\r\nType 2 is an elevated token with no privileges removed or groups "
    "disabled.  An elevated token is used when User Account Control is enabled and the user chooses to start the "
    "program using Run as administrator.  An elevated token is also used when an application is configured to "
    "always require administrative privilege or to always require maximum privilege, and the user is a member of "
    "the Administrators group.\r\n\r\nType 3 is a limited token with administrative privileges removed and "
    "administrative groups disabled.  The limited token is used when User Account Control is enabled, the "
    "application does not require administrative privilege, and the user does not choose to start the program "
    "using Run as administrator."
)


class Event:
    """One 4688's fields, read back from its Windows rendering."""

    def __init__(self, xml: str) -> None:
        self.xml = xml
        root = ET.fromstring(xml)  # noqa: S314 - the dev set's own events
        system = root.find(f"{NS}System")
        assert system is not None
        self.version = int(system.findtext(f"{NS}Version") or 0)
        self.computer = system.findtext(f"{NS}Computer") or ""
        self.record = system.findtext(f"{NS}EventRecordID") or ""
        time = system.find(f"{NS}TimeCreated")
        self.time = time.get("SystemTime", "") if time is not None else ""
        execution = system.find(f"{NS}Execution")
        self.pid = execution.get("ProcessID", "") if execution is not None else ""
        self.tid = execution.get("ThreadID", "") if execution is not None else ""
        self.data = {d.get("Name", ""): d.text or "" for d in root.iter(f"{NS}Data")}

    def without_cmdline(self) -> Event:
        value = self.data.get("CommandLine", "")
        if not value:
            return self
        escaped = value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
        return Event(self.xml.replace(f"<Data Name='CommandLine'>{escaped}</Data>", "<Data Name='CommandLine'></Data>"))


def message(e: Event) -> str:
    d = e.data

    def subject(prefix: str) -> list[str]:
        return [f"\tSecurity ID:\t\t{d.get(prefix + 'UserSid', '')}",
                f"\tAccount Name:\t\t{d.get(prefix + 'UserName', '')}",
                f"\tAccount Domain:\t\t{d.get(prefix + 'DomainName', '')}",
                f"\tLogon ID:\t\t{d.get(prefix + 'LogonId', '')}"]

    lines = ["A new process has been created.", ""]
    if e.version >= 2:
        lines += ["Creator Subject:", *subject("Subject"), "", "Target Subject:", *subject("Target"), ""]
    else:
        lines += ["Subject:", *subject("Subject"), ""]
    elevation = d.get("TokenElevationType", "")
    lines += ["Process Information:", f"\tNew Process ID:\t\t{d.get('NewProcessId', '')}",
              f"\tNew Process Name:\t{d.get('NewProcessName', '')}",
              f"\tToken Elevation Type:\t{ELEVATION.get(elevation, elevation)}"]
    if e.version >= 2:
        label = d.get("MandatoryLabel", "")
        lines.append(f"\tMandatory Label:\t\t{LABELS.get(label, label)}")
    lines.append(f"\tCreator Process ID:\t{d.get('ProcessId', '')}")
    if e.version >= 2:
        lines.append(f"\tCreator Process Name:\t{d.get('ParentProcessName', '')}")
    if e.version >= 1:
        lines.append(f"\tProcess Command Line:\t{d.get('CommandLine', '')}")
    return "\r\n".join([*lines, "", HELP])


def _when(e: Event) -> datetime:
    return datetime.fromisoformat(e.time[:26] + "+00:00")


def splunk_xml(e: Event) -> str:
    return e.xml


def splunk_classic(e: Event) -> str:
    header = [_when(e).strftime("%m/%d/%Y %I:%M:%S %p"), "LogName=Security", "EventCode=4688", "EventType=0",
              f"ComputerName={e.computer}", "SourceName=Microsoft Windows security auditing.", "Type=Information",
              f"RecordNumber={e.record}", "Keywords=Audit Success", "TaskCategory=Process Creation", "OpCode=Info"]
    return "\n".join([*header, "Message=" + message(e)])


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def wef(e: Event) -> str:
    info = (f"<RenderingInfo Culture='en-US'><Message>{_xml_escape(message(e))}</Message><Level>Information</Level>"
            "<Task>Process Creation</Task><Opcode>Info</Opcode><Channel>Security</Channel>"
            "<Provider>Microsoft Windows security auditing.</Provider><Keywords><Keyword>Audit Success</Keyword>"
            "</Keywords></RenderingInfo>")
    return e.xml.replace("</Event>", info + "</Event>")


def elastic(e: Event) -> str:
    doc = {
        "@timestamp": e.time,
        "agent": {"ephemeral_id": "8c3f1c6a-3f2e-4d7b-9a51-0b6f5d2e7c41", "id": "0f4c2a9e-6b1d-4e3a-8c57-2d9b1e6f3a70",
                  "name": e.computer.split(".")[0], "type": "winlogbeat", "version": "8.15.0"},
        "ecs": {"version": "8.0.0"},
        "event": {"action": "Process Creation", "code": "4688", "created": e.time, "kind": "event",
                  "outcome": "success", "provider": "Microsoft-Windows-Security-Auditing"},
        "host": {"name": e.computer},
        "log": {"level": "information"},
        "message": message(e).replace("\r\n", "\n"),
        "winlog": {"channel": "Security", "computer_name": e.computer, "event_data": e.data, "event_id": "4688",
                   "keywords": ["Audit Success"], "opcode": "Info",
                   "process": {"pid": int(e.pid or 0), "thread": {"id": int(e.tid or 0)}},
                   "provider_guid": "{54849625-5478-4994-A5BA-3E3B0328C30D}",
                   "provider_name": "Microsoft-Windows-Security-Auditing", "record_id": int(e.record or 0),
                   "task": "Process Creation", "version": e.version},
    }
    return json.dumps(doc, separators=(",", ":"), ensure_ascii=False)


def sentinel(e: Event) -> str:
    d = e.data
    event_data = e.xml[e.xml.index("<EventData>"):e.xml.index("</EventData>") + len("</EventData>")]
    event_data = event_data.replace("<EventData>", "<EventData xmlns='http://schemas.microsoft.com/win/2004/08/events/event'>")
    guid = "00000000-0000-0000-0000-000000000000"
    account = f"{d.get('SubjectDomainName', '')}\\{d.get('SubjectUserName', '')}"
    columns = [
        e.time, "OpsManager", account, "Machine" if d.get("SubjectUserName", "").endswith("$") else "User", e.computer,
        "Microsoft-Windows-Security-Auditing", "Security", "13312", "8", event_data, "4688",
        "4688 - A new process has been created.", guid, guid, guid, e.time, f"AOI-{guid}",
        *(d.get(k, "") for k in ("CommandLine", "MandatoryLabel", "NewProcessId", "NewProcessName",
                                 "ParentProcessName", "ProcessId", "SubjectDomainName", "SubjectLogonId",
                                 "SubjectUserName", "SubjectUserSid", "TargetDomainName", "TargetLogonId",
                                 "TargetUserName", "TargetUserSid", "TokenElevationType")),
        d.get("NewProcessName", "").rsplit("\\", 1)[-1], account,
        f"{d.get('TargetDomainName', '')}\\{d.get('TargetUserName', '')}" if e.version >= 2 else "",
    ]
    return "".join(columns)


def qradar(e: Event) -> str:
    when = _when(e)
    flat = " ".join(message(e).replace("\t", " ").split("\r\n"))
    fields = ["AgentDevice=WindowsLog", "AgentLogFile=Security", "PluginVersion=7.3.1.16",
              "Source=Microsoft-Windows-Security-Auditing", f"Computer={e.computer}",
              f"OriginatingComputer={e.computer}", "User=", "Domain=", "EventID=4688", "EventIDCode=4688",
              "EventType=8", "EventCategory=13312", f"RecordNumber={e.record}",
              f"TimeGenerated={int(when.timestamp())}", f"TimeWritten={int(when.timestamp())}", "Level=Log Always",
              "Keywords=Audit Success", "Task=SE_ADT_DETAILEDTRACKING_PROCESSCREATION", "Opcode=Info",
              f"Message={flat}"]
    return f"<13>{when.strftime('%b %d %H:%M:%S')} {e.computer} " + "\t".join(fields)


FORMATS: dict[str, tuple[Callable[[Event], str], str]] = {
    "splunk-xml": (splunk_xml, "XmlWinEventLog: the event XML as Windows renders it"),
    "splunk-classic": (splunk_classic, "WinEventLog: key=value header + rendered message"),
    "wef": (wef, "RenderedText: the XML + RenderingInfo with the message"),
    "elastic": (elastic, "Winlogbeat document, compact JSON"),
    "sentinel": (sentinel, "SecurityEvent billed size (column values)"),
    "qradar": (qradar, "WinCollect syslog: key=value + message on one line"),
}


def size(text: str) -> int:
    return len(text.encode("utf-8"))


def events(paths: list[Path]) -> list[Event]:
    seen: set[tuple[str, str, str]] = set()
    out: list[Event] = []
    for path in paths:
        for rec in evtx.PyEvtxParser(str(path)).records():
            if rec is None:  # evtx's stub types __next__ as Optional; it never yields None
                continue
            raw = rec["data"]
            if "<EventID>4688</EventID>" not in raw or "Microsoft-Windows-Security-Auditing" not in raw:
                continue
            e = Event(windows_xml(raw))
            key = (e.computer, e.record, e.time)
            if key not in seen:
                seen.add(key)
                out.append(e)
    return out


def quantile(values: Sequence[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[int(q * 100) - 1]


def main(argv: list[str]) -> int:
    dirs = [Path(a) for a in argv] or [DEFAULT_DIR]
    paths = sorted(p for d in dirs for p in (d.glob("*.evtx") if d.is_dir() else [d]))
    evs = events(paths)
    with_cmd = [e for e in evs if e.data.get("CommandLine")]
    xml_sizes = [size(e.xml) for e in evs]
    print(f"{len(evs)} distinct 4688s ({len(with_cmd)} with a command line) from {len(paths)} files")
    print(f"XML as Windows renders it: mean {statistics.fmean(xml_sizes):,.0f} B, p10 {quantile(xml_sizes, .1):,.0f},"
          f" p50 {quantile(xml_sizes, .5):,.0f}, p90 {quantile(xml_sizes, .9):,.0f}")
    print("| format | mean B | p10 | p50 | p90 | x XML (mean) | add_bytes | cmdline_factor | model error p10..p90 |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, (render, _what) in FORMATS.items():
        sizes = [size(render(e)) for e in evs]
        # Bytes one more command-line byte adds: each event rendered with and without its command line.
        # The projection's command-line bytes are the raw (redacted) CommandLine's UTF-8 length, and its
        # xml_no_cmdline is the event's XML size minus that, so XML escapes (&quot;) stay in xml_no_cmdline:
        # the factor is what the format adds per raw byte beyond what the XML adds.
        cmd_bytes = [size(e.data["CommandLine"]) for e in with_cmd]
        added = [size(render(e)) - size(render(e.without_cmdline())) - size(e.xml) + size(e.without_cmdline().xml)
                 for e in with_cmd]
        factor = 1 + sum(added) / sum(cmd_bytes)
        no_cmd = [e.without_cmdline() for e in evs]
        add = statistics.fmean(size(render(n)) - size(n.xml) for n in no_cmd)
        model = [add + size(e.xml) + (factor - 1) * size(e.data.get("CommandLine", "")) for e in evs]
        errors = [m / s - 1 for m, s in zip(model, sizes, strict=True)]
        print(f"| {name} | {statistics.fmean(sizes):,.0f} | {quantile(sizes, .1):,.0f} | {quantile(sizes, .5):,.0f} |"
              f" {quantile(sizes, .9):,.0f} | {statistics.fmean(sizes) / statistics.fmean(xml_sizes):.2f} |"
              f" {add:,.0f} | {factor:.2f} | {quantile(errors, .1):+.1%}..{quantile(errors, .9):+.1%} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
