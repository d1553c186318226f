"""The real events a simulated log is made of: event_templates.json made ready per host.

Each template is one real event (tools/build_event_templates.py builds the JSON from the dev
set), turned into a format string with slots for what changes per event (time, record number,
computer) and an XPath view (EvNode) for `wevtutil qe /q:`.

Windows facts used (reference files under ../shared/reference/): 4688 versions and fields (v0
2008/Vista, v1 adds CommandLine, v2 adds 9-14): gpo-backup-format.md §A5; CommandLine is present
but empty when the policy is off: §A2 and the real events in the dev set.

Process mix: which real template a process start uses is drawn by weight, not uniformly, so a
simulated host looks like a fleet member rather than an attack capture. Each process template
carries a class and a relative weight (tools/build_event_templates.py); PROCESS_MIX gives each
class its share of process starts. These shares are an ASSUMPTION (every public EVTX with 4688 is
an attack capture or an audit-off log, evtx-data.md §5 item 1, so no measured benign/attack mix
exists), chosen so detections have a little to find:
attack-like command lines 0.3 % of process starts, of which 0.2 % match one of auditplan's five
detection families (emit/sigma) and 0.1 % are other techniques of the captures (wevtutil cl,
auditpol /clear, sc config, ...). A class absent from a host's pool (v1 originals are skipped
on v2 hosts) gives its share to the others in proportion.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

import numpy as np

from auditplan.simulator.eventlog_identity import SLOT_LETTERS, slotted
from auditplan.simulator.xpath import DYN_COMPUTER, DYN_RID, DYN_TIME, DYN_UTC, EvNode

EVENT_NAMESPACE = "http://schemas.microsoft.com/win/2004/08/events/event"
PROCESS_CREATION = 4688
SYSMON_PROCESS_CREATE = 1

# 4688 field sets by version (gpo-backup-format.md §A5).
FIELDS_V1_ONLY = ("CommandLine",)
FIELDS_V2_ONLY = ("TargetUserSid", "TargetUserName", "TargetDomainName", "TargetLogonId",
                  "ParentProcessName", "MandatoryLabel")

KIND_PROCESS, KIND_OTHER, KIND_BOOT = 0, 1, 2
# Share of process starts per template class (ASSUMPTION, see the module docstring).
MIX_BENIGN, MIX_ATTACK, MIX_ATTACK_FAMILY = "benign", "attack", "attack_family"
PROCESS_MIX: dict[str, float] = {MIX_BENIGN: 0.997, MIX_ATTACK: 0.001, MIX_ATTACK_FAMILY: 0.002}


@cache
def load_templates() -> dict[str, Any]:
    """The packaged event_templates.json (built by tools/build_event_templates.py)."""
    text = resources.files("auditplan.simulator").joinpath("data/event_templates.json").read_text("utf-8")
    doc: dict[str, Any] = json.loads(text)
    return doc


def xml_text(s: str) -> str:
    # Windows escapes quotes in element text too (CommandLine shows &quot;): UNVERIFIED for '.
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def xml_attr(s: str) -> str:
    return xml_text(s).replace("'", "&apos;")


_SLOT_TIME, _SLOT_RID, _SLOT_UTC, _SLOT_COMPUTER = "\x00T\x00", "\x00R\x00", "\x00U\x00", "\x00C\x00"


@dataclass(frozen=True)
class Prepared:
    """One template made ready for a host: format string, XPath view, size, text fields."""

    kind: int
    event_id: int
    version: int
    provider: str
    channel: str
    pieces: tuple[str, ...]  # literal XML between the slots
    # "t" SystemTime, "r" EventRecordID, "c" Computer, "u" Sysmon UtcTime; the host's names in subject
    # and target fields: "m" machine account, "d" logon domain, "h" computer, "s" DNS domain
    # (eventlog_identity.py). `data` holds the same slots; render() fills both per host.
    slots: tuple[str, ...]
    root: EvNode
    record_size: int
    data: tuple[tuple[str, str], ...]
    source: dict[str, Any]
    boot_offset_ticks: int = 0
    mix: str = MIX_BENIGN  # class of a process template (PROCESS_MIX)
    weight: float = 1.0  # relative weight within its class


def _adapt_4688(data: list[tuple[str, str]], version: int, cmdline: bool) -> tuple[list[tuple[str, str]], int]:
    """Bring a real 4688 to the host's version and policy; returns data and bytes removed."""
    removed = 0
    out: list[tuple[str, str]] = []
    for name, value in data:
        if (version < 2 and name in FIELDS_V2_ONLY) or (version < 1 and name in FIELDS_V1_ONLY):
            removed += 4 + 2 * len(value)  # value descriptor + UTF-16 text
            continue
        if name == "CommandLine" and not cmdline:
            removed += 2 * len(value)
            value = ""
        out.append((name, value))
    return out, removed


