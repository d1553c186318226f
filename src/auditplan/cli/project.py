"""`auditplan project`: SIEM load, cost and local log retention once 4688 + command line are on."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path

import click
import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from auditplan.cli import main
from auditplan.cli.chain import find_store, store_option
from auditplan.cli.console import stdout_console, working
from auditplan.cli.errors import usage_error_on
from auditplan.config import Config
from auditplan.emit.api import EmitError, read_filter_file
from auditplan.model.api import (
    ConfigError,
    FilteredVolume,
    ModelError,
    Projection,
    capacity_units,
    change_summary,
    filtered_volume,
    local_history,
    projections,
    projections_csv_text,
    projections_document,
)
from auditplan.store import StoreError
from auditplan.text import escaped, gb_for_people, number

DEFAULT_SIEM_NAME = "splunk-xml"  # as model/siem.py's DEFAULT_SIEM, when the config names none


def _interval(row: pd.Series, metric: str, mb_per_gb: float | None = None) -> Text:
    """p50 [p10–p90], rounded for people; with `mb_per_gb` a GB figure, in MB when the p90 is below 1 GB."""
    # Text, not str: "[a–b]" would otherwise be read as rich markup.
    if math.isnan(row[f"{metric}_p50"]):
        return Text("n/a")
    scale, unit = 1.0, ""
    if mb_per_gb is not None:
        _, unit = gb_for_people(row[f"{metric}_p90"], mb_per_gb=mb_per_gb)
        scale = mb_per_gb if unit == "MB" else 1.0
        unit = " " + unit
    p50, p10, p90 = (number(row[f"{metric}_{q}"] * scale, trim=True) for q in ("p50", "p10", "p90"))
    return Text(f"{p50} [{p10}–{p90}]{unit}")


def _size(value: float, mb_per_gb: float) -> str:
    scaled, unit = gb_for_people(value, mb_per_gb=mb_per_gb)
    return f"{number(scaled, trim=True)} {unit}"


def _group_table(title: str, frame: pd.DataFrame, currency: str, mb_per_gb: float) -> Table:
    table = Table(title=escape(title))
    for name in ("group", "hosts", "events/day p50", "events/s mean p50 [p10–p90]", "events/s peak p90",
                 "per day p50 [p10–p90]", "held p90", f"{currency}/month p50 [p10–p90]"):
        table.add_column(escape(name), justify="left" if name == "group" else "right")
    for group, row in frame.iterrows():
        table.add_row(
            Text(escaped(str(group))), str(int(row["hosts"])), number(row["added_events_day_p50"], trim=True),
            _interval(row, "added_eps_mean"), number(row["added_eps_peak_p90"], trim=True),
            _interval(row, "added_gb_day", mb_per_gb), _size(row["added_gb_held_p90"], mb_per_gb),
            _interval(row, "added_cost_month"),
        )
    return table


# The short summary (one profile, no --siem) lists at most this many sites and hosts below target.
SHORT_ROWS = 10


def _default_siem(config_file: Path | None) -> str:
    """[plan] default_siem of the config (what `plan` and `report` use), splunk-xml by default."""
    with usage_error_on(ConfigError):
        return str(Config.load(config_file).plan_setting("default_siem", DEFAULT_SIEM_NAME))


def _print_projection(console: Console, p: Projection, *, short: bool) -> None:
    prof = p.profile
    mb_per_gb = 1000.0  # MB as a thousandth of the profile's GB (what --budget-gb-day counts)
    price = f"{p.price_per_gb:g} {p.currency}/GB" if p.price_per_gb else "price unknown (--price-per-gb)"
    unit = "GiB (2^30 B)" if prof.gb_bytes == 2**30 else "GB (10^9 B)"
    console.print(Text(f"{prof.name}: {prof.description}; {unit}; retention {p.retention_days:g} days; {price}; "
                       f"Monte Carlo {p.draws} draws, seed {p.seed}", style="bold"))
    console.print(_group_table(f"{prof.name}: added load, fleet", p.fleet, p.currency, mb_per_gb))
    console.print(_group_table(f"{prof.name}: added load by role", p.by_role, p.currency, mb_per_gb))
    if not short or len(p.by_site) <= SHORT_ROWS:
        console.print(_group_table(f"{prof.name}: added load by site", p.by_site, p.currency, mb_per_gb))
    else:
        console.print(f"({len(p.by_site)} sites: --siem {prof.name} shows the load by site)")
    changes = change_summary(p)
    console.print("By change (sums of per-host p50 / p90 added per day): " + "; ".join(
        f"{name} {c['hosts']:.0f} host(s) +{_size(c['added_gb_day_p50'], mb_per_gb)} / "
        f"+{_size(c['added_gb_day_p90'], mb_per_gb)}"
        for name, c in changes.items()
    ) + ("  (cmdline_only = the command line alone, on hosts already auditing 4688)" if "cmdline_only" in changes
         else ""))
    f = p.fleet.iloc[0]
    console.print(f"After enablement the fleet's whole 4688 stream is {_size(f['gb_day_p50'], mb_per_gb)}/day "
                  f"p50 ({number(f['eps_mean_p50'], trim=True)} events/s mean); the tables show the increment over "
                  "today.")
    units = capacity_units(p)
    if units is not None:
        console.print(f"Capacity: {number(units, trim=True)} unit(s) of {prof.eps_capacity:g} EPS "
                      f"({prof.eps_basis}, p90 of the whole 4688 stream)")
    history = local_history(p)
    console.print(f"Local Security log: {len(history.short)} of {history.surveyed} surveyed host(s) would hold "
                  f"< {history.target_hours:g} h of history at p90 after enablement.")
    if len(history.short):
        table = Table(title="Hosts below the local history target (p90)")
        for name in ("host", "MaxSize MB", "hours after (p90)", "recommended MaxSize MB"):
            table.add_column(name, justify="left" if name == "host" else "right")
        shown = SHORT_ROWS if short else 20
        for _, row in history.short.head(shown).iterrows():
            table.add_row(Text(escaped(str(row["host"]))), number(row["log_max_size_bytes"] / 2**20, trim=True),
                          number(row["local_hours_p90"], trim=True),
                          number(row["recommended_log_max_size_mb"], trim=True)
                          + (" (cap)" if row["log_size_capped"] else ""))
        console.print(table)
        if len(history.short) > shown:
            console.print(f"... and {len(history.short) - shown} more host(s): --csv lists every host")
    for warning in p.warnings:
        console.print(Text(f"warning: {warning}", style="yellow"))


def _filtered_line(v: FilteredVolume, path: Path | None) -> str:
    mid, low, high = v.with_gb_day
    return (f"With the {v.filters} noise filter(s) of {path}: the whole 4688 stream is {number(mid, trim=True)} "
            f"GB/day p50 [{number(low, trim=True)}–{number(high, trim=True)}] instead of "
            f"{number(v.gb_day_p50, trim=True)} [{number(v.gb_day_p10, trim=True)}–{number(v.gb_day_p90, trim=True)}]; "
            f"the filters drop {number(v.share * 100, trim=True)}% "
            f"[{number(v.share_low * 100, trim=True)}–{number(v.share_high * 100, trim=True)}] of the sampled volume.")


@main.command("project")
@store_option("The store with the estimates `auditplan estimate` saved.")
@click.option("--siem", "siems", multiple=True, metavar="NAME",
              help="SIEM profile to project for; repeat for several. Default: [plan] default_siem (splunk-xml).")
@click.option("--all-profiles", is_flag=True, help="Project for every SIEM profile of the config, with a comparison.")
@click.option("--price-per-gb", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Price of one GB in the profile's unit (overrides the profile; default: unknown, cost n/a).")
@click.option("--currency", default=None, help="Currency label for costs (default: the profile's, USD).")
@click.option("--retention-days", type=click.FloatRange(min=0), default=None,
              help="Days the SIEM keeps events, for 'GB held' (default: [plan] retention_days, 90).")
@click.option("--min-local-hours", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Hours of local Security log history each host should keep (default: [local_log], 168 = 7 days).")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A TOML file overriding [siem.NAME], [plan] and [local_log] defaults.")
@click.option("--filters", "filters_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A noise filter file (`auditplan noise --json` writes one): also show the fleet's 4688 volume "
                   "with its filters, measured on the sampled events. Example: --filters noise.json")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: per SIEM the fleet, by_role, by_site and hosts.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV: one row per SIEM and host.")
def project_command(db: Path | None, siems: tuple[str, ...], all_profiles: bool, price_per_gb: float | None,
                    currency: str | None, retention_days: float | None, min_local_hours: float | None,
                    config_file: Path | None, filters_path: Path | None, as_json: bool, as_csv: bool) -> None:
    """Project the added SIEM load of 4688 with command line: events/s (mean, peak hour), GB/day,
    GB held over retention and cost/month as p10/p50/p90, per role, site and fleet; and each
    host's local Security log history after enablement against --min-local-hours.

    Hosts already auditing 4688 without the command line add only the CommandLine bytes.
    """
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    if all_profiles and siems:
        raise click.UsageError("--all-profiles already projects every profile; drop --siem")
    db = find_store(db)
    explicit = bool(siems)
    if not siems and not all_profiles:
        siems = (_default_siem(config_file),)
    with usage_error_on(ConfigError, ModelError, StoreError), working("project: simulating the fleet's load"):
        made = projections(db, siems=siems, config_file=config_file, retention_days=retention_days,
                           price_per_gb=price_per_gb, currency=currency, min_local_hours=min_local_hours)
    filtered: dict[str, FilteredVolume] = {}
    if filters_path is not None:
        with usage_error_on(ConfigError, ModelError, StoreError, EmitError):
            filters = read_filter_file(filters_path)
            filtered = {p.profile.name: filtered_volume(db, p, filters) for p in made}
    if as_json:
        doc = projections_document(made)
        for name, volume in filtered.items():
            doc["siem"][name]["filtered"] = volume.document()
        click.echo(json.dumps(doc, indent=2, sort_keys=True, allow_nan=False))
    elif as_csv:
        sys.stdout.write(projections_csv_text(made))
    else:
        console = stdout_console()
        for p in made:
            _print_projection(console, p, short=len(made) == 1 and not all_profiles)
            if p.profile.name in filtered:
                console.print(Text(_filtered_line(filtered[p.profile.name], filters_path)))
        if len(made) > 1:
            table = Table(title=escape("Fleet added load by SIEM (p50 [p10–p90])"))
            for name in ("siem", "per day", "events/s peak p90", "held p90", "cost/month"):
                table.add_column(name, justify="left" if name == "siem" else "right")
            for p in made:
                f = p.fleet.iloc[0]
                mb = 1000.0
                table.add_row(p.profile.name, _interval(f, "added_gb_day", mb),
                              number(f["added_eps_peak_p90"], trim=True),
                              _size(f["added_gb_held_p90"], mb), _interval(f, "added_cost_month"))
            console.print(table)
        if not all_profiles and not explicit:
            click.echo(f"Projected for {made[0].profile.name}, the default profile: --siem NAME for another, "
                       "--all-profiles for all, --json or --csv for every figure at full precision.", err=True)
