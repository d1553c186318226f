"""WinRS behaviour of the simulator: message shapes against the Windows recordings, long poll,
chunked output, the cmd.exe line limit, quotas, Signal/Delete/Send, lifecycle and scale.

Shapes are checked against the real Windows responses quoted in reference/winrm-protocol.md §1.3,
§1.4 and the pypsrp recording test_winrs_bad_cmd_id.yml (s:/a:/x:/w:/rsp: prefixes, xml:lang,
upper-case GUIDs, RelatesTo echo).
"""

from __future__ import annotations

import base64
import re
import threading
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests
import winrm.exceptions
from receive_helpers import receive
from winrm.protocol import Protocol

from auditplan.simulator.interface import CommandOutput, Credentials, SimHost
from auditplan.simulator.server import FleetServer

USER = Credentials("vagrant", "Passw0rd!")
NS = {
    "s": "http://www.w3.org/2003/05/soap-envelope",
    "a": "http://schemas.xmlsoap.org/ws/2004/08/addressing",
    "w": "http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd",
    "rsp": "http://schemas.microsoft.com/wbem/wsman/1/windows/shell",
    "x": "http://schemas.xmlsoap.org/ws/2004/09/transfer",
    "f": "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault",
}
GUID = re.compile(r"^[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")
UPPER_MID = re.compile(r"^uuid:[0-9A-F]{8}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{4}-[0-9A-F]{12}$")


