"""`auditplan ingest`: exported .evtx files into the store, beside surveyed hosts.

Click only: the options become a collect.api.ingest() call; each file's line is printed as soon
as it is read, and the hosts' merges and failures after.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path
from typing import Final

import click

from auditplan.cli import DEFAULT_DB, main
from auditplan.cli.vocabulary import MB
from auditplan.collect import api
from auditplan.inventory import host_name_problem
from auditplan.store import StoreError
from auditplan.text import escaped, quoted

EXIT_OK = 0
EXIT_FILES_FAILED = 1


def _line(s: api.FileSummary) -> str:
    if s.error:
        return f"{escaped(s.file)}: ERROR {escaped(s.error)}"
    span = ""
    if s.first_time and s.last_time:
        span = f", {s.first_time:%Y-%m-%dT%H:%M:%SZ} .. {s.last_time:%Y-%m-%dT%H:%M:%SZ}"
    state = "audit off (boot-time 4688s only)" if s.audit_off else (
        "command line populated" if s.cmdline_populated else "no command line")
    return (f"{escaped(s.file)}: host {escaped(s.host)}, {s.events_total} events, {s.events_4688} x 4688, "
            f"{s.sysmon_eid1} x Sysmon EID 1{span}; {state}")


# Roles key the priors and peers and appear in every table: a plain word, as the shipped roles are.
ROLE_PATTERN: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}\Z")


def role_problem(text: str) -> str | None:
    """Why `text` is not a role name (letters, digits, '_', '.', '-', at most 64), or None."""
    if ROLE_PATTERN.match(text):
        return None
    return (f"{quoted(text)} is not a role name: letters, digits, '_', '.' and '-', starting with a letter or "
            "digit, at most 64 characters")


@main.command(renamed={"--sample": "--sample-events"})
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--host", "host_name", default=None,
              help="Host name to file every given .evtx under, merged into one result "
                   "(default: each file's Computer field).")
@click.option("--role", default=None, help="Role of the host(s), for the role priors and peers (e.g. workstation).")
@click.option("--db", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_DB, show_default=True,
              help="The store (SQLite) that ingested hosts join.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per file.")
@click.option("--sample-events", "sample_size", type=click.IntRange(0, 100_000), default=api.DEFAULT_SAMPLE_SIZE,
              show_default=True, help="4688 events kept per host (random sample) with redacted command lines.")
@click.option("--max-size-mb", type=click.FloatRange(min=0, min_open=True),
              default=api.DEFAULT_MAX_FILE_BYTES / MB, show_default=True,
              help="Refuse files larger than this many MB (1 MB = 1,048,576 bytes).")
def ingest(files: tuple[Path, ...], host_name: str | None, role: str | None, db: Path, as_json: bool,
           sample_size: int, max_size_mb: float) -> None:
    """Read exported .evtx files, such as Security.evtx, into the store as host results.

    Counts 4688 (provider Microsoft-Windows-Security-Auditing), Sysmon EID 1, time span, hourly
    profile and event sizes; flags logs whose only 4688s are the boot-time ones (auditing off).
    Files naming the same host (Security.evtx and its archives) are merged into one result;
    give all of a host's files in one run (a later run replaces that host's ingested result).
    A bad file (not EVTX, cut inside its file header, or with no event records at all) gets an
    error line and is not stored; the others still ingest. Exit 1 if any file failed. A file cut
    short after its header (a copy of a log still being written, a partial download) ingests its
    complete chunks, with a warning saying where it was cut and what was kept and lost.
    """
    # Names that reach the store, tables, CSV and a terminal: the rules of a hosts file, so quotes,
    # `../../evil`, `<script>` and escape characters are refused here, not carried into every output.
    if host_name is not None and (problem := host_name_problem(host_name)):
        raise click.BadParameter(problem, param_hint="--host")
    if role is not None and (problem := role_problem(role)):
        raise click.BadParameter(problem, param_hint="--role")

    def on_file(summary: api.FileSummary) -> None:
        if not as_json:
            click.echo(_line(summary))
            for warning in summary.warnings:
                click.echo(f"  warning: {escaped(warning)}", err=True)
        elif summary.truncation_warning is not None:
            # stdout carries the JSON; a file read only in part still gets its warning on stderr.
            click.echo(f"warning: {escaped(summary.truncation_warning)}", err=True)

    try:
        results = api.ingest(list(files), db, host_name=host_name, role=role, sample_size=sample_size,
                             max_file_bytes=int(max_size_mb * MB), on_file=on_file)
    except StoreError as exc:
        raise click.UsageError(str(exc)) from None
    for host in results.hosts:
        if host.files > 1:
            click.echo(f"host {escaped(host.name)}: {host.files} files merged into one result", err=True)
        if host.error is not None:
            click.echo(f"{escaped(host.name)}: not stored: {escaped(host.error)}", err=True)
    if as_json:
        click.echo(json.dumps([s.to_json() for s in results.files], indent=2))
    total = len(results.files)
    click.echo(f"{total - results.failed} of {total} file(s) ingested into {db}", err=True)
    sys.exit(EXIT_FILES_FAILED if results.failed else EXIT_OK)
