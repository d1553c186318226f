"""`auditplan detections`: the targeted Sigma rules, their alerts/day on the sample, and export."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import ParamSpec, TypeVar

import click
from rich.text import Text

from auditplan.cli import main
from auditplan.cli.chain import (
    DEFAULT_OUT,
    accept_edited_plan_option,
    announce_plan_edits,
    find_plan,
    find_store,
    store_option,
)
from auditplan.cli.console import echo_block, stdout_console, working
from auditplan.cli.errors import usage_error_on
from auditplan.cli.vocabulary import single_file_out
from auditplan.config import ConfigError
from auditplan.emit.api import (
    DEFAULT_MP_ID,
    DEFAULT_MP_VERSION,
    EXPORT_FORMATS,
    QUERY_FILE_NAMES,
    DetectionRun,
    EmitError,
    ExportUnavailable,
    ManagementPackInvalid,
    PlanError,
    detection_rules,
    evaluate_detections,
)
from auditplan.emit.api import export_rules as export_rule_files
from auditplan.store import StoreError
from auditplan.text import escaped, number

# The file `detections export --format F` writes by default (and inside a folder given as --out).
QUERY_FILES = QUERY_FILE_NAMES

P = ParamSpec("P")
R = TypeVar("R")


@main.group()
def detections() -> None:
    """The five targeted detection families as Sigma rules: list, evaluate on the sample, export."""


def _rules_option(f: Callable[P, R]) -> Callable[P, R]:
    return click.option(
        "--rules", "rules_dirs", multiple=True, type=click.Path(path_type=Path, exists=True),
        help="A folder (or file) of your own Sigma rules, evaluated beside the built-in five. Repeatable. "
             "Example: --rules sigma/rules/windows/process_creation",
    )(f)


def _warn(problems: tuple[str, ...], suffix: str = "") -> None:
    for problem in problems:
        click.echo(f"warning: {escaped(problem)}{suffix}", err=True)


def _shown(value: object) -> Text:
    """A table cell or line of text that came from a host, an event or a rule file: plain text (never
    Rich markup), every non-printable character shown as \\xNN (text.escaped)."""
    return Text(escaped(str(value)))


@detections.command("list")
@_rules_option
def list_rules(rules_dirs: tuple[Path, ...]) -> None:
    """List the rules: id, family, level, title and the 4688 fields each reads.

    \b
    Example:
      auditplan detections list
    """
    ruleset = detection_rules(rules_dirs)
    _warn(ruleset.problems)
    # One block per rule, not a table: the ids share their first 16 characters and titles are long, so
    # a five-column table cut or wrapped them at 80 columns.
    for n, rule in enumerate(ruleset.rules):
        if n:
            click.echo()
        family = f"family {rule.family}" if rule.family else "your rule"
        echo_block(escaped(f"{rule.title} ({family}, {rule.level or 'no level'})"),
                   [f"id {escaped(rule.id)}", "reads " + ", ".join(escaped(f) for f in sorted(rule.fields))])


def _range(r: object) -> str:
    """p50 (p10-p90), each as text.number shows it (the report's way); "n/a" when there is no range."""
    if r is None:
        return "n/a"
    return f"{number(r.p50)} ({number(r.p10)}-{number(r.p90)})"  # type: ignore[attr-defined]


def _print_run(run: DetectionRun) -> None:
    result, exposed, load = run.evaluation, run.exposure, run.workload
    minutes = load.minutes_per_alert if load else None
    # One block per rule (readable at 80 columns; a seven-column table took ~25 lines a rule there).
    for r in result.results:
        family = f"family {r.family}" if r.family else "your rule"
        hours = r.alerts_per_day_range.scaled(minutes / 60) if r.alerts_per_day_range and minutes else None
        details = [f"alerts/day (fleet): {_range(r.alerts_per_day_range)} on {len(r.hosts)} host(s); "
                   f"{r.hits} hit(s) in the sample", f"analyst hours/day: {_range(hours)}"]
        if r.top_processes:
            details.append("top processes: " + ", ".join(escaped(f"{n} ({c})") for n, c in r.top_processes[:3]))
        details += [f"note: {escaped(note)}" for note in r.notes]
        echo_block(escaped(f"{r.title} ({family})"), details)
        click.echo()
    console = stdout_console()
    console.print(_shown(f"{result.events} sampled 4688 events from {result.hosts} hosts; "
                         f"{exposed.events_with_secrets} command line(s) exposed a credential "
                         f"(redacted in the store) on {len(exposed.by_host)} host(s)."))
    if exposed.by_host:
        by_count = sorted(exposed.by_host.items(), key=lambda x: (-x[1], x[0]))
        console.print(_shown("Exposed command lines per host: " + ", ".join(f"{h} {n}" for h, n in by_count)))
    if load:
        console.print(_shown(f"All rules: {_range(load.alerts_per_day)} alerts/day, "
                             f"{_range(load.analyst_hours_per_day)} analyst hours/day at "
                             f"{number(load.minutes_per_alert)} minutes per alert ({load.basis})."))
        for w in load.waves:
            console.print(_shown(f"  wave {w.wave} ({w.name}, {w.hosts} hosts): +{_range(w.alerts_per_day)} "
                                 f"alerts/day; through this wave {_range(w.cumulative_analyst_hours_per_day)} "
                                 "analyst hours/day"))
    blind = result.hosts_without_command_line
    if blind:
        console.print(_shown(f"Command-line rules could not be evaluated on {len(blind)} host(s) whose sample has "
                             "no CommandLine: " + ", ".join(blind)))


@detections.command("evaluate")
@store_option("The store written by `auditplan survey` / `auditplan ingest`.")
@_rules_option
@click.option("--minutes-per-alert", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Analyst minutes per alert, for analyst hours/day. Default: [detections] minutes_per_alert of "
                   "the config (15, an assumption with its published range beside it in defaults.toml).")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="Your defaults override file (its [detections] minutes_per_alert is used).")
