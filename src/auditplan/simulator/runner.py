"""Start a simulated fleet in this process: SimHosts from profiles, TLS material, a FleetServer,
and the two files a survey needs (a hosts CSV and a credentials JSON).

Used by `auditplan simulate` / `auditplan demo`, the integration tests and bench/survey.py.
"""

from __future__ import annotations

import csv
import io
import json
import secrets
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

from auditplan.safe_write import write_text
from auditplan.simulator.certs import TlsMaterial, generate_tls_material
from auditplan.simulator.fleet import sim_host
from auditplan.simulator.interface import Credentials
from auditplan.simulator.profile import HostProfile
from auditplan.simulator.server import FleetServer

AUTH_MODES = ("basic", "ntlm", "credssp", "certificate")
FLEET_USERNAME = "auditor"
HOSTS_COLUMNS = ("host", "address", "port", "role", "site")
PRIVATE_FILE_MODE = 0o600


@dataclass(frozen=True)
class FleetFiles:
    hosts: Path
    credentials: Path


@dataclass
class RunningFleet:
    """A started fleet. `credentials` is the fleet account (random password unless given)."""

    server: FleetServer
    profiles: tuple[HostProfile, ...]
    credentials: Credentials
    auth: str
    scheme: str
    tls: TlsMaterial | None
    files: FleetFiles

    def endpoint(self, name: str) -> tuple[str, int]:
        address, port = self.server.endpoint(name)
        return str(address), int(port)


def write_private(path: Path, text: str) -> None:
    """Write `text` to a file only the owner can read (created 0600 beside it, renamed over it: a
    link planted at `path` is refused, never written through; safe_write.UnsafePathError)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text(path, text, mode=PRIVATE_FILE_MODE)


def write_hosts_file(path: Path, fleet: RunningFleet) -> None:
    """A CSV `auditplan survey` reads as is: host,address,port,role,site."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle = io.StringIO(newline="")
    writer = csv.writer(handle, lineterminator="\r\n")
    writer.writerow(HOSTS_COLUMNS)
    for profile in fleet.profiles:
        address, port = fleet.endpoint(profile.name)
        writer.writerow([profile.name, address, port, profile.role, profile.site])
    write_text(path, handle.getvalue())  # never through a planted link (safe_write)


def credentials_document(fleet: RunningFleet) -> dict[str, str | None]:
    """What `survey --credentials` reads; the auth mode names match survey's --transport."""
    document: dict[str, str | None] = {
        "username": fleet.credentials.username,
        "password": fleet.credentials.password,
        "transport": fleet.auth,
        "scheme": fleet.scheme,
        "ca_bundle": str(fleet.tls.ca_cert.resolve()) if fleet.tls else None,
    }
    if fleet.tls is not None and fleet.auth == "certificate":
        document["client_cert"] = str(fleet.tls.client_cert.resolve())
        document["client_key"] = str(fleet.tls.client_key.resolve())
    return document


@contextmanager
def run_fleet(
    profiles: Sequence[HostProfile],
    work_dir: Path,
    *,
    auth: str = "ntlm",
    https: bool = True,
    hosts_out: Path | None = None,
    credentials_out: Path | None = None,
    password: str | None = None,
    operation_timeout_cap: float | None = None,
    replay_answers: bool = False,
) -> Iterator[RunningFleet]:
    """Start `profiles` on loopback, write the hosts and credentials files, stop on exit.

    `replay_answers` (benchmarks) answers each command once and replays it to every host
    (simulator/replay.py). Basic over HTTP is served with AllowUnencrypted on (the survey still refuses it unless told
    to); NTLM and CredSSP over HTTP must encrypt the message, as on a default Windows listener.
    """
    if auth not in AUTH_MODES:
        raise ValueError(f"auth must be one of {', '.join(AUTH_MODES)}")
    if auth == "certificate" and not https:
        raise ValueError("certificate auth needs HTTPS")
    credentials = Credentials(username=FLEET_USERNAME, password=password or secrets.token_urlsafe(18))
    work_dir.mkdir(parents=True, exist_ok=True)
    tls = (
        generate_tls_material(work_dir / "tls", {p.address for p in profiles}, client_username=FLEET_USERNAME)
        if https
        else None
    )
    sim_hosts = [sim_host(p) for p in profiles]
    if replay_answers:  # benchmarks only: see simulator/replay.py
        from auditplan.simulator.replay import replaying

        sim_hosts = [replace(h, backend=b) for h, b in zip(sim_hosts, replaying([h.backend for h in sim_hosts]),
                                                            strict=True)]
    server = FleetServer(
        sim_hosts,
        users=[credentials],
        auth={auth},
        tls=tls,
        # AllowUnencrypted only where Basic over HTTP needs it; NTLM/CredSSP must still encrypt.
        allow_unencrypted=not https and auth == "basic",
        operation_timeout_cap=operation_timeout_cap,
    )
    files = FleetFiles(
        hosts=hosts_out or work_dir / "hosts.csv", credentials=credentials_out or work_dir / "credentials.json"
    )
    with server:
        fleet = RunningFleet(
            server=server,
            profiles=tuple(profiles),
            credentials=credentials,
            auth=auth,
            scheme="https" if https else "http",
            tls=tls,
            files=files,
        )
        write_hosts_file(files.hosts, fleet)
        write_private(files.credentials, json.dumps(credentials_document(fleet), indent=2) + "\n")
        yield fleet

