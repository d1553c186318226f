"""`auditplan report`: the self-contained HTML capacity report for managers."""

from __future__ import annotations

from pathlib import Path

import click

from auditplan.cli import main
from auditplan.cli.chain import accept_edited_plan_option, announce_plan_edits, find_plan, find_store, store_option
from auditplan.cli.console import working
from auditplan.cli.errors import usage_error_on
from auditplan.cli.vocabulary import single_file_out
from auditplan.emit.api import DEFAULT_TITLE
from auditplan.text import escaped

REPORT_NAME = "report.html"


@main.command()
@store_option("The store written by survey/ingest and `auditplan estimate`.")
@click.option("--plan", "plan_path", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              show_default="plan.json beside the store, else auditplan-out/plan.json",
              help="plan.json from `auditplan plan`, for the waves, the budget and the timeline; the report shows "
                   "the projection `auditplan plan` stored with it.")
@click.option("--siem", default=None, help="SIEM profile to cost (default: the plan's, else the config default). "
                                           "Example: --siem sentinel")
@click.option("--out", "out_path", default=None, show_default="report.html beside the plan, else beside the store",
              help="File: the HTML report; the per-host CSV is written beside it as <name>-hosts.csv. An existing "
                   "folder, or a path ending in /, gets report.html inside it. Example: --out reports/")
@click.option("--title", default=DEFAULT_TITLE, show_default=True, help="Title on the first page.")
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
@accept_edited_plan_option
def report(db: Path | None, plan_path: Path | None, siem: str | None, out_path: str | None, title: str, org: str | None,
           price_per_gb: float | None, currency: str | None, config_file: Path | None,
           gpo_dir: Path | None, accept_edited_plan: bool) -> None:
    """Write the one-file HTML capacity report: the verdict first, then the evidence.

    With --plan, the report shows the projection the plan was made with; --siem, --price-per-gb,
    --currency or --config that differ from it make the report compute its own (and say so).

    \b
    Example:
      auditplan report                      # the store, plan.json and gpo/ in auditplan-out/
      auditplan report --plan auditplan-out/plan.json --siem splunk-xml --org "Example Corp"
    """
    db = find_store(db)
    plan_path = find_plan(plan_path, db)
    if plan_path is None:
        click.echo("auditplan report: no plan.json beside the store or in auditplan-out/: the report shows no waves "
                   "(run `auditplan plan --budget-gb-day N` first, or give --plan FILE)", err=True)
    if out_path is not None:
        out = single_file_out(out_path, REPORT_NAME)
    else:
        out = (plan_path.parent if plan_path is not None else db.parent) / REPORT_NAME
    announce_plan_edits("report", plan_path, accept_edited_plan, db)
    click.echo(f"auditplan report: writing {out} ...", err=True)
    # Imported here, not at the top: `auditplan report --help` should not load pandas and the model.
    from auditplan.config import ConfigError
    from auditplan.emit.api import EmitError, PlanError, write_report
    from auditplan.model.api import ModelError
    from auditplan.store import StoreError

    with usage_error_on(PlanError, StoreError, ConfigError, ModelError, EmitError), \
            working("report: reading the store, projecting, evaluating detections, drawing charts"):
        written = write_report(db, out, plan_path=plan_path, siem=siem, title=title, org=org,
                               config_file=config_file, price_per_gb=price_per_gb, currency=currency, gpo_dir=gpo_dir,
                               accept_edited_plan=accept_edited_plan)
    for warning in written.warnings:
        click.echo(f"auditplan report: warning: {escaped(warning)}", err=True)
    click.echo(f"Wrote {written.html} and {written.csv}")
