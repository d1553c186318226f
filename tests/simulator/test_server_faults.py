"""Each FaultSpec field gives the client-side symptom documented in server.FAULT_SYMPTOMS (pywinrm 0.5.0,
exception mapping per reference/winrm-protocol.md §1.6), while the other hosts keep serving."""

from __future__ import annotations

import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import fields
from typing import Any, Literal

import pytest
import requests
import winrm.exceptions
from winrm.protocol import Protocol

from auditplan.simulator.certs import TlsMaterial, generate_tls_material
from auditplan.simulator.interface import CommandOutput, Credentials, FaultSpec, SimHost
from auditplan.simulator.server import FAULT_SYMPTOMS, FleetServer

USER = Credentials("vagrant", "Passw0rd!")
# pywinrm's Protocol(transport=...) is typed with this Literal; a plain str parameter would not do.
WinrmTransport = Literal["auto", "basic", "certificate", "ntlm", "kerberos", "credssp", "plaintext", "ssl"]


class Echo:
    def run(self, command: str, arguments: tuple[str, ...], codepage: int | None = None) -> CommandOutput:
        return CommandOutput((" ".join(arguments) + "\r\n").encode("ascii"), b"", 0)


FAULTY = {
    "latency": FaultSpec(latency_ms=3000),
    "drip": FaultSpec(drip_bytes_per_second=40000),
    "timeouts": FaultSpec(receive_timeouts=2),
    "hang": FaultSpec(hang=True),
    "reset": FaultSpec(reset_connection=True),
    "fault500": FaultSpec(http_500_fault="w:InternalError"),
    "reject": FaultSpec(reject_credentials=True),
    "denied": FaultSpec(access_denied=True),
    "malformed": FaultSpec(malformed_xml=True),
    "oversized": FaultSpec(oversized_output_bytes=1000),
}


def _hosts() -> list[SimHost]:
    hosts = [SimHost("healthy", "127.0.0.31", 0, Echo())]
    for i, (name, spec) in enumerate(FAULTY.items()):
        hosts.append(SimHost(name, f"127.0.0.{32 + i}", 0, Echo(), spec))
    return hosts


@pytest.fixture(scope="module")
def fleet() -> Iterator[FleetServer]:
    with FleetServer(
        _hosts(), users=[USER], auth={"basic", "ntlm"}, tls=None, allow_unencrypted=True, operation_timeout_cap=0.2
    ) as server:
        yield server


@pytest.fixture(scope="module")
def tls_fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FleetServer, TlsMaterial]]:
    hosts = [
        SimHost("healthy", "127.0.0.51", 0, Echo()),
        SimHost("tlsbroken", "127.0.0.52", 0, Echo(), FaultSpec(tls_broken=True)),
    ]
    material = generate_tls_material(tmp_path_factory.mktemp("tls"), ["127.0.0.51", "127.0.0.52"])
    with FleetServer(hosts, users=[USER], auth={"basic"}, tls=material) as server:
        yield server, material


def client(server: FleetServer, name: str, transport: WinrmTransport = "basic", **kw: Any) -> Protocol:
    # A generous read timeout: a healthy answer must not become a timeout on a busy machine. Tests of
    # the timing faults pass a short one, which their fault always outlasts.
    kw.setdefault("operation_timeout_sec", 1)
    kw.setdefault("read_timeout_sec", 30)
    return Protocol(
        server.url(name), transport=transport, username=USER.username, password=USER.password, proxy=None, **kw
    )


def output(p: Protocol, shell: str, cid: str) -> tuple[tuple[bytes, bytes, int, bool], int]:
    """The command's output, repeating the Receive while it answers w:TimedOut (the long poll ended
    before the command did: the 0.2 s cap, or a busy machine), as every WinRM client must; and how
    many repeats that took."""
    for repeats in range(1000):
        try:
            return p.get_command_output_raw(shell, cid), repeats
        except winrm.exceptions.WinRMOperationTimeoutError:
            continue
    raise AssertionError("the command never finished")


def healthy_still_serves(server: FleetServer) -> None:
    p = client(server, "healthy")
    shell = p.open_shell()
    cid = p.run_command(shell, "echo", ("ok",))
    assert output(p, shell, cid)[0][:3] == (b"ok\r\n", b"", 0)
    p.close_shell(shell)


def test_every_faultspec_field_has_a_documented_symptom() -> None:
    assert {f.name for f in fields(FaultSpec)} == set(FAULT_SYMPTOMS)


def test_latency_beyond_read_timeout_is_a_read_timeout(fleet: FleetServer) -> None:
    with pytest.raises(requests.exceptions.ReadTimeout):  # 3 s of latency always outlasts 2 s
        client(fleet, "latency", read_timeout_sec=2).open_shell()
    healthy_still_serves(fleet)


def test_slow_drip_still_delivers_intact_output(fleet: FleetServer) -> None:
    # requests' read timeout is per socket read, so a steady drip never trips it (only an
    # overall deadline in the caller does); the bytes that arrive must be intact.
    p = client(fleet, "drip")
    shell = p.open_shell()
    cid = p.run_command(shell, "echo", ("drip", "drop"))
    assert output(p, shell, cid)[0][:3] == (b"drip drop\r\n", b"", 0)
    p.close_shell(shell)


def test_receive_timeouts_then_output(fleet: FleetServer) -> None:
    fleet.reset_stats()
    p = client(fleet, "timeouts")
    shell = p.open_shell()
    cid = p.run_command(shell, "echo", ("late",))
    for _ in range(2):  # the two injected w:TimedOut answers come first, whatever the command's speed
        with pytest.raises(winrm.exceptions.WinRMOperationTimeoutError):
            p.get_command_output_raw(shell, cid)
    got, repeats = output(p, shell, cid)  # a busy machine may add real long-poll repeats after them
    assert got[:3] == (b"late\r\n", b"", 0)
    p.close_shell(shell)
    stats = fleet.stats("timeouts")
    assert stats.actions == ("Create", "Command") + ("Receive",) * (3 + repeats) + ("Delete",)
    assert stats.timed_out_receives == 2 + repeats  # the injected w:TimedOut answers are long-poll repeats too