@click.option("--plan", "plan_path", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="plan.json: alerts/day and analyst hours/day per wave as the waves enable.")
@click.option("--json", "as_json", is_flag=True,
              help='Print JSON: fleet figures, per-host and fleet secret exposure, one object per rule under "rules", '
                   'alerts/day and analyst hours/day as {p10, p50, p90}, and "waves" with --plan.')
@accept_edited_plan_option
def evaluate_rules(db: Path | None, rules_dirs: tuple[Path, ...], minutes_per_alert: float | None,
                   config_file: Path | None, plan_path: Path | None, as_json: bool, accept_edited_plan: bool) -> None:
    """Run the rules over every sampled or ingested 4688 event; project alerts/day per host and fleet.

    Hits are scaled by each host's projected 4688/day (the p50 of `auditplan estimate`, else the
    sampled rate). The p10-p90 range comes from the number of hits (an exact Poisson interval; with no
    hit, the rule of three at 90 %), so a rule that never fired in a small sample still shows how many
    alerts a day it could raise. Analyst hours/day = alerts/day x minutes per alert. Hosts whose sample
    has no CommandLine are named, and left out of the alerts/day of rules that read it. Command lines in
    the store are already redacted; secrets are counted, never shown.

    \b
    Example:
      auditplan detections evaluate --db auditplan-out/auditplan.db --plan auditplan-out/plan.json --json
    """
    db = find_store(db)
    announce_plan_edits("detections evaluate", plan_path, accept_edited_plan, db)
    with usage_error_on(StoreError, EmitError, PlanError, ConfigError), \
            working("detections: evaluating the rules on the sample"):
        run = evaluate_detections(db, rules_dirs, minutes_per_alert=minutes_per_alert, config_file=config_file,
                                  plan_path=plan_path, accept_edited_plan=accept_edited_plan)
    _warn(run.problems)
    for warning in run.evaluation.warnings:
        click.echo(f"WARNING: {escaped(warning)}", err=True)
    if as_json:
        click.echo(json.dumps(run.document(), indent=2))
    else:
        _print_run(run)


