"""Rebuild simulator/data/event_templates.json from the real EVTX dev set.

    python -m auditplan.simulator.templates_build [EVTX_DEV_DIR] [OUT_JSON]

Reads ../shared/reference/evtx-dev/ (SOURCES.md gives each file's licence) and keeps events
only from CC0-1.0 and MIT files: GPL-3.0 files are never copied into the package. Each
template is one real event, rendered the way wevtutil prints it (reference
windows-tool-outputs.md §4.1: single-quoted attributes, empty elements self-closed, GUIDs in
braces, no whitespace between tags), with its file, record number and licence.

The dev set has no Sysmon event in a CC0/MIT file, so Sysmon EID 1 templates are built from
the published Sysmon schema (EID 1, version 5) with the process fields of a CC0 4688 event;
their attribution says so.

On-disk record sizes (for the log's capacity) come from python-evtx's `Record.size()`. The
first record of an event id in a chunk also carries the binary-XML template definition, so
every template's size is modelled as `overhead(event id, version) + 2 * value characters`
(EVTX stores strings as UTF-16), the overhead being the median over records that reuse a
template already defined in their chunk.
"""

from __future__ import annotations

import hashlib
import json
import re
import statistics
import sys
import xml.etree.ElementTree as ET
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

EVENT_NS = "{http://schemas.microsoft.com/win/2004/08/events/event}"
SECURITY_AUDITING = "Microsoft-Windows-Security-Auditing"
ALLOWED_LICENCES = ("CC0-1.0", "MIT")
PROCESS_CREATION_EVENT_ID = 4688
# Security event ids used as the "other" traffic of a Security log (logon, privileges, group
# and account enumeration, credential reads: the bulk of a quiet server's log).
OTHER_EVENT_IDS = (4624, 4625, 4648, 4672, 4798, 4799, 5379)
OTHER_PER_ID_LIMIT = 4
# The audit-off baseline: its second boot (records 119-131) writes the 11 early-boot 4688s
# (evtx-data.md §2.2); the first boot also has setupcl.exe (sysprep first boot).
BOOT_FILE = "dfirmuseum__APTSimulatorVM_EventLogs_Server2022__Security.evtx"
BOOT_RECORDS = range(119, 132)
SYSMON_PROVIDER = "Microsoft-Windows-Sysmon"
SYSMON_GUID = "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}"
SYSMON_CHANNEL = "Microsoft-Windows-Sysmon/Operational"
SYSMON_TEMPLATES = 24
# Windows renders GUID-typed values in braces; evtx-rs drops them.
_BARE_GUID = re.compile(r"^[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}$")
_INTEGRITY = {
    "S-1-16-4096": "Low",
    "S-1-16-8192": "Medium",
    "S-1-16-8448": "Medium",
    "S-1-16-12288": "High",
    "S-1-16-16384": "System",
}


def read_licences(sources_md: Path) -> dict[str, tuple[str, str]]:
    """File name -> (licence, "repository / path") from the per-file table of SOURCES.md."""
    out: dict[str, tuple[str, str]] = {}
    for line in sources_md.read_text(encoding="utf-8").splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) >= 3 and cells[0].startswith("`") and cells[0].endswith(".evtx`"):
            name = cells[0].strip("`")
            if cells[2] and not cells[2].startswith("`"):
                out[name] = (cells[2], cells[1].replace("`", ""))
    return out


def _braced(guid: str) -> str:
    guid = guid.strip("{}")
    return "{" + guid + "}"


def _system_of(root: ET.Element) -> dict[str, Any]:
    sys_el = root.find(f"{EVENT_NS}System")
    assert sys_el is not None
    provider = sys_el.find(f"{EVENT_NS}Provider")
    execution = sys_el.find(f"{EVENT_NS}Execution")
    correlation = sys_el.find(f"{EVENT_NS}Correlation")
    security = sys_el.find(f"{EVENT_NS}Security")
    time_el = sys_el.find(f"{EVENT_NS}TimeCreated")

    def text(tag: str) -> str:
        el = sys_el.find(f"{EVENT_NS}{tag}")
        return (el.text or "").strip() if el is not None else ""

    guid = provider.get("Guid") if provider is not None else None
    return {
        "provider_name": provider.get("Name", "") if provider is not None else "",
        "provider_guid": _braced(guid).lower() if guid else None,
        "event_id": int(text("EventID")),
        "version": int(text("Version") or 0),
        "level": int(text("Level") or 0),
        "task": int(text("Task") or 0),
        "opcode": int(text("Opcode") or 0),
        "keywords": text("Keywords"),
        "activity_id": _braced(correlation.get("ActivityID", "")) if correlation is not None
        and correlation.get("ActivityID") else None,
        "process_id": int(execution.get("ProcessID", "0")) if execution is not None else 0,
        "thread_id": int(execution.get("ThreadID", "0")) if execution is not None else 0,
        "channel": text("Channel"),
        "computer": text("Computer"),
        "user_id": security.get("UserID") if security is not None else None,
        "time_created": time_el.get("SystemTime", "") if time_el is not None else "",
        "event_record_id": int(text("EventRecordID") or 0),
    }


