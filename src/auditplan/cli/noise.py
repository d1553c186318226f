"""`auditplan noise`: which processes make the 4688 volume, and the suppressions that are safe."""

from __future__ import annotations

import json
from pathlib import Path

import click

from auditplan.cli import main
from auditplan.cli.chain import accept_edited_plan_option, announce_plan_edits, find_plan, find_store, store_option
from auditplan.cli.errors import usage_error_on
from auditplan.config import ConfigError
from auditplan.emit.api import EmitError, NoiseReport, PlanError, noise_report
from auditplan.model.api import ModelError
from auditplan.store import StoreError
from auditplan.text import number, percent, terminal


def _name(path: str, width: int = 44) -> str:
    text = terminal(path)
    return text if len(text) <= width else "..." + text[-(width - 3):]


def _money(report: NoiseReport, gb: float) -> str:
    value = report.money(gb)
    return f"{number(value)} {report.ranking.currency}/month" if value is not None else "price unknown"


def table_lines(report: NoiseReport, top: int) -> list[str]:
    """The noise table as a terminal shows it."""
    r = report.ranking
    lines = [f"4688 volume by (NewProcessName, ParentProcessName), {r.siem} profile; share with its 90% range "
             f"(Wilson, on the effective sample size); {r.events} sampled 4688s"]
    for t in r.totals:
        lines.append("")
        lines.append(f"{t.scope}: {t.sampled_events} sampled events from {t.sampled_hosts} of {t.hosts} host(s), "
                     f"effective n {number(t.effective_n)}; 4688 volume {number(t.gb_day_p50)} GB/day "
                     f"(p10..p90 {number(t.gb_day_p10)}..{number(t.gb_day_p90)})")
        for p in r.scope(t.scope)[:top]:
            share = (f"{percent(p.share, digits=1)} "
                     f"({percent(p.share_low, digits=1)}..{percent(p.share_high, digits=1)})")
            gb = f"{number(p.gb_day_p50)} GB/day ({number(p.gb_day_low)}..{number(p.gb_day_high)})"
            names = f"{_name(p.new_process_name)} <- {_name(p.parent_process_name, 36)}"
            lines.append(f"  {share:>20}  {gb:>34}  n={p.events:<3} {names}")
    lines += ["", f"Suppressions proposed (checked against {len(report.rules)} enabled rule(s)):"]
    for i, proposal in enumerate(report.proposals, 1):
        pair, verdict = proposal.pair, proposal.verdict
        mark = "ACCEPT" if verdict.accepted else "REFUSE"
        lines.append(f"  {i}. {mark} {_name(pair.new_process_name)} <- {_name(pair.parent_process_name, 36)}: "
                     f"{number(pair.gb_day_p50)} GB/day; {terminal(verdict.reason)}")
    if not report.proposals:
        lines.append("  none: no pair was seen often enough to propose")
    mid, low, high = report.saving()
    lines.append(f"Saving of the accepted filters: {number(mid)} GB/day ({number(low)}..{number(high)}), "
                 f"{_money(report, mid)}")
    return lines


@main.command()
@store_option("The store with sampled 4688 events and estimates.")
@click.option("--plan", "plan_path", type=click.Path(path_type=Path, dir_okay=False, exists=True), default=None,
              show_default="plan.json beside the store, if there is one",
              help="plan.json: cost with the projection the plan was made with (a plan from another store is "
                   "costed with a fresh projection).")
@click.option("--siem", default=None, help="SIEM profile to cost (default: the plan's, else the config default).")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A TOML file overriding the defaults (e.g. the price).")
@click.option("--rules", "rules_dirs", multiple=True, type=click.Path(path_type=Path, exists=True),
              help="More Sigma rules (files or folders) the filters must not blind. Repeatable.")
@click.option("--top", type=click.IntRange(1, 100), default=10, show_default=True, help="Pairs shown per scope.")
@click.option("--json", "as_json", is_flag=True,
              help="Print the ranking and proposals as JSON; its \"filters\" are what `forwarding --filters` reads.")
@accept_edited_plan_option
def noise(db: Path | None, plan_path: Path | None, siem: str | None, config_file: Path | None,
          rules_dirs: tuple[Path, ...], top: int, as_json: bool, accept_edited_plan: bool) -> None:
    """Rank the processes that make the 4688 volume (per role and fleet-wide, with how sure each share
    is) and propose suppressions of the top benign ones, each refused if a detection rule fires on it.

    \b
    Example:
      auditplan noise                  # the store in auditplan-out/ and the plan beside it
      auditplan noise --db auditplan-out/auditplan.db --json > filters.json
    """
    db = find_store(db)
    plan_path = find_plan(plan_path, db)
    announce_plan_edits("noise", plan_path, accept_edited_plan, db)
    with usage_error_on(PlanError, StoreError, ConfigError, ModelError, EmitError):
        report = noise_report(db, plan_path=plan_path, rules_dirs=rules_dirs, config_file=config_file, siem=siem,
                              accept_edited_plan=accept_edited_plan)
    if as_json:
        click.echo(json.dumps(report.document(top), indent=2))
        return
    for line in table_lines(report, top):
        click.echo(line)
