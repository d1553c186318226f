"""What the WS-Management server keeps per simulated host: counters, open shells, their commands."""

from __future__ import annotations

import socket
import ssl
import threading
from dataclasses import dataclass, field

from auditplan.simulator.auth import AuthPolicy
from auditplan.simulator.interface import SimHost

WSMAN_PATH = "/wsman"  # the one path every simulated host serves
RECEIVE = "Receive"  # the short action name a Receive request is logged under


@dataclass(frozen=True)
class HostStats:
    """What one host's listener saw. bytes_* count HTTP bytes (request/status lines, headers, bodies).

    `timed_out_receives` counts the Receives answered w:TimedOut: the command had no output yet when
    the OperationTimeout ran out, so the client must ask again (a long-poll repeat, reference §1.4).
    How many there are depends on how fast the host's command ran, so a test that counts requests
    compares `conversation` and `requests - timed_out_receives`, never a bare `requests`.
    """

    requests: int
    bytes_in: int
    bytes_out: int
    actions: tuple[str, ...]
    connections: int
    timed_out_receives: int

    def count(self, action: str) -> int:
        """How many requests were logged as `action` (a short WS-Man action name or a label)."""
        return self.actions.count(action)

    @property
    def conversation(self) -> tuple[str, ...]:
        """`actions` with each run of back-to-back Receives as one: one read of a command's output,
        however many long polls (or output chunks) it took."""
        shape: list[str] = []
        for action in self.actions:
            if not (action == RECEIVE and shape and shape[-1] == RECEIVE):
                shape.append(action)
        return tuple(shape)


@dataclass(frozen=True)
class ShellRecord:
    """One open shell as Create configured it; `commands` counts its un-signalled commands."""

    shell_id: str
    owner: str
    codepage: int
    noprofile: bool
    environment: dict[str, str]
    working_directory: str | None
    commands: int


class Counters:
    """HostStats in the making: every connection's handler adds to it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        with self._lock:
            self.requests = 0
            self.bytes_in = 0
            self.bytes_out = 0
            self.actions: list[str] = []
            self.connections = 0
            self.timed_out_receives = 0

    def add_in(self, n: int) -> None:
        with self._lock:
            self.bytes_in += n

    def add_out(self, n: int) -> None:
        with self._lock:
            self.bytes_out += n

    def request(self, label: str) -> None:
        with self._lock:
            self.requests += 1
            self.actions.append(label)

    def connection(self) -> None:
        with self._lock:
            self.connections += 1

    def receive_timed_out(self) -> None:
        with self._lock:
            self.timed_out_receives += 1

    def snapshot(self) -> HostStats:
        with self._lock:
            return HostStats(
                self.requests,
                self.bytes_in,
                self.bytes_out,
                tuple(self.actions),
                self.connections,
                self.timed_out_receives,
            )


@dataclass
class CommandState:
    """One un-signalled command: the backend's output once finished, and how much was sent."""

    command_id: str
    owner: str
    timeouts_left: int
    finished: bool = False  # the backend returned
    stdout: bytes = b""
    stderr: bytes = b""
    exit_code: int = 0
    sent_stdout: int = 0
    sent_stderr: int = 0
    stdin: bytearray = field(default_factory=bytearray)


@dataclass
class ShellState:
    """One open shell, as Create configured it."""

    shell_id: str
    owner: str
    codepage: int
    noprofile: bool
    environment: dict[str, str]
    working_directory: str | None
    input_streams: tuple[str, ...]
    output_streams: tuple[str, ...]
    commands: dict[str, CommandState] = field(default_factory=dict)


class HostState:
    """Runtime state of one simulated host."""

    def __init__(self, sim: SimHost, policy: AuthPolicy, tls_context: ssl.SSLContext | None) -> None:
        self.sim = sim
        self.policy = policy
        self.tls_context = tls_context
        self.counters = Counters()
        self.cond = threading.Condition()
        self.shells: dict[str, ShellState] = {}
        self.listener: socket.socket | None = None
        self.port = sim.port

    @property
    def scheme(self) -> str:
        return "https" if self.tls_context else "http"

    def operations_of(self, user: str) -> int:
        return sum(1 for shell in self.shells.values() for cmd in shell.commands.values() if cmd.owner == user)

