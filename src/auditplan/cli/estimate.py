"""`auditplan estimate`: per-host 4688/day with a range and a source, and the fleet total."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
from rich.table import Table
from rich.text import Text

from auditplan.cli import main
from auditplan.cli.chain import find_store, store_option
from auditplan.cli.console import stdout_console, working
from auditplan.cli.errors import usage_error_on
from auditplan.model.api import FLEET_ROW, ConfigError, ModelError
from auditplan.model.api import estimate as estimate_hosts
from auditplan.store import StoreError
from auditplan.text import escaped, number

TABLE_WIDTH = 110


@main.command()
@store_option("The store holding surveyed and ingested hosts; estimates are saved back as 'latest'.")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A TOML file overriding [priors] / [event_size] (and other) defaults.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {hosts: [...], fleet: {...}}.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV, one row per host, then a fleet-total row.")
def estimate(db: Path | None, config_file: Path | None, as_json: bool, as_csv: bool) -> None:
    """Estimate 4688 events/day per host (p10/p50/p90) and name the source of each estimate.

    Sources, best first: measured_4688, sysmon_eid1, process_trace, role_peers, role_prior.
    The fleet total's range is the seeded Monte Carlo of `auditplan project` ([plan] draws and
    seed): hosts on a role prior or peer fit share one draw per role, so both commands agree.
    """
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    db = find_store(db)
    with usage_error_on(ConfigError, ModelError, StoreError), working("estimate: per-host 4688/day"):
        run = estimate_hosts(db, config_file=config_file)
    for warning in run.warnings:
        click.echo(f"warning: {warning}", err=True)
    fleet = run.fleet_row()
    if not run.estimates or fleet is None:
        click.echo(f"{db}: no hosts in the store", err=True)
        sys.exit(1)
    if as_json:
        click.echo(json.dumps(run.document(), indent=2))
    elif as_csv:
        sys.stdout.write(run.csv_text())
    else:
        _print_text(run.rows(), fleet)
    click.echo(f"{len(run.estimates)} estimate(s) saved in {db} as {run.run!r}", err=True)


def _table(rows: list[dict[str, Any]], fleet: dict[str, Any]) -> Table:
    table = Table(title="4688 events/day per host (notes below)")
    for name in ("host", "role", "source", "p10", "p50", "p90", "peak x", "B/event"):
        right = name in ("p10", "p50", "p90", "peak x", "B/event")
        table.add_column(name, justify="right" if right else "left", overflow="fold")
    for r in rows:
        # Text() cells: host-supplied names must not be read as rich markup.
        table.add_row(Text(escaped(r["host"])), Text(escaped(r["role"])), r["source"],
                      *(number(r[k]) for k in ("events_per_day_p10", "events_per_day_p50", "events_per_day_p90",
                                               "peak_hour_factor", "bytes_per_event_xml")))
    table.add_section()
    table.add_row(FLEET_ROW, "", f"{fleet['hosts']} hosts",
                  *(number(fleet[k]) for k in ("events_per_day_p10", "events_per_day_p50", "events_per_day_p90")),
                  "", "")
    return table


def _print_text(rows: list[dict[str, Any]], fleet: dict[str, Any]) -> None:
    console = stdout_console()  # never squeezed or cut when piped
    console.print(_table(rows, fleet))
    console.print(Text(f"fleet range: seeded Monte Carlo as in `auditplan project`, {fleet['draws']} draws, "
                       f"seed {fleet['seed']}; {fleet['shared_error']}"))
    for r in rows:
        if r["notes"]:
            console.print(Text(escaped(f"{r['host']}: {r['notes']}")))
    limited = [r for r in rows if r.get("flags")]
    if limited:
        # Issue 15: which hosts are capped / partial / bursty / peers / prior-only, and what would narrow them.
        console.print(Text("what limits each range, and what would narrow it:"))
        for r in limited:
            console.print(Text(escaped(f"  {r['host']}: {r['flags']}" + (f" -> {r['narrow_by']}" if r["narrow_by"]
                                                                          else ""))))