def _data_of(root: ET.Element) -> list[list[str]] | None:
    data_el = root.find(f"{EVENT_NS}EventData")
    if data_el is None:
        return None
    out: list[list[str]] = []
    for d in data_el.findall(f"{EVENT_NS}Data"):
        value = d.text or ""
        if _BARE_GUID.match(value):
            value = _braced(value)
        out.append([d.get("Name", ""), value])
    return out


def _value_chars(data: list[list[str]] | None) -> int:
    return sum(len(v) for _, v in data or [])


def _record_sizes(path: Path) -> tuple[dict[int, int], dict[int, bool]]:
    """python-evtx record number -> Record.size(), and whether it reuses a chunk template."""
    from Evtx.Evtx import Evtx  # dev dependency, needed only to rebuild

    sizes: dict[int, int] = {}
    reuses: dict[int, bool] = {}
    with Evtx(str(path)) as fh:
        for chunk in fh.chunks():
            seen: set[str] = set()
            for rec in chunk.records():
                m = re.search(r"<EventID[^>]*>(\d+)<", rec.xml())
                key = m.group(1) if m else "?"
                sizes[rec.record_num()] = rec.size()
                reuses[rec.record_num()] = key in seen
                seen.add(key)
    return sizes, reuses


def _sysmon_from_4688(t: dict[str, Any], index: int) -> dict[str, Any]:
    """A Sysmon EID 1 (schema version 5) built around the process fields of a real 4688."""
    d = dict((k, v) for k, v in t["data"])
    user_name = d.get("TargetUserName") if d.get("TargetUserName", "-") not in ("-", "") else None
    user = (f"{d.get('TargetDomainName')}\\{user_name}" if user_name
            else f"{d.get('SubjectDomainName', '-')}\\{d.get('SubjectUserName', '-')}")
    digest = hashlib.sha256(f"{t['source']['file']}:{t['source']['record_number']}".encode()).hexdigest()

    def guid(salt: str) -> str:
        h = hashlib.sha256((digest + salt).encode()).hexdigest()
        return "{" + f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}" + "}"

    image = d.get("NewProcessName", "-")
    data = [
        ["RuleName", "-"],
        ["UtcTime", ""],  # re-stamped at render time
        ["ProcessGuid", guid("p")],
        ["ProcessId", str(int(d.get("NewProcessId", "0x0"), 16))],
        ["Image", image],
        ["FileVersion", "-"],
        ["Description", "-"],
        ["Product", "-"],
        ["Company", "-"],
        ["OriginalFileName", image.rsplit("\\", 1)[-1]],
        ["CommandLine", d.get("CommandLine", "")],
        ["CurrentDirectory", "C:\\Windows\\system32\\"],
        ["User", user],
        ["LogonGuid", guid("l")],
        ["LogonId", d.get("TargetLogonId") if user_name else d.get("SubjectLogonId", "0x0")],
        ["TerminalSessionId", "0"],
        ["IntegrityLevel", _INTEGRITY.get(d.get("MandatoryLabel", ""), "High")],
        ["Hashes", "-"],
        ["ParentProcessGuid", guid("pp")],
        ["ParentProcessId", str(int(d.get("ProcessId", "0x0"), 16))],
        ["ParentImage", d.get("ParentProcessName", "-") or "-"],
        ["ParentCommandLine", "-"],
    ]
    return {
        "kind": "sysmon",
        "system": {
            "provider_name": SYSMON_PROVIDER,
            "provider_guid": SYSMON_GUID,
            "event_id": 1,
            "version": 5,
            "level": 4,
            "task": 1,
            "opcode": 0,
            "keywords": "0x8000000000000000",
            "activity_id": None,
            "process_id": 2012 + index,
            "thread_id": 300 + index,
            "channel": SYSMON_CHANNEL,
            "user_id": "S-1-5-18",
        },
        "data": data,
        "record_size": None,  # filled by build() from the 4688 overhead
        "source": {
            "built_from": "published Sysmon schema, EID 1 (ProcessCreate) version 5 field list; no Sysmon "
            "event exists in a CC0/MIT file of the dev set",
            "process_fields_from": t["source"],
        },
    }


