"""HTTP authentication and MS-WSMV message encryption for the simulator, one context per TCP connection.

Schemes (reference/winrm-protocol.md §2): Basic, Negotiate/NTLM (raw NTLM from pywinrm and SPNEGO
from pypsrp), CredSSP (NTLM inside), and TLS client certificates. Every scheme reaches the same
accounts by the same rules: the host's AccountBook (accounts.py). NTLM is pyspnego's acceptor with
the host's own CHALLENGE names and account lookup (ntlm.py), wrapped in pyspnego's SPNEGO and CredSSP
acceptors. Encrypted bodies use the multipart framing of MS-WSMV 2.2.9.1 (§2.2 of the reference).

pyspnego's NTLM acceptor refuses to start unless the process-global env var NTLM_USER_FILE names a
file; it is pointed at an empty private file (NtlmAcceptorFile) only while an acceptor is built or
stepped, under a process-wide lock, so several FleetServers can run in one process. Passwords are
compared, never logged or put in exception messages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import os
import shutil
import struct
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import spnego
import spnego.channel_bindings
import spnego.exceptions
from spnego._context import GSSMech

from auditplan.simulator.accounts import AccountBook
from auditplan.simulator.ntlm import HostNtlmAcceptor

SCHEME_BASIC = "basic"
SCHEME_NTLM = "ntlm"
SCHEME_CREDSSP = "credssp"
SCHEME_CERTIFICATE = "certificate"
ALL_SCHEMES = frozenset({SCHEME_BASIC, SCHEME_NTLM, SCHEME_CREDSSP, SCHEME_CERTIFICATE})

# Authorization header value of WS-Man client-certificate auth (pywinrm transport='certificate').
HEADER_CERT_MUTUAL = "http://schemas.dmtf.org/wbem/wsman/1/wsman/secprofile/https/mutual"
CHALLENGE_BASIC = 'Basic realm="WSMAN"'
CHALLENGE_NEGOTIATE = "Negotiate"
CHALLENGE_CREDSSP = "CredSSP"

PROTOCOL_SPNEGO_ENCRYPTED = "application/HTTP-SPNEGO-session-encrypted"
PROTOCOL_CREDSSP_ENCRYPTED = "application/HTTP-CredSSP-session-encrypted"
CONTENT_TYPE_ENCRYPTED = "multipart/encrypted"
CONTENT_TYPE_MULTI_ENCRYPTED = "multipart/x-multi-encrypted"
CONTENT_TYPE_SOAP = "application/soap+xml;charset=UTF-8"
MIME_BOUNDARY = b"--Encrypted Boundary"
OCTET_STREAM_LINE = b"\tContent-Type: application/octet-stream\r\n"
CREDSSP_CHUNK_BYTES = 16384  # MS-WSMV 2.2.9.1.3: CredSSP seals at most 16 KiB per part

NTLM_USER_FILE_ENV = "NTLM_USER_FILE"
_NTLM_ENV_LOCK = threading.Lock()


class EncryptionError(Exception):
    """An encrypted body could not be unframed or unsealed."""


class NtlmAcceptorFile:
    """The empty NTLM_USER_FILE pyspnego's NTLM acceptor insists on at construction.

    Accounts live in each host's AccountBook (accounts.py) and the acceptor (ntlm.py) never reads
    this file, so it holds no name and no hash; it exists while the server runs, in a 0700 dir.
    """

    def __init__(self) -> None:
        self._dir: Path | None = None
        self._file: Path | None = None

    def open(self, *, ntlm: bool = True) -> None:
        self._dir = Path(tempfile.mkdtemp(prefix="auditplan-sim-"))  # mkdtemp: mode 0700
        if not ntlm:
            return
        self._file = self._dir / "ntlm-users"
        os.close(os.open(self._file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))

    def close(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = self._file = None

    @contextmanager
    def ntlm_env(self) -> Iterator[None]:
        """Point NTLM_USER_FILE at this file while an acceptor is built and stepped."""
        if self._file is None:
            raise RuntimeError("NtlmAcceptorFile is not open")
        with _NTLM_ENV_LOCK:
            previous = os.environ.get(NTLM_USER_FILE_ENV)
            os.environ[NTLM_USER_FILE_ENV] = str(self._file)
            try:
                yield
            finally:
                if previous is None:
                    os.environ.pop(NTLM_USER_FILE_ENV, None)
                else:
                    os.environ[NTLM_USER_FILE_ENV] = previous


@dataclass(frozen=True)
class AuthPolicy:
    """What one listener accepts."""

    schemes: frozenset[str]
    accounts: AccountBook
    acceptor_file: NtlmAcceptorFile
    tls: bool
    allow_unencrypted: bool
    channel_bindings: spnego.channel_bindings.GssChannelBindings | None = None

    def challenges(self) -> list[str]:
        """One WWW-Authenticate value per enabled scheme, Windows' order (reference §2.1)."""
        values = []
        if SCHEME_NTLM in self.schemes:
            values.append(CHALLENGE_NEGOTIATE)
        if SCHEME_CERTIFICATE in self.schemes and self.tls:
            values.append(HEADER_CERT_MUTUAL)
        if SCHEME_BASIC in self.schemes and (self.tls or self.allow_unencrypted):
            values.append(CHALLENGE_BASIC)
        if SCHEME_CREDSSP in self.schemes:
            values.append(CHALLENGE_CREDSSP)
        return values


