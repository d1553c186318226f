"""Helpers for end-to-end tests: the real simulator (FleetServer + SimulatedHost) on loopback,
talked to by the real pywinrm stack. Nothing here mocks a network or protocol layer."""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from auditplan.collect.api import AuthTransport, Secret, TransportSettings
from auditplan.records import Host
from auditplan.simulator.certs import TlsMaterial
from auditplan.simulator.fleet import sim_host
from auditplan.simulator.interface import Credentials, FaultSpec
from auditplan.simulator.profile import HostProfile
from auditplan.simulator.server import FleetServer

USERNAME = "auditor"
# One unique random password per test session: any appearance in an output is a leak.
PASSWORD = "Pw-" + secrets.token_hex(12)

# 127.0.1.100-249 for this folder (the demo fleet starts at 127.0.0.11).
ADDRESSES = [f"127.0.1.{n}" for n in range(100, 250)]
_next_address = itertools.cycle(ADDRESSES)  # ports are ephemeral, so reuse is safe


def new_address() -> str:
    return next(_next_address)


def profile(name: str, faults: FaultSpec | None = None, **kw: object) -> HostProfile:
    return HostProfile(name=name, address=new_address(), faults=faults or FaultSpec(), **kw)  # type: ignore[arg-type]


@contextmanager
def serving(
    profiles: Sequence[HostProfile],
    *,
    auth: str = "basic",
    tls: TlsMaterial | None = None,
    operation_timeout_cap: float | None = 1.0,
) -> Iterator[FleetServer]:
    """A FleetServer for `profiles`; Basic over HTTP is allowed at the server (AllowUnencrypted)."""
    server = FleetServer(
        [sim_host(p) for p in profiles],
        users=[Credentials(USERNAME, PASSWORD)],
        auth={auth},
        tls=tls,
        allow_unencrypted=tls is None and auth == "basic",
        operation_timeout_cap=operation_timeout_cap,
    )
    with server:
        yield server


def inventory_host(server: FleetServer, name: str, **kw: object) -> Host:
    address, port = server.endpoint(name)
    return Host(name=name, address=address, port=port, source=f"test:{name}", **kw)  # type: ignore[arg-type]


def settings_for(
    auth: str, tls: TlsMaterial | None, *, password: str = PASSWORD, **kw: object
) -> TransportSettings:
    base = TransportSettings(
        username=USERNAME,
        password=Secret(password),
        transport=AuthTransport(auth),
        scheme="https" if tls is not None else "http",
        allow_basic_over_http=tls is None and auth == "basic",
        ca_bundle=tls.ca_cert if tls else None,
        client_cert=tls.client_cert if tls else None,
        client_key=tls.client_key if tls else None,
        # Short long-polls keep a slow command cheap; the read timeout and the deadline are generous
        # because a host that must end ok has to, however busy the machine is (a flaky test is a
        # bug). Tests of the timeout faults pass their own short values: there the timeout always
        # fires, whatever the load.
        operation_timeout=1,
        read_timeout=30,
        deadline=60.0,
    )
    return replace(base, **kw)  # type: ignore[arg-type]


def write_hosts_csv(path: Path, server: FleetServer, names: Sequence[str]) -> Path:
    lines = ["host,address,port,role"]
    for name in names:
        address, port = server.endpoint(name)
        lines.append(f"{name},{address},{port},member")
    path.write_text("\r\n".join(lines) + "\r\n", encoding="utf-8")
    return path


@dataclass(frozen=True)
class DemoRun:
    """One `auditplan demo` run: what it printed and the folder it wrote. Tests only read it."""

    exit_code: int
    stdout: str
    stderr: str
    out: Path
