"""HTTP on one accepted connection: body limits, authentication, message encryption, replies.

One Handler serves one TCP connection (keep-alive), so the auth/encryption context it holds lives
as long as the connection (NTLM and CredSSP are connection-bound, reference/winrm-protocol.md
§2.2). WS-Man requests go to WinRS (server_winrs.py). The transport faults of a host's FaultSpec
are injected here: reset, rejected credentials, latency, slow drip.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
from collections.abc import Sequence
from http.server import BaseHTTPRequestHandler
from typing import Any

from auditplan.simulator import wsman
from auditplan.simulator.auth import (
    CONTENT_TYPE_SOAP,
    SCHEME_BASIC,
    SCHEME_CERTIFICATE,
    ConnectionAuth,
    EncryptionError,
    is_encrypted_content_type,
)
from auditplan.simulator.server_state import WSMAN_PATH, Counters, HostState
from auditplan.simulator.server_winrs import WinRS

IDLE_CONNECTION_TIMEOUT = 120.0  # HTTP.sys idle connection timeout; UNVERIFIED (reference §4)
MAX_REQUEST_BODY = 16 * 1024 * 1024
DRIP_INTERVAL = 0.05

# Labels in HostStats.actions for requests that carry no WS-Man action.
LABEL_UNAUTHORIZED = "(401)"
LABEL_EMPTY = "(empty)"
LABEL_RESET = "(reset)"
LABEL_REJECTED = "(rejected)"
LABEL_INVALID = "(invalid)"


class _CountingReader:
    """Wraps the handler's rfile so bytes_in counts exactly what the HTTP parser consumed."""

    def __init__(self, inner: Any, counters: Counters) -> None:
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
    def __init__(self, inner: Any, counters: Counters) -> None:
        self._inner = inner
        self._counters = counters

    def write(self, data: bytes) -> int:
        # Counted before sending: once a client holds an answer its bytes are in the stats, so a test
        # comparing the client's count with the server's needs no wait for this thread to catch up.
        self._counters.add_out(len(data))
        self._inner.write(data)
        return len(data)

    def flush(self) -> None:
        self._inner.flush()

    def close(self) -> None:
        self._inner.close()

    @property
    def closed(self) -> bool:
        return bool(self._inner.closed)


class Connection:
    """Passed as BaseHTTPRequestHandler's `server`: what one TCP connection's handler needs."""

    def __init__(
        self, winrs: WinRS, stopping: threading.Event, host: HostState, auth: ConnectionAuth, sock: socket.socket
    ) -> None:
        self.winrs = winrs
        self.stopping = stopping  # set when the server stops: ends latency and drip waits
        self.host = host
        self.auth = auth
        self.sock = sock


class Handler(BaseHTTPRequestHandler):
    """Serves one connection until it closes (constructing it runs it, as socketserver does)."""

    protocol_version = "HTTP/1.1"  # keep-alive: the auth context lives as long as the connection
    server_version = "Microsoft-HTTPAPI/2.0"
    sys_version = ""
    timeout = IDLE_CONNECTION_TIMEOUT
    disable_nagle_algorithm = True  # headers and body go out as two writes; avoid delayed-ACK stalls
    conn: Connection

    def __init__(self, request: socket.socket, client_address: Any, conn: Connection) -> None:
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
        answer = self.conn.winrs.dispatch(host, self.conn.sock, result.user, request)
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
        stopping = self.conn.stopping
        faults = self.conn.host.sim.faults
        if faults.latency_ms > 0 and stopping.wait(faults.latency_ms / 1000.0):
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
            if stopping.wait(DRIP_INTERVAL):
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

