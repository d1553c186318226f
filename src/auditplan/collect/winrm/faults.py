"""What went wrong with a host, in one status and one line: pywinrm, requests, TLS and auth-library
exceptions (and our own limits) mapped to a HostStatus (reference/winrm-protocol.md §1.6)."""

from __future__ import annotations

import http.client
import socket
import ssl
import xml.etree.ElementTree as ET

import requests
import urllib3.exceptions
import winrm.exceptions

from auditplan.collect.winrm.settings import TransportSettings
from auditplan.records import HostStatus
from auditplan.text import error_line

# MS-WSMV WSManFault codes and subcodes the mapping looks at (§1.6).
WSMAN_FAULT_OPERATION_TIMEOUT = 2150858793  # w:TimedOut, 0x80338029
WSMAN_FAULT_ACCESS_DENIED = 5  # ERROR_ACCESS_DENIED; shape on real Windows is UNVERIFIED (§1.6)
SUBCODE_ACCESS_DENIED = "AccessDenied"
HTTP_UNAUTHORIZED = 401
HTTP_FORBIDDEN = 403
# SOAP 1.2 envelope and WS-Man fault detail namespaces (§1.6), to read a fault an auth library swallowed.
NS_SOAP_ENVELOPE = "http://www.w3.org/2003/05/soap-envelope"
NS_WSMAN_FAULT = "http://schemas.microsoft.com/wbem/wsman/1/wsmanfault"


class DeadlineExceeded(Exception):
    """The per-host deadline passed (our own deadline, not a socket timeout)."""


class ResponseTooLarge(Exception):
    """One HTTP response body was larger than any WS-Man envelope can be."""


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
        return HostStatus.AUTH_FAILED, f"authentication failed: {error_line(exc)}"
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
        return HostStatus.PROTOCOL_ERROR, f"broken HTTP response body: {error_line(exc)}"
    if isinstance(exc, urllib3.exceptions.ProtocolError | http.client.HTTPException):
        return HostStatus.PROTOCOL_ERROR, f"broken HTTP exchange: {error_line(exc)}"
    if isinstance(exc, ET.ParseError):
        return HostStatus.PROTOCOL_ERROR, f"the host's response is not well-formed XML ({exc})"
    if isinstance(exc, StopIteration | AssertionError | KeyError | IndexError | ValueError | TypeError):
        # pywinrm's loose parsing fails this way on responses missing ShellId, ExitCode,
        # RelatesTo or a Stream Name (§1.3, §1.6).
        return HostStatus.PROTOCOL_ERROR, f"unexpected WS-Man response ({type(exc).__name__}{_suffix(exc)})"
    if isinstance(exc, winrm.exceptions.WinRMError):
        return HostStatus.PROTOCOL_ERROR, f"WinRM error: {error_line(exc)}"
    if isinstance(exc, OSError):
        return HostStatus.UNREACHABLE, f"network error: {error_line(exc)}"
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
    auth_failed = f"authentication failed: {type(exc).__name__}: {error_line(exc)}"
    if last_response is None:
        return HostStatus.AUTH_FAILED, auth_failed
    status, body = last_response
    if status == HTTP_UNAUTHORIZED:
        return HostStatus.AUTH_FAILED, f"authentication failed (HTTP 401): {type(exc).__name__}: {error_line(exc)}"
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
    return error_line(_chain(exc)[-1])


# In a TLS_ERROR reason when the server's certificate did not verify (api.survey counts those hosts for a hint).
CERT_VERIFY_FAILED = "certificate verification failed"


def _tls_reason(exc: BaseException) -> str:
    for e in _chain(exc):
        if isinstance(e, ssl.SSLCertVerificationError):
            return f"{CERT_VERIFY_FAILED} ({e.verify_message})"
    return _innermost(exc)


def _suffix(exc: BaseException) -> str:
    text = error_line(exc)
    return f": {text}" if text and text != type(exc).__name__ else ""
