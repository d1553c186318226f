"""pypsrp's WinRS client (jborean93/pypsrp, nobody here wrote it) against the simulated domain member:
every auth mode the simulator serves, every account form a person types, HTTP and HTTPS.

`whoami` names the account the host logged on, so each accepted form is checked against the account
Windows would reach (docs: user name formats; simulator/accounts.py), not just "some login worked".
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from clients_fleet import (
    ACCEPTED,
    LOCAL,
    REFUSED,
    Form,
    assert_probe_read,
    interpret_probe,
    member_profile,
    probe_command,
    serving_member,
)
from pypsrp.client import Client
from pypsrp.exceptions import AuthenticationError
from requests_credssp.exceptions import NTStatusException

from auditplan.simulator.certs import TlsMaterial
from auditplan.simulator.server import FleetServer

# (pypsrp auth, simulator scheme, https): every mode the simulator serves, as pypsrp names it.
MODES = [
    ("ntlm", "ntlm", False),
    ("ntlm", "ntlm", True),
    ("negotiate", "ntlm", False),
    ("negotiate", "ntlm", True),
    ("basic", "basic", False),
    ("basic", "basic", True),
    ("credssp", "credssp", False),
]


def client(server: FleetServer, tls: TlsMaterial | None, auth: str, username: str, password: str, **kw: Any) -> Client:
    address, port = server.endpoint("web01")
    return Client(
        address,
        port=port,
        username=username,
        password=password,
        ssl=tls is not None,
        cert_validation=str(tls.ca_cert) if tls else False,
        auth=auth,
        connection_timeout=5,
        read_timeout=15,
        operation_timeout=2,
        no_proxy=True,
        reconnection_retries=0,
        # Basic over HTTP cannot encrypt: the listener has AllowUnencrypted on, as Windows needs.
        encryption="never" if auth == "basic" and tls is None else "auto",
        **kw,
    )


def _serve(scheme: str, https: bool, tls: TlsMaterial) -> Any:
    return serving_member({scheme}, tls if https else None, allow_unencrypted=scheme == "basic" and not https)


@pytest.mark.parametrize(("auth", "scheme", "https"), MODES, ids=[f"{a}-{'https' if h else 'http'}" for a, _, h in MODES])
def test_every_account_form_logs_on_as_windows_would(auth: str, scheme: str, https: bool, tls: TlsMaterial) -> None:
    with _serve(scheme, https, tls) as server:
        for form in ACCEPTED:
            stdout, stderr, rc = client(server, tls if https else None, auth, form.typed, form.password).execute_cmd(
                "whoami"
            )
            assert (stdout, stderr, rc) == (form.principal.lower() + "\r\n", "", 0), form.typed


@pytest.mark.parametrize(("auth", "scheme", "https"), MODES, ids=[f"{a}-{'https' if h else 'http'}" for a, _, h in MODES])
def test_forms_windows_refuses_are_refused(auth: str, scheme: str, https: bool, tls: TlsMaterial) -> None:
    with _serve(scheme, https, tls) as server:
        for form in REFUSED:
            # CredSSP carries the refusal in its TSRequest: SEC_E_LOGON_DENIED (0x8009030C), as Windows does.
            with pytest.raises((AuthenticationError, NTStatusException)) as refused:
                client(server, tls if https else None, auth, form.typed, form.password).execute_cmd("whoami")
            if isinstance(refused.value, NTStatusException):
                assert refused.value.status == 0x8009030C
            assert server.shells("web01") == []


@pytest.mark.parametrize(("auth", "scheme", "https"), MODES, ids=[f"{a}-{'https' if h else 'http'}" for a, _, h in MODES])
def test_pypsrp_runs_the_probes_tools(auth: str, scheme: str, https: bool, tls: TlsMaterial) -> None:
    command = probe_command()
    with _serve(scheme, https, tls) as server:
        form = Form("CORP\\svc-audit", ACCEPTED[5].password, "CORP\\svc-audit")
        stdout, _stderr, rc = client(server, tls if https else None, auth, form.typed, form.password).execute_cmd(
            command.command_line, encoding="437"
        )
    assert rc == 0
    assert_probe_read(interpret_probe(stdout.encode("cp437"), command))


@pytest.mark.parametrize("locale", ["de-DE", "fr-FR"])
def test_pypsrp_reads_a_german_and_a_french_host(locale: str, tls: TlsMaterial) -> None:
    """pypsrp's shell asks for code page 437, not the survey's 65001: the host's German or French answers
    (docs/localised-tool-output.md) come in another encoding, and every section still reads as on an
    English host; the command-line and SCENoApplyLegacyAuditPolicy values are absent, so they read as off."""
    command = probe_command()
    with serving_member({"ntlm"}, tls, profile=member_profile(locale=locale)) as server:
        stdout, _stderr, rc = client(server, tls, "ntlm", ACCEPTED[0].typed, ACCEPTED[0].password).execute_cmd(
            command.command_line, encoding="437"
        )
    assert rc == 0
    result = interpret_probe(stdout.encode("cp437"), command)
    assert_probe_read(result)
    assert result.warnings == ()
    assert result.audit is not None
    assert (result.audit.cmdline_enabled, result.audit.sce_no_apply_legacy) == (False, False)
    assert result.sysmon is not None and result.sysmon.installed is False


def test_certificate_auth_maps_to_the_local_account(tls: TlsMaterial, tmp_path: Path) -> None:
    # WS-Man client certificate mapping: the certificate's subject names a local account (CN auditor).
    with serving_member({"certificate"}, tls) as server:
        c = client(
            server,
            tls,
            "certificate",
            "",
            "",
            certificate_pem=str(tls.client_cert),
            certificate_key_pem=str(tls.client_key),
        )
        assert c.execute_cmd("whoami") == (f"web01\\{LOCAL.username}\r\n", "", 0)
        command = probe_command()
        stdout, _stderr, rc = c.execute_cmd(command.command_line)
    assert rc == 0
    assert_probe_read(interpret_probe(stdout.encode("cp437"), command))


def test_a_powershell_runspace_faults_at_create_as_windows_does(tls: TlsMaterial) -> None:
    # The simulated hosts register no PowerShell session configuration (simulator/catalog.py): the
    # RunspacePool's Create faults with the code and text Windows gives for a resource URI missing
    # from its catalog (pywinrm#273, pypsrp#192), before any shell exists.
    from pypsrp.exceptions import WSManFaultError
    from pypsrp.powershell import RunspacePool
    from pypsrp.wsman import WSMan

    with serving_member({"ntlm"}, tls) as server:
        address, port = server.endpoint("web01")
        wsman = WSMan(
            address, port=port, username="CORP\\svc-audit", password=ACCEPTED[5].password, ssl=True,
            # pypsrp passes this to requests' `verify`, so a CA bundle path works; its hint says bool.
            cert_validation=str(tls.ca_cert),  # type: ignore[arg-type]
            auth="ntlm", connection_timeout=5, read_timeout=15, no_proxy=True, reconnection_retries=0,
        )
        with pytest.raises(WSManFaultError) as fault:
            RunspacePool(wsman).open()
        assert server.shells("web01") == []
        assert server.stats("web01").actions[-1] == "Create"
    assert fault.value.code == 2150858811
    assert fault.value.reason == (
        "The WS-Management service cannot process the request. The resource URI "
        "(http://schemas.microsoft.com/powershell/Microsoft.PowerShell) was not found in the WS-Management "
        "catalog. The catalog contains the metadata that describes resources, or logical endpoints."
    )
