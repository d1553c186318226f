"""`auditplan forwarding`: per-wave collection configs (WEF, Splunk, Sentinel, Winlogbeat) with noise filters."""

from __future__ import annotations

from pathlib import Path

import click

from auditplan.cli import main
from auditplan.cli.chain import accept_edited_plan_option, announce_plan_edits, find_plan, find_store, no_plan_message
from auditplan.cli.errors import usage_error_on
from auditplan.config import ConfigError
from auditplan.emit.api import FORWARDING_FORMATS, EmitError, PlanError, write_forwarding
from auditplan.model.api import ModelError
from auditplan.store import StoreError
from auditplan.text import terminal


def _formats(ctx: click.Context, param: click.Parameter, value: str) -> tuple[str, ...]:
    chosen = tuple(dict.fromkeys(v.strip().lower() for v in value.split(",") if v.strip()))
    unknown = [v for v in chosen if v not in FORWARDING_FORMATS]
    if unknown or not chosen:
        raise click.BadParameter(f"{value!r}: expected a comma-separated list of {', '.join(FORWARDING_FORMATS)}")
    return chosen


@main.command()
@click.option("--plan", "plan_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              show_default="plan.json beside the store, else auditplan-out/plan.json",
              help="plan.json written by `auditplan plan`.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              show_default="forwarding/ beside plan.json",
              help="Folder: wef/, splunk/, sentinel/, winlogbeat/ and README.md go in it.")
@click.option("--format", "formats", default=",".join(FORWARDING_FORMATS), show_default=True, callback=_formats,
              help="Comma-separated formats to write. Example: --format wef,splunk")
@click.option("--filters", "filters_path", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A filter file (JSON, as `auditplan noise --json` writes) instead of the store's proposals; "
                   "each filter is checked against the detection rules and refused if any fires on what it drops.")
@click.option("--no-filters", is_flag=True, help="Forward every 4688: no noise filter.")
@click.option("--db", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="The store the plan was made from (default: auditplan.db beside the plan).")
@click.option("--rules", "rules_dirs", multiple=True, type=click.Path(path_type=Path, exists=True),
              help="More Sigma rules (files or folders) the filters must not blind. Repeatable.")
@click.option("--name-prefix", default="auditplan 4688", show_default=True,
              help="The --name-prefix given to `auditplan gpo` (the waves' computer groups are named from it).")
@accept_edited_plan_option
def forwarding(plan_path: Path | None, out_dir: Path | None, formats: tuple[str, ...], filters_path: Path | None,
               no_filters: bool, db: Path | None, rules_dirs: tuple[Path, ...], name_prefix: str,
               accept_edited_plan: bool) -> None:
    """Write the collection side of each wave: a WEF subscription, a Splunk inputs app, a Sentinel
    data collection rule and a winlogbeat.yml, with the noise filters no detection rule fires on.

    \b
    Example:
      auditplan forwarding             # the plan `auditplan plan` wrote; forwarding/ beside it
      auditplan forwarding --plan auditplan-out/plan.json --out auditplan-out/forwarding --format wef,splunk
    """
    if filters_path is not None and no_filters:
        raise click.UsageError("--filters and --no-filters exclude each other")
    if plan_path is None:
        store = find_store(db, announce=False)
        plan_path = find_plan(None, store)
        if plan_path is None:
            raise click.UsageError(no_plan_message(store))
    announce_plan_edits("forwarding", plan_path, accept_edited_plan, db)
    if out_dir is None:
        out_dir = plan_path.parent / "forwarding"
    with usage_error_on(PlanError, StoreError, ConfigError, ModelError, EmitError):
        written = write_forwarding(plan_path, out_dir, formats=formats, filters_path=filters_path,
                                   no_filters=no_filters, db=db, rules_dirs=rules_dirs, name_prefix=name_prefix,
                                   accept_edited_plan=accept_edited_plan)
    for line in written.sizing_lines():
        click.echo(line)
    shown = "; ".join(terminal(f.label()) for f in written.filters) or "none"
    click.echo(f"filters ({terminal(written.filters_source)}): {shown}")
    click.echo(f"Wrote {len(written.files)} file(s) for {len(written.waves)} wave(s) to {out_dir} "
               f"(see {out_dir / 'README.md'})")
