"""One WinRM conversation with one host: open a shell, run one command line, read, delete.

Built on pywinrm 0.5.0's `Protocol` (never `Session`), one Protocol per host per worker thread:
pywinrm is not thread-safe (reference/winrm-protocol.md §3.1). The conversation is
Create, Command, Receive x k, Delete - no Signal, because deleting the shell ends the command
(§4, MS-WSMV 3.1.4.4.1). Every HTTP request (including NTLM/CredSSP auth legs) goes through a
metering adapter mounted on that Protocol's own requests.Session, which counts requests and
bytes, caps each response body, and shortens each request's timeout to the per-host deadline.
"""

from __future__ import annotations

import enum
import http.client
import socket
import ssl
import time
import xml.etree.ElementTree as ET
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
import requests.adapters
import urllib3.exceptions
import winrm.exceptions
import winrm.protocol
import winrm.transport

from auditplan.records import Host, HostStatus, ProbeCost

# WinRM listener defaults (winrm-protocol.md §1.1): HTTP 5985, HTTPS 5986, path /wsman.
HTTP_PORT = 5985
HTTPS_PORT = 5986
WSMAN_PATH = "/wsman"

# WINRS_CODEPAGE for the shell: UTF-8, so output bytes decode the same on every locale (§1.5).
CODEPAGE_UTF8 = 65001

# MS-WSMV WSManFault codes and subcodes the mapping looks at (§1.6).
WSMAN_FAULT_OPERATION_TIMEOUT = 2150858793  # w:TimedOut, 0x80338029
WSMAN_FAULT_ACCESS_DENIED = 5  # ERROR_ACCESS_DENIED; shape on real Windows is UNVERIFIED (§1.6)
SUBCODE_ACCESS_DENIED = "AccessDenied"

# Windows caps a WS-Man envelope at MaxEnvelopeSize (pywinrm asks for 153600 bytes, §1.2); a
# response far bigger than that is not WinRM, so stop reading it rather than hold it in memory.
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024
_READ_CHUNK = 64 * 1024
HTTP_UNAUTHORIZED = 401
HTTP_FORBIDDEN = 403
# SOAP 1.2 envelope and WS-Man fault detail namespaces (§1.6), to read a fault an auth library swallowed.
NS_SOAP_ENVELOPE = "http://www.w3.org/2003/05/soap-envelope"
NS_WSMAN_FAULT = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"
_LAST_BODY_KEEP = 64 * 1024  # enough for any fault envelope
# Time allowed for the closing Delete after the deadline has already fired.
_CLEANUP_GRACE_SECONDS = 3.0


class AuthTransport(enum.StrEnum):
    """How to authenticate. Names follow pywinrm's `transport=` values where they exist."""

    NTLM = "ntlm"
    BASIC = "basic"
    KERBEROS = "kerberos"
    CREDSSP = "credssp"
    CERTIFICATE = "certificate"


# Auth methods that encrypt the SOAP body themselves (MS-WSMV 2.2.9.1), so plain HTTP is safe.
_MESSAGE_ENCRYPTING = frozenset({AuthTransport.NTLM, AuthTransport.KERBEROS, AuthTransport.CREDSSP})


class SettingsError(ValueError):
    """The transport settings are unusable; the message says which option and why."""