@detections.command("export")
@click.option("--format", "fmt", type=click.Choice(EXPORT_FORMATS), default="sigma", show_default=True,
              help="sigma: the rule files; scom: an unsealed management pack; splunk / kusto / elastic: queries "
                   "through the pySigma backend, if installed.")
@click.option("--out", "out_path", default=None,
              help="sigma: Folder for the rule files (default auditplan-out/detections). scom: File, the .xml "
                   "(or a folder for <mp-id>.xml; default auditplan-out/detections/). splunk / kusto / elastic: File "
                   "for the queries (default auditplan-out/detections.spl, .kql, -elastic.txt; an existing folder "
                   "or a path ending in / gets that name inside it).")
@click.option("--mp-id", default=DEFAULT_MP_ID, show_default=True,
              help="scom: the management pack ID (letters, digits, '.', '_').")
@click.option("--mp-version", default=DEFAULT_MP_VERSION, show_default=True, help="scom: the management pack version.")
@click.option("--plan", "plan_path", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="scom: plan.json; the rules are enabled (by override) on the hosts of waves 0..--through-wave "
                   "(default: the plan `auditplan plan` wrote beside the store, if any).")
@click.option("--through-wave", type=click.IntRange(0), default=0, show_default=True,
              help="scom: the last wave already rolled out (0 = the pilot only).")
@_rules_option
@accept_edited_plan_option
def export_rules(fmt: str, out_path: str | None, mp_id: str, mp_version: str, plan_path: Path | None,
                 through_wave: int, rules_dirs: tuple[Path, ...], accept_edited_plan: bool) -> None:
    """Write the rules as Sigma YAML, a SCOM management pack, or SIEM queries.

    \b
    Examples:
      auditplan detections export --out auditplan-out/detections
      auditplan detections export --format scom --plan auditplan-out/plan.json --through-wave 1 --out mp.xml
      auditplan detections export --format splunk --out auditplan-out/detections.spl
    """
    if fmt == "scom":
        plan_path = find_plan(plan_path, find_store(None, announce=False))
        announce_plan_edits("detections export", plan_path, accept_edited_plan)
    if fmt in ("sigma", "scom"):
        out = Path(out_path) if out_path is not None else DEFAULT_OUT / "detections"
    else:
        name = QUERY_FILES.get(fmt, f"detections-{fmt}.txt")
        out = single_file_out(out_path, name) if out_path is not None else DEFAULT_OUT / name
    try:
        with usage_error_on(PlanError, EmitError):
            done = export_rule_files(fmt, out, rules_dirs=rules_dirs, mp_id=mp_id, mp_version=mp_version,
                                     plan_path=plan_path, through_wave=through_wave,
                                     accept_edited_plan=accept_edited_plan)
    except ManagementPackInvalid as exc:
        click.echo(f"auditplan detections export: {exc}", err=True)
        sys.exit(1)
    except ExportUnavailable as exc:
        click.echo(f"auditplan detections export: {exc}", err=True)
        sys.exit(2)
    _warn(done.skipped, "; skipped")
    for note in done.notes:
        click.echo(f"note: {escaped(note)}", err=True)
    if fmt == "sigma":
        click.echo(f"Wrote {done.count} Sigma rule(s) to {done.path}")
    elif fmt == "scom":
        click.echo(f"Wrote the management pack to {done.path}; rules are disabled except on the "
                   f"{len(done.enabled_hosts)} host(s) of rolled-out waves (override).")
    else:
        click.echo(f"Wrote {done.count} {fmt} quer{'y' if done.count == 1 else 'ies'} to {done.path}")
