"""The contract between the simulator's WS-Management server and the hosts behind it.

The server (simulator/server.py, server_http.py, server_winrs.py) speaks the protocol and injects faults; a
`CommandBackend` (the cmd.exe emulator in simulator/cmd_shell.py, driven by a host profile) turns a
command line into output. Nothing outside simulator/ and tests imports this package.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable


@dataclass(frozen=True)
class CommandOutput:
    """What one command line produced, in the host's console code page (bytes)."""

    stdout: bytes
    stderr: bytes
    exit_code: int


class CommandBackend(Protocol):
    """Runs one command line as `cmd.exe /c <line>` would on the simulated host."""

    def run(self, command: str, arguments: tuple[str, ...], codepage: int | None = None) -> CommandOutput:
        """`codepage` is the shell's WINRS_CODEPAGE (65001 = UTF-8); None = the host's console code page."""
        ...


@runtime_checkable
class SessionBackend(CommandBackend, Protocol):
    """A backend that also knows who logged on (the server passes its `DOMAIN\\user`): `whoami`,
    %USERNAME% and %USERDOMAIN% then name that account. The server uses `run_as` when present."""

    def run_as(
        self, principal: str, command: str, arguments: tuple[str, ...], codepage: int | None = None
    ) -> CommandOutput: ...


class EventLogView(Protocol):
    """One simulated event log (Security, or Sysmon's Operational log), as wevtutil sees it.

    simulator/eventlog.py implements it; the wevtutil emulation in simulator/tools_wevtutil.py uses it
    for `gl`/`gli` figures and delegates `qe` to `query`.
    """

    @property
    def log_name(self) -> str: ...
    @property
    def record_count(self) -> int: ...
    @property
    def oldest_record_number(self) -> int: ...
    @property
    def file_size_bytes(self) -> int: ...
    @property
    def max_size_bytes(self) -> int: ...

    def query(self, arguments: tuple[str, ...]) -> CommandOutput:
        """`wevtutil qe <log> <arguments...>` (arguments after the log name, already unquoted)."""
        ...


@dataclass(frozen=True)
class FaultSpec:
    """Transport-level misbehaviour of one simulated host. All off by default."""

    latency_ms: float = 0.0  # added before every HTTP response
    drip_bytes_per_second: float | None = None  # send response bodies slowly
    receive_timeouts: int = 0  # answer this many Receives with w:TimedOut before output
    hang: bool = False  # never answer Receive (client deadline must fire)
    reset_connection: bool = False  # close the TCP connection without a response
    http_500_fault: str | None = None  # WS-Man fault subcode to answer every Create with
    reject_credentials: bool = False  # always 401 (bad credentials)
    access_denied: bool = False  # authenticate, then Create answers w:AccessDenied
    malformed_xml: bool = False  # Receive answers a body that is not XML
    oversized_output_bytes: int = 0  # append this many bytes of junk to stdout
    tls_broken: bool = False  # present a certificate the client cannot verify


@dataclass(frozen=True)
class Credentials:
    username: str
    password: str
    domain: str = ""


@dataclass(frozen=True)
class SimHost:
    """One simulated host as the server needs it: where to listen and what runs behind it."""

    name: str
    address: str  # loopback address, e.g. 127.0.0.11
    port: int  # 0 = ephemeral; the server records the bound port
    backend: CommandBackend
    faults: FaultSpec = field(default_factory=FaultSpec)
    # The names the host gives itself (NTLM CHALLENGE, account rules): its FQDN, or "" = a
    # workgroup host called `name`; and the OS version its NTLM Version field reports.
    computer_name: str = ""
    os_version: tuple[int, int, int] = (10, 0, 20348)
    # The accounts this host accepts; None = the server's (the fleet's) accounts.
    accounts: tuple[Credentials, ...] | None = field(default=None, repr=False)


def chunks(data: bytes, size: int) -> Iterator[bytes]:
    """Split output the way WinRS streams it: several Receive responses for large output."""
    for i in range(0, len(data), size):
        yield data[i : i + size]