class Secret:
    """A password. Its repr and str never show the value; read it with `.reveal()`."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __reduce__(self) -> Any:
        # Pickling would write the value somewhere we do not control.
        raise TypeError("Secret cannot be pickled")


@dataclass(frozen=True)
class TransportSettings:
    """How to reach every host. Per-host `Host.port/transport/scheme` override the defaults."""

    username: str = ""
    password: Secret | None = field(default=None, repr=False)
    transport: AuthTransport = AuthTransport.NTLM
    scheme: str = "https"
    port: int | None = None
    ca_bundle: Path | None = None
    insecure: bool = False  # no server certificate verification at all
    allow_basic_over_http: bool = False
    client_cert: Path | None = None  # certificate transport: PEM certificate
    client_key: Path | None = None  # certificate transport: PEM private key
    operation_timeout: int = 10  # WS-Man OperationTimeout (server-side long poll), seconds
    read_timeout: int = 15  # HTTP connect and read timeout; must exceed operation_timeout (§1.1)
    deadline: float = 120.0  # whole conversation with one host, seconds
    max_output_bytes: int = 4 * 1024 * 1024
    max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES

    def check(self) -> None:
        """Raise SettingsError for combinations the security defaults forbid or pywinrm rejects."""
        if self.scheme not in ("http", "https"):
            raise SettingsError(f"scheme must be http or https, not {self.scheme!r}")
        if self.operation_timeout < 1 or self.read_timeout <= self.operation_timeout:
            # pywinrm raises WinRMError for this in Protocol() (winrm-protocol.md §1.1).
            raise SettingsError(
                f"read timeout ({self.read_timeout}s) must exceed the operation timeout "
                f"({self.operation_timeout}s), and both must be at least 1s"
            )
        if self.deadline <= 0:
            raise SettingsError("the per-host deadline must be positive")
        if self.max_output_bytes < 1 or self.max_response_bytes < 1:
            raise SettingsError("output caps must be positive")
        if self.port is not None and not 0 < self.port < 65536:
            raise SettingsError(f"port {self.port} is out of range 1-65535")
        for label, path in (("CA bundle", self.ca_bundle), ("client certificate", self.client_cert),
                            ("client key", self.client_key)):
            if path is not None and not path.is_file():
                raise SettingsError(f"{label} {path}: no such file")
        self.check_auth(self.transport, self.scheme)

    def check_auth(self, transport: AuthTransport, scheme: str) -> None:
        """Raise SettingsError if `transport` over `scheme` is not allowed or cannot work."""
        if transport is AuthTransport.BASIC and scheme == "http" and not self.allow_basic_over_http:
            raise SettingsError(
                "Basic auth over HTTP sends the password in clear text; use HTTPS, or NTLM/Kerberos/"
                "CredSSP (which encrypt the message), or pass --allow-basic-over-http"
            )
        if transport is AuthTransport.CERTIFICATE:
            if scheme != "https":
                raise SettingsError("certificate auth needs HTTPS")
            if self.client_cert is None or self.client_key is None:
                raise SettingsError("certificate auth needs --client-cert and --client-key")
        elif transport is AuthTransport.KERBEROS:
            # pywinrm 0.5.0 (winrm/transport.py) skips its credential checks for kerberos and builds
            # HTTPKerberosAuth(principal=username) without the password: the ticket comes from the
            # caller's cache (kinit). A username only picks the principal; neither is required.
            pass
        elif not self.username:
            raise SettingsError(f"{transport} auth needs a username")
        elif self.password is None:
            raise SettingsError(f"{transport} auth needs a password")
        if transport is AuthTransport.KERBEROS and not winrm.transport.HAVE_KERBEROS:
            raise SettingsError("kerberos auth needs pykerberos: pip install 'pywinrm[kerberos]'")
        if transport is AuthTransport.CREDSSP and not winrm.transport.HAVE_CREDSSP:
            raise SettingsError("credssp auth needs requests-credssp: pip install 'pywinrm[credssp]'")


@dataclass(frozen=True)
class Endpoint:
    """Where and how one host is reached, after per-host overrides."""

    url: str
    transport: AuthTransport
    scheme: str


def endpoint_for(host: Host, settings: TransportSettings) -> Endpoint:
    """The WS-Man URL and auth for `host`. Raises SettingsError for a bad per-host override."""
    scheme = (host.scheme or settings.scheme).lower()
    if scheme not in ("http", "https"):
        raise SettingsError(f"{host.source or host.name}: scheme must be http or https, not {scheme!r}")
    try:
        transport = AuthTransport((host.transport or settings.transport).lower())
    except ValueError:
        raise SettingsError(
            f"{host.source or host.name}: unknown transport {host.transport!r} "
            f"(one of {', '.join(t.value for t in AuthTransport)})"
        ) from None
    settings.check_auth(transport, scheme)
    port = host.port or settings.port or (HTTPS_PORT if scheme == "https" else HTTP_PORT)
    address = f"[{host.address}]" if ":" in host.address and not host.address.startswith("[") else host.address
    return Endpoint(url=f"{scheme}://{address}:{port}{WSMAN_PATH}", transport=transport, scheme=scheme)


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


class DeadlineExceeded(Exception):
    """The per-host deadline passed (our own deadline, not a socket timeout)."""


class ResponseTooLarge(Exception):
    """One HTTP response body was larger than any WS-Man envelope can be."""


class _Meter:
    """Per-host request accounting and limits; one per conversation, never shared."""

    def __init__(self, deadline_at: float, max_response_bytes: int) -> None:
        self.deadline_at = deadline_at
        self.max_response_bytes = max_response_bytes
        self.requests = 0
        self.bytes_sent = 0
        self.bytes_received = 0
        # The newest HTTP answer (status, start of its body): an auth library that fails on it keeps
        # neither, and the status says whether the host had already accepted the credentials.
        self.last_response: tuple[int, bytes] | None = None

    def remaining(self) -> float:
        return self.deadline_at - time.monotonic()


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
        remaining = meter.remaining()
        if remaining <= 0:
            raise DeadlineExceeded()
        if isinstance(timeout, int | float):
            timeout = min(float(timeout), remaining)
        else:
            timeout = remaining
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
        response = super().send(request, stream=True, timeout=timeout, verify=verify, cert=cert, proxies=proxies)
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
                chunk = response.raw.read1(_READ_CHUNK, decode_content=True)
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
        return super()._send_message_request(session, prepared_request)  # type: ignore[no-any-return]


def _build_protocol(endpoint: Endpoint, settings: TransportSettings, meter: _Meter) -> winrm.protocol.Protocol:
    password = settings.password.reveal() if settings.password is not None else None
    # "always" on HTTP: never let NTLM/Kerberos/CredSSP fall back to a clear-text body.
    encryption = "always" if endpoint.scheme == "http" and endpoint.transport in _MESSAGE_ENCRYPTING else "auto"
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


def run_command_line(host: Host, settings: TransportSettings, command_line: str) -> RemoteRun:
    """Run `command_line` through cmd.exe on `host` (one shell, one command); never raises for
    anything the host or network does: every failure becomes a classified RemoteRun."""
    started = time.monotonic()
    meter = _Meter(started + settings.deadline, settings.max_response_bytes)
    password = settings.password.reveal() if settings.password is not None else None
    warnings: list[str] = []
    truncated = False

    def cost() -> ProbeCost:
        return ProbeCost(
            requests=meter.requests,
            bytes_sent=meter.bytes_sent,
            bytes_received=meter.bytes_received,
            seconds=round(time.monotonic() - started, 3),
            truncated=truncated,
        )

    def failed(status: HostStatus, reason: str) -> RemoteRun:
        return RemoteRun(status, _redact(reason, password), b"", b"", None, cost(), tuple(warnings))

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
            _close_quietly(protocol, shell_id, meter)
        else:
            protocol.transport.close_session()
        return failed(status, reason)

    try:
        meter.deadline_at = max(meter.deadline_at, time.monotonic() + _CLEANUP_GRACE_SECONDS)
        protocol.close_shell(shell_id, close_session=True)
    except Exception as exc:
        # The output is already complete; a failed Delete only leaves a shell behind until
        # its IdleTimeout, so note it and keep the result.
        _, reason = classify(exc, settings)
        warnings.append(_redact(f"closing the shell failed: {reason}", password))
    return RemoteRun(HostStatus.OK, "", stdout, stderr, exit_code, cost(), tuple(warnings))


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


def _close_quietly(protocol: winrm.protocol.Protocol, shell_id: str, meter: _Meter) -> None:
    """Best-effort Delete after a failure, so the host frees the shell; bounded by a short grace."""
    meter.deadline_at = time.monotonic() + _CLEANUP_GRACE_SECONDS
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


def classify(
    exc: BaseException, settings: TransportSettings, *, last_response: tuple[int, bytes] | None = None
) -> tuple[HostStatus, str]:
    """Map an exception from pywinrm / requests / our limits to a status and a one-line reason
    (reference/winrm-protocol.md §1.6). `last_response` (status, body) is the newest HTTP answer
    of the conversation: it decides auth-library errors (see _classify_auth_library_error)."""
    if isinstance(exc, DeadlineExceeded):
        return HostStatus.TIMEOUT, f"no complete answer within the per-host deadline of {settings.deadline:g}s"
    if isinstance(exc, ResponseTooLarge):
        return HostStatus.PROTOCOL_ERROR, str(exc)
    if isinstance(exc, winrm.exceptions.InvalidCredentialsError):
        return HostStatus.AUTH_FAILED, "credentials rejected by the host (HTTP 401)"
    if isinstance(exc, winrm.exceptions.WinRMOperationTimeoutError):
        return HostStatus.TIMEOUT, "the host answered w:TimedOut (OperationTimeout) outside a Receive"
    if isinstance(exc, winrm.exceptions.WSManFaultError):
        subcode = (exc.fault_subcode or "").rpartition(":")[2]
        code = f" code {exc.wsman_fault_code}" if exc.wsman_fault_code is not None else ""
        text = f"WS-Man fault {exc.fault_subcode or exc.fault_code or '?'}{code}: {exc.reason}"
        if subcode == SUBCODE_ACCESS_DENIED or exc.wsman_fault_code == WSMAN_FAULT_ACCESS_DENIED:
            return HostStatus.ACCESS_DENIED, text
        return HostStatus.PROTOCOL_ERROR, text
    if isinstance(exc, winrm.exceptions.WinRMTransportError):
        if exc.code == 401:
            return HostStatus.AUTH_FAILED, "credentials rejected by the host (HTTP 401)"
        if exc.code == 403:
            return HostStatus.ACCESS_DENIED, "the host refused the request (HTTP 403)"
        return HostStatus.PROTOCOL_ERROR, f"HTTP {exc.code} from the host without a WS-Man fault"
    if isinstance(exc, winrm.exceptions.AuthenticationError | PermissionError):
        # requests-ntlm raises PermissionError when the server sends no NTLM challenge (§1.6).
        return HostStatus.AUTH_FAILED, f"authentication failed: {_first_line(exc)}"
    if _is_auth_library_error(exc):
        return _classify_auth_library_error(exc, settings, last_response)
    if isinstance(exc, requests.exceptions.SSLError) or _caused_by(exc, ssl.SSLError):
        return HostStatus.TLS_ERROR, f"TLS failed: {_tls_reason(exc)}"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return HostStatus.TIMEOUT, f"connect timed out after {settings.read_timeout}s"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return HostStatus.TIMEOUT, "no answer within the read timeout or the per-host deadline"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return _classify_connection_error(exc)
    if isinstance(exc, requests.exceptions.ChunkedEncodingError | requests.exceptions.ContentDecodingError):
        return HostStatus.PROTOCOL_ERROR, f"broken HTTP response body: {_first_line(exc)}"
    if isinstance(exc, urllib3.exceptions.ProtocolError | http.client.HTTPException):
        return HostStatus.PROTOCOL_ERROR, f"broken HTTP exchange: {_first_line(exc)}"
    if isinstance(exc, ET.ParseError):
        return HostStatus.PROTOCOL_ERROR, f"the host's response is not well-formed XML ({exc})"
    if isinstance(exc, StopIteration | AssertionError | KeyError | IndexError | ValueError | TypeError):
        # pywinrm's loose parsing fails this way on responses missing ShellId, ExitCode,
        # RelatesTo or a Stream Name (§1.3, §1.6).
        return HostStatus.PROTOCOL_ERROR, f"unexpected WS-Man response ({type(exc).__name__}{_suffix(exc)})"
    if isinstance(exc, winrm.exceptions.WinRMError):
        return HostStatus.PROTOCOL_ERROR, f"WinRM error: {_first_line(exc)}"
    if isinstance(exc, OSError):
        return HostStatus.UNREACHABLE, f"network error: {_first_line(exc)}"
    return HostStatus.PROTOCOL_ERROR, f"unexpected {type(exc).__name__}{_suffix(exc)}"


def _classify_connection_error(exc: requests.exceptions.ConnectionError) -> tuple[HostStatus, str]:
    if _caused_by(exc, urllib3.exceptions.NameResolutionError) or _caused_by(exc, socket.gaierror):
        return HostStatus.UNREACHABLE, "host name could not be resolved"
    if _caused_by(exc, ConnectionRefusedError):
        return HostStatus.UNREACHABLE, "connection refused (is the WinRM listener on that port?)"
    if _caused_by(exc, urllib3.exceptions.NewConnectionError):
        return HostStatus.UNREACHABLE, f"cannot connect: {_innermost(exc)}"
    if _caused_by(exc, TimeoutError) or _caused_by(exc, socket.timeout):
        return HostStatus.TIMEOUT, "connection timed out"
    if _caused_by(exc, ConnectionResetError) or _caused_by(exc, http.client.RemoteDisconnected):
        # The host accepted the connection, then dropped it: the listener is there but broken.
        return HostStatus.PROTOCOL_ERROR, "the host closed the connection without a response"
    if _caused_by(exc, urllib3.exceptions.ProtocolError):
        return HostStatus.PROTOCOL_ERROR, f"broken HTTP exchange: {_innermost(exc)}"
    return HostStatus.UNREACHABLE, f"cannot connect: {_innermost(exc)}"


def _classify_auth_library_error(
    exc: BaseException, settings: TransportSettings, last_response: tuple[int, bytes] | None
) -> tuple[HostStatus, str]:
    """requests-credssp sends the real request with its last handshake token (over HTTPS; over HTTP
    pywinrm authenticates an empty POST first) and fails on any answer that is neither 200 nor a
    401 carrying a token, so a WS-Man fault the host sent after accepting the credentials reaches
    us as "Server did not response with a CredSSP token after step Credential exchange". Only a
    401 means the credentials were refused; any other status is the host's answer to the request."""
    auth_failed = f"authentication failed: {type(exc).__name__}: {_first_line(exc)}"
    if last_response is None:
        return HostStatus.AUTH_FAILED, auth_failed
    status, body = last_response
    if status == HTTP_UNAUTHORIZED:
        return HostStatus.AUTH_FAILED, f"authentication failed (HTTP 401): {type(exc).__name__}: {_first_line(exc)}"
    fault = wsman_fault_from_body(status, body)
    if fault is not None:
        return classify(fault, settings)
    if status == HTTP_FORBIDDEN:
        return HostStatus.ACCESS_DENIED, "the host refused the request (HTTP 403)"
    if status >= 400:
        return HostStatus.PROTOCOL_ERROR, f"HTTP {status} from the host without a WS-Man fault"
    return HostStatus.AUTH_FAILED, auth_failed