def build(dev_dir: Path) -> dict[str, Any]:
    import evtx  # the runtime parser (pyevtx-rs)

    licences = read_licences(dev_dir / "SOURCES.md")
    templates: list[dict[str, Any]] = []
    overhead_samples: dict[tuple[int, int], list[int]] = defaultdict(list)
    other_taken: Counter[int] = Counter()
    seen_process: set[tuple[str, str]] = set()
    sources: dict[str, dict[str, str]] = {}

    for path in sorted(dev_dir.glob("*.evtx")):
        licence, origin = licences.get(path.name, ("", ""))
        if licence not in ALLOWED_LICENCES:
            continue
        sources[path.name] = {"licence": licence, "origin": origin}
        sizes, reuses = _record_sizes(path)
        for record in evtx.PyEvtxParser(str(path)).records():
            if record is None:
                continue
            rec: dict[str, Any] = dict(record)
            # evtx-rs rendering of the pinned, checksummed dev set (SOURCES.md), not host input
            xml_text = str(rec["data"])
            root = ET.fromstring(xml_text.split("?>", 1)[1])  # noqa: S314
            system = _system_of(root)
            data = _data_of(root)
            number = int(str(rec["event_record_id"]))
            size = sizes.get(number)
            key = (system["event_id"], system["version"])
            if size is not None and reuses.get(number):
                overhead_samples[key].append(size - 2 * _value_chars(data))
            if system["provider_name"] != SECURITY_AUDITING or data is None:
                continue
            source = {
                "file": path.name,
                "record_number": number,
                "event_record_id": system.pop("event_record_id"),
                "time_created": system.pop("time_created"),
                "computer": system.pop("computer"),
                "licence": licence,
                "origin": origin,
            }
            kind = None
            eid = system["event_id"]
            if path.name == BOOT_FILE:
                if eid == PROCESS_CREATION_EVENT_ID and number in BOOT_RECORDS:
                    kind = "boot"
                elif eid in OTHER_EVENT_IDS and other_taken[eid] < OTHER_PER_ID_LIMIT:
                    kind = "other"
            elif eid == PROCESS_CREATION_EVENT_ID:
                d = dict((k, v) for k, v in data)
                ident = (d.get("NewProcessName", ""), d.get("CommandLine", ""))
                if d.get("CommandLine") and ident not in seen_process:
                    seen_process.add(ident)
                    kind = "process"
            elif eid in OTHER_EVENT_IDS and other_taken[eid] < OTHER_PER_ID_LIMIT:
                kind = "other"
            if kind is None:
                continue
            if kind == "other":
                other_taken[eid] += 1
            templates.append({"kind": kind, "system": system, "data": data, "record_size": None,
                              "source": source})

    overhead = {k: int(statistics.median(v)) for k, v in overhead_samples.items() if v}
    fallback = overhead.get((PROCESS_CREATION_EVENT_ID, 2), 400)
    process = [t for t in templates if t["kind"] == "process"]
    templates += [_sysmon_from_4688(t, i) for i, t in enumerate(process[:SYSMON_TEMPLATES])]
    for t in templates:
        s = t["system"]
        base = overhead.get((s["event_id"], s["version"]), fallback)
        if t["kind"] == "sysmon":
            base = fallback + 200  # more fields than a 4688: an assumption, no CC0/MIT sample
        t["record_size"] = (base + 2 * _value_chars(t["data"]) + 7) // 8 * 8
    boot = [t for t in templates if t["kind"] == "boot"]
    t0 = _ticks(boot[0]["source"]["time_created"]) if boot else 0
    for t in boot:
        t["boot_offset_ticks"] = _ticks(t["source"]["time_created"]) - t0
    return {
        "about": "Real Windows events re-stamped by auditplan's simulator (TimeCreated, EventRecordID, "
        "Computer change; all other fields are as the real event had them). Sources: CC0-1.0 and MIT "
        "files only, per ../shared/reference/evtx-dev/SOURCES.md; each template names its file, record "
        "number and licence. Sysmon templates are synthetic (see their source).",
        "sources": sources,
        "record_overhead_bytes": {f"{k[0]}v{k[1]}": v for k, v in sorted(overhead.items())},
        "templates": templates,
    }


def _ticks(iso: str) -> int:
    """100-ns ticks of an evtx-rs SystemTime ('2023-10-18T05:44:33.467732Z'), relative scale only."""
    from datetime import datetime

    dt = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    return int(dt.timestamp()) * 10_000_000 + dt.microsecond * 10


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    repo = Path(__file__).resolve().parents[3]
    dev_dir = Path(args[0]) if args else (repo / ".." / "shared" / "reference" / "evtx-dev").resolve()
    out = Path(args[1]) if len(args) > 1 else Path(__file__).with_name("data") / "event_templates.json"
    if not (dev_dir / "SOURCES.md").is_file():
        print(f"error: {dev_dir}: no SOURCES.md here (need the evtx-dev reference folder)", file=sys.stderr)
        return 2
    doc = build(dev_dir)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(doc, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    kinds = Counter(t["kind"] for t in doc["templates"])
    print(f"wrote {out} ({out.stat().st_size} bytes): {dict(kinds)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
