"""Simulated events carry the simulated host's names (simulator/eventlog_identity.py): machine account,
logon domain, local computer, UPN suffix; never the names of the machines the templates came from."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from auditplan.records import AuditSetting
from auditplan.simulator.eventlog_templates import load_templates
from auditplan.simulator.host import SimulatedHost
from auditplan.simulator.profile import AuditProfile, HostProfile, SysmonProfile

NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
WELL_KNOWN = {"-", "", "NT AUTHORITY", "Font Driver Host", "Window Manager", "Builtin", "NT Service"}
NAME_FIELDS = re.compile(r"<Data Name='((?:Subject|Target)(?:UserName|DomainName))'>([^<]*)</Data>")


def foreign_names() -> set[str]:
    """Every machine, domain and DNS suffix the templates' source events name (upper case)."""
    names: set[str] = set()
    for t in load_templates()["templates"]:
        computer = str(t.get("source", {}).get("computer", ""))
        if computer:
            host, _, domain = computer.partition(".")
            names |= {host.upper(), host.upper() + "$"} | ({domain.upper(), domain.split(".")[0].upper()} if domain else set())
        for name, value in t["data"]:
            if name in ("SubjectDomainName", "TargetDomainName") and value not in WELL_KNOWN:
                names.add(value.upper())
            if name in ("SubjectUserName", "TargetUserName") and value.endswith("$"):
                names.add(value.upper())
    return names - {"", "-"}


def host(computer: str) -> SimulatedHost:
    profile = HostProfile(
        name=computer.split(".")[0].lower(), address="127.0.0.11", computer_name=computer,
        audit=AuditProfile(process_creation=AuditSetting.SUCCESS, cmdline_enabled=True),
        sysmon=SysmonProfile(installed=True),
    )
    return SimulatedHost(profile, now=NOW)


@pytest.mark.parametrize(
    ("computer", "machine", "domain", "suffix"),
    [("WEB01.corp.example", "WEB01$", "CORP", "corp.example"), ("LAB07", "LAB07$", "WORKGROUP", "lab07")],
)
def test_every_subject_and_target_name_is_the_hosts(computer: str, machine: str, domain: str, suffix: str) -> None:
    h = host(computer)
    xml = h.run("wevtutil qe Security /c:3000 /f:xml").stdout.decode("ascii", "replace")
    fields = NAME_FIELDS.findall(xml)
    assert len(fields) > 1000  # the whole log's variety, not a lucky few events
    foreign = foreign_names() - {machine, domain, machine[:-1]}
    assert {"OFFSEC", "WIN10-02$"} <= foreign_names()  # what the issue saw leak
    for name, value in fields:
        assert value.upper() not in foreign, (name, value)
        if name.endswith("UserName") and value.endswith("$"):
            assert value == machine
        if "@" in value:
            assert value.endswith("@" + suffix)
        if name.endswith("DomainName"):
            assert value in WELL_KNOWN | {domain, machine[:-1]}, value
    assert f"<Computer>{computer}</Computer>" in xml
    # The same names in the rendered message (/f:text and RenderedXml), so no slot marker escapes.
    text = h.run("wevtutil qe Security /c:300 /f:text").stdout
    rendered = h.run("wevtutil qe Security /c:300 /f:RenderedXml").stdout
    for out in (text, rendered, xml.encode()):
        assert b"\x00" not in out
    assert f"Account Domain:\t\t{domain}".encode() in text
    assert b"OFFSEC" not in text.upper() and b"OFFSEC" not in rendered.upper()


def test_sysmon_events_name_the_host() -> None:
    out = host("WEB01.corp.example").run(
        "wevtutil qe Microsoft-Windows-Sysmon/Operational /c:200 /f:xml"
    ).stdout.decode("ascii", "replace")
    assert "<Computer>WEB01.corp.example</Computer>" in out
    assert "OFFSEC" not in out.upper()


@pytest.mark.parametrize(
    ("event_id", "first", "section"),
    [
        (5379, "Credential Manager credentials were read.", "\tRead Operation:\t\t"),
        (4798, "A user's local group membership was enumerated.", "User:"),
        (4799, "A security-enabled local group membership was enumerated.", "Group:"),
        (4672, "Special privileges assigned to new logon.", "Privileges:\t\t"),
    ],
)
def test_security_events_have_rendered_descriptions(event_id: int, first: str, section: str) -> None:
    h = host("WEB01.corp.example")
    text = h.run(f'wevtutil qe Security /q:"*[System[EventID={event_id}]]" /c:5 /f:text').stdout.decode("cp437")
    descriptions = text.split("  Description: \r\n")[1:]
    assert descriptions, f"no {event_id} in the simulated log"
    for description in descriptions:
        lines = description.split("\r\n")
        assert lines[0] == first
        assert "Subject:" in lines and any(line.startswith(section) for line in lines)
        # Labels, not the raw parameter names of the event's XML.
        assert "SubjectUserSid" not in description and "\tSecurity ID:\t\t" in description
