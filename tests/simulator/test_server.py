"""End-to-end auth modes of the simulator's WS-Management server with the real pywinrm and pypsrp clients.

Everything talks real HTTP(S) on loopback; nothing in the client stack is mocked. Expected
request counts come from reference/winrm-protocol.md §2.2/§2.4/§4 (what Windows and the loopback
checks of the sketch showed), not from this server's own output.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

import pytest
import requests
import winrm.exceptions
from receive_helpers import receive as output
from requests_ntlm import HttpNtlmAuth
from winrm.protocol import Protocol

from auditplan.simulator.auth import NTLM_USER_FILE_ENV
from auditplan.simulator.certs import TlsMaterial, generate_tls_material
from auditplan.simulator.interface import CommandOutput, Credentials, SimHost
from auditplan.simulator.server import FleetServer

USER = Credentials("vagrant", "Passw0rd!")
OTHER = Credentials("operator", "S3cond-pass", domain="LAB")
ADDRESS = "127.0.0.21"
# pywinrm's Protocol(transport=...) is typed with this Literal; a plain str parameter would not do.
WinrmTransport = Literal["auto", "basic", "certificate", "ntlm", "kerberos", "credssp", "plaintext", "ssl"]


class EchoBackend:
    """`echo ...` prints its arguments; `big N` prints N bytes of a known pattern; anything else rc 9009."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, ...]]] = []

    def run(self, command: str, arguments: tuple[str, ...], codepage: int | None = None) -> CommandOutput:
        self.calls.append((command, arguments))
        words = " ".join((command, *arguments)).split()
        if words and words[0] == "echo":
            return CommandOutput((" ".join(words[1:]) + "\r\n").encode("ascii"), b"", 0)
        if words and words[0] == "big":
            return CommandOutput(pattern(int(words[1])), b"", 0)
        return CommandOutput(b"", b"not recognized\r\n", 9009)


