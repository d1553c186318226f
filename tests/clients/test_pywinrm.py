"""pywinrm (the survey's own client library, written elsewhere) with every account form, over NTLM
(encrypted on HTTP), Basic and CredSSP; and per-host `credentials` entries as docs/fleet-toml.md
describes them, through `run_fleet` as `auditplan simulate` starts a fleet."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import pytest
import winrm.exceptions
from clients_fleet import ACCEPTED, LOCAL, REFUSED, serving_member
from requests_credssp.exceptions import NTStatusException
from winrm.protocol import Protocol

from auditplan.simulator.certs import TlsMaterial
from auditplan.simulator.fleet import parse_fleet
from auditplan.simulator.runner import run_fleet

Transport = Literal["ntlm", "basic", "ssl", "credssp"]
# (pywinrm transport, simulator scheme, https)
MODES: list[tuple[Transport, str, bool]] = [
    ("ntlm", "ntlm", False),
    ("ntlm", "ntlm", True),
    ("basic", "basic", False),
    ("ssl", "basic", True),
    ("credssp", "credssp", False),
]
IDS = [f"{t}-{'https' if h else 'http'}" for t, _, h in MODES]


def whoami(url: str, transport: Transport, username: str, password: str, tls: TlsMaterial | None) -> bytes:
    p = Protocol(
        url,
        transport=transport,
        username=username,
        password=password,
        ca_trust_path=str(tls.ca_cert) if tls else "legacy_requests",
        operation_timeout_sec=2,
        read_timeout_sec=8,
        proxy=None,
    )
    shell = p.open_shell()
    command = p.run_command(shell, "whoami")
    while True:
        try:
            out, _err, _rc, done = p.get_command_output_raw(shell, command)
            break
        except winrm.exceptions.WinRMOperationTimeoutError:
            continue  # a long-poll repeat on a busy machine
    assert done
    p.close_shell(shell)
    return out


@pytest.mark.parametrize(("transport", "scheme", "https"), MODES, ids=IDS)
def test_account_forms(transport: Transport, scheme: str, https: bool, tls: TlsMaterial) -> None:
    material = tls if https else None
    with serving_member({scheme}, material, allow_unencrypted=scheme == "basic" and not https) as server:
        for form in ACCEPTED:
            out = whoami(server.url("web01"), transport, form.typed, form.password, material)
            assert out == form.principal.lower().encode() + b"\r\n", form.typed
        for form in REFUSED:
            # CredSSP refuses inside its TSRequest (SEC_E_LOGON_DENIED); the survey counts both as auth_failed.
            with pytest.raises((winrm.exceptions.InvalidCredentialsError, NTStatusException)):
                whoami(server.url("web01"), transport, form.typed, form.password, material)


FLEET = """
domain = "corp.example"

[[hosts]]
name = "web01"
address = "127.0.3.20"

[[hosts]]
name = "kiosk01"
address = "127.0.3.21"
credentials = { username = "kiosk-admin", password = "Kiosk-own-password-1" }

[[hosts]]
name = "app01"
address = "127.0.3.22"
credentials = { username = "app-audit", password = "App-own-password-2", domain = "CORP" }
"""


@pytest.mark.parametrize("auth", ["ntlm", "basic"])
def test_a_host_with_its_own_credentials_accepts_them_and_only_them(auth: str, tmp_path: Path) -> None:
    fleet = parse_fleet(FLEET, "fleet.toml")
    transport: Transport = "ntlm" if auth == "ntlm" else "ssl"
    with run_fleet(fleet.profiles, tmp_path, auth=auth, https=True, password=LOCAL.password) as running:
        assert running.tls is not None
        urls = {p.name: running.server.url(p.name) for p in fleet.profiles}
        fleet_user = running.credentials.username
        # The fleet's account works where no host entry replaces it ...
        assert whoami(urls["web01"], transport, fleet_user, LOCAL.password, running.tls) == b"web01\\auditor\r\n"
        # ... a host's own local account works there, in its local forms ...
        for typed in ("kiosk-admin", "KIOSK01\\kiosk-admin", ".\\kiosk-admin", "kiosk-admin@KIOSK01"):
            out = whoami(urls["kiosk01"], transport, typed, "Kiosk-own-password-1", running.tls)
            assert out == b"kiosk01\\kiosk-admin\r\n", typed
        # ... a host's own domain account in its domain forms ...
        for typed in ("CORP\\app-audit", "app-audit@corp.example"):
            out = whoami(urls["app01"], transport, typed, "App-own-password-2", running.tls)
            assert out == b"corp\\app-audit\r\n", typed
        # ... and the fleet's account is not an account on those hosts, nor theirs elsewhere.
        for name in ("kiosk01", "app01"):
            with pytest.raises(winrm.exceptions.InvalidCredentialsError):
                whoami(urls[name], transport, fleet_user, LOCAL.password, running.tls)
        with pytest.raises(winrm.exceptions.InvalidCredentialsError):
            whoami(urls["web01"], transport, "kiosk-admin", "Kiosk-own-password-1", running.tls)
