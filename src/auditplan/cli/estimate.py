"""`auditplan estimate`: per-host 4688/day with a range and a source, and the fleet total."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click
import pandas as pd
from rich.console import Console
from rich.table import Table
from rich.text import Text

from auditplan.cli import DEFAULT_DB, main
from auditplan.cli.errors import require_store, usage_error_on
from auditplan.cli.project import monte_carlo_settings
from auditplan.config import ConfigError, load_config
from auditplan.model.estimate import estimate_hosts
from auditplan.model.priors import load_priors
from auditplan.model.project import SHARED_ERROR_TEXT, fleet_events_day
from auditplan.records import HostEstimate, Range
from auditplan.store import Store, StoreError
from auditplan.store.export import frame_to_csv
from auditplan.text import escaped as printable

RUN_LABEL = "latest"
# Settings of the old independent-hosts fleet total, replaced by [plan] draws / seed.
RETIRED_PRIORS_KEYS = frozenset({"fleet_draws", "fleet_seed"})
FLEET_ROW = "(fleet total)"
TABLE_WIDTH = 110


def _row(e: HostEstimate) -> dict[str, Any]:
    return {
        "host": e.host,
        "role": e.role,
        "site": e.site,
        "os_family": e.os_family,
        "source": e.source.value,
        "events_per_day_p10": round(e.events_per_day.p10, 1),
        "events_per_day_p50": round(e.events_per_day.p50, 1),
        "events_per_day_p90": round(e.events_per_day.p90, 1),
        "peak_hour_factor": round(e.peak_hour_factor, 3),
        "bytes_per_event_xml": round(e.bytes_per_event_xml, 1),
        "bytes_per_event_xml_no_cmdline": round(e.bytes_per_event_xml_no_cmdline, 1),
        "cmdline_length_p50": e.cmdline_length_p50,
        "bytes_source": e.bytes_source,
        "already_on": e.already_on,
        "cmdline_already_on": e.cmdline_already_on,
        "cmdline_supported": e.cmdline_supported,
        "notes": "; ".join(e.notes),
    }


def _fleet(total: Range, hosts: int, draws: int, seed: int) -> dict[str, Any]:
    return {"hosts": hosts, "events_per_day_p10": round(total.p10, 1), "events_per_day_p50": round(total.p50, 1),
            "events_per_day_p90": round(total.p90, 1), "method": "monte_carlo", "draws": draws, "seed": seed,
            "shared_error": SHARED_ERROR_TEXT}


@main.command()
@click.option("--db", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_DB, show_default=True,
              help="The store holding surveyed and ingested hosts; estimates are saved back as 'latest'.")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A TOML file overriding [priors] / [event_size] (and other) defaults.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: {hosts: [...], fleet: {...}}.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV, one row per host, then a fleet-total row.")
def estimate(db: Path, config_file: Path | None, as_json: bool, as_csv: bool) -> None:
    """Estimate 4688 events/day per host (p10/p50/p90) and name the source of each estimate.

    Sources, best first: measured_4688, sysmon_eid1, process_trace, role_peers, role_prior.
    The fleet total's range is the seeded Monte Carlo of `auditplan project` ([plan] draws and
    seed): hosts on a role prior or peer fit share one draw per role, so both commands agree.
    """
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    with usage_error_on(ConfigError):
        config = load_config(config_file)
        load_priors(config)
    draws, seed = monte_carlo_settings(config)
    retired = sorted(set(config.get("priors", {})) & RETIRED_PRIORS_KEYS)
    if retired:
        click.echo(f"warning: [priors] {', '.join(retired)} no longer read: the fleet range uses [plan] draws "
                   "and seed, as `auditplan project` does", err=True)
    require_store(db, "`auditplan survey` or `auditplan ingest`")
    with usage_error_on(StoreError), Store(db) as store:
        results = store.load_results()
        estimates = estimate_hosts(results, config)
        store.save_estimates(RUN_LABEL, estimates)
    if not estimates:
        click.echo(f"{db}: no hosts in the store", err=True)
        sys.exit(1)
    with usage_error_on(ConfigError):
        total = fleet_events_day(estimates, draws=draws, seed=seed)
    rows = [_row(e) for e in estimates]
    fleet = _fleet(total, len(estimates), draws, seed)
    if as_json:
        click.echo(json.dumps({"hosts": rows, "fleet": fleet}, indent=2))
    elif as_csv:
        fleet_row: dict[str, Any] = dict.fromkeys(rows[0])
        fleet_row.update(host=FLEET_ROW, source="monte_carlo",
                         events_per_day_p10=fleet["events_per_day_p10"],
                         events_per_day_p50=fleet["events_per_day_p50"],
                         events_per_day_p90=fleet["events_per_day_p90"])
        sys.stdout.write(frame_to_csv(pd.DataFrame([*rows, fleet_row])))
    else:
        _print_text(rows, fleet)
    click.echo(f"{len(estimates)} estimate(s) saved in {db} as {RUN_LABEL!r}", err=True)


def _table(rows: list[dict[str, Any]], fleet: dict[str, Any]) -> Table:
    table = Table(title="4688 events/day per host (notes below)")
    for name in ("host", "role", "source", "p10", "p50", "p90", "peak x", "B/event"):
        right = name in ("p10", "p50", "p90", "peak x", "B/event")
        table.add_column(name, justify="right" if right else "left", overflow="fold")
    for r in rows:
        # Text() cells: host-supplied names must not be read as rich markup.
        table.add_row(Text(printable(r["host"])), Text(printable(r["role"])), r["source"],
                      f"{r['events_per_day_p10']:,.0f}", f"{r['events_per_day_p50']:,.0f}",
                      f"{r['events_per_day_p90']:,.0f}",
                      f"{r['peak_hour_factor']:.2f}", f"{r['bytes_per_event_xml']:,.0f}")
    table.add_section()
    table.add_row(FLEET_ROW, "", f"{fleet['hosts']} hosts", f"{fleet['events_per_day_p10']:,.0f}",
                  f"{fleet['events_per_day_p50']:,.0f}", f"{fleet['events_per_day_p90']:,.0f}", "", "")
    return table


def _print_text(rows: list[dict[str, Any]], fleet: dict[str, Any]) -> None:
    console = Console()
    console.width = max(console.width, TABLE_WIDTH)  # not squeezed to 80 columns when piped
    console.print(_table(rows, fleet))
    console.print(Text(f"fleet range: seeded Monte Carlo as in `auditplan project`, {fleet['draws']} draws, "
                       f"seed {fleet['seed']}; {fleet['shared_error']}"))
    for r in rows:
        if r["notes"]:
            console.print(Text(printable(f"{r['host']}: {r['notes']}")))
