"""One WinRM conversation with one host: open a shell, run one command line, read, delete.

Built on pywinrm 0.5.0's `Protocol` (never `Session`), one Protocol per host per worker thread:
pywinrm is not thread-safe (reference/winrm-protocol.md §3.1). The conversation is
Create, Command, Receive x k, Delete - no Signal, because deleting the shell ends the command
(§4, MS-WSMV 3.1.4.4.1). Every HTTP request (including NTLM/CredSSP auth legs) goes through a
metering adapter mounted on that Protocol's own requests.Session, which counts requests and
bytes, caps each response body, and bounds every wait by the per-host deadline: each request's
timeout and each receive on its socket (status line and headers included) wait at most the time
left, and the Delete that frees the
host's shell runs inside the deadline too (the last CLEANUP_GRACE_SECONDS of it, or a quarter of a
shorter one, are kept for it), so a conversation never outlasts `--timeout`.
"""

from __future__ import annotations

import contextvars
import io
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters
import urllib3.connection
import urllib3.connectionpool
import winrm.exceptions
import winrm.protocol
import winrm.transport

from auditplan.collect.errors import SettingsError
from auditplan.collect.winrm.faults import HTTP_UNAUTHORIZED, DeadlineExceeded, ResponseTooLarge, classify
from auditplan.collect.winrm.settings import (
    CLEANUP_GRACE_SECONDS,
    CODEPAGE_UTF8,
    MESSAGE_ENCRYPTING,
    Endpoint,
    TransportSettings,
    endpoint_for,
)
from auditplan.records import Host, HostStatus, ProbeCost

_READ_CHUNK = 64 * 1024
_LAST_BODY_KEEP = 64 * 1024  # enough for any fault envelope
Clock = Callable[[], float]


@dataclass(frozen=True)
class RemoteRun:
    """How one host's conversation ended. stdout/stderr are empty unless status is OK."""

    status: HostStatus
    reason: str
    stdout: bytes
    stderr: bytes
    exit_code: int | None
    cost: ProbeCost
    warnings: tuple[str, ...] = ()
    waits: tuple[tuple[float, float], ...] = ()  # each bounded wait: (clock when granted, seconds granted)


def cleanup_share(deadline: float) -> float:
    """The end of a conversation kept for the Delete that frees the host's shell: CLEANUP_GRACE_SECONDS,
    or a quarter of a deadline shorter than four times that."""
    return min(CLEANUP_GRACE_SECONDS, deadline / 4)


class _Meter:
    """Per-host request accounting and limits; one per conversation, never shared. `deadline_at` is
    when the current phase must end (the work, then the Delete); `clock` is time.monotonic but in tests.
    `waits` records each bounded wait as (clock when granted, seconds granted), so a test with an
    injected clock can check that no wait outlasts the deadline without timing anything."""

    def __init__(self, deadline_at: float, max_response_bytes: int, clock: Clock = time.monotonic) -> None:
        self.deadline_at = deadline_at
        self.clock = clock
        self.waits: list[tuple[float, float]] = []
        self.max_response_bytes = max_response_bytes
        self.requests = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        # The newest HTTP answer (status, start of its body): an auth library that fails on it keeps
        # neither, and the status says whether the host had already accepted the credentials.
        self.last_response: tuple[int, bytes] | None = None

    def remaining(self) -> float:
        return self.deadline_at - self.clock()

    def granted(self, asked: float | None) -> float:
        """What one wait may last: `asked` (None: no limit of its own) cut to the time left;
        DeadlineExceeded when none is left."""
        now = self.clock()
        left = self.deadline_at - now
        if left <= 0:
            raise DeadlineExceeded()
        given = left if asked is None else min(asked, left)
        self.waits.append((now, given))
        return given


def _content_length(response: requests.Response) -> int | None:
    try:
        return int(response.headers.get("Content-Length", ""))
    except ValueError:
        return None


def _header_bytes(headers: Mapping[str, str]) -> int:
    return sum(len(k) + len(v) + 4 for k, v in headers.items()) + 2


