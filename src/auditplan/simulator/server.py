"""The simulator's WS-Management server: one loopback listener per simulated host, WinRS behind it.

One acceptor thread watches every listening socket (so 500 hosts cost 500 sockets, not 500
threads); each accepted TCP connection gets a daemon thread that owns its TLS session and its
auth/encryption context (NTLM and CredSSP are connection-bound, reference/winrm-protocol.md §2.2).
Each Command runs `host.backend.run` once, in its own worker thread, so a slow backend never
blocks a Receive long poll or other hosts.

Protocol behaviour follows reference/winrm-protocol.md §1 (operations, long poll, faults), §2
(auth, encryption), §4 (quota on un-signalled commands) and §6 (checklist). Injected faults come
from each host's FaultSpec; the client-side symptom each one produces is listed in FAULT_SYMPTOMS.
"""

from __future__ import annotations

import contextlib
import select
import selectors
import socket
import ssl
import struct
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from types import TracebackType
from typing import Any

from auditplan.simulator import wsman
from auditplan.simulator.auth import (
    ALL_SCHEMES,
    CONTENT_TYPE_SOAP,
    SCHEME_BASIC,
    SCHEME_CERTIFICATE,
    SCHEME_CREDSSP,
    SCHEME_NTLM,
    AuthPolicy,
    ConnectionAuth,
    EncryptionError,
    UserStore,
    cbt_for_certificate,
    is_encrypted_content_type,
)
from auditplan.simulator.certs import TlsMaterial
from auditplan.simulator.interface import CommandOutput, Credentials, SimHost

WSMAN_PATH = "/wsman"
DEFAULT_OPERATION_TIMEOUT = 60.0  # WinRM's MaxTimeoutms default when a request names none; UNVERIFIED
IDLE_CONNECTION_TIMEOUT = 120.0  # HTTP.sys idle connection timeout; UNVERIFIED (reference §4)
TLS_HANDSHAKE_TIMEOUT = 10.0
MAX_REQUEST_BODY = 16 * 1024 * 1024
LISTEN_BACKLOG = 128
DRIP_INTERVAL = 0.05
HANG_POLL_INTERVAL = 0.1
STOP_JOIN_TIMEOUT = 2.0
OVERSIZE_JUNK = bytes(range(256))

# Labels in HostStats.actions for requests that carry no WS-Man action.
LABEL_UNAUTHORIZED = "(401)"
LABEL_EMPTY = "(empty)"
LABEL_RESET = "(reset)"
LABEL_REJECTED = "(rejected)"
LABEL_INVALID = "(invalid)"

# What a pywinrm 0.5.0 client sees for each FaultSpec field (checked by tests/simulator/test_server_faults.py).
FAULT_SYMPTOMS: dict[str, str] = {
    "latency_ms": "slower responses; requests.exceptions.ReadTimeout if latency exceeds read_timeout_sec",
    "drip_bytes_per_second": "slow bodies; requests.exceptions.ReadTimeout/ConnectionError when too slow",
    "receive_timeouts": "winrm.exceptions.WinRMOperationTimeoutError from get_command_output_raw, N times",
    "hang": "requests.exceptions.ReadTimeout (Receive never answers)",
    "reset_connection": "requests.exceptions.ConnectionError (TCP RST, no response)",
    "http_500_fault": "winrm.exceptions.WSManFaultError with fault_subcode = the configured subcode",
    "reject_credentials": "winrm.exceptions.InvalidCredentialsError (HTTP 401)",
    "access_denied": "winrm.exceptions.WSManFaultError, fault_subcode 'w:AccessDenied' (shape UNVERIFIED)",
    "malformed_xml": "xml.etree.ElementTree.ParseError from the Receive",
    "oversized_output_bytes": "stdout longer by that many junk bytes",
    "tls_broken": "requests.exceptions.SSLError (certificate verify failed)",
}


@dataclass(frozen=True)
class HostStats:
    """What one host's listener saw. bytes_* count HTTP bytes (request/status lines, headers, bodies)."""

    requests: int
    bytes_in: int
    bytes_out: int
    actions: tuple[str, ...]
    connections: int


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


class _Counters:
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

    def snapshot(self) -> HostStats:
        with self._lock:
            return HostStats(self.requests, self.bytes_in, self.bytes_out, tuple(self.actions), self.connections)