class Scripted:
    """Records calls; `gate` blocks `wait` commands until set; `big N` gives N pattern bytes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[str, ...]]] = []
        self.gate = threading.Event()

    def run(self, command: str, arguments: tuple[str, ...], codepage: int | None = None) -> CommandOutput:
        self.calls.append((command, arguments))
        if command == "wait":
            self.gate.wait(10)
            return CommandOutput(b"released\r\n", b"", 0)
        if command == "big":
            n = int(arguments[0])
            return CommandOutput((bytes(range(256)) * (n // 256 + 1))[:n], b"tail\r\n", 2)
        return CommandOutput(" ".join((command, *arguments)).encode("ascii") + b"\r\n", b"", 0)


@pytest.fixture
def backend() -> Scripted:
    return Scripted()


@pytest.fixture
def server(backend: Scripted) -> Iterator[FleetServer]:
    with FleetServer(
        [SimHost("srv", "127.0.0.41", 0, backend)],
        users=[USER],
        auth={"basic"},
        tls=None,
        allow_unencrypted=True,
        operation_timeout_cap=0.3,
        max_operations_per_user=3,
    ) as fleet:
        yield fleet
        backend.gate.set()  # release blocked backends before stop() waits for them


def client(fleet: FleetServer, **kw: Any) -> Protocol:
    kw.setdefault("operation_timeout_sec", 1)
    kw.setdefault("read_timeout_sec", 30)  # generous: a healthy answer must not time out on a busy machine
    return Protocol(
        fleet.url("srv"), transport="basic", username=USER.username, password=USER.password, proxy=None, **kw
    )


def envelope(action: str, body: str, *, shell_id: str | None = None, mid: str, options: str = "") -> bytes:
    selector = (
        f'<wsman:SelectorSet><wsman:Selector Name="ShellId">{shell_id}</wsman:Selector></wsman:SelectorSet>'
        if shell_id
        else ""
    )
    # pypsrp's request style (prefixes wsa/wsman/wsmv, s:mustUnderstand), from the recordings.
    return (
        '<s:Envelope xmlns:rsp="http://schemas.microsoft.com/wbem/wsman/1/windows/shell" '
        'xmlns:s="http://www.w3.org/2003/05/soap-envelope" xmlns:wsa="http://schemas.xmlsoap.org/ws/2004/08/addressing" '
        'xmlns:wsman="http://schemas.dmtf.org/wbem/wsman/1/wsman.xsd" '
        'xmlns:wsmv="http://schemas.microsoft.com/wbem/wsman/1/wsman.xsd"><s:Header>'
        f'<wsa:Action s:mustUnderstand="true">{action}</wsa:Action>'
        '<wsman:MaxEnvelopeSize s:mustUnderstand="true">153600</wsman:MaxEnvelopeSize>'
        f"<wsa:MessageID>{mid}</wsa:MessageID><wsman:OperationTimeout>PT20S</wsman:OperationTimeout>"
        '<wsman:ResourceURI s:mustUnderstand="true">http://schemas.microsoft.com/wbem/wsman/1/windows/shell/cmd'
        "</wsman:ResourceURI><wsa:To>http://192.168.56.15:5985/wsman</wsa:To>"
        f"{options}{selector}</s:Header><s:Body>{body}</s:Body></s:Envelope>"
    ).encode()


def post(fleet: FleetServer, data: bytes) -> requests.Response:
    return requests.post(
        fleet.url("srv"),
        data=data,
        auth=(USER.username, USER.password),
        timeout=5,
        headers={"Content-Type": "application/soap+xml;charset=UTF-8"},
    )


MID_CREATE = "uuid:81154310-1C68-4690-9BD0-EA693328825B"
MID_COMMAND = "uuid:6F213571-1CF4-47D0-9FE4-96A5F18734C6"


def test_create_and_command_responses_look_like_windows(server: FleetServer, backend: Scripted) -> None:
    create = post(
        server,
        envelope(
            "http://schemas.xmlsoap.org/ws/2004/09/transfer/Create",
            "<rsp:Shell><rsp:InputStreams>stdin</rsp:InputStreams><rsp:OutputStreams>stdout stderr</rsp:OutputStreams>"
            "</rsp:Shell>",
            mid=MID_CREATE,
            options='<wsman:OptionSet s:mustUnderstand="true"><wsman:Option Name="WINRS_CODEPAGE">65001</wsman:Option>'
            '<wsman:Option Name="WINRS_NOPROFILE">True</wsman:Option></wsman:OptionSet>',
        ),
    )
    assert create.status_code == 200
    assert create.headers["Content-Type"] == "application/soap+xml;charset=UTF-8"
    text = create.text
    assert text.startswith('<s:Envelope xml:lang="en-US" ')
    for tag in ("<s:Header>", "<a:Action>", "<a:RelatesTo>", "<x:ResourceCreated>", "<rsp:Shell ", "<w:Selector "):
        assert tag in text
    root = ET.fromstring(create.content)
    assert (
        root.findtext("s:Header/a:Action", namespaces=NS)
        == "http://schemas.xmlsoap.org/ws/2004/09/transfer/CreateResponse"
    )
    assert root.findtext("s:Header/a:RelatesTo", namespaces=NS) == MID_CREATE
    assert UPPER_MID.match(root.findtext("s:Header/a:MessageID", namespaces=NS) or "")
    shell_id = root.findtext(".//w:Selector[@Name='ShellId']", namespaces=NS) or ""
    assert GUID.match(shell_id)
    assert root.findtext("s:Body/rsp:Shell/rsp:ShellId", namespaces=NS) == shell_id
    assert root.findtext("s:Body/rsp:Shell/rsp:Owner", namespaces=NS) == "vagrant"
    [record] = server.shells("srv")
    assert (record.shell_id, record.owner, record.codepage, record.noprofile) == (shell_id, "SRV\\vagrant", 65001, True)

    # pypsrp sends one rsp:Arguments per argument (recording test_winrs_bad_cmd_id.yml).
    command = post(
        server,
        envelope(
            "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Command",
            "<rsp:CommandLine><rsp:Command>cmd.exe</rsp:Command><rsp:Arguments>/c</rsp:Arguments>"
            "<rsp:Arguments>echo</rsp:Arguments><rsp:Arguments>hi</rsp:Arguments></rsp:CommandLine>",
            shell_id=shell_id.lower(),
            mid=MID_COMMAND,
        ),
    )
    assert command.status_code == 200
    root = ET.fromstring(command.content)
    assert root.findtext("s:Header/a:RelatesTo", namespaces=NS) == MID_COMMAND
    assert GUID.match(root.findtext("s:Body/rsp:CommandResponse/rsp:CommandId", namespaces=NS) or "")
    cid = root.findtext("s:Body/rsp:CommandResponse/rsp:CommandId", namespaces=NS)
    receive = post(
        server,
        envelope(
            "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/Receive",
            f'<rsp:Receive><rsp:DesiredStream CommandId="{cid}">stdout stderr</rsp:DesiredStream></rsp:Receive>',
            shell_id=shell_id,
            mid="uuid:1E4F574C-3C19-46E9-A544-B71D78C95E7B",
        ),
    )
    root = ET.fromstring(receive.content)
    streams = root.findall(".//rsp:Stream", NS)
    assert base64.b64decode(streams[0].text or "") == b"cmd.exe /c echo hi\r\n"
    assert [(s.get("Name"), s.get("End")) for s in streams[1:]] == [("stdout", "true"), ("stderr", "true")]
    state = root.find(".//rsp:CommandState", NS)
    assert state is not None
    assert state.get("State") == "http://schemas.microsoft.com/wbem/wsman/1/windows/shell/CommandState/Done"
    assert state.findtext("rsp:ExitCode", namespaces=NS) == "0"
    assert backend.calls == [("cmd.exe", ("/c", "echo", "hi"))]


def test_shell_options_from_pywinrm_are_recorded(server: FleetServer) -> None:
    p = client(server)
    p.open_shell(codepage=65001, noprofile=True, env_vars={"AP": "1"}, working_directory="C:\\Windows")
    [record] = server.shells("srv")
    assert (record.codepage, record.noprofile, record.environment, record.working_directory) == (
        65001,
        True,
        {"AP": "1"},
        "C:\\Windows",
    )
    assert record.commands == 0


def test_unknown_shell_and_command_are_invalid_selectors(server: FleetServer) -> None:
    p = client(server)
    with pytest.raises(winrm.exceptions.WSManFaultError) as info:
        p.run_command("00000000-0000-0000-0000-000000000000", "echo")
    assert (info.value.fault_subcode, info.value.wsman_fault_code) == ("w:InvalidSelectors", 2150858843)
    shell = p.open_shell()
    with pytest.raises(winrm.exceptions.WSManFaultError) as info:
        p.get_command_output_raw(shell, "11111111-2222-3333-4444-555555555555")
    assert (info.value.fault_subcode, info.value.wsman_fault_code) == ("w:InvalidSelectors", 2150858843)
    assert "command identifier that does not exist" in (info.value.reason or "")


def test_receive_long_polls_then_times_out_like_windows(server: FleetServer, backend: Scripted) -> None:
    p = client(server)
    shell = p.open_shell()
    cid = p.run_command(shell, "wait")
    with pytest.raises(winrm.exceptions.WinRMOperationTimeoutError):
        p.get_command_output_raw(shell, cid)
    backend.gate.set()
    out, err, rc, done = receive(p, shell, cid)
    assert (out, err, rc, done) == (b"released\r\n", b"", 0, True)
    # The server tells the long-poll repeats apart from the read that carried the output (a busy
    # machine may add repeats after the release; the server counts each).
    stats = server.stats("srv")
    assert stats.actions == ("Create", "Command") + ("Receive",) * (1 + stats.timed_out_receives)
    assert stats.timed_out_receives >= 1
    assert stats.conversation == ("Create", "Command", "Receive")


def test_five_megabytes_arrive_intact_across_several_receives(server: FleetServer) -> None:
    size = 5 * 1024 * 1024
    p = client(server)
    shell = p.open_shell()
    sizes: list[int] = []
    session = p.transport.session
    assert session is not None  # open_shell() built it
    session.hooks["response"].append(lambda r, *a, **k: sizes.append(len(r.content)))
    cid = p.run_command(shell, "big", (str(size),))
    out, err = bytearray(), bytearray()
    receives = 0
    while True:
        o, e, rc, done = receive(p, shell, cid)
        receives += 1
        out += o
        err += e
        if done:
            break
    assert bytes(out) == (bytes(range(256)) * (size // 256 + 1))[:size]
    assert (bytes(err), rc) == (b"tail\r\n", 2)
    # 5 MiB is 7 MiB of base64: it cannot fit one 153 600-byte envelope (pywinrm's MaxEnvelopeSize).
    assert receives >= (size * 4 // 3) // 153600
    assert max(sizes) <= 153600


def test_the_8191_character_limit_answers_like_cmd_exe(server: FleetServer, backend: Scripted) -> None:
    p = client(server)
    shell = p.open_shell()
    fits = "x" * (8191 - len("echo "))
    cid = p.run_command(shell, "echo", (fits,))
    assert receive(p, shell, cid)[:3] == ((f"echo {fits}\r\n").encode(), b"", 0)
    p.cleanup_command(shell, cid)
    cid = p.run_command(shell, "echo", (fits + "x",))
    # reference §1.5: stderr "The command line is too long." and exit code 1; nothing runs.
    assert receive(p, shell, cid)[:3] == (b"", b"The command line is too long.\r\n", 1)
    assert len(backend.calls) == 1


def test_unsignalled_commands_hit_the_operations_quota(server: FleetServer) -> None:
    p = client(server)
    shell = p.open_shell()
    cids = [p.run_command(shell, "echo", (str(i),)) for i in range(3)]
    assert server.shells("srv")[0].commands == 3
    with pytest.raises(winrm.exceptions.WSManFaultError) as info:
        p.run_command(shell, "echo", ("over",))
    # reference §1.6: w:InternalError with an MSFT_WmiError detail, error_Code 0x803381A6.
    assert info.value.fault_subcode == "w:InternalError"
    assert info.value.wmierror_code == 0x803381A6
    assert "maximum number of 3 concurrent operations" in (info.value.reason or "")
    p.cleanup_command(shell, cids[0])  # Signal terminate releases one operation
    p.run_command(shell, "echo", ("fits again",))
    with pytest.raises(winrm.exceptions.WSManFaultError):
        p.get_command_output_raw(shell, cids[0])  # a terminated command is gone


def test_delete_terminates_running_commands_and_frees_the_quota(server: FleetServer) -> None:
    p = client(server, read_timeout_sec=5)
    shell = p.open_shell()
    for _ in range(3):
        p.run_command(shell, "wait")
    p.close_shell(shell, close_session=False)
    shell2 = p.open_shell()
    cid = p.run_command(shell2, "echo", ("after",))
    assert receive(p, shell2, cid)[0] == b"echo after\r\n"
    with pytest.raises(winrm.exceptions.WSManFaultError) as info:
        p.run_command(shell, "echo")
    assert "ShellId" in (info.value.reason or "")


def test_send_is_accepted_for_a_live_command(server: FleetServer) -> None:
    p = client(server)
    shell = p.open_shell()
    cid = p.run_command(shell, "echo", ("in",))
    p.send_command_input(shell, cid, b"data\r\n", end=True)
    assert receive(p, shell, cid)[0] == b"echo in\r\n"


def test_non_wsman_paths_and_bad_xml_are_refused(server: FleetServer) -> None:
    other = requests.post(
        server.url("srv").replace("/wsman", "/other"), data=b"x", auth=(USER.username, USER.password), timeout=5
    )
    assert other.status_code == 404
    bad = post(server, b"<not-soap/>")
    assert bad.status_code == 500
    root = ET.fromstring(bad.content)
    assert root.findtext(".//s:Subcode/s:Value", namespaces=NS) == "w:SchemaValidationError"
    dtd = post(server, b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>')
    assert dtd.status_code == 500


def test_one_hundred_hosts_serve_sixteen_concurrent_clients() -> None:
    hosts = [SimHost(f"h{i:03d}", f"127.0.1.{10 + i}", 0, Scripted()) for i in range(100)]
    with FleetServer(hosts, users=[USER], auth={"basic"}, tls=None, allow_unencrypted=True) as fleet:

        def survey(name: str) -> bytes:
            p = Protocol(
                fleet.url(name),
                transport="basic",
                username=USER.username,
                password=USER.password,
                proxy=None,
                operation_timeout_sec=5,
                read_timeout_sec=10,
            )
            shell = p.open_shell()
            cid = p.run_command(shell, "hostname")
            while True:  # 16 clients on a busy machine: a Receive may time out before the backend ran
                try:
                    out = p.get_command_output_raw(shell, cid)[0]
                    break
                except winrm.exceptions.WinRMOperationTimeoutError:
                    continue
            p.close_shell(shell)
            return bytes(out)

        with ThreadPoolExecutor(16) as pool:
            outputs = list(pool.map(survey, [h.name for h in hosts]))
        assert outputs == [b"hostname\r\n"] * 100
        stats = [fleet.stats(h.name) for h in hosts]
        assert all(s.conversation == ("Create", "Command", "Receive", "Delete") for s in stats)
        assert all(s.requests == 4 + s.timed_out_receives for s in stats)
        assert sum(fleet.stats(h.name).connections for h in hosts) == 100
