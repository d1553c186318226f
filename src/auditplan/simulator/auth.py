"""HTTP authentication and MS-WSMV message encryption for the simulator, one context per TCP connection.

Schemes (reference/winrm-protocol.md §2): Basic, Negotiate/NTLM (pyspnego acceptor; raw NTLM from
pywinrm and SPNEGO from pypsrp), CredSSP (pyspnego acceptor, NTLM inside), and TLS client
certificates. Encrypted bodies use the multipart framing of MS-WSMV 2.2.9.1 (§2.2 of the reference).

pyspnego's NTLM acceptor reads its users from the file named by the process-global env var
NTLM_USER_FILE (§2.3). Each UserStore writes its own 0600 file (NT hashes, smbpasswd format) in a
private 0700 temp dir, removed on close; the env
var is pointed at it only for the duration of an acceptor step, under a process-wide lock, so
several FleetServers with different users can run in one process. Passwords are compared, never
logged or put in exception messages.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import shutil
import struct
import tempfile
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import spnego
import spnego.channel_bindings
import spnego.exceptions
from spnego._ntlm_raw.crypto import ntowfv1  # MD4 of UTF-16LE; hashlib's md4 is gone in OpenSSL 3

from auditplan.simulator.interface import Credentials

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


class UserStore:
    """The simulated hosts' local accounts. Owns a private NTLM_USER_FILE while open."""

    def __init__(self, users: Sequence[Credentials]) -> None:
        for user in users:
            for text in (user.username, user.domain):
                if any(ch in text for ch in ":\r\n\\@"):
                    raise ValueError(f"account name {text!r} may not contain ':', '\\', '@' or line breaks")
        self._users = list(users)
        self._dir: Path | None = None
        self._file: Path | None = None

    def open(self, *, ntlm: bool = True) -> None:
        """Write the NTLM user file (only when an NTLM-based scheme is served)."""
        self._dir = Path(tempfile.mkdtemp(prefix="auditplan-sim-"))  # mkdtemp: mode 0700
        if not ntlm:
            return
        self._file = self._dir / "ntlm-users"
        fd = os.open(self._file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            for user in self._users:
                handle.write(_smbpasswd_line(user))

    def close(self) -> None:
        if self._dir is not None:
            shutil.rmtree(self._dir, ignore_errors=True)
        self._dir = self._file = None

    def _find(self, account: str) -> Credentials | None:
        """Match `user`, `DOMAIN\\user`, `.\\user` or `user@domain` case-insensitively, as Windows does."""
        domain, name = "", account
        if "\\" in account:
            domain, name = account.split("\\", 1)
        elif "@" in account:
            name, domain = account.split("@", 1)
        for user in self._users:
            if user.username.lower() != name.lower():
                continue
            if domain in ("", ".") or not user.domain or user.domain.lower() == domain.lower():
                return user
        return None

    def check_password(self, account: str, password: str) -> str | None:
        user = self._find(account)
        if user is None:
            return None
        if hmac.compare_digest(user.password.encode("utf-8"), password.encode("utf-8")):
            return user.username
        return None

    def known_user(self, account: str) -> str | None:
        user = self._find(account)
        return user.username if user else None

    @contextmanager
    def ntlm_env(self) -> Iterator[None]:
        """Point NTLM_USER_FILE at this store while an acceptor reads it."""
        if self._file is None:
            raise RuntimeError("UserStore is not open")
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


def _smbpasswd_line(user: Credentials) -> str:
    """smbpasswd format (pyspnego accepts it): the NT hash instead of the password, so neither the
    plaintext nor a ':' inside it ever reaches the file. The LM hash is unused by NTLMv2: zeros."""
    account = f"{user.domain}\\{user.username}" if user.domain else user.username
    nt_hash = ntowfv1(user.password).hex().upper()
    return f"{account}:1000:{'0' * 32}:{nt_hash}:[U]:LCT-00000000\n"


@dataclass(frozen=True)
class AuthPolicy:
    """What one listener accepts."""

    schemes: frozenset[str]
    users: UserStore
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
        return self._policy.users.check_password(account, password) if sep else None

    def _certificate_user(self) -> str | None:
        """Map the verified client certificate to a local user by its CN (the ssl layer checked the chain)."""
        if not self._peer_cert:
            return None
        for rdn in self._peer_cert.get("subject", ()):
            for key, value in rdn:
                if key == "commonName":
                    return self._policy.users.known_user(str(value))
        return None

    def _step(self, kind: str, token: str, scheme: str, reject_all: bool) -> AuthResult:
        try:
            in_token = base64.b64decode(token, validate=True)
        except binascii.Error:
            self._ctx = None
            return self._reject()
        try:
            with self._policy.users.ntlm_env():
                if self._ctx is None or self._ctx.complete or self._ctx_scheme != scheme:
                    self._session_user = None
                    self._ctx_scheme = scheme
                    if scheme == SCHEME_CREDSSP:
                        self._ctx = spnego.server(protocol="credssp")
                    else:
                        self._ctx = spnego.server(
                            protocol="negotiate",
                            options=spnego.NegotiateOptions.use_negotiate,
                            channel_bindings=self._policy.channel_bindings,
                        )
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