class _CountingReader:
    """Wraps the handler's rfile so bytes_in counts exactly what the HTTP parser consumed."""

    def __init__(self, inner: Any, counters: _Counters) -> None:
        self._inner = inner
        self._counters = counters

    def readline(self, size: int = -1) -> bytes:
        data: bytes = self._inner.readline(size)
        self._counters.add_in(len(data))
        return data

    def read(self, size: int = -1) -> bytes:
        data: bytes = self._inner.read(size)
        self._counters.add_in(len(data))
        return data

    def close(self) -> None:
        self._inner.close()

    @property
    def closed(self) -> bool:
        return bool(self._inner.closed)


class _CountingWriter:
    def __init__(self, inner: Any, counters: _Counters) -> None:
        self._inner = inner
        self._counters = counters

    def write(self, data: bytes) -> int:
        self._inner.write(data)
        self._counters.add_out(len(data))
        return len(data)

    def flush(self) -> None:
        self._inner.flush()

    def close(self) -> None:
        self._inner.close()

    @property
    def closed(self) -> bool:
        return bool(self._inner.closed)


@dataclass
class _Command:
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
class _Shell:
    shell_id: str
    owner: str
    codepage: int
    noprofile: bool
    environment: dict[str, str]
    working_directory: str | None
    input_streams: tuple[str, ...]
    output_streams: tuple[str, ...]
    commands: dict[str, _Command] = field(default_factory=dict)


class _Host:
    """Runtime state of one simulated host."""

    def __init__(self, sim: SimHost, policy: AuthPolicy, tls_context: ssl.SSLContext | None) -> None:
        self.sim = sim
        self.policy = policy
        self.tls_context = tls_context
        self.counters = _Counters()
        self.cond = threading.Condition()
        self.shells: dict[str, _Shell] = {}
        self.listener: socket.socket | None = None
        self.port = sim.port

    @property
    def scheme(self) -> str:
        return "https" if self.tls_context else "http"

    def operations_of(self, user: str) -> int:
        return sum(1 for shell in self.shells.values() for cmd in shell.commands.values() if cmd.owner == user)