def cbt_for_certificate(der: bytes) -> spnego.channel_bindings.GssChannelBindings:
    """tls-server-end-point binding (RFC 5929) for a SHA-256-signed server certificate."""
    return spnego.channel_bindings.GssChannelBindings(
        application_data=b"tls-server-end-point:" + hashlib.sha256(der).digest()
    )


@dataclass
class AuthResult:
    """`user` is set when the request may proceed; otherwise answer `status` with `headers`."""

    user: str | None
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    scheme: str = ""


class ConnectionAuth:
    """Authentication state of one TCP connection (NTLM and CredSSP are connection-bound)."""

    def __init__(self, policy: AuthPolicy, peer_cert: dict[str, Any] | None) -> None:
        self._policy = policy
        self._peer_cert = peer_cert
        self._ctx: Any = None  # spnego ContextProxy, session-bound
        self._ctx_scheme = ""
        self._session_user: str | None = None
        self.final_token_header: str | None = None  # SPNEGO's last token, sent on the 2xx

    @property
    def session_scheme(self) -> str:
        return self._ctx_scheme if self._session_user else ""

    def _reject(self) -> AuthResult:
        return AuthResult(None, 401, [("WWW-Authenticate", value) for value in self._policy.challenges()])

    def authenticate(self, authorization: str | None, *, reject_all: bool) -> AuthResult:
        schemes = self._policy.schemes
        header = (authorization or "").strip()
        kind, _, token = header.partition(" ")
        kind_lower = kind.lower()
        if header == HEADER_CERT_MUTUAL and SCHEME_CERTIFICATE in schemes and self._policy.tls:
            user = self._certificate_user()
            if user is None or reject_all:
                return self._reject()
            return AuthResult(user, scheme=SCHEME_CERTIFICATE)
        if kind_lower == "basic" and SCHEME_BASIC in schemes:
            if reject_all or not (self._policy.tls or self._policy.allow_unencrypted):
                return self._reject()
            user = self._basic_user(token)
            return AuthResult(user, scheme=SCHEME_BASIC) if user else self._reject()
        if kind_lower in ("negotiate", "ntlm") and SCHEME_NTLM in schemes:
            return self._step(kind, token, SCHEME_NTLM, reject_all)
        if kind_lower == "credssp" and SCHEME_CREDSSP in schemes:
            return self._step(kind, token, SCHEME_CREDSSP, reject_all)
        if not header and self._session_user is not None:
            return AuthResult(self._session_user, scheme=self._ctx_scheme)
        return self._reject()

    def _basic_user(self, token: str) -> str | None:
        try:
            decoded = base64.b64decode(token, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            return None
        account, sep, password = decoded.partition(":")
        if not sep:
            return None
        principal = self._policy.accounts.check_password(account, password)
        return str(principal) if principal else None

    def _certificate_user(self) -> str | None:
        """Map the verified client certificate to a local user by its CN (the ssl layer checked the chain)."""
        if not self._peer_cert:
            return None
        for rdn in self._peer_cert.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    principal = self._policy.accounts.local_user(str(value))
                    return str(principal) if principal else None
        return None

    def _step(self, kind: str, token: str, scheme: str, reject_all: bool) -> AuthResult:
        try:
            in_token = base64.b64decode(token, validate=True)
        except binascii.Error:
            self._ctx = None
            return self._reject()
        try:
            with self._policy.acceptor_file.ntlm_env():
                if self._ctx is None or self._ctx.complete or self._ctx_scheme != scheme:
                    self._session_user = None
                    self._ctx_scheme = scheme
                    self._ctx = self._new_context(scheme)
                out_token = self._ctx.step(in_token)
        except (spnego.exceptions.SpnegoError, ValueError, struct.error):
            # Wrong password, unknown user, missing or wrong channel binding: 401 like Windows.
            self._ctx = None
            return self._reject()
        if not self._ctx.complete:
            value = f"{kind} {base64.b64encode(out_token).decode('ascii')}" if out_token else kind
            return AuthResult(None, 401, [("WWW-Authenticate", value)])
        if reject_all:
            self._ctx = None
            return self._reject()
        self._session_user = self._ctx.client_principal or "unknown"
        if out_token:
            # SPNEGO's accept-completed token (mechListMIC) must reach the client (reference §2.3).
            self.final_token_header = f"{kind} {base64.b64encode(out_token).decode('ascii')}"
        return AuthResult(self._session_user, scheme=scheme)

    def _new_context(self, scheme: str) -> Any:
        """SPNEGO (which passes raw NTLM through) over this host's NTLM acceptor; CredSSP around it."""
        bindings = None if scheme == SCHEME_CREDSSP else self._policy.channel_bindings
        ntlm = HostNtlmAcceptor(self._policy.accounts, channel_bindings=bindings)
        ntlm._is_wrapped = True  # as pyspnego marks the mechanisms it builds itself
        negotiate = spnego.server(
            protocol="negotiate",
            options=spnego.NegotiateOptions.use_negotiate,
            channel_bindings=bindings,
            _negotiate_contexts={GSSMech.ntlm: ntlm},
        )
        if scheme == SCHEME_CREDSSP:
            return spnego.server(protocol="credssp", credssp_negotiate_context=negotiate)
        return negotiate

    # --- MS-WSMV 2.2.9.1 message encryption -----------------------------------------------------

    @property
    def can_encrypt(self) -> bool:
        return self._session_user is not None and self._ctx is not None

    @property
    def _protocol_string(self) -> str:
        return PROTOCOL_CREDSSP_ENCRYPTED if self._ctx_scheme == SCHEME_CREDSSP else PROTOCOL_SPNEGO_ENCRYPTED

    def decrypt(self, body: bytes) -> bytes:
        if not self.can_encrypt:
            raise EncryptionError("encrypted body on a connection without a security context")
        parts = [p for p in body.split(MIME_BOUNDARY + b"\r\n") if p]
        if not parts or len(parts) % 2:
            raise EncryptionError("encrypted body does not have header/payload part pairs")
        plain = bytearray()
        try:
            for head, payload in zip(parts[0::2], parts[1::2], strict=True):
                if self._protocol_string.encode() not in head:
                    raise EncryptionError("encrypted part names another protocol")
                expected = int(head.split(b"Length=", 1)[1].split(b"\r\n", 1)[0].strip())
                if payload.endswith(MIME_BOUNDARY + b"--\r\n"):
                    payload = payload[: -len(MIME_BOUNDARY + b"--\r\n")]
                if not payload.startswith(OCTET_STREAM_LINE):
                    raise EncryptionError("encrypted part lacks its octet-stream header")
                payload = payload[len(OCTET_STREAM_LINE) :]
                (header_len,) = struct.unpack("<i", payload[:4])
                if self._ctx_scheme == SCHEME_CREDSSP:
                    # The int32 is the TLS trailer length; the rest is whole TLS records.
                    data = self._ctx.unwrap(payload[4:]).data
                else:
                    if not 0 < header_len <= len(payload) - 4:
                        raise EncryptionError("signature length out of range")
                    data = self._ctx.unwrap_winrm(payload[4 : 4 + header_len], payload[4 + header_len :])
                if len(data) != expected:
                    raise EncryptionError("decrypted length differs from OriginalContent Length")
                plain += data
        except (IndexError, ValueError, struct.error, spnego.exceptions.SpnegoError) as exc:
            raise EncryptionError(f"cannot decrypt body: {type(exc).__name__}") from exc
        return bytes(plain)

    def encrypt(self, plain: bytes) -> tuple[str, bytes]:
        """Returns (Content-Type, body). CredSSP splits bodies over 16 KiB (multipart/x-multi-encrypted)."""
        protocol = self._protocol_string
        if self._ctx_scheme == SCHEME_CREDSSP and len(plain) > CREDSSP_CHUNK_BYTES:
            pieces = [plain[i : i + CREDSSP_CHUNK_BYTES] for i in range(0, len(plain), CREDSSP_CHUNK_BYTES)]
            outer = CONTENT_TYPE_MULTI_ENCRYPTED
        else:
            pieces = [plain]
            outer = CONTENT_TYPE_ENCRYPTED
        out = bytearray()
        for piece in pieces:
            wrapped = self._ctx.wrap_winrm(piece)
            out += (
                MIME_BOUNDARY
                + b"\r\n"
                + b"\tContent-Type: "
                + protocol.encode()
                + b"\r\n"
                + b"\tOriginalContent: type=application/soap+xml;charset=UTF-8;Length="
                + str(len(piece)).encode()
                + b"\r\n"
                + MIME_BOUNDARY
                + b"\r\n"
                + OCTET_STREAM_LINE
                + struct.pack("<i", len(wrapped.header))
                + wrapped.header
                + wrapped.data
            )
        out += MIME_BOUNDARY + b"--\r\n"
        return f'{outer};protocol="{protocol}";boundary="Encrypted Boundary"', bytes(out)


def is_encrypted_content_type(content_type: str) -> bool:
    lowered = content_type.strip().lower()
    return lowered.startswith((CONTENT_TYPE_ENCRYPTED, CONTENT_TYPE_MULTI_ENCRYPTED))
