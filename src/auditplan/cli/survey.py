"""`auditplan survey`: probe every host in an inventory over WinRM and save what it finds.

Click only: the options become a collect.api.survey() call; the hidden password prompt, the
progress bar and the printing of its results (a table, --json or --csv: the store's one row
format, store/rows.py) stay here.
"""

from __future__ import annotations

import os
import sys
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from auditplan.cli import DEFAULT_DB, main
from auditplan.cli.console import stdout_console
from auditplan.cli.vocabulary import MB
from auditplan.collect import api
from auditplan.inventory import Inventory, InventoryError, load_inventory
from auditplan.records import Host
from auditplan.store import StoreError
from auditplan.store.export import frame_records, frame_to_csv, frame_to_json
from auditplan.store.rows import hosts_frame
from auditplan.text import escaped, terminal

EXIT_OK = 0
EXIT_HOSTS_FAILED = 1
EXIT_USAGE = 2


def _ask_password(username: str) -> api.Secret:
    """The hidden prompt, on the terminal (collect asks only when no other source has a password)."""
    prompt: str = click.prompt(f"Password for {username}", hide_input=True, err=True)
    return api.Secret(prompt)


def _terminal_available() -> bool:
    """Whether click's hidden prompt (getpass) has a terminal to ask on. On POSIX getpass opens the
    controlling terminal, /dev/tty, so `echo host | auditplan survey /dev/stdin` from a shell still
    prompts; it falls back to stdin only when that fails. On Windows it reads the console (msvcrt),
    which stdin being a console stands for. Without any terminal the prompt would fall back to stdin,
    warn (GetPassWarning) and, on a pipe or /dev/null, abort with exit 1, which would read as "some
    hosts failed": so no prompt is offered, and collect says how else to give the password."""
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


def _cell(value: object) -> Text:
    # A plain Text is never read as Rich markup: "[/x]" in a host's fault text is just text.
    return Text(terminal(str(value)))


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


@main.command(renamed={"--max-output": "--max-output-mb"})
@click.argument("hosts", type=click.Path(path_type=Path, dir_okay=False))
@click.option("--db", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_DB, show_default=True,
              help="SQLite store the results go to (created if missing; re-runs resume from it).")
@click.option("--credentials", "credentials_file", type=click.Path(path_type=Path, dir_okay=False),
              help="JSON with username, password, transport, scheme, ca_bundle (what `auditplan simulate` "
                   "writes). Options given on the command line win.")
@click.option("--username", "-u", envvar=api.USERNAME_ENV,
              help="Account to connect as (DOMAIN\\user or user@domain). Env: " + api.USERNAME_ENV + ".")
@click.option("--password-env", metavar="VAR",
              help=f"Read the password from this environment variable. Without it: the credentials file, "
                   f"then ${api.PASSWORD_ENV_DEFAULT}, then a hidden prompt. Never on the command line.")