class _Connection:
    """Passed as BaseHTTPRequestHandler's `server`: what one TCP connection's handler needs."""

    def __init__(self, fleet: FleetServer, host: _Host, auth: ConnectionAuth, sock: socket.socket) -> None:
        self.fleet = fleet
        self.host = host
        self.auth = auth
        self.sock = sock


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive: the auth context lives as long as the connection
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    timeout = IDLE_CONNECTION_TIMEOUT
    disable_nagle_algorithm = True  # headers and body go out as two writes; avoid delayed-ACK stalls
    conn: _Connection

    def __init__(self, request: socket.socket, client_address: Any, conn: _Connection) -> None:
        self.conn = conn
        super().__init__(request, client_address, conn)  # type: ignore[arg-type]

    def setup(self) -> None:
        super().setup()
        self.rfile = _CountingReader(self.rfile, self.conn.host.counters)  # type: ignore[assignment]
        self.wfile = _CountingWriter(self.wfile, self.conn.host.counters)  # type: ignore[assignment]

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: request lines could carry nothing secret, but the test output stays clean."""

    def do_GET(self) -> None:
        self.conn.host.counters.request(LABEL_REJECTED)
        self._reply(405, b"")

    def do_POST(self) -> None:
        host = self.conn.host
        faults = host.sim.faults
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if not 0 <= length <= MAX_REQUEST_BODY:
            host.counters.request(LABEL_REJECTED)
            self.close_connection = True
            self._reply(400, b"")
            return
        body = self.rfile.read(length) if length else b""

        if faults.reset_connection:
            host.counters.request(LABEL_RESET)
            self._reset()
            return
        if self.path.split("?", 1)[0].lower() != WSMAN_PATH:
            host.counters.request(LABEL_REJECTED)
            self._reply(404, b"")
            return

        result = self.conn.auth.authenticate(self.headers.get("Authorization"), reject_all=faults.reject_credentials)
        if result.user is None:
            host.counters.request(LABEL_UNAUTHORIZED)
            self._reply(result.status, b"", headers=result.headers)
            return
        if not body:
            # pywinrm's empty POST that completes NTLM before the first encrypted message (§2.2).
            host.counters.request(LABEL_EMPTY)
            self._reply(200, b"")
            return

        encrypted = is_encrypted_content_type(self.headers.get("Content-Type", ""))
        if encrypted:
            try:
                plain = self.conn.auth.decrypt(body)
            except EncryptionError:
                host.counters.request(LABEL_REJECTED)
                self._reply(400, b"")
                return
        elif (
            host.tls_context is None
            and result.scheme not in (SCHEME_BASIC, SCHEME_CERTIFICATE)
            and not host.policy.allow_unencrypted
        ):
            # AllowUnencrypted=false: a session-auth plaintext body over HTTP is refused.
            # The exact status Windows sends is UNVERIFIED; 400 as in the reference sketch (§2.4).
            host.counters.request(LABEL_REJECTED)
            self._reply(400, b"")
            return
        else:
            plain = body

        try:
            request = wsman.parse_request(plain)
        except wsman.RequestError as exc:
            host.counters.request(LABEL_INVALID)
            self._send_soap(500, wsman.fault_response("", exc.fault, host.sim.address), encrypted)
            return
        host.counters.request(request.short_action)
        answer = self.conn.fleet._dispatch(self.conn, result.user, request)
        if answer is None:  # hang ended (client gave up or server stopping): drop the connection
            self.close_connection = True
            return
        status, payload = answer
        self._send_soap(status, payload, encrypted)

    # --- responses ----------------------------------------------------------------------------

    def _send_soap(self, status: int, payload: bytes, encrypted: bool) -> None:
        if encrypted:
            content_type, payload = self.conn.auth.encrypt(payload)
        else:
            content_type = CONTENT_TYPE_SOAP
        self._reply(status, payload, content_type=content_type)

    def _reply(
        self, status: int, body: bytes, *, content_type: str | None = None, headers: Sequence[tuple[str, str]] = ()
    ) -> None:
        fleet = self.conn.fleet
        faults = self.conn.host.sim.faults
        if faults.latency_ms > 0 and fleet._stopping.wait(faults.latency_ms / 1000.0):
            self.close_connection = True
            return
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        if self.conn.auth.final_token_header is not None:
            self.send_header("WWW-Authenticate", self.conn.auth.final_token_header)
            self.conn.auth.final_token_header = None
        if content_type is not None:
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        rate = faults.drip_bytes_per_second
        if rate is None or rate <= 0 or not body:
            self.wfile.write(body)
            return
        piece = max(1, int(rate * DRIP_INTERVAL))
        for start in range(0, len(body), piece):
            if fleet._stopping.wait(DRIP_INTERVAL):
                self.close_connection = True
                return
            self.wfile.write(body[start : start + piece])

    def _reset(self) -> None:
        """Close with SO_LINGER 0: the client sees a TCP RST, not an orderly close."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.conn.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        with contextlib.suppress(OSError):
            self.conn.sock.close()


