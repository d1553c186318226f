"""`auditplan project`: SIEM load, cost and local log retention once 4688 + command line are on."""

from __future__ import annotations

import json
import math
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click
import pandas as pd
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from auditplan.cli import DEFAULT_DB, main
from auditplan.cli.errors import require_store, usage_error_on
from auditplan.config import ConfigError, load_config
from auditplan.model.project import (
    METRICS,
    QUANTILES,
    SHARED_ERROR_TEXT,
    LocalLogSettings,
    Projection,
    project,
)
from auditplan.model.siem import SiemProfile, load_siem_profiles, pick_profile
from auditplan.records import HostEstimate
from auditplan.store import Store, StoreError
from auditplan.store.export import frame_records, frame_to_csv

RUN_LABEL = "latest"  # what `auditplan estimate` saves

# Columns of the per-host machine output: every METRICS x QUANTILES figure, for the whole 4688
# stream after enablement and for the added load ("added_"), then byte and local-log columns.
HOST_COLUMNS = (
    "host", "role", "site", "os_family", "source", "change",
    *(f"{metric}_{q}" for metric in METRICS for q in QUANTILES),
    *(f"added_{metric}_{q}" for metric in METRICS for q in QUANTILES),
    "peak_hour_factor", "bytes_per_event", "added_bytes_per_event",
    "log_max_size_bytes", "current_bytes_per_hour", "local_hours_p50", "local_hours_p90",
    "meets_min_local_hours", "recommended_log_max_size_mb", "log_size_capped",
)
DEFAULT_SEED = 4688
DEFAULT_DRAWS = 1000


@dataclass(frozen=True)
class Inputs:
    """What project and plan read: config, profiles, estimates and survey facts."""

    config: dict[str, Any]
    profiles: dict[str, SiemProfile]
    estimates: list[HostEstimate]
    survey: pd.DataFrame
    store_path: Path


def load_inputs(db: Path, config_file: Path | None) -> Inputs:
    """Config + profiles + the store's latest estimates; UsageError (no traceback) on bad input."""
    with usage_error_on(ConfigError):
        config = load_config(config_file)
        profiles = load_siem_profiles(config)
    require_store(db, "`auditplan survey` (or ingest) and `auditplan estimate`")
    with usage_error_on(StoreError), Store(db) as store:
        estimates = store.load_estimates(RUN_LABEL)
        survey = store.hosts_frame()
    if not estimates:
        raise click.UsageError(f"{db}: no estimates saved; run `auditplan estimate --db {db}` first")
    return Inputs(config, profiles, estimates, survey, db)


def plan_setting(config: dict[str, Any], key: str, default: Any) -> Any:
    section = config.get("plan", {})
    return section.get(key, default) if isinstance(section, dict) else default


