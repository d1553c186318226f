"""`auditplan ingest`: exported .evtx files into the store, beside surveyed hosts."""

from __future__ import annotations

import json
import sys
from collections import defaultdict
from dataclasses import replace
from pathlib import Path

import click

from auditplan.cli import DEFAULT_DB, main
from auditplan.collect.evtx import (
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_SAMPLE_SIZE,
    FileSummary,
    ingest_file,
    merge_results,
)
from auditplan.records import HostResult
from auditplan.store import Store, StoreError

EXIT_OK = 0
EXIT_FILES_FAILED = 1


def printable(text: str | None) -> str:
    """Host-supplied text made safe for a terminal: control characters (escape sequences,
    carriage returns) shown as \\xNN instead of being acted on."""
    if text is None:
        return ""
    return "".join(c if c.isprintable() else f"\\x{ord(c):02x}" for c in text)


def _line(s: FileSummary) -> str:
    if s.error:
        return f"{printable(s.file)}: ERROR {printable(s.error)}"
    span = ""
    if s.first_time and s.last_time:
        span = f", {s.first_time:%Y-%m-%dT%H:%M:%SZ} .. {s.last_time:%Y-%m-%dT%H:%M:%SZ}"
    state = "audit off (boot-time 4688s only)" if s.audit_off else (
        "command line populated" if s.cmdline_populated else "no command line")
    return (f"{printable(s.file)}: host {printable(s.host)}, {s.events_total} events, {s.events_4688} x 4688, "
            f"{s.sysmon_eid1} x Sysmon EID 1{span}; {state}")


@main.command()
@click.argument("files", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--host", "host_name", default=None,
              help="Host name to file every given .evtx under, merged into one result "
                   "(default: each file's Computer field).")
@click.option("--role", default=None, help="Role of the host(s), for the role priors and peers (e.g. workstation).")
@click.option("--db", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_DB, show_default=True,
              help="The store (SQLite) that ingested hosts join.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per file.")
@click.option("--sample", "sample_size", type=click.IntRange(0, 100_000), default=DEFAULT_SAMPLE_SIZE,
              show_default=True, help="4688 events kept per host (random sample) with redacted command lines.")
@click.option("--max-size-mb", type=click.FloatRange(min=0, min_open=True),
              default=DEFAULT_MAX_FILE_BYTES / 1024**2, show_default=True,
              help="Refuse files larger than this.")
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
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        store = Store(db)
    except (OSError, StoreError) as exc:
        raise click.UsageError(f"{db}: cannot open the store: {exc}") from None
    summaries: list[FileSummary] = []
    by_host: dict[str, list[tuple[int, HostResult]]] = defaultdict(list)
    for path in files:
        outcome = ingest_file(path, host_name, role=role, sample_size=sample_size,
                              max_file_bytes=int(max_size_mb * 1024**2))
        if outcome.result is not None:
            by_host[outcome.result.host.name.lower()].append((len(summaries), outcome.result))
        summaries.append(outcome.summary)
        if not as_json:
            click.echo(_line(outcome.summary))
            for warning in outcome.summary.warnings:
                click.echo(f"  warning: {printable(warning)}", err=True)
        elif outcome.summary.truncation_warning is not None:
            # stdout carries the JSON; a file read only in part still gets its warning on stderr.
            click.echo(f"warning: {printable(outcome.summary.truncation_warning)}", err=True)
    with store:
        for group in by_host.values():
            results = [r for _, r in group]
            merged = merge_results(results, sample_size=sample_size)
            if len(results) > 1:
                click.echo(f"host {printable(merged.host.name)}: {len(results)} files merged into one result", err=True)
            try:
                store.save_result(merged)
            except StoreError as exc:
                for i, _ in group:
                    summaries[i] = replace(summaries[i], error=f"not stored: {exc}")
                click.echo(f"{printable(merged.host.name)}: not stored: {printable(str(exc))}", err=True)
    if as_json:
        click.echo(json.dumps([s.to_json() for s in summaries], indent=2))
    failed = sum(1 for s in summaries if s.error)
    click.echo(f"{len(summaries) - failed} of {len(summaries)} file(s) ingested into {db}", err=True)
    sys.exit(EXIT_FILES_FAILED if failed else EXIT_OK)