def wsman_fault_from_body(status: int, body: bytes) -> winrm.exceptions.WSManFaultError | None:
    """The SOAP fault in an HTTP error body, read as pywinrm's Protocol.send_message reads it
    (§1.6), or None when the body is no fault (or not XML, e.g. still encrypted)."""
    if b"<!" in body:  # a DTD or entity declaration is never part of a WS-Man fault
        return None
    try:
        root = ET.fromstring(body)  # noqa: S314 - no DTD possible (checked above), at most 64 KiB
    except ET.ParseError:
        return None
    fault = root.find(f"{{{NS_SOAP_ENVELOPE}}}Body/{{{NS_SOAP_ENVELOPE}}}Fault")
    if fault is None:
        return None

    def text(path: str) -> str | None:
        node = fault.find(path)
        return node.text if node is not None and node.text else None

    env = f"{{{NS_SOAP_ENVELOPE}}}"
    detail = fault.find(f"{env}Detail/{{{NS_WSMAN_FAULT}}}WSManFault[@Code]")
    code: int | None = None
    if detail is not None:
        try:
            code = int(detail.attrib["Code"])
        except ValueError:
            code = None
    return winrm.exceptions.WSManFaultError(
        code=status,
        message=f"Bad HTTP response returned from server. Code {status}",
        response=body.decode("utf-8", errors="replace"),
        reason=text(f"{env}Reason/{env}Text") or "(no error message in fault)",
        fault_code=text(f"{env}Code/{env}Value"),
        fault_subcode=text(f"{env}Code/{env}Subcode/{env}Value"),
        wsman_fault_code=code,
        wmierror_code=None,
    )


def _is_auth_library_error(exc: BaseException) -> bool:
    module = type(exc).__module__ or ""
    return module.startswith(("spnego", "requests_ntlm", "requests_credssp", "ntlm_auth"))


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        nested = current.args[0] if current.args and isinstance(current.args[0], BaseException) else None
        reason = getattr(current, "reason", None)
        current = current.__cause__ or current.__context__ or nested or (
            reason if isinstance(reason, BaseException) else None
        )
    return seen


def _caused_by(exc: BaseException, kind: type[BaseException]) -> bool:
    return any(isinstance(e, kind) for e in _chain(exc))


def _innermost(exc: BaseException) -> str:
    return _first_line(_chain(exc)[-1])


# The start of a TLS_ERROR reason when the server's certificate did not verify (the CLI keys a hint on it).
CERT_VERIFY_FAILED = "certificate verification failed"


def _tls_reason(exc: BaseException) -> str:
    for e in _chain(exc):
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"{CERT_VERIFY_FAILED} ({e.verify_message})"
    return _innermost(exc)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def _suffix(exc: BaseException) -> str:
    text = _first_line(exc)
    return f": {text}" if text and text != type(exc).__name__ else ""
