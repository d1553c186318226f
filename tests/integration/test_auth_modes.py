"""Each auth mode end to end: real pywinrm over real HTTP(S) to the simulator on loopback.

Request counts are checked at the server (its own per-host accounting), and the client's
ProbeCost must agree with it. A Receive the server answered w:TimedOut (a long-poll repeat on a busy
machine) is the one extra request allowed; the server counts those too. Expected counts come from reference/winrm-protocol.md §4 (Protocol
path without Signal: Basic 4, NTLM over HTTP 7, NTLM over HTTPS 6) and §2.4 (CredSSP: 6 auth
requests, then the operations, so 10 without Signal).
"""

from __future__ import annotations

import pytest
from integration_fleet import PASSWORD, inventory_host, profile, serving, settings_for

from auditplan.collect.winrm.settings import SettingsError
from auditplan.collect.winrm.transport import run_command_line
from auditplan.records import HostStatus
from auditplan.simulator.certs import TlsMaterial

# The Windows `hostname` output for a profile named web01 is "web01\r\n" (windows-tool-outputs.md).
COMMAND = "hostname"

CASES = [
    # (auth, https, requests at the server, the actions it logged)
    ("basic", True, 4, ("Create", "Command", "Receive", "Delete")),
    ("basic", False, 4, ("Create", "Command", "Receive", "Delete")),
    ("ntlm", False, 7, ("(401)", "(401)", "(empty)", "Create", "Command", "Receive", "Delete")),
    ("ntlm", True, 6, ("(401)", "(401)", "Create", "Command", "Receive", "Delete")),
    ("credssp", False, 10, ("(401)",) * 5 + ("(empty)", "Create", "Command", "Receive", "Delete")),
    ("certificate", True, 4, ("Create", "Command", "Receive", "Delete")),
]


@pytest.mark.parametrize(("auth", "https", "requests", "actions"), CASES)
def test_auth_mode_end_to_end(auth: str, https: bool, requests: int, actions: tuple[str, ...], tls: TlsMaterial) -> None:
    material = tls if https else None
    with serving([profile("web01")], auth=auth, tls=material) as server:
        run = run_command_line(inventory_host(server, "web01"), settings_for(auth, material), COMMAND)
        stats = server.stats("web01")
    assert run.status is HostStatus.OK, run.reason
    assert run.stdout == b"web01\r\n"
    assert run.exit_code == 0
    # One shell, one command, Delete without Signal (DESIGN "Collect"; reference §4).
    assert stats.conversation == actions
    assert stats.requests == requests + stats.timed_out_receives
    assert stats.connections == 1
    # The client's own accounting (an adapter on its requests.Session) matches the server's.
    assert run.cost is not None
    assert run.cost.requests == stats.requests
    assert run.cost.bytes_received == stats.bytes_out
    assert abs(run.cost.bytes_sent - stats.bytes_in) <= stats.requests * 2  # Host header port digits


def test_ntlm_over_http_is_encrypted(tls: TlsMaterial) -> None:
    # The server refuses plaintext NTLM bodies over HTTP (AllowUnencrypted off), so a success
    # proves the bodies went MS-WSMV-encrypted; and the command line never crosses in clear.
    with serving([profile("web01")], auth="ntlm", tls=None) as server:
        run = run_command_line(inventory_host(server, "web01"), settings_for("ntlm", None), "hostname")
    assert run.status is HostStatus.OK, run.reason


@pytest.mark.parametrize(("auth", "https"), [("basic", True), ("ntlm", False), ("ntlm", True), ("credssp", False)])
def test_wrong_password_is_auth_failed(auth: str, https: bool, tls: TlsMaterial) -> None:
    material = tls if https else None
    with serving([profile("web01")], auth=auth, tls=material) as server:
        wrong = "Wrong-" + PASSWORD[::-1]
        run = run_command_line(
            inventory_host(server, "web01"), settings_for(auth, material, password=wrong), COMMAND
        )
    assert run.status is HostStatus.AUTH_FAILED
    assert wrong not in run.reason and PASSWORD not in run.reason


def test_basic_over_http_needs_the_explicit_flag() -> None:
    with serving([profile("web01")], auth="basic", tls=None) as server:
        refused = settings_for("basic", None, allow_basic_over_http=False)
        with pytest.raises(SettingsError, match="clear text"):
            refused.check()
        # Even if a caller skips check(), the transport refuses before sending anything.
        run = run_command_line(inventory_host(server, "web01"), refused, COMMAND)
        stats = server.stats("web01")
    assert run.status is HostStatus.PROTOCOL_ERROR
    assert "allow-basic-over-http" in run.reason
    assert stats.requests == 0


def test_environment_proxies_are_ignored(monkeypatch: pytest.MonkeyPatch, tls: TlsMaterial) -> None:
    # A proxy that does not exist: if the transport honoured it, every request would fail.
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")
    for name in ("NO_PROXY", "no_proxy"):
        monkeypatch.delenv(name, raising=False)
    with serving([profile("web01")], auth="ntlm", tls=tls) as server:
        run = run_command_line(inventory_host(server, "web01"), settings_for("ntlm", tls), COMMAND)
    assert run.status is HostStatus.OK, run.reason
