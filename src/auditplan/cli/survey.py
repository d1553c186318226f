"""`auditplan survey`: probe every host in an inventory over WinRM and save what it finds."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from auditplan.cli import DEFAULT_DB, main
from auditplan.collect import probe
from auditplan.collect.probe import ProbeOptions, build_probe
from auditplan.collect.survey import Progress as HostProgress
from auditplan.collect.survey import SurveyOutcome, run_survey
from auditplan.collect.transport import (
    CERT_VERIFY_FAILED,
    AuthTransport,
    Secret,
    SettingsError,
    TransportSettings,
)
from auditplan.inventory import InventoryError, load_inventory
from auditplan.records import Host, HostResult, HostStatus
from auditplan.store import Store, StoreError

_TRANSPORTS = frozenset(t.value for t in AuthTransport)
TRACE_DEADLINE_MARGIN = 30.0  # PowerShell start-up and the trace's last WMI wait, on top of --trace-seconds
PASSWORD_ENV_DEFAULT = "AUDITPLAN_PASSWORD"  # noqa: S105 - the name of a variable, not a password
EXIT_OK = 0
EXIT_HOSTS_FAILED = 1
EXIT_USAGE = 2

# Columns of --csv, and the first keys of each --json object.
SUMMARY_COLUMNS = (
    "host", "status", "reason", "process_creation", "cmdline_enabled", "force_subcategory",
    "os_build", "product_type", "cmdline_supported", "security_log_max_bytes", "security_log_history_hours",
    "sysmon", "requests", "seconds", "collected_at",
)


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


def read_credentials_file(path: Path) -> CredentialsFile:
    """Parse a credentials JSON; raises click.UsageError naming the file and the problem."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise click.UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.UsageError(f"{path}: not a JSON credentials file ({type(exc).__name__})") from None
    if not isinstance(data, dict):
        raise click.UsageError(f"{path}: expected a JSON object")

    def text(key: str) -> str | None:
        value = data.get(key)
        if value is not None and not isinstance(value, str):
            raise click.UsageError(f"{path}: {key} must be a string")
        return value

    if data.get("password") is not None and path.stat().st_mode & 0o077:
        click.echo(f"warning: {path} holds a password and is readable by other users; chmod 600 it", err=True)

    def file(key: str) -> Path | None:
        # Relative paths are relative to the credentials file, wherever the survey runs.
        value = text(key)
        if not value:
            return None
        return Path(value) if Path(value).is_absolute() else path.parent / value

    password = text("password")
    transport = text("transport")
    if transport is not None and transport not in {t.value for t in AuthTransport}:
        raise click.UsageError(f"{path}: transport {transport!r} is not one of {', '.join(AuthTransport)}")
    scheme = text("scheme")
    if scheme is not None and scheme not in ("http", "https"):
        raise click.UsageError(f"{path}: scheme must be http or https")
    return CredentialsFile(
        username=text("username"),
        password=Secret(password) if password is not None else None,
        transport=transport,
        scheme=scheme,
        ca_bundle=file("ca_bundle"),
        client_cert=file("client_cert"),
        client_key=file("client_key"),
    )


def result_row(result: HostResult) -> dict[str, Any]:
    """One host as a flat record for --json / --csv and the summary table."""
    audit, os_info, log, cost = result.audit, result.os, result.security_log, result.cost
    return {
        "host": result.host.name,
        "status": result.status.value,
        "reason": result.reason,
        "process_creation": audit.process_creation.value if audit and audit.process_creation else None,
        "cmdline_enabled": audit.cmdline_enabled if audit else None,
        "force_subcategory": audit.sce_no_apply_legacy if audit else None,
        "os_build": os_info.current_build if os_info else None,
        "product_type": os_info.product_type.value if os_info and os_info.product_type else None,
        "cmdline_supported": os_info.cmdline_supported if os_info else None,
        "security_log_max_bytes": log.max_size_bytes if log else None,
        "security_log_history_hours": round(h, 1) if log and (h := log.history_hours) is not None else None,
        "sysmon": result.sysmon.installed if result.sysmon else None,
        "requests": cost.requests if cost else None,
        "seconds": cost.seconds if cost else None,
        "collected_at": result.collected_at.isoformat(),
        "role": result.host.role,
        "site": result.host.site,
        "computer_name": result.computer_name,
        "os_name": os_info.product_name if os_info else None,
        "bytes_sent": cost.bytes_sent if cost else None,
        "bytes_received": cost.bytes_received if cost else None,
        "truncated": cost.truncated if cost else None,
        "warnings": list(result.warnings),
    }