def pattern(n: int) -> bytes:
    unit = bytes(range(256))
    return (unit * (n // 256 + 1))[:n]


def run_once(p: Protocol, command: str, args: tuple[str, ...] = ()) -> tuple[bytes, bytes, int]:
    """open_shell + run_command + get_command_output_raw + close_shell: the 4-request survey pattern,
    plus a Receive long-poll repeat for each w:TimedOut (the backend thread may start late on a busy
    machine; the server counts those as HostStats.timed_out_receives)."""
    shell = p.open_shell()
    cid = p.run_command(shell, command, args)
    while True:
        try:
            out, err, rc, done = p.get_command_output_raw(shell, cid)
            break
        except winrm.exceptions.WinRMOperationTimeoutError:
            continue
    assert done
    p.close_shell(shell)
    return out, err, rc


def protocol(url: str, transport: WinrmTransport, user: Credentials = USER, **kw: Any) -> Protocol:
    kw.setdefault("operation_timeout_sec", 2)
    kw.setdefault("read_timeout_sec", 5)
    username = f"{user.domain}\\{user.username}" if user.domain else user.username
    return Protocol(url, transport=transport, username=username, password=user.password, proxy=None, **kw)


@pytest.fixture(scope="module")
def tls(tmp_path_factory: pytest.TempPathFactory) -> TlsMaterial:
    return generate_tls_material(tmp_path_factory.mktemp("tls"), [ADDRESS], client_username="vagrant")


def serve(**kw: Any) -> FleetServer:
    kw.setdefault("users", [USER, OTHER])
    kw.setdefault("tls", None)
    kw.setdefault("operation_timeout_cap", 0.5)
    # A member of the LAB domain, so OTHER (LAB\\operator) is one of its domain's accounts.
    return FleetServer([SimHost("web01", ADDRESS, 0, EchoBackend(), computer_name="web01.lab.example")], **kw)


@pytest.fixture
def basic_http() -> Iterator[FleetServer]:
    with serve(auth={"basic", "ntlm"}, allow_unencrypted=True) as server:
        yield server


# --- Basic ------------------------------------------------------------------------------------


def test_basic_over_http_runs_a_command_in_four_requests(basic_http: FleetServer) -> None:
    out, err, rc = run_once(protocol(basic_http.url("web01"), "basic"), "echo", ("hello", "world"))
    assert (out, err, rc) == (b"hello world\r\n", b"", 0)
    stats = basic_http.stats("web01")
    # reference §4: Create, Command, Receive, Delete; Basic is pre-emptive, so no auth legs.
    assert stats.conversation == ("Create", "Command", "Receive", "Delete")
    assert stats.requests == 4 + stats.timed_out_receives  # long-poll repeats are the only extra requests
    assert stats.connections == 1
    assert stats.bytes_in > 4 * 1000 and stats.bytes_out > 4 * 500


def test_basic_over_http_is_refused_without_allow_unencrypted() -> None:
    with serve(auth={"basic", "ntlm"}) as server:
        with pytest.raises(winrm.exceptions.InvalidCredentialsError):
            protocol(server.url("web01"), "basic").open_shell()
        response = requests.post(server.url("web01"), data=b"", timeout=5)
        assert response.status_code == 401
        # Basic is not offered on an HTTP listener with AllowUnencrypted=false (reference §2.1).
        assert response.raw.headers.getlist("WWW-Authenticate") == ["Negotiate"]


def test_401_carries_one_challenge_per_enabled_scheme(tls: TlsMaterial) -> None:
    with serve(auth={"basic", "ntlm", "credssp", "certificate"}, tls=tls) as server:
        response = requests.post(server.url("web01"), data=b"", timeout=5, verify=str(tls.ca_cert))
    assert response.status_code == 401
    assert response.raw.headers.getlist("WWW-Authenticate") == [
        "Negotiate",
        "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual",
        'Basic realm="WSMAN"',
        "CredSSP",
    ]


def test_basic_over_https_verifies_against_the_test_ca(tls: TlsMaterial) -> None:
    with serve(auth={"basic"}, tls=tls) as server:
        assert server.url("web01").startswith("https://")
        p = protocol(server.url("web01"), "ssl", ca_trust_path=str(tls.ca_cert))
        assert run_once(p, "echo", ("tls",)) == (b"tls\r\n", b"", 0)
        stats = server.stats("web01")
        assert stats.conversation == ("Create", "Command", "Receive", "Delete")
        assert stats.requests == 4 + stats.timed_out_receives


def test_wrong_password_is_rejected_for_basic_and_ntlm(basic_http: FleetServer) -> None:
    bad = Credentials(USER.username, "wrong")
    for transport in ("basic", "ntlm"):
        with pytest.raises(winrm.exceptions.InvalidCredentialsError):
            protocol(basic_http.url("web01"), transport, bad).open_shell()
    with pytest.raises(winrm.exceptions.InvalidCredentialsError):
        protocol(basic_http.url("web01"), "basic", Credentials("nobody", "x")).open_shell()


# --- NTLM ---------------------------------------------------------------------------------------


def test_ntlm_over_http_encrypts_every_message(basic_http: FleetServer) -> None:
    p = protocol(basic_http.url("web01"), "ntlm", OTHER)
    seen: list[requests.Response] = []
    shell = p.open_shell()
    session = p.transport.session
    assert session is not None  # open_shell() built it
    session.hooks["response"].append(lambda r, *a, **k: seen.append(r))
    cid = p.run_command(shell, "echo", ("secret-marker",))
    out, _err, rc, _done = output(p, shell, cid)
    p.close_shell(shell)
    assert (out, rc) == (b"secret-marker\r\n", 0)
    # Command, Receive (and its long-poll repeats, if the machine was slow), Delete responses on the wire
    assert len(seen) == 3 + basic_http.stats("web01").timed_out_receives
    for response in seen:
        assert response.headers["Content-Type"].startswith("multipart/encrypted;")
        assert 'protocol="application/HTTP-SPNEGO-session-encrypted"' in response.headers["Content-Type"]
        assert b"secret-marker" not in response.content and b"Envelope" not in response.content
    stats = basic_http.stats("web01")
    # reference §2.2/§4: anonymous 401, NEGOTIATE->CHALLENGE 401, AUTHENTICATE on the empty POST, then 4.
    assert stats.actions == ("(401)", "(401)", "(empty)", "Create", "Command", "Receive", "Delete")
    assert stats.connections == 1


def test_plaintext_body_after_ntlm_is_refused_when_unencrypted_is_not_allowed() -> None:
    with serve(auth={"ntlm"}) as server:
        session = requests.Session()
        session.auth = HttpNtlmAuth(USER.username, USER.password)
        response = session.post(
            server.url("web01"),
            data=_CREATE_ENVELOPE,
            headers={"Content-Type": "application/soap+xml;charset=UTF-8"},
            timeout=5,
        )
        assert response.status_code == 400
        assert server.stats("web01").actions[-1] == "(rejected)"
        assert not any(a == "Create" for a in server.stats("web01").actions)


def test_ntlm_over_https_skips_encryption_and_costs_six_requests(tls: TlsMaterial) -> None:
    with serve(auth={"ntlm"}, tls=tls) as server:
        p = protocol(server.url("web01"), "ntlm", ca_trust_path=str(tls.ca_cert))
        assert run_once(p, "echo", ("x",)) == (b"x\r\n", b"", 0)
        # reference §4: the 3rd leg carries the Create body itself, so 2 extra requests.
        assert server.stats("web01").actions == ("(401)", "(401)", "Create", "Command", "Receive", "Delete")


def test_ntlm_channel_binding_is_enforced_when_asked(tls: TlsMaterial) -> None:
    with serve(auth={"ntlm"}, tls=tls, enforce_cbt=True) as server:
        good = protocol(server.url("web01"), "ntlm", ca_trust_path=str(tls.ca_cert), send_cbt=True)
        assert run_once(good, "echo", ("cbt",))[0] == b"cbt\r\n"
        bad = protocol(server.url("web01"), "ntlm", ca_trust_path=str(tls.ca_cert), send_cbt=False)
        with pytest.raises(winrm.exceptions.InvalidCredentialsError):
            bad.open_shell()


def test_ntlm_user_file_is_private_empty_and_removed_on_stop() -> None:
    before = os.environ.get(NTLM_USER_FILE_ENV)
    server = serve(auth={"ntlm"})
    server.start()
    try:
        user_file = server._acceptor_file._file
        assert user_file is not None and user_file.is_file()
        assert user_file.read_bytes() == b""  # accounts live in memory: no name, no hash on disk
        assert stat.S_IMODE(user_file.stat().st_mode) == 0o600
        assert stat.S_IMODE(user_file.parent.stat().st_mode) == 0o700
        run_once(protocol(server.url("web01"), "ntlm"), "echo", ("a",))
    finally:
        server.stop()
    assert not user_file.exists() and not user_file.parent.exists()
    assert os.environ.get(NTLM_USER_FILE_ENV) == before


def test_ntlm_password_with_colons_and_non_ascii() -> None:
    odd = Credentials("svc", "a:b:c-Ünïcode")
    with FleetServer([SimHost("a", "127.0.0.24", 0, EchoBackend())], users=[odd], auth={"ntlm"}, tls=None) as server:
        assert run_once(protocol(server.url("a"), "ntlm", odd), "echo", ("ok",))[0] == b"ok\r\n"


def test_two_ntlm_servers_with_different_users_coexist() -> None:
    first = FleetServer([SimHost("a", "127.0.0.22", 0, EchoBackend())], users=[USER], auth={"ntlm"}, tls=None)
    second = FleetServer(
        [SimHost("b", "127.0.0.23", 0, EchoBackend(), computer_name="b.lab.example")], users=[OTHER], auth={"ntlm"}, tls=None
    )
    with first, second:
        assert run_once(protocol(first.url("a"), "ntlm", USER), "echo", ("1",))[0] == b"1\r\n"
        assert run_once(protocol(second.url("b"), "ntlm", OTHER), "echo", ("2",))[0] == b"2\r\n"
        with pytest.raises(winrm.exceptions.InvalidCredentialsError):
            protocol(first.url("a"), "ntlm", OTHER).open_shell()


# --- CredSSP and certificates -----------------------------------------------------------------------


def test_credssp_with_encryption_including_multi_part_messages() -> None:
    with serve(auth={"credssp"}) as server:
        p = protocol(server.url("web01"), "credssp")
        seen: list[requests.Response] = []
        shell = p.open_shell()
        session = p.transport.session
        assert session is not None  # open_shell() built it
        session.hooks["response"].append(lambda r, *a, **k: seen.append(r))
        cid = p.run_command(shell, "big", ("40000",))
        out, _err, rc, _done = output(p, shell, cid)
        # A request over 16 KiB goes as multipart/x-multi-encrypted (20 000-character command line).
        long_cid = p.run_command(shell, "echo", ("y" * 20000,))
        long_out, long_err, long_rc, _ = output(p, shell, long_cid)
        p.close_shell(shell)
    assert (out, rc) == (pattern(40000), 0)
    # The 20 006-character line is over cmd.exe's 8191 limit (reference §1.5).
    assert (long_out, long_err, long_rc) == (b"", b"The command line is too long.\r\n", 1)
    receive = max(seen, key=lambda r: len(r.content))  # the Receive that carried the 40 000 bytes
    assert receive.headers["Content-Type"].startswith("multipart/x-multi-encrypted;")
    assert 'protocol="application/HTTP-CredSSP-session-encrypted"' in receive.headers["Content-Type"]
    actions = server.stats("web01").actions
    assert server.stats("web01").conversation[-5:] == ("Command", "Receive", "Command", "Receive", "Delete")
    assert set(actions[: actions.index("Create")]) <= {"(401)", "(empty)"}


def test_certificate_auth_maps_the_client_cert_to_a_user(tls: TlsMaterial) -> None:
    with serve(auth={"certificate"}, tls=tls) as server:
        p = Protocol(
            server.url("web01"),
            transport="certificate",
            cert_pem=str(tls.client_cert),
            cert_key_pem=str(tls.client_key),
            ca_trust_path=str(tls.ca_cert),
            proxy=None,
            operation_timeout_sec=2,
            read_timeout_sec=5,
        )
        assert run_once(p, "echo", ("cert",)) == (b"cert\r\n", b"", 0)
        stats = server.stats("web01")
        assert stats.conversation == ("Create", "Command", "Receive", "Delete")
        assert stats.requests == 4 + stats.timed_out_receives
        # Without a client certificate the same header gets a 401.
        no_cert = Protocol(
            server.url("web01"),
            transport="basic",
            username="x",
            password="y",
            ca_trust_path=str(tls.ca_cert),
            proxy=None,
        )
        with pytest.raises(winrm.exceptions.InvalidCredentialsError):
            no_cert.open_shell()


def _cert_protocol(url: str, client: TlsMaterial, tls: TlsMaterial) -> Protocol:
    return Protocol(url, transport="certificate", cert_pem=str(client.client_cert),
                    cert_key_pem=str(client.client_key), ca_trust_path=str(tls.ca_cert), proxy=None)


def test_certificate_for_an_unknown_account_is_rejected(tmp_path: Path, tls: TlsMaterial) -> None:
    stranger = generate_tls_material(tmp_path, [ADDRESS], client_username="stranger")
    # Same server CA for trust of the server, but the client cert is from another CA -> handshake fails,
    # and a trusted cert for an unknown account gets a 401.
    with serve(auth={"certificate"}, tls=tls) as server:
        with pytest.raises(requests.exceptions.RequestException):
            _cert_protocol(server.url("web01"), stranger, tls).open_shell()
    with serve(auth={"certificate"}, tls=tls, users=[OTHER]) as server:
        with pytest.raises(winrm.exceptions.InvalidCredentialsError):
            _cert_protocol(server.url("web01"), tls, tls).open_shell()


# --- pypsrp ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("auth", ["ntlm", "negotiate"])
def test_pypsrp_execute_cmd_over_encrypted_http(basic_http: FleetServer, auth: str) -> None:
    from pypsrp.client import Client

    address, port = basic_http.endpoint("web01")
    client = Client(
        address,
        port=port,
        username=USER.username,
        password=USER.password,
        ssl=False,
        auth=auth,
        encryption="always",
        connection_timeout=5,
        read_timeout=10,
        operation_timeout=2,
    )
    stdout, stderr, rc = client.execute_cmd("echo from pypsrp")
    assert (stdout, stderr, rc) == ("from pypsrp\r\n", "", 0)
    # pypsrp sends one rsp:Arguments per argument (reference §1.3); execute_cmd sends none.
    assert "Create" in basic_http.stats("web01").actions


_CREATE_ENVELOPE = (
    b'<?xml version="1.0" encoding="utf-8"?>'
    b'<env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
    b'xmlns:a="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
    b'xmlns:w="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
    b'xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell">'
    b"<env:Header><a:To>http://windows-host:5985/wsman</a:To>"
    b"<a:MessageID>uuid:11111111-1111-1111-1111-111111111111</a:MessageID>"
    b"<w:OperationTimeout>PT20S</w:OperationTimeout>"
    b'<w:ResourceURI mustUnderstand="true">http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd</w:ResourceURI>'
    b'<a:Action mustUnderstand="true">http://schemas.xmlsoap.org/ws/2004/09/transfer/Create</a:Action>'
    b"</env:Header><env:Body><rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams>"
    b"<rsp:OutputStreams>stdout stderr</rsp:OutputStreams></rsp:Shell></env:Body></env:Envelope>"
)