class _MeteredAdapter(requests.adapters.HTTPAdapter):
    """Counts every request this session sends (auth legs included: requests-ntlm and
    requests-credssp resend through `response.connection`, which is this adapter), reads each
    body with a size cap, and never lets one request run past the host's deadline."""

    def __init__(self, meter: _Meter) -> None:
        super().__init__(max_retries=0)
        self._meter = meter

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        # Connections whose sockets bound every receive by the deadline (_DeadlineSocket).
        self.poolmanager.pool_classes_by_scheme = {"http": _HTTPPool, "https": _HTTPSPool}

    def send(  # type: ignore[override]
        self,
        request: requests.PreparedRequest,
        stream: bool = False,
        timeout: Any = None,
        verify: bool | str = True,
        cert: Any = None,
        proxies: Mapping[str, str] | None = None,
    ) -> requests.Response:
        meter = self._meter
        # One number for connect and read: a (connect, read) tuple from a caller is cut as a whole.
        timeout = meter.granted(float(timeout) if isinstance(timeout, int | float) else None)
        body = request.body or b""
        meter.requests += 1
        # Request line + headers (http.client adds Host) + body: the HTTP bytes, TLS framing excluded.
        meter.bytes_sent += (
            len(request.method or "")
            + len(request.path_url)
            + 11
            + len("Host: \r\n")
            + len(urlsplit(request.url or "").netloc)
            + _header_bytes(request.headers)
            + len(body)
        )
        sending = _SENDING.set(meter)  # for the connection urllib3 may open now (_DeadlineSocket)
        try:
            response = super().send(request, stream=True, timeout=timeout, verify=verify, cert=cert,
                                    proxies=proxies)
        finally:
            _SENDING.reset(sending)
        meter.bytes_received += 15 + len(response.reason or "") + _header_bytes(response.headers)
        if response.status_code == HTTP_UNAUTHORIZED:
            # requests-ntlm reads the TLS peer certificate (for channel binding) through this
            # response's socket, which reading the body to the end would close; a 401 body is
            # tiny, so check its declared size and leave the reading to requests.
            declared = _content_length(response)
            if declared is not None and declared > meter.max_response_bytes:
                response.close()
                raise ResponseTooLarge(f"a 401 response declared {declared} bytes")
            meter.bytes_received += declared or 0
            meter.last_response = (HTTP_UNAUTHORIZED, b"")
            return response
        content = bytearray()
        try:
            while True:
                try:
                    chunk = response.raw.read1(_READ_CHUNK, decode_content=True)
                except Exception:
                    if meter.remaining() <= 0:
                        raise DeadlineExceeded() from None  # the read was cut by our deadline
                    raise
                if not chunk:
                    break
                content += chunk
                meter.bytes_received += len(chunk)
                if len(content) > meter.max_response_bytes:
                    raise ResponseTooLarge(
                        f"an HTTP response exceeded {meter.max_response_bytes} bytes; no WS-Man envelope is that big"
                    )
                if meter.remaining() <= 0:
                    raise DeadlineExceeded()
        except BaseException:
            response.close()
            raise
        body = bytes(content)
        # Only an error body is ever read back (_classify_auth_library_error): keep none of a 200.
        error = response.status_code >= 400
        meter.last_response = (response.status_code, body[:_LAST_BODY_KEEP] if error else b"")
        # requests reads the body lazily into _content; we have read it already, under our caps.
        response._content = body
        response._content_consumed = True  # type: ignore[attr-defined]
        return response


# The meter of the conversation whose request is being sent: set by _MeteredAdapter.send around
# urllib3's work, read by the connection urllib3 opens for it (same thread, same context).
_SENDING: contextvars.ContextVar[_Meter] = contextvars.ContextVar("auditplan_meter")


