"""Every way a host can fail ends in its classification (DESIGN "Collect"; reference §1.6),
with a one-line reason that never holds the password."""

from __future__ import annotations

import socket

import pytest
from integration_fleet import PASSWORD, inventory_host, profile, serving, settings_for

from auditplan.collect.winrm.transport import run_command_line
from auditplan.records import Host, HostStatus
from auditplan.simulator.certs import TlsMaterial
from auditplan.simulator.interface import FaultSpec

AUTH_MODES = ("basic", "ntlm", "credssp", "certificate")  # every mode the simulator serves
SHORT_DEADLINE = 1.2  # for the timing faults: each read is cut to what remains of it, so the table stays fast

FAULTS = [
    # (name, fault, https, expected status, a word the reason must hold); each runs under every auth
    # mode, except that certificate auth exists only over HTTPS.
    ("bad-credentials", FaultSpec(reject_credentials=True), True, HostStatus.AUTH_FAILED, "401"),
    # CredSSP over HTTPS: the fault answers the handshake's last leg (the auth library's error must
    # not hide it as auth_failed).
    ("access-denied", FaultSpec(access_denied=True), True, HostStatus.ACCESS_DENIED, "AccessDenied"),
    ("access-denied", FaultSpec(access_denied=True), False, HostStatus.ACCESS_DENIED, "AccessDenied"),
    ("500-fault", FaultSpec(http_500_fault="w:InternalError"), True, HostStatus.PROTOCOL_ERROR, "InternalError"),
    ("malformed-xml", FaultSpec(malformed_xml=True), False, HostStatus.PROTOCOL_ERROR, "XML"),
    ("malformed-xml", FaultSpec(malformed_xml=True), True, HostStatus.PROTOCOL_ERROR, "XML"),
    ("reset", FaultSpec(reset_connection=True), True, HostStatus.PROTOCOL_ERROR, "closed the connection"),
    ("tls-broken", FaultSpec(tls_broken=True), True, HostStatus.TLS_ERROR, "certificate"),
    ("hang", FaultSpec(hang=True), True, HostStatus.TIMEOUT, "timeout"),
    # Latency above what remains of the deadline: the socket timeout fires.
    ("latency", FaultSpec(latency_ms=1500), True, HostStatus.TIMEOUT, "timeout"),
    # A body dripped slower than the deadline allows: each read succeeds, only our deadline ends it.
    ("drip", FaultSpec(drip_bytes_per_second=1000), True, HostStatus.TIMEOUT, "deadline"),
]
CASES = [
    pytest.param(faults, auth, https, status, word, id=f"{name}-{auth}-{'https' if https else 'http'}")
    for name, faults, https, status, word in FAULTS
    for auth in AUTH_MODES
    if https or auth != "certificate"
]


@pytest.mark.parametrize(("faults", "auth", "https", "status", "word"), CASES)
def test_fault_is_classified(
    faults: FaultSpec, auth: str, https: bool, status: HostStatus, word: str, tls: TlsMaterial
) -> None:
    material = tls if https else None
    # The timing faults always outlast SHORT_DEADLINE, so their status does not depend on the machine's
    # load; every other fault gets the generous defaults, so a slow machine cannot turn it into a timeout.
    timing = status is HostStatus.TIMEOUT
    with serving([profile("bad", faults), profile("good")], auth=auth, tls=material) as server:
        settings = (settings_for(auth, material, operation_timeout=1, read_timeout=2, deadline=SHORT_DEADLINE)
                    if timing else settings_for(auth, material))
        run = run_command_line(inventory_host(server, "bad"), settings, "hostname")
        # The server keeps serving the other host meanwhile.
        good = run_command_line(inventory_host(server, "good"), settings_for(auth, material), "hostname")
    assert run.status is status, run.reason
    assert word.lower() in run.reason.lower(), run.reason
    assert "\n" not in run.reason and PASSWORD not in run.reason
    assert run.stdout == b""
    assert good.status is HostStatus.OK, good.reason


def test_receive_timeouts_are_retried_within_the_deadline() -> None:
    # Three w:TimedOut answers (reference §1.4), then the output: each costs one more Receive. (A busy
    # machine may add a real long-poll timeout to the injected ones; the server counts both.)
    with serving([profile("slow", FaultSpec(receive_timeouts=3))], operation_timeout_cap=0.2) as server:
        run = run_command_line(inventory_host(server, "slow"), settings_for("basic", None), "hostname")
        stats = server.stats("slow")
    assert run.status is HostStatus.OK, run.reason
    assert run.stdout == b"slow\r\n"
    assert stats.timed_out_receives >= 3
    assert stats.actions == ("Create", "Command") + ("Receive",) * (1 + stats.timed_out_receives) + ("Delete",)
    assert run.cost is not None and run.cost.requests == 4 + stats.timed_out_receives


def test_refused_port_is_unreachable() -> None:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener
        sock.bind(("127.0.1.99", 0))
        port = sock.getsockname()[1]
    host = Host(name="gone", address="127.0.1.99", port=port)
    run = run_command_line(host, settings_for("basic", None), "hostname")
    assert run.status is HostStatus.UNREACHABLE
    assert "refused" in run.reason