class FleetServer:
    """Serves every SimHost on its own loopback address and port until stop().

    users: the local accounts every host accepts. auth: enabled schemes, a subset of
    {"basic", "ntlm", "credssp", "certificate"}. tls: HTTPS material (None = plain HTTP).
    allow_unencrypted: WinRM's AllowUnencrypted (Basic and plaintext bodies over HTTP).
    enforce_cbt: CbtHardeningLevel=Strict for NTLM over HTTPS. operation_timeout_cap: hold
    Receive long polls at most this long whatever OperationTimeout asks (keeps tests fast).
    max_operations_per_user / max_commands_per_shell: quotas on un-signalled commands (§4).

    Several FleetServers may run in one process, NTLM included: each owns its NTLM user file
    and points NTLM_USER_FILE at it only around its own acceptor steps (see auth.py).
    Backends still running at stop() are waited for briefly, then left as daemon threads.
    Kerberos is not served.
    """

    def __init__(
        self,
        hosts: Sequence[SimHost],
        *,
        users: Sequence[Credentials],
        auth: set[str],
        tls: TlsMaterial | None,
        allow_unencrypted: bool = False,
        enforce_cbt: bool = False,
        operation_timeout_cap: float | None = None,
        max_operations_per_user: int = 1500,
        max_commands_per_shell: int = 1000,
    ) -> None:
        unknown = set(auth) - ALL_SCHEMES
        if unknown:
            raise ValueError(f"unknown auth scheme(s): {', '.join(sorted(unknown))}")
        if not auth:
            raise ValueError("at least one auth scheme must be enabled")
        if SCHEME_CERTIFICATE in auth and tls is None:
            raise ValueError("certificate auth needs TLS material")
        names = [h.name for h in hosts]
        duplicates = {n for n in names if names.count(n) > 1}
        if duplicates:
            raise ValueError(f"duplicate host name(s): {', '.join(sorted(duplicates))}")
        self._sims = list(hosts)
        self._users = UserStore(users)
        self._schemes = frozenset(auth)
        self._tls = tls
        self._allow_unencrypted = allow_unencrypted
        self._enforce_cbt = enforce_cbt
        self._operation_timeout_cap = operation_timeout_cap
        self._max_ops_per_user = max_operations_per_user
        self._max_cmds_per_shell = max_commands_per_shell
        self._hosts: dict[str, _Host] = {}
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._workers: set[threading.Thread] = set()
        self._acceptor: threading.Thread | None = None
        self._selector: selectors.BaseSelector | None = None
        self._wake_r: socket.socket | None = None
        self._wake_w: socket.socket | None = None

    # --- lifecycle ----------------------------------------------------------------------------

    def __enter__(self) -> FleetServer:
        self.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def start(self) -> None:
        if self._acceptor is not None:
            raise RuntimeError("FleetServer already started")
        self._stopping.clear()
        self._users.open(ntlm=bool(self._schemes & {SCHEME_NTLM, SCHEME_CREDSSP}))
        try:
            trusted, untrusted = self._tls_contexts()
            selector = selectors.DefaultSelector()
            self._selector = selector
            self._wake_r, self._wake_w = socket.socketpair()
            self._wake_r.setblocking(False)
            selector.register(self._wake_r, selectors.EVENT_READ, None)
            for sim in self._sims:
                context = (untrusted if sim.faults.tls_broken else trusted) if self._tls else None
                host = _Host(sim, self._policy(sim), context)
                listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                try:
                    listener.bind((sim.address, sim.port))
                except OSError as exc:
                    listener.close()
                    raise OSError(f"host {sim.name}: cannot listen on {sim.address}:{sim.port}: {exc}") from exc
                listener.listen(LISTEN_BACKLOG)
                listener.setblocking(False)
                host.listener = listener
                host.port = listener.getsockname()[1]
                self._hosts[sim.name] = host
                selector.register(listener, selectors.EVENT_READ, host)
        except BaseException:
            self._close_listeners()
            self._users.close()
            raise
        self._acceptor = threading.Thread(target=self._accept_loop, name="wsman-acceptor", daemon=True)
        self._acceptor.start()

    def stop(self) -> None:
        """Stop accepting, end every connection and long poll, remove the NTLM user file."""
        if self._acceptor is None:
            return
        self._stopping.set()
        if self._wake_w is not None:
            with contextlib.suppress(OSError):
                self._wake_w.send(b"x")
        self._acceptor.join(STOP_JOIN_TIMEOUT)
        self._acceptor = None
        self._close_listeners()
        for host in self._hosts.values():
            with host.cond:
                host.cond.notify_all()
        with self._lock:
            connections = list(self._connections.items())
        for sock, _thread in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        deadline = time.monotonic() + STOP_JOIN_TIMEOUT
        for _sock, thread in connections:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            workers = list(self._workers)
        for worker in workers:  # backends are the caller's code: wait briefly, never forever
            worker.join(max(0.0, deadline - time.monotonic()))
        self._users.close()

    def _close_listeners(self) -> None:
        if self._selector is not None:
            self._selector.close()
            self._selector = None
        for host in self._hosts.values():
            if host.listener is not None:
                host.listener.close()
                host.listener = None
        for sock in (self._wake_r, self._wake_w):
            if sock is not None:
                sock.close()
        self._wake_r = self._wake_w = None

    def _tls_contexts(self) -> tuple[ssl.SSLContext | None, ssl.SSLContext | None]:
        if self._tls is None:
            return None, None
        contexts = []
        for cert, key in (
            (self._tls.server_cert, self._tls.server_key),
            (self._tls.untrusted_server_cert, self._tls.untrusted_server_key),
        ):
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.minimum_version = ssl.TLSVersion.TLSv1_2
            context.load_cert_chain(cert, key)
            if SCHEME_CERTIFICATE in self._schemes:
                # Optional, so Basic/NTLM clients without a certificate still get through.
                context.verify_mode = ssl.CERT_OPTIONAL
                context.load_verify_locations(self._tls.ca_cert)
            contexts.append(context)
        return contexts[0], contexts[1]

    def _policy(self, sim: SimHost) -> AuthPolicy:
        bindings = None
        if self._tls is not None and self._enforce_cbt:
            cert = self._tls.untrusted_server_cert if sim.faults.tls_broken else self._tls.server_cert
            bindings = cbt_for_certificate(ssl.PEM_cert_to_DER_cert(cert.read_text(encoding="ascii")))
        return AuthPolicy(
            schemes=self._schemes,
            users=self._users,
            tls=self._tls is not None,
            allow_unencrypted=self._allow_unencrypted,
            channel_bindings=bindings,
        )

    # --- queries ------------------------------------------------------------------------------

    def endpoint(self, name: str) -> tuple[str, int]:
        host = self._host(name)
        return host.sim.address, host.port

    def url(self, name: str) -> str:
        address, port = self.endpoint(name)
        return f"{self._host(name).scheme}://{address}:{port}{WSMAN_PATH}"

    def stats(self, name: str) -> HostStats:
        return self._host(name).counters.snapshot()

    def reset_stats(self) -> None:
        for host in self._hosts.values():
            host.counters.reset()

    def shells(self, name: str) -> list[ShellRecord]:
        """The shells open on a host, with the options their Create asked for."""
        host = self._host(name)
        with host.cond:
            return [
                ShellRecord(
                    s.shell_id,
                    s.owner,
                    s.codepage,
                    s.noprofile,
                    dict(s.environment),
                    s.working_directory,
                    len(s.commands),
                )
                for s in host.shells.values()
            ]

    def _host(self, name: str) -> _Host:
        try:
            return self._hosts[name]
        except KeyError:
            raise KeyError(f"no simulated host named {name!r} is being served") from None

    # --- connections --------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        selector = self._selector
        assert selector is not None
        while not self._stopping.is_set():
            try:
                events = selector.select()
            except (OSError, ValueError):
                return
            for key, _mask in events:
                host = key.data
                if host is None:
                    return  # woken by stop()
                while True:
                    try:
                        sock, peer = key.fileobj.accept()  # type: ignore[union-attr]
                    except (BlockingIOError, InterruptedError):
                        break
                    except OSError:
                        break
                    sock.setblocking(True)
                    thread = threading.Thread(
                        target=self._serve_connection,
                        args=(host, sock, peer),
                        name=f"wsman-{host.sim.name}",
                        daemon=True,
                    )
                    with self._lock:
                        if self._stopping.is_set():
                            sock.close()
                            return
                        self._connections[sock] = thread
                    thread.start()

    def _serve_connection(self, host: _Host, raw: socket.socket, peer: Any) -> None:
        host.counters.connection()
        sock = raw
        try:
            peer_cert = None
            if host.tls_context is not None:
                raw.settimeout(TLS_HANDSHAKE_TIMEOUT)
                sock = host.tls_context.wrap_socket(raw, server_side=True)
                peer_cert = sock.getpeercert()  # type: ignore[attr-defined]
                with self._lock:  # stop() must shut down the socket the handler actually reads
                    self._connections[sock] = self._connections.pop(raw, threading.current_thread())
            sock.settimeout(IDLE_CONNECTION_TIMEOUT)
            conn = _Connection(self, host, ConnectionAuth(host.policy, peer_cert), sock)
            _Handler(sock, peer, conn)
        except (OSError, ssl.SSLError, ValueError):
            pass  # client went away or the TLS handshake failed: nothing to answer
        finally:
            with self._lock:
                self._connections.pop(sock, None)
                self._connections.pop(raw, None)
            with contextlib.suppress(OSError):
                sock.close()

    # --- WinRS --------------------------------------------------------------------------------

    def _dispatch(self, conn: _Connection, user: str, request: wsman.Request) -> tuple[int, bytes] | None:
        host = conn.host
        machine = host.sim.address
        mid = request.message_id
        faults = host.sim.faults
        action = request.action
        if action == wsman.ACTION_CREATE:
            if faults.access_denied:
                # A valid account without WinRM rights; the fault shape is UNVERIFIED (reference §1.6).
                return 500, wsman.fault_response(mid, wsman.KNOWN_FAULTS[wsman.SUBCODE_ACCESS_DENIED], machine)
            if faults.http_500_fault:
                return 500, wsman.fault_response(mid, wsman.fault_for_subcode(faults.http_500_fault), machine)
            return self._create(conn, user, request)
        if action not in (
            wsman.ACTION_COMMAND,
            wsman.ACTION_RECEIVE,
            wsman.ACTION_SEND,
            wsman.ACTION_SIGNAL,
            wsman.ACTION_DELETE,
        ):
            return 500, wsman.fault_response(mid, wsman.KNOWN_FAULTS[wsman.SUBCODE_ACTION_NOT_SUPPORTED], machine)
        shell_id = (request.shell_id or "").upper()
        with host.cond:
            shell = host.shells.get(shell_id)
        if shell is None:
            return 500, wsman.fault_response(mid, wsman.unknown_shell_fault(request.shell_id or ""), machine)
        body = request.body
        if isinstance(body, wsman.RunCommand):
            return self._command(host, shell, user, mid, body, request)
        if isinstance(body, wsman.ReceiveOutput):
            return self._receive(conn, shell, mid, body, request)
        if isinstance(body, wsman.SendInput):
            with host.cond:
                for stream in body.streams:
                    cmd = shell.commands.get((stream.command_id or "").upper())
                    if cmd is None:
                        return 500, wsman.fault_response(mid, wsman.unknown_command_fault(), machine)
                    cmd.stdin += stream.data  # the CommandBackend contract takes no stdin; kept for tests
            return 200, wsman.send_response(mid)
        if isinstance(body, wsman.SignalCommand):
            with host.cond:
                cmd = shell.commands.get((body.command_id or "").upper())
                if cmd is None:
                    return 500, wsman.fault_response(mid, wsman.unknown_command_fault(), machine)
                if body.code not in (wsman.SIGNAL_TERMINATE, wsman.SIGNAL_CTRL_C, wsman.SIGNAL_CTRL_BREAK):
                    return 500, wsman.fault_response(
                        mid, wsman.KNOWN_FAULTS[wsman.SUBCODE_SCHEMA_VALIDATION_ERROR], machine
                    )
                # Terminate/ctrl_c end the command and release its operation (reference §4).
                del shell.commands[cmd.command_id]
                host.cond.notify_all()
            return 200, wsman.signal_response(mid)
        # Delete: MS-WSMV 3.1.4.4.1, commands in progress are terminated and everything freed.
        with host.cond:
            host.shells.pop(shell_id, None)
            host.cond.notify_all()
        return 200, wsman.delete_response(mid)

    def _create(self, conn: _Connection, user: str, request: wsman.Request) -> tuple[int, bytes]:
        host = conn.host
        body = request.body
        assert isinstance(body, wsman.CreateShell)
        try:
            codepage = int(request.options.get(wsman.OPTION_CODEPAGE, wsman.DEFAULT_CODEPAGE))
        except ValueError:
            codepage = wsman.DEFAULT_CODEPAGE
        shell = _Shell(
            shell_id=wsman.new_guid(),
            owner=user,
            codepage=codepage,
            noprofile=request.option_bool(wsman.OPTION_NOPROFILE, False),
            environment=dict(body.environment),
            working_directory=body.working_directory,
            input_streams=body.input_streams or ("stdin",),
            output_streams=body.output_streams or ("stdout", "stderr"),
        )
        with host.cond:
            host.shells[shell.shell_id] = shell
        address = f"{host.scheme}://{host.sim.address}:{host.port}{WSMAN_PATH}"
        info = wsman.ShellInfo(
            shell_id=shell.shell_id,
            owner=user,
            client_ip=str(conn.sock.getpeername()[0]) if conn.sock.fileno() >= 0 else "",
            input_streams=shell.input_streams,
            output_streams=shell.output_streams,
        )
        return 200, wsman.create_response(request.message_id, address, info)

    def _command(
        self, host: _Host, shell: _Shell, user: str, mid: str, body: wsman.RunCommand, request: wsman.Request
    ) -> tuple[int, bytes]:
        machine = host.sim.address
        with host.cond:
            if len(shell.commands) >= self._max_cmds_per_shell:
                return 500, wsman.fault_response(mid, wsman.commands_quota_fault(), machine)
            if host.operations_of(user) >= self._max_ops_per_user:
                return 500, wsman.fault_response(mid, wsman.operations_quota_fault(self._max_ops_per_user), machine)
            cmd = _Command(wsman.new_guid(), user, host.sim.faults.receive_timeouts)
            shell.commands[cmd.command_id] = cmd
        line = " ".join((body.command, *body.arguments))
        skip_cmd_shell = request.option_bool(wsman.OPTION_SKIP_CMD_SHELL, False)
        if not skip_cmd_shell and len(line) > wsman.CMD_LINE_LIMIT:
            # cmd.exe refuses the line before running anything (reference §1.5).
            self._finish(
                host, cmd, CommandOutput(b"", wsman.CMD_LINE_TOO_LONG_STDERR, wsman.CMD_LINE_TOO_LONG_EXIT_CODE)
            )
        else:
            worker = threading.Thread(
                target=self._run_backend, args=(host, cmd, body, shell.codepage), name=f"backend-{host.sim.name}",
                daemon=True,
            )
            with self._lock:
                self._workers.add(worker)
            worker.start()
        return 200, wsman.command_response(mid, cmd.command_id)

    def _run_backend(self, host: _Host, cmd: _Command, body: wsman.RunCommand, codepage: int) -> None:
        try:
            # The client chose the output code page when it created the shell (WINRS_CODEPAGE).
            output = host.sim.backend.run(body.command, body.arguments, codepage)
        except Exception as exc:  # a broken backend must look like a failed command, not a dead server
            output = CommandOutput(b"", f"simulator backend failed: {type(exc).__name__}\r\n".encode(), 1)
        finally:
            with self._lock:
                self._workers.discard(threading.current_thread())
        self._finish(host, cmd, output)

    def _finish(self, host: _Host, cmd: _Command, output: CommandOutput) -> None:
        stdout = output.stdout
        extra = host.sim.faults.oversized_output_bytes
        if extra > 0:
            stdout += (OVERSIZE_JUNK * (extra // len(OVERSIZE_JUNK) + 1))[:extra]
        with host.cond:
            cmd.stdout, cmd.stderr, cmd.exit_code = stdout, output.stderr, output.exit_code
            cmd.finished = True
            host.cond.notify_all()

    def _hold(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    def _poll_seconds(self, request: wsman.Request) -> float:
        seconds = request.operation_timeout if request.operation_timeout is not None else DEFAULT_OPERATION_TIMEOUT
        if self._operation_timeout_cap is not None:
            seconds = min(seconds, self._operation_timeout_cap)
        return max(0.0, seconds)

    def _receive(
        self, conn: _Connection, shell: _Shell, mid: str, body: wsman.ReceiveOutput, request: wsman.Request
    ) -> tuple[int, bytes] | None:
        host = conn.host
        machine = host.sim.address
        faults = host.sim.faults
        command_id = (body.command_id or "").upper()
        with host.cond:
            cmd = shell.commands.get(command_id)
        if cmd is None:
            return 500, wsman.fault_response(mid, wsman.unknown_command_fault(), machine)
        if faults.malformed_xml:
            return 200, wsman.MALFORMED_BODY
        if faults.hang:
            self._hang(conn)
            return None
        timed_out = (500, wsman.fault_response(mid, wsman.timed_out_fault(), machine))
        wait = self._poll_seconds(request)
        if cmd.timeouts_left > 0:
            with host.cond:
                cmd.timeouts_left -= 1
            self._hold(wait)
            return timed_out
        deadline = time.monotonic() + wait
        with host.cond:
            while not cmd.finished:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self._stopping.is_set():
                    return timed_out
                if shell.commands.get(command_id) is not cmd:  # signalled or shell deleted meanwhile
                    return 500, wsman.fault_response(mid, wsman.unknown_command_fault(), machine)
                host.cond.wait(remaining)
            budget = wsman.receive_chunk_bytes(request.max_envelope_size)
            out = cmd.stdout[cmd.sent_stdout : cmd.sent_stdout + budget]
            cmd.sent_stdout += len(out)
            err = cmd.stderr[cmd.sent_stderr : cmd.sent_stderr + budget - len(out)]
            cmd.sent_stderr += len(err)
            done = cmd.sent_stdout >= len(cmd.stdout) and cmd.sent_stderr >= len(cmd.stderr)
            exit_code = cmd.exit_code
        payload = wsman.receive_response(
            mid,
            cmd.command_id,
            [("stdout", out), ("stderr", err)],
            done=done,
            exit_code=exit_code if done else None,
        )
        return 200, payload

    def _hang(self, conn: _Connection) -> None:
        """Never answer: wait until the client closes the connection or the server stops."""
        while not self._stopping.wait(HANG_POLL_INTERVAL):
            try:
                readable, _, _ = select.select([conn.sock], [], [], 0)
            except (OSError, ValueError):
                return
            if readable:  # EOF (or anything else) from a client that should be waiting: give up
                return