def test_hang_needs_the_client_deadline_and_blocks_nobody_else(fleet: FleetServer) -> None:
    p = client(fleet, "hang", operation_timeout_sec=1, read_timeout_sec=2)
    shell = p.open_shell()
    cid = p.run_command(shell, "echo", ("never",))
    errors: list[BaseException] = []

    def receive() -> None:
        try:
            p.get_command_output_raw(shell, cid)
        except BaseException as exc:  # collected for the assertion below
            errors.append(exc)

    waiter = threading.Thread(target=receive)
    waiter.start()
    healthy_still_serves(fleet)  # served while the hung Receive is outstanding
    waiter.join(10)
    assert len(errors) == 1 and isinstance(errors[0], requests.exceptions.ReadTimeout)


def test_reset_connection_is_a_connection_error(fleet: FleetServer) -> None:
    with pytest.raises(requests.exceptions.ConnectionError):
        client(fleet, "reset").open_shell()
    assert fleet.stats("reset").actions[-1] == "(reset)"


def test_http_500_fault_on_create(fleet: FleetServer) -> None:
    with pytest.raises(winrm.exceptions.WSManFaultError) as info:
        client(fleet, "fault500").open_shell()
    assert info.value.code == 500
    assert info.value.fault_subcode == "w:InternalError"


@pytest.mark.parametrize("transport", ["basic", "ntlm"])
def test_reject_credentials_is_invalid_credentials(fleet: FleetServer, transport: WinrmTransport) -> None:
    with pytest.raises(winrm.exceptions.InvalidCredentialsError):
        client(fleet, "reject", transport).open_shell()


def test_access_denied_after_authentication(fleet: FleetServer) -> None:
    fleet.reset_stats()
    with pytest.raises(winrm.exceptions.WSManFaultError) as info:
        client(fleet, "denied", "ntlm").open_shell()
    assert info.value.fault_subcode == "w:AccessDenied"
    assert info.value.wsman_fault_code == 5
    assert "(empty)" in fleet.stats("denied").actions  # authentication itself succeeded


def test_malformed_receive_is_a_parse_error(fleet: FleetServer) -> None:
    p = client(fleet, "malformed")
    shell = p.open_shell()
    cid = p.run_command(shell, "echo", ("x",))
    with pytest.raises(ET.ParseError):
        p.get_command_output_raw(shell, cid)


def test_oversized_output_appends_junk(fleet: FleetServer) -> None:
    p = client(fleet, "oversized")
    shell = p.open_shell()
    cid = p.run_command(shell, "echo", ("real",))
    (out, err, rc, done), _ = output(p, shell, cid)
    p.close_shell(shell)
    assert out.startswith(b"real\r\n") and len(out) == len(b"real\r\n") + 1000
    assert (err, rc, done) == (b"", 0, True)


def test_tls_broken_fails_verification_but_others_verify(tls_fleet: tuple[FleetServer, TlsMaterial]) -> None:
    server, material = tls_fleet
    with pytest.raises(requests.exceptions.SSLError):
        client(server, "tlsbroken", "ssl", ca_trust_path=str(material.ca_cert)).open_shell()
    p = client(server, "healthy", "ssl", ca_trust_path=str(material.ca_cert))
    shell = p.open_shell()
    p.close_shell(shell)


def test_stop_returns_promptly_with_hung_and_idle_connections() -> None:
    hosts = [
        SimHost("hang", "127.0.0.61", 0, Echo(), FaultSpec(hang=True)),
        SimHost("slow", "127.0.0.62", 0, Echo(), FaultSpec(latency_ms=30000)),
    ]
    baseline = threading.active_count()
    server = FleetServer(hosts, users=[USER], auth={"basic"}, tls=None, allow_unencrypted=True)
    server.start()
    p = client(server, "hang", operation_timeout_sec=20, read_timeout_sec=30)
    shell = p.open_shell()
    cid = p.run_command(shell, "echo", ("x",))
    errors: list[BaseException] = []

    def call(fn: Any) -> None:
        try:
            fn()
        except BaseException as exc:
            errors.append(exc)

    threads = [
        threading.Thread(target=call, args=(lambda: p.get_command_output_raw(shell, cid),)),
        threading.Thread(
            target=call,
            args=(lambda: client(server, "slow", read_timeout_sec=60, operation_timeout_sec=20).open_shell(),),
        ),
    ]
    for t in threads:
        t.start()
    # Both requests are held inside the server once it counted them (a request is counted when read).
    while server.stats("hang").count("Receive") < 1 or server.stats("slow").requests < 1:
        assert all(t.is_alive() for t in threads), errors
        time.sleep(0.01)
    server.stop()
    for t in threads:
        t.join(60)
    # Held, the two requests would end in a read timeout (30 s, 60 s) or after the 30 s latency; a
    # connection error on both says stop() closed them rather than waited for them (no clock needed:
    # requests' ReadTimeout is not a ConnectionError).
    assert not any(t.is_alive() for t in threads)
    assert len(errors) == 2 and all(isinstance(e, requests.exceptions.ConnectionError) for e in errors)
    assert not any(isinstance(e, requests.exceptions.Timeout) for e in errors)
    for _ in range(1500):  # the server's threads end soon after stop(); wait for them, not a fixed time
        if threading.active_count() <= baseline:
            break
        time.sleep(0.01)
    assert threading.active_count() <= baseline
