"""From what a user chose to the transport settings of a survey: the credentials file, the password
source, and the per-host deadline.

Passwords come from a Secret the caller holds, an environment variable, the credentials file, or
AUDITPLAN_PASSWORD, in that order, and only then from `ask_password` (the CLI's hidden prompt):
never from argv, and never written anywhere (DESIGN.md "Security defaults").
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from auditplan.collect.errors import CredentialsError
from auditplan.collect.winrm.settings import AuthTransport, Secret, TransportSettings
from auditplan.records import Host
from auditplan.records.input_limits import SMALL_MAX_BYTES, InputLimitError, load_json

PASSWORD_ENV_DEFAULT = "AUDITPLAN_PASSWORD"  # noqa: S105 - the name of a variable, not a password
USERNAME_ENV = "AUDITPLAN_USERNAME"
# PowerShell start-up and the trace's last WMI wait, on top of the trace's own seconds.
TRACE_DEADLINE_MARGIN = 30.0
DEFAULT_TIMEOUT = 120.0
DEFAULT_MAX_OUTPUT_BYTES = 4 * 1024 * 1024
# Certificate auth uses the client key, Kerberos the caller's ticket cache (kinit): neither takes a
# password, and Kerberos needs no username either (winrm/settings.py check_auth).
_NO_PASSWORD = frozenset({AuthTransport.CERTIFICATE, AuthTransport.KERBEROS})
_TRANSPORTS = frozenset(t.value for t in AuthTransport)

AskPassword = Callable[[str], Secret]  # username -> password (the CLI's hidden prompt)


@dataclass(frozen=True)
class CredentialsFile:
    """The JSON `auditplan simulate` writes (and a user may write): connection defaults."""

    username: str | None
    password: Secret | None
    transport: str | None
    scheme: str | None
    ca_bundle: Path | None
    client_cert: Path | None = None
    client_key: Path | None = None
    warnings: tuple[str, ...] = ()  # e.g. a password in a file others can read


def read_credentials_file(path: Path) -> CredentialsFile:
    """Parse a credentials JSON; raises CredentialsError naming the file and the problem.
    Relative certificate paths are relative to the file, wherever the survey runs."""
    try:
        # Bounded: size, nesting (a RecursionError traceback otherwise), NaN/Infinity refused. The
        # parser's message names only line and column, never the file's text (it holds a password).
        data = load_json(path, max_bytes=SMALL_MAX_BYTES, what="credentials file")
    except InputLimitError as exc:
        raise CredentialsError(str(exc)) from None
    if not isinstance(data, dict):
        raise CredentialsError(f"{path}: expected a JSON object")

    def text(key: str) -> str | None:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise CredentialsError(f"{path}: {key} must be a string")
        return value

    def file(key: str) -> Path | None:
        value = text(key)
        if not value:
            return None
        return Path(value) if Path(value).is_absolute() else path.parent / value

    warnings: list[str] = []
    if data.get("password") is not None and path.stat().st_mode & 0o077:
        warnings.append(f"{path} holds a password and is readable by other users; chmod 600 it")
    password = text("password")
    transport = text("transport")
    if transport is not None and transport not in _TRANSPORTS:
        raise CredentialsError(f"{path}: transport {transport!r} is not one of {', '.join(AuthTransport)}")
    scheme = text("scheme")
    if scheme is not None and scheme not in ("http", "https"):
        raise CredentialsError(f"{path}: scheme must be http or https")
    return CredentialsFile(
        username=text("username"),
        password=Secret(password) if password is not None else None,
        transport=transport,
        scheme=scheme,
        ca_bundle=file("ca_bundle"),
        client_cert=file("client_cert"),
        client_key=file("client_key"),
        warnings=tuple(warnings),
    )


@dataclass(frozen=True)
class ConnectionOptions:
    """How to reach the hosts, as a user gives it (`auditplan survey`'s options). None means "not
    given": the credentials file, then the default decides. Options given here win over the file."""

    username: str | None = None
    password: Secret | None = None  # for Python callers; the CLI never takes one
    password_env: str | None = None  # the name of an environment variable holding the password
    credentials_file: Path | None = None
    transport: AuthTransport | None = None
    https: bool | None = None
    port: int | None = None
    ca_bundle: Path | None = None
    insecure: bool = False
    allow_basic_over_http: bool = False
    client_cert: Path | None = None
    client_key: Path | None = None
    timeout: float = DEFAULT_TIMEOUT  # per host, from connect to the shell's deletion
    max_output_bytes: int = DEFAULT_MAX_OUTPUT_BYTES


def needs_password(hosts: Iterable[Host], transport: AuthTransport) -> bool:
    """Whether any host authenticates with a password (its own transport, else `transport`)."""
    effective = {AuthTransport(h.transport) if h.transport in _TRANSPORTS else transport for h in hosts}
    return bool(effective - _NO_PASSWORD)


def connection_settings(
    options: ConnectionOptions,
    hosts: Iterable[Host],
    *,
    trace_seconds: int = 0,
    ask_password: AskPassword | None = None,
    on_warning: Callable[[str], None] | None = None,
    environ: Mapping[str, str] | None = None,
) -> TransportSettings:
    """The TransportSettings for `hosts`. Reads the credentials file and the password source; asks
    through `ask_password` only when no other source has a password. Raises CredentialsError. The
    settings are not checked here: TransportSettings.check() does that (SettingsError)."""
    env = os.environ if environ is None else environ
    from_file = read_credentials_file(options.credentials_file) if options.credentials_file else None
    if from_file is not None and on_warning is not None:
        for warning in from_file.warnings:
            on_warning(warning)
    file_transport = from_file.transport if from_file is not None else None
    transport = options.transport or AuthTransport(file_transport or AuthTransport.NTLM)
    if options.https is not None:
        scheme = "https" if options.https else "http"
    else:
        scheme = (from_file.scheme if from_file is not None else None) or "https"
    user = options.username or (from_file.username if from_file else None) or ""
    password: Secret | None = None
    if needs_password(hosts, transport):
        if not user:
            raise CredentialsError(f"--username is required (or {USERNAME_ENV}, or the credentials file)")
        password = _password(options, from_file, user, ask_password, env)
    operation_timeout = max(1, min(20, int(options.timeout // 4)))
    return TransportSettings(
        username=user,
        password=password,
        transport=transport,
        scheme=scheme,
        port=options.port,
        ca_bundle=options.ca_bundle or (from_file.ca_bundle if from_file else None),
        insecure=options.insecure,
        allow_basic_over_http=options.allow_basic_over_http,
        client_cert=options.client_cert or (from_file.client_cert if from_file else None),
        client_key=options.client_key or (from_file.client_key if from_file else None),
        operation_timeout=operation_timeout,
        read_timeout=operation_timeout + 5,
        deadline=options.timeout + (trace_seconds + TRACE_DEADLINE_MARGIN if trace_seconds else 0.0),
        max_output_bytes=options.max_output_bytes,
    )


def _password(
    options: ConnectionOptions,
    from_file: CredentialsFile | None,
    user: str,
    ask_password: AskPassword | None,
    env: Mapping[str, str],
) -> Secret:
    if options.password is not None:
        return options.password
    if options.password_env:
        value = env.get(options.password_env)
        if value is None:
            raise CredentialsError(f"--password-env {options.password_env}: that environment variable is not set")
        return Secret(value)
    if from_file is not None and from_file.password is not None:
        return from_file.password
    value = env.get(PASSWORD_ENV_DEFAULT)
    if value is not None:
        return Secret(value)
    if ask_password is None:
        raise CredentialsError(
            "no password given and no terminal to ask on: use --password-env VAR, "
            f"set ${PASSWORD_ENV_DEFAULT}, or --credentials FILE with a password"
        )
    return ask_password(user)