class _DeadlineSocket:
    """A connection's socket whose every receive waits at most the time left to the host's deadline,
    not the whole timeout urllib3 set for the request: http.client reads a status line and headers
    in many small receives, so a host sending them a byte at a time would otherwise hold a request
    for as many timeouts as it sends bytes. Everything else is the socket's own (requests-ntlm reads
    the TLS peer certificate through it)."""

    def __init__(self, sock: socket.socket, meter: _Meter) -> None:
        self._sock, self._meter = sock, meter
        self._timeout = sock.gettimeout()

    def settimeout(self, value: float | None) -> None:
        self._timeout = value
        self._sock.settimeout(value)

    def gettimeout(self) -> float | None:
        return self._timeout

    def recv_into(self, *args: Any) -> int:
        self._sock.settimeout(self._meter.granted(self._timeout))
        return self._sock.recv_into(*args)

    def recv(self, *args: Any) -> bytes:
        self._sock.settimeout(self._meter.granted(self._timeout))
        return self._sock.recv(*args)

    def makefile(self, mode: str = "rb", buffering: int | None = None, **_: Any) -> io.BufferedReader:
        # What http.client reads a response through: socket.SocketIO calls recv_into on this object.
        if mode != "rb":
            raise ValueError(f"only binary reading is supported, not {mode!r}")
        raw = socket.SocketIO(self, "rb")  # type: ignore[arg-type]
        return io.BufferedReader(raw, buffering if buffering and buffering > 0 else io.DEFAULT_BUFFER_SIZE)

    def _decref_socketios(self) -> None:
        """socket.SocketIO's close calls this; the real socket never counted this reader."""

    def __getattr__(self, name: str) -> Any:
        return getattr(self._sock, name)


class _HTTPConnection(urllib3.connection.HTTPConnection):
    def connect(self) -> None:
        super().connect()
        meter = _SENDING.get(None)
        if meter is not None and self.sock is not None:
            self.sock = _DeadlineSocket(self.sock, meter)  # type: ignore[assignment]


# The same connect() over TLS: the MRO puts HTTPSConnection.connect (the handshake) under it.
class _HTTPSConnection(_HTTPConnection, urllib3.connection.HTTPSConnection):
    pass


class _HTTPPool(urllib3.connectionpool.HTTPConnectionPool):
    ConnectionCls = _HTTPConnection


class _HTTPSPool(urllib3.connectionpool.HTTPSConnectionPool):
    ConnectionCls = _HTTPSConnection


