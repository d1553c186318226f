"""Go's github.com/masterzen/winrm (Debian's golang-github-masterzen-winrm-dev, with Azure/go-ntlmssp)
against the simulator: Basic and NTLM, HTTP and HTTPS, the account forms, and the probe's tools.

tests/clients/go_winrm/main.go is a 60-line command-line wrapper around the library, built here
with Debian's Go (tests/setup.sh installs both). Two facts of this client shape the expectations:

- it never encrypts messages, so over HTTP it needs the listener's AllowUnencrypted (as it does
  against Windows; its README says so);
- go-ntlmssp puts the CHALLENGE's TargetName in the AUTHENTICATE as the domain whenever the typed
  name is not a UPN (authenticate_message.go, ProcessChallenge): `WEB01\\auditor`, `.\\auditor` and a
  bare `auditor` all arrive as `CORP\\auditor` on a member of CORP, an account Windows does not have,
  so they are refused there; on a workgroup host TargetName is the host, and they log on locally.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from clients_fleet import (
    ACCEPTED,
    DOMAIN,
    LOCAL,
    REFUSED,
    WORKGROUP_ADDRESS,
    assert_probe_read,
    interpret_probe,
    member_profile,
    probe_command,
    serving_member,
)

from auditplan.simulator.certs import TlsMaterial
from auditplan.simulator.profile import HostProfile
from auditplan.simulator.server import FleetServer

GOPATH = Path("/usr/share/gocode")  # where Debian's golang-*-dev packages put their sources
LIBRARY = GOPATH / "src/github.com/masterzen/winrm"
SOURCE = Path(__file__).parent / "go_winrm" / "main.go"
NOT_INSTALLED = "Go's masterzen/winrm is not installed (tests/setup.sh installs golang-go and golang-github-masterzen-winrm-dev)"


@pytest.fixture(scope="module")
def go_client(tmp_path_factory: pytest.TempPathFactory) -> Path:
    go = shutil.which("go")
    if go is None or not LIBRARY.is_dir():
        if os.environ.get("CI"):
            pytest.fail(NOT_INSTALLED + "; the Go oracle must run in CI")
        pytest.skip(NOT_INSTALLED)
    work = tmp_path_factory.mktemp("go-winrm")
    binary = work / "winrm-client"
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(work),
        "GOPATH": str(GOPATH),
        "GO111MODULE": "off",  # Debian's packaged sources live in a GOPATH, not a module cache
        "GOCACHE": str(work / "cache"),
        "GOFLAGS": "",
        "CGO_ENABLED": "0",
    }
    subprocess.run([go, "build", "-o", str(binary), str(SOURCE)], env=env, check=True, capture_output=True, timeout=600)
    return binary


@dataclass(frozen=True)
class GoRun:
    stdout: bytes
    stderr: bytes
    exit_code: int


def run_go(
    binary: Path, server: FleetServer, name: str, auth: str, user: str, password: str, tls: TlsMaterial | None,
    command: str,
) -> GoRun:
    address, port = server.endpoint(name)
    env = {
        "PATH": "/usr/bin:/bin",
        "WINRM_HOST": address,
        "WINRM_PORT": str(port),
        "WINRM_HTTPS": "1" if tls else "0",
        "WINRM_CA": str(tls.ca_cert) if tls else "",
        "WINRM_AUTH": auth,
        "WINRM_USER": user,
        "WINRM_PASSWORD": password,  # the environment, not argv (ps shows argv to every user)
    }
    done = subprocess.run([str(binary)], input=command.encode(), env=env, capture_output=True, timeout=120)
    return GoRun(done.stdout, done.stderr, done.returncode)


MODES = [("basic", False), ("basic", True), ("ntlm", False), ("ntlm", True)]
IDS = [f"{a}-{'https' if h else 'http'}" for a, h in MODES]


@pytest.fixture
def member(request: pytest.FixtureRequest, tls: TlsMaterial) -> Iterator[tuple[FleetServer, TlsMaterial | None, str]]:
    auth, https = request.param
    material = tls if https else None
    with serving_member({auth}, material, allow_unencrypted=not https) as server:
        yield server, material, auth


REFUSED_TEXT = b"401"  # the library's error for a refused login: "http response error: 401 - invalid content type"


def assert_refused(run: GoRun, typed: str) -> None:
    assert run.exit_code == 111, (typed, run)
    assert REFUSED_TEXT in run.stderr, (typed, run.stderr)
    assert LOCAL.password.encode() not in run.stderr and DOMAIN.password.encode() not in run.stderr


@pytest.mark.parametrize("member", [m for m in MODES if m[0] == "basic"], ids=IDS[:2], indirect=True)
def test_basic_every_account_form(go_client: Path, member: tuple[FleetServer, TlsMaterial | None, str]) -> None:
    server, tls, auth = member
    for form in ACCEPTED:
        run = run_go(go_client, server, "web01", auth, form.typed, form.password, tls, "whoami")
        assert (run.stdout, run.exit_code) == (form.principal.lower().encode() + b"\r\n", 0), (form.typed, run.stderr)
    for form in REFUSED:
        assert_refused(run_go(go_client, server, "web01", auth, form.typed, form.password, tls, "whoami"), form.typed)


# What go-ntlmssp sends for each typed form on a member of CORP (see the module docstring), and whom
# Windows logs on for it ("" = refused).
NTLM_ON_MEMBER = [
    ("auditor@WEB01", LOCAL.password, "WEB01\\auditor"),
    ("CORP\\svc-audit", DOMAIN.password, "CORP\\svc-audit"),
    ("corp.example\\svc-audit", DOMAIN.password, "CORP\\svc-audit"),
    ("svc-audit@corp.example", DOMAIN.password, "CORP\\svc-audit"),
    ("svc-audit", DOMAIN.password, "CORP\\svc-audit"),
    ("auditor", LOCAL.password, ""),  # arrives as CORP\auditor
    ("WEB01\\auditor", LOCAL.password, ""),  # arrives as CORP\auditor
    (".\\auditor", LOCAL.password, ""),  # arrives as CORP\auditor
    ("auditor@corp.example", LOCAL.password, ""),
    ("svc-audit@WEB01", DOMAIN.password, ""),
    ("CORP\\svc-audit", LOCAL.password, ""),  # wrong password
]


@pytest.mark.parametrize("member", [m for m in MODES if m[0] == "ntlm"], ids=IDS[2:], indirect=True)
def test_ntlm_account_forms_on_a_domain_member(go_client: Path, member: tuple[FleetServer, TlsMaterial | None, str]) -> None:
    server, tls, auth = member
    for typed, password, principal in NTLM_ON_MEMBER:
        run = run_go(go_client, server, "web01", auth, typed, password, tls, "whoami")
        if principal:
            assert (run.stdout, run.exit_code) == (principal.lower().encode() + b"\r\n", 0), (typed, run.stderr)
        else:
            assert_refused(run, typed)


@pytest.mark.parametrize("https", [False, True], ids=["http", "https"])
def test_ntlm_local_account_forms_on_a_workgroup_host(go_client: Path, tls: TlsMaterial, https: bool) -> None:
    material = tls if https else None
    workgroup = HostProfile(name="lab07", address=WORKGROUP_ADDRESS, computer_name="LAB07")
    with serving_member({"ntlm"}, material, allow_unencrypted=not https, profile=workgroup) as server:
        for typed in ("auditor", "LAB07\\auditor", ".\\auditor", "auditor@LAB07"):
            run = run_go(go_client, server, "lab07", "ntlm", typed, LOCAL.password, material, "whoami")
            assert (run.stdout, run.exit_code) == (b"lab07\\auditor\r\n", 0), (typed, run.stderr)
        assert_refused(run_go(go_client, server, "lab07", "ntlm", "auditor", DOMAIN.password, material, "whoami"), "x")


@pytest.mark.parametrize("member", MODES, ids=IDS, indirect=True)
def test_go_client_runs_the_probes_tools(go_client: Path, member: tuple[FleetServer, TlsMaterial | None, str]) -> None:
    server, tls, auth = member
    command = probe_command()
    run = run_go(go_client, server, "web01", auth, "CORP\\svc-audit", DOMAIN.password, tls, command.command_line)
    assert run.exit_code == 0, run.stderr
    assert_probe_read(interpret_probe(run.stdout, command))


@pytest.mark.parametrize("locale", ["de-DE", "fr-FR"])
def test_go_client_reads_a_german_and_a_french_host(go_client: Path, tls: TlsMaterial, locale: str) -> None:
    """The host answers in German or French (docs/localised-tool-output.md) through a client nobody here
    wrote; every section reads as on an English host, and the absent policy values read as off."""
    command = probe_command()
    with serving_member({"ntlm"}, tls, profile=member_profile(locale=locale)) as server:
        run = run_go(go_client, server, "web01", "ntlm", "CORP\\svc-audit", DOMAIN.password, tls, command.command_line)
    assert run.exit_code == 0, run.stderr
    # masterzen/winrm opens its shell with WINRS_CODEPAGE 65001 (request.go), so its bytes are UTF-8.
    result = interpret_probe(run.stdout, command, codepage=65001)
    assert_probe_read(result)
    assert result.warnings == ()
    assert result.audit is not None
    assert (result.audit.cmdline_enabled, result.audit.sce_no_apply_legacy) == (False, False)