def _csv_cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula (host output is untrusted)."""
    if value is None:
        return ""
    text = "; ".join(value) if isinstance(value, list) else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def _resolve_password(password_env: str | None, from_file: Secret | None, username: str) -> Secret:
    if password_env:
        value = os.environ.get(password_env)
        if value is None:
            raise click.UsageError(f"--password-env {password_env}: that environment variable is not set")
        return Secret(value)
    if from_file is not None:
        return from_file
    value = os.environ.get(PASSWORD_ENV_DEFAULT)
    if value is not None:
        return Secret(value)
    if not _terminal_available():
        # Without any terminal the hidden prompt falls back to stdin, warns (GetPassWarning) and, on a
        # pipe or /dev/null, aborts with exit 1, which would read as "some hosts failed".
        raise click.UsageError(
            "no password given and no terminal to ask on: use --password-env VAR, "
            f"set ${PASSWORD_ENV_DEFAULT}, or --credentials FILE with a password"
        )
    prompt: str = click.prompt(f"Password for {username}", hide_input=True, err=True)
    return Secret(prompt)


def _terminal_available() -> bool:
    """Whether click's hidden prompt (getpass) has a terminal to ask on. On POSIX getpass opens the
    controlling terminal, /dev/tty, so `echo host | auditplan survey /dev/stdin` from a shell still
    prompts; it falls back to stdin only when that fails. On Windows it reads the console (msvcrt),
    which stdin being a console stands for."""
    if sys.platform != "win32":
        try:
            fd = os.open("/dev/tty", os.O_RDWR | os.O_NOCTTY)
        except OSError:  # no controlling terminal (cron, CI, setsid)
            pass
        else:
            os.close(fd)
            return True
    try:
        return sys.stdin is not None and sys.stdin.isatty()
    except (AttributeError, ValueError):  # closed or replaced stdin
        return False


@contextmanager
def _progress_bar(console: Console, enabled: bool) -> Iterator[Any]:
    if not enabled:
        yield None
        return
    bar = Progress(
        TextColumn("[bold]survey"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("failed {task.fields[failed]}"),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    )
    with bar:
        yield bar


def _cmdline_cell(enabled: bool | None, supported: bool | None) -> str:
    # The registry value alone says nothing on a build that cannot log the command line (2008 R2
    # without KB3004375): say so rather than "on".
    cell = {True: "on", False: "off", None: "-"}[enabled]
    return f"{cell} (unsupported OS)" if supported is False else cell


# Terminal escape sequences (CSI, OSC, and two-character ESC forms), then any other C0/C1 control
# character, and the Unicode bidi overrides/isolates that reorder what a terminal shows.
_ESCAPE_SEQUENCE = re.compile(
    r"\x1b\[[0-?]*[ -/]*[@-~]"  # CSI (colours, cursor, erase)
    r"|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?"  # OSC (window title, hyperlinks)
    r"|\x1b[ -/]*[0-~]"  # the other ESC forms (ESC c resets the terminal)
    r"|\x9b[0-?]*[ -/]*[@-~]"  # C1 CSI
)
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")


def terminal_safe(text: str) -> str:
    """Host-controlled text made harmless for a terminal: escape sequences dropped, other control
    characters (line breaks included: a reason is one line) shown as a space."""
    return _CONTROL.sub(" ", _ESCAPE_SEQUENCE.sub("", text))


def _cell(value: object) -> Text:
    # A plain Text is never read as Rich markup: "[/x]" in a host's fault text is just text.
    return Text(terminal_safe(str(value)))


def _summary_table(rows: Sequence[dict[str, Any]], counts: Counter[str]) -> Table:
    table = Table(title="survey summary", title_justify="left")
    for column in ("host", "status", "4688", "cmdline", "build", "type", "reason"):
        table.add_column(column, overflow="fold")
    for row in rows:
        table.add_row(
            _cell(row["host"]),
            _cell(row["status"]),
            _cell(row["process_creation"] or "-"),
            _cell(_cmdline_cell(row["cmdline_enabled"], row.get("cmdline_supported"))),
            _cell(row["os_build"] or "-"),
            _cell(row["product_type"] or "-"),
            _cell(row["reason"]),
        )
    table.caption = ", ".join(f"{status}: {n}" for status, n in sorted(counts.items()))
    return table


@main.command()
@click.argument("hosts", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--db", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_DB, show_default=True,
              help="SQLite store the results go to (created if missing; re-runs resume from it).")
@click.option("--credentials", "credentials_file", type=click.Path(path_type=Path, dir_okay=False),
              help="JSON with username, password, transport, scheme, ca_bundle (what `auditplan simulate` "
                   "writes). Options given on the command line win.")
@click.option("--username", "-u", envvar="AUDITPLAN_USERNAME",
              help="Account to connect as (DOMAIN\\user or user@domain). Env: AUDITPLAN_USERNAME.")
@click.option("--password-env", metavar="VAR",
              help=f"Read the password from this environment variable. Without it: the credentials file, "
                   f"then ${PASSWORD_ENV_DEFAULT}, then a hidden prompt. Never on the command line.")
@click.option("--transport", type=click.Choice([t.value for t in AuthTransport]), default=None,
              help="Authentication: ntlm (default), basic, kerberos, credssp, certificate.")
@click.option("--https/--http", "https", default=None,
              help="HTTPS on 5986 with certificate checks (default), or HTTP on 5985 (needs NTLM/Kerberos/"
                   "CredSSP message encryption, or --allow-basic-over-http).")
@click.option("--port", type=click.IntRange(1, 65535), help="WinRM port for hosts without their own port.")
@click.option("--ca-bundle", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="PEM file of CA certificates that signed the hosts' WinRM HTTPS certificates.")
@click.option("--insecure", is_flag=True,
              help="Do not verify HTTPS certificates at all (anyone on the path can read the password).")
@click.option("--allow-basic-over-http", is_flag=True,
              help="Permit Basic auth over plain HTTP, which sends the password in clear text.")
@click.option("--client-cert", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="PEM client certificate for --transport certificate.")
@click.option("--client-key", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="PEM private key of --client-cert.")
@click.option("--concurrency", "-c", type=click.IntRange(1, 1024), default=32, show_default=True,
              help="Hosts surveyed at the same time.")
@click.option("--timeout", type=click.FloatRange(2.0, 3600.0), default=120.0, show_default=True,
              help="Per-host deadline in seconds for the whole conversation, from connect to the shell's deletion.")
@click.option("--max-output", "max_output_mb", type=click.FloatRange(0.01, 1024.0), default=4.0,
              show_default=True, help="Stop reading a host's output after this many MiB (marked truncated).")
@click.option("--window-hours", type=click.IntRange(1, 168), default=24, show_default=True,
              help="Count 4688s (and Sysmon EID 1) per hour over this many whole UTC hours before now "
                   "(e.g. --window-hours 72 for three days). Longer windows need fewer peak-day guesses "
                   "but more host work.")
@click.option("--sample-events", type=click.IntRange(0, 10_000), default=probe.DEFAULT_SAMPLE_EVENTS,
              show_default=True,
              help="Read this many of the newest 4688s as XML (event size, version, command-line "
                   "lengths, process names); 0 = none. Each costs ~1.35 KB of output, ~1.75 KB on the wire: "
                   "the default keeps a host under 64 KB (e.g. --sample-events 0 on slow links).")
@click.option("--max-events", type=click.IntRange(1, 10_000_000), default=ProbeOptions().max_events,
              show_default=True,
              help="Cap on events each counting query reads on the host; a capped count is marked and "
                   "its oldest hour dropped from the rate (e.g. --max-events 100000 for busy DCs).")
@click.option("--trace-seconds", type=click.IntRange(0, probe.MAX_TRACE_SECONDS), default=0, show_default=True,
              help="Opt-in: count live process starts for this many seconds with PowerShell + "
                   "Win32_ProcessStartTrace (for hosts where 4688 is off); 0 = off. Adds the same time "
                   "plus 30 s to each host's deadline (e.g. --trace-seconds 60).")
@click.option("--refresh", is_flag=True, help="Survey every host again, even those already in the store.")
@click.option("--retry-failed", is_flag=True,
              help="Survey again only the hosts whose saved result is not ok.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON object per inventory host (a list) on stdout.")
@click.option("--csv", "as_csv", is_flag=True, help="Print one CSV row per inventory host on stdout.")
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
# Not a raw docstring: click's keep-as-is marker is the backspace character that `\b` makes, so the
# docstring keeps escapes and doubles the backslash a Windows account name needs.
def survey(
    hosts: Path,
    db: Path,
    credentials_file: Path | None,
    username: str | None,
    password_env: str | None,
    transport: str | None,
    https: bool | None,
    port: int | None,
    ca_bundle: Path | None,
    insecure: bool,
    allow_basic_over_http: bool,
    client_cert: Path | None,
    client_key: Path | None,
    concurrency: int,
    timeout: float,
    max_output_mb: float,
    window_hours: int,
    sample_events: int,
    max_events: int,
    trace_seconds: int,
    refresh: bool,
    retry_failed: bool,
    as_json: bool,
    as_csv: bool,
    no_progress: bool,
) -> None:
    """Survey the hosts in HOSTS over WinRM: is Process Creation auditing on, is the command
    line included, OS build, Security log size and history, Sysmon.

    HOSTS is a hosts file (one name, name:port or address per line) or a CSV with a `host`
    column (and optional address, port, role, site, group, transport, scheme, tags).
    Results go to --db as each host finishes; running again skips hosts already saved.

    \b
    Examples:
      auditplan survey hosts.txt --username 'CORP\\auditor'
      auditplan survey hosts.csv --transport kerberos --window-hours 72 --sample-events 10
      auditplan survey hosts.csv --trace-seconds 60 --max-events 100000 --json

    \b
    Exit status:
      0  every host ended ok
      1  some hosts failed (auth, unreachable, timeout, ...) or inventory lines were skipped
      2  usage or input error (bad option, unreadable hosts file, no valid hosts)
    """
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    if refresh and retry_failed:
        raise click.UsageError("--refresh already re-surveys every host; drop --retry-failed")

    try:
        inventory = load_inventory(hosts)
    except InventoryError as exc:
        raise click.UsageError(str(exc)) from None
    for error in inventory.errors:
        click.echo(str(error), err=True)
    for warning in inventory.warnings:
        click.echo(f"warning: {warning}", err=True)
    if not inventory.hosts:
        raise click.UsageError(f"{hosts}: no valid hosts to survey")

    from_file = read_credentials_file(credentials_file) if credentials_file else None
    chosen_transport = AuthTransport(transport or (from_file and from_file.transport) or AuthTransport.NTLM)
    scheme = ("https" if https else "http") if https is not None else ((from_file and from_file.scheme) or "https")
    user = username or (from_file.username if from_file else None) or ""
    # Certificate auth uses the client key, Kerberos the caller's ticket cache (kinit): neither takes a
    # password, and Kerberos needs no username either (collect/transport.py check_auth).
    effective = {AuthTransport(h.transport) if h.transport in _TRANSPORTS else chosen_transport
                 for h in inventory.hosts}
    needs_password = bool(effective - {AuthTransport.CERTIFICATE, AuthTransport.KERBEROS})
    if needs_password and not user:
        raise click.UsageError("--username is required (or AUDITPLAN_USERNAME, or the credentials file)")
    password = _resolve_password(password_env, from_file.password if from_file else None, user) if needs_password \
        else None
    operation_timeout = max(1, min(20, int(timeout // 4)))
    settings = TransportSettings(
        username=user,
        password=password,
        transport=chosen_transport,
        scheme=scheme,
        port=port,
        ca_bundle=ca_bundle or (from_file.ca_bundle if from_file else None),
        insecure=insecure,
        allow_basic_over_http=allow_basic_over_http,
        client_cert=client_cert or (from_file.client_cert if from_file else None),
        client_key=client_key or (from_file.client_key if from_file else None),
        operation_timeout=operation_timeout,
        read_timeout=operation_timeout + 5,
        deadline=timeout + (trace_seconds + TRACE_DEADLINE_MARGIN if trace_seconds else 0.0),
        max_output_bytes=int(max_output_mb * 1024 * 1024),
    )
    try:
        settings.check()
    except SettingsError as exc:
        raise click.UsageError(str(exc)) from None
    if insecure:
        click.secho(
            "WARNING: --insecure: HTTPS certificates are NOT verified; anyone able to intercept the "
            "connection can impersonate the hosts and capture the credentials.",
            fg="red", bold=True, err=True,
        )

    options = ProbeOptions(
        window_hours=window_hours, sample_events=sample_events, max_events=max_events, trace_seconds=trace_seconds
    )
    try:
        build_probe(options, datetime.now(UTC))  # the same line every host gets: refuse it here if cmd.exe would
    except ValueError as exc:
        raise click.UsageError(str(exc)) from None
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        store = Store(db)
    except StoreError as exc:
        raise click.UsageError(str(exc)) from None  # names the store already
    except OSError as exc:
        raise click.UsageError(f"{db}: cannot open the store: {exc.strerror or exc}") from None
    try:
        code = _survey_and_report(
            store, inventory.hosts, settings, db=db, concurrency=concurrency, refresh=refresh,
            retry_failed=retry_failed, as_json=as_json, as_csv=as_csv, progress=not no_progress,
            probe_options=options,
        )
    finally:
        store.close()
    sys.exit(code if not inventory.errors else max(code, EXIT_HOSTS_FAILED))


def _survey_and_report(
    store: Store,
    hosts: Sequence[Host],
    settings: TransportSettings,
    *,
    db: Path,
    concurrency: int,
    refresh: bool,
    retry_failed: bool,
    as_json: bool,
    as_csv: bool,
    progress: bool,
    probe_options: ProbeOptions,
) -> int:
    """Run the survey with a progress bar on stderr, print the results; return the exit status."""
    err = Console(stderr=True)
    with _progress_bar(err, progress) as bar:
        task_id = None

        def on_start(to_run: int, skipped: int) -> None:
            nonlocal task_id
            if skipped:
                click.echo(f"{skipped} host(s) already in {db} skipped (use --refresh or --retry-failed)", err=True)
            if bar is not None:
                task_id = bar.add_task("survey", total=to_run, failed=0)

        def on_progress(event: HostProgress) -> None:
            if bar is not None and task_id is not None:
                bar.update(task_id, completed=event.done, failed=event.failed)

        outcome = run_survey(
            hosts, settings, store, concurrency=concurrency, probe_options=probe_options,
            refresh=refresh, retry_failed=retry_failed, on_progress=on_progress, on_start=on_start,
        )

    rows = _rows_for_inventory(hosts, outcome, store)
    counts: Counter[str] = Counter(row["status"] for row in rows)
    if as_json:
        click.echo(json.dumps(rows, indent=2, default=str))
    elif as_csv:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        names = list(rows[0].keys()) if rows else list(SUMMARY_COLUMNS)
        writer.writerow(names)
        for row in rows:
            writer.writerow([_csv_cell(row[n]) for n in names])
        click.echo(buffer.getvalue(), nl=False)
    else:
        out = Console()
        if not out.is_terminal:
            out = Console(width=200)  # piped to a file: no terminal width to fit, keep rows on one line
        out.print(_summary_table(rows, counts))
    click.echo(f"results in {db}", err=True)
    hint = _trust_hint(rows, settings)
    if hint:
        click.echo(hint, err=True)
    if outcome.interrupted:
        click.echo(f"interrupted: {len(outcome.not_started)} host(s) not started; run again to resume", err=True)
        return EXIT_HOSTS_FAILED
    all_ok = len(rows) == len(hosts) and all(row["status"] == HostStatus.OK.value for row in rows)
    return EXIT_OK if all_ok else EXIT_HOSTS_FAILED

def _trust_hint(rows: Sequence[dict[str, Any]], settings: TransportSettings) -> str | None:
    """Say where the trust came from when certificates failed to verify and no CA was named:
    requests verifies against certifi's public bundle, not the OS store (an AD CS root
    installed there does not count), and pywinrm stops it reading REQUESTS_CA_BUNDLE."""
    if settings.ca_bundle is not None or settings.insecure:
        return None
    failed = sum(1 for row in rows if row["status"] == HostStatus.TLS_ERROR.value
                 and CERT_VERIFY_FAILED in str(row.get("reason") or ""))
    if not failed:
        return None
    return (f"{failed} host(s) failed certificate verification. Without --ca-bundle the survey trusts only "
            "the public CAs bundled with Python requests (certifi), not this machine's certificate store: "
            "give the CA that issued the WinRM certificates with --ca-bundle FILE (PEM).")


def _rows_for_inventory(hosts: Sequence[Host], outcome: SurveyOutcome, store: Store) -> list[dict[str, Any]]:
    """One row per inventory host, in inventory order: this run's result, else the saved one."""
    latest: dict[str, HostResult] = {}
    if outcome.skipped or outcome.not_started:
        for result in store.load_results(source="winrm"):
            latest[result.host.name.casefold()] = result
    for result in outcome.results:
        latest[result.host.name.casefold()] = result
    return [result_row(latest[h.name.casefold()]) for h in hosts if h.name.casefold() in latest]