class _MeteredTransport(winrm.transport.Transport):  # type: ignore[misc]
    """pywinrm's Transport with the metering adapter mounted on its session before the first
    request, including the empty NTLM set-up POST that build_session sends (§2.2)."""

    def __init__(self, meter: _Meter, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.meter = meter

    def _send_message_request(
        self, session: requests.Session, prepared_request: requests.PreparedRequest
    ) -> requests.Response:
        if not isinstance(session.get_adapter(prepared_request.url or ""), _MeteredAdapter):
            adapter = _MeteredAdapter(self.meter)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            # Environment proxies are already off (proxy=None: pywinrm sets no_proxy=*), but with
            # trust_env requests still reads every *_proxy variable on each send to find that out.
            session.trust_env = False
        return super()._send_message_request(session, prepared_request)  # type: ignore[no-any-return]


def _build_protocol(endpoint: Endpoint, settings: TransportSettings, meter: _Meter) -> winrm.protocol.Protocol:
    password = settings.password.reveal() if settings.password is not None else None
    # "always" on HTTP: never let NTLM/Kerberos/CredSSP fall back to a clear-text body.
    encryption = "always" if endpoint.scheme == "http" and endpoint.transport in MESSAGE_ENCRYPTING else "auto"
    kwargs: dict[str, Any] = {
        "endpoint": endpoint.url,
        "username": settings.username or None,
        "password": password,
        "service": "HTTP",
        "ca_trust_path": str(settings.ca_bundle) if settings.ca_bundle else None,
        "cert_pem": str(settings.client_cert) if settings.client_cert else None,
        "cert_key_pem": str(settings.client_key) if settings.client_key else None,
        "server_cert_validation": "ignore" if settings.insecure else "validate",
        "auth_method": endpoint.transport.value,
        "message_encryption": encryption,
        # Environment proxies must never capture fleet or loopback traffic (§3.3).
        "proxy": None,
    }
    protocol_kwargs = {k: v for k, v in kwargs.items() if k != "auth_method"}
    protocol = winrm.protocol.Protocol(
        transport=endpoint.transport.value,
        read_timeout_sec=settings.read_timeout,
        operation_timeout_sec=settings.operation_timeout,
        **protocol_kwargs,
    )
    # Replace the Transport Protocol built with the same arguments plus the meter.
    protocol.transport = _MeteredTransport(meter, read_timeout_sec=settings.read_timeout, **kwargs)
    return protocol


def run_command_line(host: Host, settings: TransportSettings, command_line: str, *,
                     clock: Clock = time.monotonic) -> RemoteRun:
    """Run `command_line` through cmd.exe on `host` (one shell, one command); never raises for
    anything the host or network does: every failure becomes a classified RemoteRun. The whole
    conversation, the closing Delete included, ends within `settings.deadline` of `clock`."""
    started = clock()
    end = started + settings.deadline
    meter = _Meter(end - cleanup_share(settings.deadline), settings.max_response_bytes, clock)
    password = settings.password.reveal() if settings.password is not None else None
    warnings: list[str] = []
    truncated = False

    def cost() -> ProbeCost:
        return ProbeCost(
            requests=meter.requests,
            bytes_sent=meter.bytes_sent,
            bytes_received=meter.bytes_received,
            seconds=round(clock() - started, 3),
            truncated=truncated,
        )

    def failed(status: HostStatus, reason: str) -> RemoteRun:
        return RemoteRun(status, _redact(reason, password), b"", b"", None, cost(), tuple(warnings),
                         tuple(meter.waits))

    try:
        endpoint = endpoint_for(host, settings)
        protocol = _build_protocol(endpoint, settings, meter)
    except SettingsError as exc:
        return failed(HostStatus.PROTOCOL_ERROR, f"settings: {exc}")
    except winrm.exceptions.WinRMError as exc:  # pywinrm's own argument checks (cert files etc.)
        return failed(HostStatus.PROTOCOL_ERROR, f"client setup: {exc}")

    shell_id: str | None = None
    try:
        shell_id = protocol.open_shell(codepage=CODEPAGE_UTF8)
        command_id = protocol.run_command(shell_id, command_line)
        stdout, stderr, exit_code, truncated = _receive(protocol, shell_id, command_id, settings, meter)
    except Exception as exc:
        status, reason = classify(exc, settings, last_response=meter.last_response)
        if shell_id is not None:
            _close_quietly(protocol, shell_id, meter, end)
        else:
            protocol.transport.close_session()
        return failed(status, reason)

    try:
        meter.deadline_at = end  # the Delete gets what is left, the share kept for it included
        protocol.close_shell(shell_id, close_session=True)
    except Exception as exc:
        # The output is already complete; a failed Delete only leaves a shell behind until
        # its IdleTimeout, so note it and keep the result.
        _, reason = classify(exc, settings)
        warnings.append(_redact(f"closing the shell failed: {reason}", password))
    return RemoteRun(HostStatus.OK, "", stdout, stderr, exit_code, cost(), tuple(warnings), tuple(meter.waits))


def _receive(
    protocol: winrm.protocol.Protocol, shell_id: str, command_id: str, settings: TransportSettings, meter: _Meter
) -> tuple[bytes, bytes, int | None, bool]:
    """The Receive loop with our own deadline and output cap (pywinrm's get_command_output
    retries w:TimedOut forever, §1.4)."""
    stdout = bytearray()
    stderr = bytearray()
    while True:
        try:
            out, err, exit_code, done = protocol.get_command_output_raw(shell_id, command_id)
        except winrm.exceptions.WinRMOperationTimeoutError:
            out, err, exit_code, done = b"", b"", -1, False
        stdout += out
        stderr += err
        if len(stdout) + len(stderr) > settings.max_output_bytes:
            # Stop reading; the Delete that follows ends the command on the host (§4).
            del stdout[settings.max_output_bytes :]
            del stderr[max(0, settings.max_output_bytes - len(stdout)) :]
            return bytes(stdout), bytes(stderr), None, True
        if done:
            return bytes(stdout), bytes(stderr), exit_code, False
        if meter.remaining() <= 0:
            raise DeadlineExceeded()


def _close_quietly(protocol: winrm.protocol.Protocol, shell_id: str, meter: _Meter, end: float) -> None:
    """Best-effort Delete after a failure, so the host frees the shell, in the share of the deadline
    kept for it (never past `end`)."""
    meter.deadline_at = end
    try:
        protocol.close_shell(shell_id, close_session=True)
    except Exception:  # noqa: S110 - the host's status is already decided
        pass
    finally:
        protocol.transport.close_session()


def _redact(text: str, password: str | None) -> str:
    line = " ".join(text.split())
    if password:
        line = line.replace(password, "***")
    return line