def _prepare(t: dict[str, Any], kind: int, version: int | None, cmdline: bool) -> Prepared:
    s = t["system"]
    data = [(n, v) for n, v in t["data"]]
    size = int(t["record_size"])
    ver = int(s["version"])
    if s["event_id"] == PROCESS_CREATION and s["provider_name"] == "Microsoft-Windows-Security-Auditing":
        ver = min(ver, version) if version is not None else ver
        data, removed = _adapt_4688(data, ver, cmdline)
        size = max(64, size - removed)
    captured = data  # XPath sees the captured values (eventlog_identity.py)
    source_computer = str(t.get("source", {}).get("computer", ""))
    data = [(n, slotted(n, v, source_computer)) for n, v in data]
    guid = f" Guid='{s['provider_guid']}'" if s.get("provider_guid") else ""
    corr = f"<Correlation ActivityID='{s['activity_id']}'/>" if s.get("activity_id") else "<Correlation/>"
    sec = f"<Security UserID='{s['user_id']}'/>" if s.get("user_id") else "<Security/>"
    parts = [
        f"<Event xmlns='{EVENT_NAMESPACE}'><System>",
        f"<Provider Name='{xml_attr(s['provider_name'])}'{guid}/>",
        f"<EventID>{s['event_id']}</EventID><Version>{ver}</Version><Level>{s['level']}</Level>",
        f"<Task>{s['task']}</Task><Opcode>{s['opcode']}</Opcode><Keywords>{s['keywords']}</Keywords>",
        f"<TimeCreated SystemTime='{_SLOT_TIME}'/><EventRecordID>{_SLOT_RID}</EventRecordID>",
        corr,
        f"<Execution ProcessID='{s['process_id']}' ThreadID='{s['thread_id']}'/>",
        f"<Channel>{xml_text(s['channel'])}</Channel><Computer>{_SLOT_COMPUTER}</Computer>",
        sec,
        "</System><EventData>",
    ]
    for name, value in data:
        text = _SLOT_UTC if (kind == KIND_PROCESS and name == "UtcTime" and s["event_id"] == 1) else xml_text(value)
        parts.append(f"<Data Name='{xml_attr(name)}'>{text}</Data>")
    parts.append("</EventData></Event>")
    split = re.split(f"(\x00[TRUC{SLOT_LETTERS}]\x00)", "".join(parts))
    pieces = tuple(split[0::2])
    slots = tuple(x[1].lower() for x in split[1::2])

    def leaf(name: str, text: str) -> EvNode:
        return EvNode(name, text=text)

    system = EvNode("System", children=[
        EvNode("Provider", attrs={"Name": s["provider_name"], **({"Guid": s["provider_guid"]} if guid else {})}),
        leaf("EventID", str(s["event_id"])), leaf("Version", str(ver)), leaf("Level", str(s["level"])),
        leaf("Task", str(s["task"])), leaf("Opcode", str(s["opcode"])), leaf("Keywords", s["keywords"]),
        EvNode("TimeCreated", attrs={"SystemTime": DYN_TIME}),
        EvNode("EventRecordID", text=DYN_RID),
        EvNode("Correlation", attrs={"ActivityID": s["activity_id"]} if s.get("activity_id") else {}),
        EvNode("Execution", attrs={"ProcessID": str(s["process_id"]), "ThreadID": str(s["thread_id"])}),
        leaf("Channel", s["channel"]), EvNode("Computer", text=DYN_COMPUTER),
        EvNode("Security", attrs={"UserID": s["user_id"]} if s.get("user_id") else {}),
    ])
    event_data = EvNode("EventData", children=[
        EvNode("Data", attrs={"Name": n}, text=DYN_UTC if (s["event_id"] == 1 and n == "UtcTime") else v)
        for n, v in captured
    ])
    return Prepared(
        kind=kind, event_id=int(s["event_id"]), version=ver, provider=s["provider_name"],
        channel=s["channel"], pieces=pieces, slots=slots, root=EvNode("Event", children=[system, event_data]),
        record_size=size, data=tuple(data), source=t["source"],
        boot_offset_ticks=int(t.get("boot_offset_ticks", 0)),
        mix=str(t.get("mix", MIX_BENIGN)), weight=float(t.get("weight", 1.0)),
    )


@cache
def security_templates(version: int, cmdline: bool) -> list[Prepared]:
    """Security templates for a 4688 version and command-line policy, shared by every such host."""
    out: list[Prepared] = []
    for t in load_templates()["templates"]:
        kind = {"process": KIND_PROCESS, "other": KIND_OTHER, "boot": KIND_BOOT}.get(t["kind"])
        if kind is None:
            continue
        if kind == KIND_PROCESS and version == 2 and int(t["system"]["version"]) < 2:
            continue  # a v2 host writes every field; v1 originals lack fields 9-14
        out.append(_prepare(t, kind, version, cmdline))
    return out


@cache
def sysmon_templates() -> list[Prepared]:
    return [_prepare(t, KIND_PROCESS, None, True) for t in load_templates()["templates"] if t["kind"] == "sysmon"]


def process_draw_table(pool: list[Prepared]) -> np.ndarray:
    """Cumulative draw probabilities of a process pool: PROCESS_MIX over the classes present, then weight."""
    class_weight: dict[str, float] = {}
    for t in pool:
        class_weight[t.mix] = class_weight.get(t.mix, 0.0) + max(t.weight, 0.0)
    # an unknown class or one whose templates all weigh 0 gets no share; if none is left, draw uniformly
    share = {m: PROCESS_MIX.get(m, 0.0) for m, w in class_weight.items() if w > 0}
    total = sum(share.values())
    if not pool or total <= 0:
        return np.linspace(1.0 / max(len(pool), 1), 1.0, len(pool))
    p = np.array([share.get(t.mix, 0.0) / total * max(t.weight, 0.0) / class_weight[t.mix]
                  if class_weight[t.mix] > 0 else 0.0 for t in pool])
    cum = np.cumsum(p)
    cum[-1] = 1.0  # rounding must not leave a gap that searchsorted would map past the end
    return cum