def plan_number(config: dict[str, Any], key: str, default: float, *, minimum: float = 0.0) -> float:
    """A number of the [plan] section, or a UsageError naming `plan.KEY`."""
    value = plan_setting(config, key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < minimum:
        raise click.UsageError(f"plan.{key}: expected a number >= {minimum:g}, got {value!r}")
    return float(value)


def monte_carlo_settings(config: dict[str, Any]) -> tuple[int, int]:
    """(draws, seed) of the fleet Monte Carlo, [plan] draws and seed: `project` and `estimate` share them."""
    return int(plan_number(config, "draws", DEFAULT_DRAWS, minimum=10)), int(plan_number(config, "seed", DEFAULT_SEED))


def run_projection(
    inputs: Inputs,
    profile: SiemProfile,
    *,
    retention_days: float | None,
    price_per_gb: float | None,
    currency: str | None,
    min_local_hours: float | None,
) -> Projection:
    config = inputs.config
    if retention_days is None:
        retention_days = plan_number(config, "retention_days", 90.0)
    draws, seed = monte_carlo_settings(config)
    with usage_error_on(ConfigError):
        settings = LocalLogSettings.from_config(config, min_local_hours)
        return project(
            inputs.estimates,
            profile,
            retention_days=retention_days,
            price_per_gb=price_per_gb,
            currency=currency,
            seed=seed,
            draws=draws,
            survey=inputs.survey,
            local_log=settings,
        )


def _g(value: float, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    return f"{value:.{digits}g}"


def _interval(row: pd.Series, metric: str) -> Text:
    # Text, not str: "[a–b]" would otherwise be read as rich markup.
    if math.isnan(row[f"{metric}_p50"]):
        return Text("n/a")
    return Text(f"{_g(row[f'{metric}_p50'])} [{_g(row[f'{metric}_p10'])}–{_g(row[f'{metric}_p90'])}]")


def _group_table(title: str, frame: pd.DataFrame, currency: str) -> Table:
    table = Table(title=escape(title))
    for name in ("group", "hosts", "events/day p50", "EPS mean p50 [p10–p90]", "EPS peak p90",
                 "GB/day p50 [p10–p90]", "GB held p90", f"{currency}/month p50 [p10–p90]"):
        table.add_column(escape(name), justify="left" if name == "group" else "right")
    for group, row in frame.iterrows():
        table.add_row(
            Text(str(group)), str(int(row["hosts"])), _g(row["added_events_day_p50"]),
            _interval(row, "added_eps_mean"), _g(row["added_eps_peak_p90"]), _interval(row, "added_gb_day"),
            _g(row["added_gb_held_p90"]), _interval(row, "added_cost_month"),
        )
    return table


def _print_projection(console: Console, p: Projection) -> None:
    prof = p.profile
    price = f"{p.price_per_gb:g} {p.currency}/GB" if p.price_per_gb else "price unknown (--price-per-gb)"
    unit = "GiB (2^30 B)" if prof.gb_bytes == 2**30 else "GB (10^9 B)"
    console.print(Text(f"{prof.name}: {prof.description}; {unit}; retention {p.retention_days:g} days; {price}; "
                       f"Monte Carlo {p.draws} draws, seed {p.seed}", style="bold"))
    console.print(_group_table(f"{prof.name}: added load, fleet", p.fleet, p.currency))
    console.print(_group_table(f"{prof.name}: added load by role", p.by_role, p.currency))
    console.print(_group_table(f"{prof.name}: added load by site", p.by_site, p.currency))
    changes = change_summary(p)
    console.print("By change (sums of per-host p50 / p90 added GB/day): " + "; ".join(
        f"{name} {c['hosts']:.0f} host(s) +{_g(c['added_gb_day_p50'])} / +{_g(c['added_gb_day_p90'])}"
        for name, c in changes.items()
    ) + ("  (cmdline_only = the command line alone, on hosts already auditing 4688)" if "cmdline_only" in changes
         else ""))
    f = p.fleet.iloc[0]
    console.print(f"After enablement the fleet's whole 4688 stream is {_g(f['gb_day_p50'])} GB/day p50 "
                  f"({_g(f['eps_mean_p50'])} EPS mean); the table shows the increment over today.")
    if prof.eps_capacity > 0:
        basis = "eps_peak" if prof.eps_basis == "peak" else "eps_mean"
        console.print(f"Capacity: {_g(f[f'{basis}_p90'] / prof.eps_capacity)} unit(s) of "
                      f"{prof.eps_capacity:g} EPS ({prof.eps_basis}, p90 of the whole 4688 stream)")
    hosts = p.hosts
    short = hosts[~hosts["meets_min_local_hours"] & hosts["log_max_size_bytes"].notna()]
    console.print(f"Local Security log: {len(short)} of {int(hosts['log_max_size_bytes'].notna().sum())} surveyed "
                  f"host(s) would hold < {p.min_local_hours:g} h of history at p90 after enablement.")
    if len(short):
        table = Table(title="Hosts below the local history target (p90)")
        for name in ("host", "MaxSize MB", "hours after (p90)", "recommended MaxSize MB"):
            table.add_column(name, justify="left" if name == "host" else "right")
        for _, row in short.sort_values(["local_hours_p90", "host"]).head(20).iterrows():
            table.add_row(Text(str(row["host"])), _g(row["log_max_size_bytes"] / 2**20), _g(row["local_hours_p90"]),
                          _g(row["recommended_log_max_size_mb"]) + (" (cap)" if row["log_size_capped"] else ""))
        console.print(table)
    for warning in p.warnings:
        console.print(Text(f"warning: {warning}", style="yellow"))


def change_summary(p: Projection) -> dict[str, dict[str, float]]:
    """Hosts and added GB/day (sum of per-host p50 / p90) per kind of change: the
    `cmdline_only` row is the delta of command-line auditing alone."""
    out: dict[str, dict[str, float]] = {}
    for change, group in p.hosts.groupby("change", sort=True):
        out[str(change)] = {
            "hosts": len(group),
            "added_gb_day_p50": float(group["added_gb_day_p50"].sum()),
            "added_gb_day_p90": float(group["added_gb_day_p90"].sum()),
        }
    return out


def _json_doc(projections: list[Projection]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for p in projections:
        out[p.profile.name] = {
            "profile": {"description": p.profile.description, "gb_bytes": p.profile.gb_bytes,
                        "licence": p.profile.licence, "eps_basis": p.profile.eps_basis,
                        "eps_capacity": p.profile.eps_capacity, "sources": dict(p.profile.sources)},
            "retention_days": p.retention_days, "price_per_gb": p.price_per_gb, "currency": p.currency,
            "method": {"kind": "monte_carlo", "draws": p.draws, "seed": p.seed, "shared_error": SHARED_ERROR_TEXT},
            "min_local_hours": p.min_local_hours,
            "changes": change_summary(p),
            "fleet": frame_records(p.fleet.reset_index())[0],
            "by_role": frame_records(p.by_role.reset_index()),
            "by_site": frame_records(p.by_site.reset_index()),
            "hosts": frame_records(p.hosts[list(HOST_COLUMNS)]),
            "warnings": list(p.warnings),
        }
    return {"siem": out}


@main.command("project")
@click.option("--db", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_DB, show_default=True,
              help="The store with the estimates `auditplan estimate` saved.")
@click.option("--siem", "siems", multiple=True, metavar="NAME",
              help="SIEM profile to project for; repeat for several. Default: every profile in the config.")
@click.option("--price-per-gb", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Price of one GB in the profile's unit (overrides the profile; default: unknown, cost n/a).")
@click.option("--currency", default=None, help="Currency label for costs (default: the profile's, USD).")
@click.option("--retention-days", type=click.FloatRange(min=0), default=None,
              help="Days the SIEM keeps events, for 'GB held' (default: [plan] retention_days, 90).")
@click.option("--min-local-hours", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Hours of local Security log history each host should keep (default: [local_log], 168 = 7 days).")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A TOML file overriding [siem.NAME], [plan] and [local_log] defaults.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: per SIEM the fleet, by_role, by_site and hosts.")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV: one row per SIEM and host.")
def project_command(db: Path, siems: tuple[str, ...], price_per_gb: float | None, currency: str | None,
                    retention_days: float | None, min_local_hours: float | None, config_file: Path | None,
                    as_json: bool, as_csv: bool) -> None:
    """Project the added SIEM load of 4688 with command line: events/s (mean, peak hour), GB/day,
    GB held over retention and cost/month as p10/p50/p90, per role, site and fleet; and each
    host's local Security log history after enablement against --min-local-hours.

    Hosts already auditing 4688 without the command line add only the CommandLine bytes.
    """
    if as_json and as_csv:
        raise click.UsageError("choose one of --json and --csv")
    inputs = load_inputs(db, config_file)
    with usage_error_on(ConfigError):
        chosen = [pick_profile(inputs.profiles, name) for name in siems] if siems else list(inputs.profiles.values())
    projections = [
        run_projection(inputs, prof, retention_days=retention_days, price_per_gb=price_per_gb, currency=currency,
                       min_local_hours=min_local_hours)
        for prof in chosen
    ]
    if as_json:
        click.echo(json.dumps(_json_doc(projections), indent=2, sort_keys=True, allow_nan=False))
    elif as_csv:
        frames = [p.hosts[list(HOST_COLUMNS)].assign(siem=p.profile.name) for p in projections]
        frame = pd.concat(frames, ignore_index=True)
        sys.stdout.write(frame_to_csv(frame[["siem", *HOST_COLUMNS]]))
    else:
        console = Console()
        for p in projections:
            _print_projection(console, p)
        if len(projections) > 1:
            table = Table(title=escape("Fleet added load by SIEM (p50 [p10–p90])"))
            for name in ("siem", "GB/day", "EPS peak p90", "GB held p90", "cost/month"):
                table.add_column(name, justify="left" if name == "siem" else "right")
            for p in projections:
                f = p.fleet.iloc[0]
                table.add_row(p.profile.name, _interval(f, "added_gb_day"), _g(f["added_eps_peak_p90"]),
                              _g(f["added_gb_held_p90"]), _interval(f, "added_cost_month"))
            console.print(table)
