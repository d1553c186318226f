"""`auditplan report`: the self-contained HTML capacity report for managers."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import click

from auditplan.cli import DEFAULT_DB, main
from auditplan.cli.errors import usage_error_on
from auditplan.config import ConfigError
from auditplan.emit.detections import builtin_rules_dir, evaluate, exposure, load_rules
from auditplan.emit.gpo import PlanError
from auditplan.emit.report import MANIFEST, ReportInputs, check_plan, read_gpo_names, write_report
from auditplan.model.api import ESTIMATE_RUN, ModelError, project
from auditplan.store import Store, StoreError


def _read_plan(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise click.UsageError(f"{path}: cannot read the plan: {exc}") from None
    try:
        return check_plan(doc, str(path))
    except PlanError as exc:
        raise click.UsageError(str(exc)) from None


def _gpo_names(plan: dict[str, Any], plan_path: Path, gpo_dir: Path | None) -> dict[int, str]:
    """The GPO names `auditplan gpo` wrote for this plan: from --gpo-dir, else from a gpo/ folder
    beside plan.json (where `auditplan demo` and the default --out folders put it), if there is one."""
    folder = gpo_dir if gpo_dir is not None else plan_path.parent / "gpo"
    if gpo_dir is None and not folder.joinpath(*MANIFEST).is_file():
        return {}
    try:
        names = read_gpo_names(folder, plan)
    except ValueError as exc:
        if gpo_dir is not None:
            raise click.UsageError(f"--gpo-dir: {exc}") from None
        click.echo(f"auditplan report: warning: {exc}; showing default GPO names", err=True)
        return {}
    if gpo_dir is not None and not names:
        click.echo(f"auditplan report: warning: {folder.joinpath(*MANIFEST)} has no backup of plan "
                   f"{plan.get('plan_id')}; showing default GPO names", err=True)
    return names


def build_inputs(db: Path, plan_path: Path | None, siem: str | None, title: str, org: str | None,
                 config_file: Path | None, now: datetime, price_per_gb: float | None = None,
                 currency: str | None = None, gpo_dir: Path | None = None) -> ReportInputs:
    """Everything the report reads, from the store (and plan.json); shared with `auditplan demo`."""
    # The plan first: a malformed one fails before the store is read and the fleet simulated.
    plan = _read_plan(plan_path) if plan_path else None
    gpo_names = _gpo_names(plan, plan_path, gpo_dir) if plan and plan_path else {}
    name = siem or (plan.get("siem") if plan else None)
    with usage_error_on(ConfigError, ModelError, StoreError):
        projection = project(db, siem=name, config_file=config_file, price_per_gb=price_per_gb, currency=currency)
    with usage_error_on(StoreError), Store(db) as store:
        events = store.events_frame()
        estimates = store.load_estimates(ESTIMATE_RUN)
        survey = store.hosts_frame()
    events = events[events["event_id"] == 4688] if len(events) else events
    rules, _ = load_rules([builtin_rules_dir()])
    rates = {e.host: e.events_per_day.p50 for e in estimates}
    detections = evaluate(rules, events, rates) if len(events) else None
    defaults_text = resources.files("auditplan").joinpath("defaults.toml").read_text(encoding="utf-8")
    return ReportInputs(
        hosts=survey, projection=projection, estimates=estimates, plan=plan, detections=detections,
        exposure=exposure(events), defaults_text=defaults_text, title=title, org=org, generated_at=now,
        gpo_names=gpo_names,
    )


@main.command()
@click.option("--db", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_DB, show_default=True,
              help="The store written by survey/ingest and `auditplan estimate`.")
@click.option("--plan", "plan_path", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              help="plan.json from `auditplan plan`, for the waves, the budget and the timeline.")
@click.option("--siem", default=None, help="SIEM profile to cost (default: the plan's, else the config default). "
                                           "Example: --siem sentinel")
@click.option("--out", "out_path", type=click.Path(path_type=Path, dir_okay=False),
              default=Path("auditplan-out/report.html"), show_default=True,
              help="The HTML file; the per-host CSV is written beside it as <name>-hosts.csv.")
@click.option("--title", default="Process creation auditing: capacity report", show_default=True,
              help="Title on the first page.")
@click.option("--org", default=None, help="Organisation name shown under the title.")
@click.option("--price-per-gb", type=click.FloatRange(min=0), default=None,
              help="Price of one GB in the SIEM's unit, for the money figures (default: the profile's; 0 = unknown). "
                   "Example: --price-per-gb 4.3")
@click.option("--currency", default=None, help="Currency label for the money figures. Example: --currency EUR")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A TOML file overriding the defaults.")
@click.option("--gpo-dir", type=click.Path(path_type=Path, file_okay=False, exists=True), default=None,
              help="The --out folder of `auditplan gpo` for this plan: the waves show the GPO names written there "
                   "(default: a gpo/ folder beside plan.json if there is one, else the default-prefix names). "
                   "Example: --gpo-dir auditplan-out/gpo")
def report(db: Path, plan_path: Path | None, siem: str | None, out_path: Path, title: str, org: str | None,
           price_per_gb: float | None, currency: str | None, config_file: Path | None,
           gpo_dir: Path | None) -> None:
    """Write the one-file HTML capacity report: the verdict first, then the evidence.

    \b
    Example:
      auditplan report --plan auditplan-out/plan.json --siem splunk-xml --org "Example Corp"
    """
    if gpo_dir is not None and plan_path is None:
        raise click.UsageError("--gpo-dir needs --plan: the GPO names are matched to the plan's waves")
    inputs = build_inputs(db, plan_path, siem, title, org, config_file, datetime.now(UTC), price_per_gb, currency,
                          gpo_dir)
    html, csv_path, _ = write_report(inputs, out_path)
    click.echo(f"Wrote {html} and {csv_path}")
