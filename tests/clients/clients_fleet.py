"""A simulated domain member for the independent-client tests: its accounts, the forms a person
types for them, and a server serving it with the real SimulatedHost (cmd.exe and the probe's tools).

Nothing here is a client: each test drives a WinRM client that nobody on this project wrote
(pypsrp, pywinrm, Go's masterzen/winrm), so the simulator is checked against their reading of the
protocol, not ours.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime

from auditplan.collect.winrm.interpret import Interpretation, interpret
from auditplan.collect.winrm.probe import ProbeCommand, ProbeOptions, build_probe, split_sections
from auditplan.simulator.certs import TlsMaterial
from auditplan.simulator.fleet import sim_host
from auditplan.simulator.interface import Credentials
from auditplan.simulator.profile import HostProfile
from auditplan.simulator.server import FleetServer

# 127.0.3.x belongs to this folder (integration: 127.0.1.x, demo: 127.0.0.11+).
ADDRESS = "127.0.3.10"
WORKGROUP_ADDRESS = "127.0.3.11"
HOST = "web01"
COMPUTER_NAME = "WEB01.corp.example"
DNS_DOMAIN = "corp.example"

# Unique random passwords per session: any appearance in an output is a leak.
LOCAL = Credentials("auditor", "Lc-" + secrets.token_hex(10))
DOMAIN = Credentials("svc-audit", "Dm-" + secrets.token_hex(10), domain="CORP")


@dataclass(frozen=True)
class Form:
    """An account as a person types it, the password that goes with it, and whom Windows logs in."""

    typed: str
    password: str
    principal: str  # DOMAIN\user as the host names the session; "" = refused

    def __str__(self) -> str:
        return self.typed


# docs: https://learn.microsoft.com/en-us/windows/win32/secauthn/user-name-formats ; simulator/accounts.py
ACCEPTED = [
    Form("auditor", LOCAL.password, "WEB01\\auditor"),
    Form("WEB01\\auditor", LOCAL.password, "WEB01\\auditor"),
    Form("web01\\AUDITOR", LOCAL.password, "WEB01\\auditor"),  # names are case-insensitive
    Form(".\\auditor", LOCAL.password, "WEB01\\auditor"),
    Form("auditor@WEB01", LOCAL.password, "WEB01\\auditor"),
    Form("CORP\\svc-audit", DOMAIN.password, "CORP\\svc-audit"),
    Form("corp.example\\svc-audit", DOMAIN.password, "CORP\\svc-audit"),
    Form("svc-audit@corp.example", DOMAIN.password, "CORP\\svc-audit"),
    Form("svc-audit", DOMAIN.password, "CORP\\svc-audit"),
]
REFUSED = [
    Form("WRONGDOM\\auditor", LOCAL.password, ""),  # a local account under a domain the host does not know
    Form("CORP\\auditor", LOCAL.password, ""),  # a local account is not a domain account
    Form("WEB02\\auditor", LOCAL.password, ""),  # another host's SAM
    Form("auditor@corp.example", LOCAL.password, ""),
    Form("WEB01\\svc-audit", DOMAIN.password, ""),  # a domain account is not in the host's SAM
    Form("OTHER\\svc-audit", DOMAIN.password, ""),
    Form("auditor", DOMAIN.password, ""),  # right name, wrong password
]


def member_profile(address: str = ADDRESS, **kw: object) -> HostProfile:
    return HostProfile(name=HOST, address=address, computer_name=COMPUTER_NAME, **kw)  # type: ignore[arg-type]


@contextmanager
def serving_member(
    auth: set[str], tls: TlsMaterial | None, *, allow_unencrypted: bool = False, profile: HostProfile | None = None
) -> Iterator[FleetServer]:
    """web01, a member of corp.example, accepting LOCAL and DOMAIN, with its real cmd.exe and tools."""
    server = FleetServer(
        [sim_host(profile or member_profile())],
        users=[LOCAL, DOMAIN],
        auth=auth,
        tls=tls,
        allow_unencrypted=allow_unencrypted,
        operation_timeout_cap=1.0,
    )
    with server:
        yield server


def probe_command() -> ProbeCommand:
    """The survey's own cmd.exe line (every tool it runs), with a small sample."""
    return build_probe(ProbeOptions(sample_events=3), datetime.now(UTC))


def interpret_probe(stdout: bytes, command: ProbeCommand, codepage: int = 437) -> Interpretation:
    return interpret(split_sections(stdout, codepage), command)


def assert_probe_read(result: Interpretation) -> None:
    """What the survey needs from a host: the tools' outputs were all read."""
    assert not result.unparseable and not result.access_denied, result.warnings
    assert result.computer_name == "WEB01"
    assert result.os is not None and result.audit is not None
    assert result.security_log is not None and result.sysmon is not None