@click.option("--transport", type=click.Choice([t.value for t in api.AuthTransport]), default=None,
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
@click.option("--concurrency", "-c", type=click.IntRange(1, 1024), default=api.DEFAULT_CONCURRENCY,
              show_default=True, help="Hosts surveyed at the same time.")
@click.option("--timeout", type=click.FloatRange(2.0, 3600.0), default=api.DEFAULT_TIMEOUT, show_default=True,
              help="Per-host deadline in seconds: the whole conversation, from connect to the Delete that frees "
                   f"the host's shell. Its last {api.CLEANUP_GRACE_SECONDS:g} s (a quarter, if shorter) are kept "
                   "for that Delete; every request and every read of an answer waits at most the time left.")
@click.option("--max-output-mb", "max_output_mb", type=click.FloatRange(0.01, 1024.0),
              default=api.DEFAULT_MAX_OUTPUT_BYTES / MB,
              show_default=True, help="Stop reading a host's output after this many MB (1 MB = 1,048,576 bytes; "
                                      "the host is marked truncated).")
@click.option("--window-hours", type=click.IntRange(1, 168), default=24, show_default=True,
              help="Count 4688s (and Sysmon EID 1) per hour over this many whole UTC hours before now "
                   "(e.g. --window-hours 72 for three days). Longer windows need fewer peak-day guesses "
                   "but more host work.")
@click.option("--sample-events", type=click.IntRange(0, 10_000), default=api.DEFAULT_SAMPLE_EVENTS,
              show_default=True,
              help="Read this many of the newest 4688s as XML (event size, version, command-line "
                   "lengths, process names); 0 = none. Each costs ~1.35 KB of output, ~1.75 KB on the wire: "
                   "the default keeps a host under 64 KB (e.g. --sample-events 0 on slow links).")
@click.option("--max-events", type=click.IntRange(1, 10_000_000), default=api.ProbeOptions().max_events,
              show_default=True,
              help="Events each log's counting may read on the host, spread over the window's hours (one "
                   "query per hour); a capped hour is measured over the minutes its newest events span "
                   "(e.g. --max-events 100000 to count busy hosts' hours whole).")
@click.option("--trace-seconds", type=click.IntRange(0, api.MAX_TRACE_SECONDS), default=0, show_default=True,
              help="Opt-in: count live process starts for this many seconds with PowerShell + "
                   "Win32_ProcessStartTrace (for hosts where 4688 is off); 0 = off. Adds the same time "
                   f"plus {api.TRACE_DEADLINE_MARGIN:g} s to each host's deadline (e.g. --trace-seconds 60).")
@click.option("--scheduler", metavar="tcp://HOST:PORT",
              help="Run the hosts on the workers of this Dask scheduler (tcp:// or tls://; needs "
                   "pip install 'auditplan[dask]' here and on the workers); results come back to --db here.")
@click.option("--processes", type=click.IntRange(1, 256), default=None,
              help="Start a local Dask cluster of this many worker processes (when one process's CPU is "
                   "the limit); --concurrency is shared between them.")
@click.option("--max-auth-failures", type=click.IntRange(0, 1_000_000), default=api.DEFAULT_MAX_AUTH_FAILURES,
              show_default=True,
              help="Lockout guard: survey one canary host first and stop if it rejects the credentials; "
                   "later, start no new host after this many authentication failures in a row (exit 2). "
                   "0 = off (no canary, every host tried).")
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
    scheduler: str | None,
    processes: int | None,
    max_auth_failures: int,
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
    Results go to --db as each host finishes; running again skips hosts already saved, except
    those whose last survey failed authentication. One canary host is surveyed first: if it
    rejects the credentials nothing else is tried (see --max-auth-failures).

    \b
    Examples:
      auditplan survey hosts.txt --username 'CORP\\auditor'
      auditplan survey hosts.csv --transport kerberos --window-hours 72 --sample-events 10
      auditplan survey hosts.csv --trace-seconds 60 --max-events 100000 --json

    \b
    Exit status:
      0  every host ended ok
      1  some hosts failed (auth, unreachable, timeout, ...) or inventory lines were skipped
      2  usage or input error (bad option, unreadable hosts file, no valid hosts), or the
         lockout guard stopped the survey (the canary or N hosts in a row rejected the credentials)
    """
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    if scheduler and processes:
        raise click.UsageError("choose one of --scheduler and --processes")
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
    inventory, refused = _refuse_basic_over_http(inventory, transport, https, allow_basic_over_http)
    for error in refused:
        click.echo(str(error), err=True)
    if not inventory.hosts:
        raise click.UsageError(f"{hosts}: no valid hosts to survey")
    if allow_basic_over_http:
        click.secho(
            "WARNING: --allow-basic-over-http: hosts reached with Basic over plain HTTP get the password in "
            "clear text (base64 is not encryption); anyone able to watch the network can read it.",
            fg="red", bold=True, err=True,
        )
    if insecure:
        click.secho(
            "WARNING: --insecure: HTTPS certificates are NOT verified; anyone able to intercept the "
            "connection can impersonate the hosts and capture the credentials.",
            fg="red", bold=True, err=True,
        )
    connection = api.ConnectionOptions(
        username=username, password_env=password_env, credentials_file=credentials_file,
        transport=api.AuthTransport(transport) if transport else None, https=https, port=port,
        ca_bundle=ca_bundle, insecure=insecure, allow_basic_over_http=allow_basic_over_http,
        client_cert=client_cert, client_key=client_key, timeout=timeout,
        max_output_bytes=int(max_output_mb * MB),
    )
    err = Console(stderr=True)
    with _progress_bar(err, not no_progress) as bar:
        task_id = None

        def on_start(to_run: int, skipped: int) -> None:
            nonlocal task_id
            if skipped:
                click.echo(f"{skipped} host(s) already in {db} skipped (use --refresh or --retry-failed)", err=True)
            if bar is not None:
                task_id = bar.add_task("survey", total=to_run, failed=0)

        def on_progress(event: api.Progress) -> None:
            if bar is not None and task_id is not None:
                bar.update(task_id, completed=event.done, failed=event.failed)

        try:
            results = api.survey(
                inventory.hosts, db, connection,
                probe=api.ProbeOptions(window_hours=window_hours, sample_events=sample_events,
                                       max_events=max_events, trace_seconds=trace_seconds),
                concurrency=concurrency, refresh=refresh, retry_failed=retry_failed,
                ask_password=_ask_password if _terminal_available() else None,
                on_warning=lambda line: click.echo(f"warning: {line}", err=True),
                on_start=on_start, on_progress=on_progress, max_auth_failures=max_auth_failures,
                scheduler=scheduler, processes=processes,
            )
        except (api.CollectError, StoreError) as exc:
            raise click.UsageError(str(exc)) from None
    code = _print_results(results, db, as_json=as_json, as_csv=as_csv)
    if results.stopped:
        click.echo(f"survey stopped: {terminal(results.stopped)}; "
                   f"{len(results.outcome.not_started)} host(s) not started", err=True)
        sys.exit(EXIT_USAGE)
    sys.exit(code if not inventory.errors else max(code, EXIT_HOSTS_FAILED))


def _refuse_basic_over_http(inventory: Inventory, transport: str | None, https: bool | None,
                            allowed: bool) -> tuple[Inventory, list[InventoryError]]:
    """A hosts-file row that asks for Basic over plain HTTP (its own transport/scheme columns, or
    with --transport basic / --http) without --allow-basic-over-http is an error of that row, named
    file:line, like any bad row: not a host that fails later as a protocol error."""
    if allowed:
        return inventory, []
    kept: list[Host] = []
    refused: list[InventoryError] = []
    for host in inventory.hosts:
        basic = (host.transport or transport or "").lower() == "basic"
        http = (host.scheme or ("http" if https is False else "")).lower() == "http"
        if basic and http and (host.transport or host.scheme):
            file, _, line = (host.source or host.name).rpartition(":")
            refused.append(InventoryError(file or host.name, int(line) if line.isdigit() else None,
                                          f"host {escaped(host.name)}: Basic over plain HTTP sends the password in "
                                          "clear text; refused (use https, or pass --allow-basic-over-http)"))
        else:
            kept.append(host)
    if not refused:
        return inventory, []
    return replace(inventory, hosts=tuple(kept), errors=inventory.errors + tuple(refused)), refused


def _print_results(results: api.SurveyResults, db: Path, *, as_json: bool, as_csv: bool) -> int:
    """Print every inventory host's latest result (the store's row format); return the exit status."""
    frame = hosts_frame(results.results)
    if as_json:
        # ASCII only: a C1 control or a bidi override from a host stays an escape, not an action.
        click.echo(frame_to_json(frame, ascii_only=True), nl=False)
    elif as_csv:
        click.echo(frame_to_csv(frame), nl=False)
    else:
        out = stdout_console()  # piped to a file: no terminal width to fit, every value whole
        out.print(_summary_table(frame_records(frame), results.counts))
    click.echo(f"results in {db}", err=True)
    ran = {r.host.name for r in results.outcome.results}
    retried = [name for name in results.outcome.retried_auth_failed if name in ran]
    if retried:
        names = ", ".join(terminal(name) for name in retried[:10]) + (", ..." if len(retried) > 10 else "")
        click.echo(f"retried {len(retried)} host(s) whose last survey failed authentication (no --refresh "
                   f"needed): {names}", err=True)
    if results.unverified_certificates:
        # requests verifies against certifi's public bundle, not the OS store (an AD CS root installed
        # there does not count), and pywinrm stops it reading REQUESTS_CA_BUNDLE.
        click.echo(f"{results.unverified_certificates} host(s) failed certificate verification. Without "
                   "--ca-bundle the survey trusts only the public CAs bundled with Python requests (certifi), "
                   "not this machine's certificate store: give the CA that issued the WinRM certificates with "
                   "--ca-bundle FILE (PEM).", err=True)
    if results.outcome.interrupted:
        click.echo(f"interrupted: {len(results.outcome.not_started)} host(s) not started; run again to resume",
                   err=True)
    return EXIT_OK if results.all_ok else EXIT_HOSTS_FAILED
