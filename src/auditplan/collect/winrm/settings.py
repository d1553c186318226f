"""How to reach the hosts: the authentication choice, the password wrapper, the per-run settings
and the per-host endpoint (URL, auth, scheme after the inventory's overrides).

The security defaults live here (DESIGN.md "Security defaults"): HTTPS with certificate checks;
HTTP only with NTLM/Kerberos/CredSSP message encryption; Basic over HTTP only when asked for.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from auditplan.collect.errors import SettingsError
from auditplan.records import Host

__all__ = [
    "CODEPAGE_UTF8",
    "DEFAULT_MAX_RESPONSE_BYTES",
    "HTTPS_PORT",
    "HTTP_PORT",
    "MESSAGE_ENCRYPTING",
    "WSMAN_PATH",
    "AuthTransport",
    "Endpoint",
    "Secret",
    "SettingsError",
    "TransportSettings",
    "endpoint_for",
]

# WinRM listener defaults (winrm-protocol.md §1.1): HTTP 5985, HTTPS 5986, path /wsman.
HTTP_PORT = 5985
HTTPS_PORT = 5986
WSMAN_PATH = "/wsman"

# WINRS_CODEPAGE for the shell: UTF-8, so output bytes decode the same on every locale (§1.5).
CODEPAGE_UTF8 = 65001

# Windows caps a WS-Man envelope at MaxEnvelopeSize (pywinrm asks for 153600 bytes, §1.2); a
# response far bigger than that is not WinRM, so stop reading it rather than hold it in memory.
DEFAULT_MAX_RESPONSE_BYTES = 4 * 1024 * 1024


# The end of each host's deadline kept for the Delete that frees its shell, after a failure or a
# success (transport.cleanup_share: a quarter of a deadline under 12 s); `survey --timeout`'s help says so.
CLEANUP_GRACE_SECONDS: Final = 3.0


class AuthTransport(enum.StrEnum):
    """How to authenticate. Names follow pywinrm's `transport=` values where they exist."""

    NTLM = "ntlm"
    BASIC = "basic"
    KERBEROS = "kerberos"
    CREDSSP = "credssp"
    CERTIFICATE = "certificate"


# Auth methods that encrypt the SOAP body themselves (MS-WSMV 2.2.9.1), so plain HTTP is safe.
MESSAGE_ENCRYPTING = frozenset({AuthTransport.NTLM, AuthTransport.KERBEROS, AuthTransport.CREDSSP})


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
        import winrm.transport  # here, not at import: an offline ingest loads no pywinrm

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


