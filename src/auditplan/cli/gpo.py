"""`auditplan gpo`: GPO backups and scripts per wave of a plan."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from auditplan.cli import main
from auditplan.cli.chain import accept_edited_plan_option, announce_plan_edits, find_plan, find_store, no_plan_message
from auditplan.emit.api import LOG_MAX_SIZE_MB_MAX, LOG_MAX_SIZE_MB_MIN, EmitError, GpoOptions, PlanError, write_gpo
from auditplan.text import terminal


@main.command()
@click.option("--plan", "plan_path", default=None, type=click.Path(path_type=Path, dir_okay=False),
              show_default="plan.json beside the store, else auditplan-out/plan.json",
              help="plan.json written by `auditplan plan`. Example: --plan auditplan-out/plan.json")
@click.option("--out", "out_dir", default=None, show_default="gpo/ beside plan.json",
              type=click.Path(path_type=Path, file_okay=False),
              help="Folder: backups/, wave-NN/ and README.md go in it (where `auditplan report` looks for them).")
@click.option("--domain", default="example.com", show_default=True,
              help="DNS name of the AD domain the GPOs are imported into (letters, digits, hyphens and dots).")
@click.option("--name-prefix", default="auditplan 4688", show_default=True,
              help="Start of each GPO's display name and of each wave group's name.")
@click.option("--log-max-size-mb", type=click.IntRange(LOG_MAX_SIZE_MB_MIN, LOG_MAX_SIZE_MB_MAX), default=None,
              help="Also set the Security log maximum size (EventLog policy, MB) in every wave's GPO.")
@click.option("--recommended-log-size", is_flag=True,
              help="Set the Security log maximum size each wave's plan recommends (largest host in the wave).")
@click.option("--include-failure", is_flag=True,
              help="Audit Process Creation Success and Failure (3) instead of Success (1). "
                   "The subcategory has no failure events, so this only matters for audits that check the value.")
@click.option("--process-creation-only", is_flag=True,
              help="Each wave's GPO carries Process Creation only, as before the union: a GPO with advanced "
                   "audit policy clears the host's own, so hosts whose policy is local or Windows' default lose "
                   "their other subcategories (printed per host). Default: the wave GPO carries the union of its "
                   "hosts' subcategories, and hosts whose policy comes from a domain GPO get a Process-Creation-"
                   "only GPO of their own.")
@click.option("--preserve-local", is_flag=True, hidden=True,
              help="Deprecated: carrying each host's subcategories is the default now.")
@click.option("--force", is_flag=True,
              help="Overwrite files at the paths this run writes even if auditplan did not write them, they were "
                   "edited since, or no digest of them was recorded; also delete stale earlier files that have no "
                   "recorded digest. It never writes through a symbolic link, and does not replace a folder, a "
                   "non-regular file, or an existing backup folder with one of this run's backup IDs that auditplan "
                   "did not write. Example: --out auditplan-out/gpo --force")
@accept_edited_plan_option
def gpo(plan_path: Path | None, out_dir: Path | None, domain: str, name_prefix: str, log_max_size_mb: int | None,
        recommended_log_size: bool, include_failure: bool, process_creation_only: bool, preserve_local: bool,
        force: bool, accept_edited_plan: bool) -> None:
    """Write one Import-GPO-ready GPO backup per wave, with rollout, verify and rollback scripts.

    Re-running into the same --out replaces the backups and scripts an earlier run wrote there
    (listed with their SHA-256 in .auditplan-gpo.json). A file it did not write, one of its files
    edited since, or one without a recorded SHA-256 stops the run unless --force (unless it already
    holds what the run writes); a file it no longer writes that is not provably unchanged is kept
    and reported. Nothing is written or deleted through a symbolic link, and a file is replaced,
    never written into. A second run into the same --out waits up to 10 s for the first (lock file
    .auditplan-gpo.lock in --out), then stops with exit code 2.

    \b
    Example:
      auditplan gpo --domain corp.example.com      # the plan `auditplan plan` wrote; gpo/ beside it
      auditplan gpo --plan auditplan-out/plan.json --domain corp.example.com --out auditplan-out/gpo
    """
    if plan_path is None:
        store = find_store(None, announce=False)
        plan_path = find_plan(None, store)
        if plan_path is None:
            click.echo(f"auditplan gpo: {no_plan_message(store)}", err=True)
            sys.exit(2)
    announce_plan_edits("gpo", plan_path, accept_edited_plan)
    if out_dir is None:
        out_dir = plan_path.parent / "gpo"
    if preserve_local:
        click.echo("auditplan gpo: --preserve-local is the default now (and has no effect); "
                   "--process-creation-only is the opposite", err=True)
    options = GpoOptions(domain=domain, name_prefix=name_prefix, include_failure=include_failure,
                         preserve_local=preserve_local, process_creation_only=process_creation_only,
                         log_max_size_mb=log_max_size_mb,
                         use_plan_log_size=recommended_log_size)
    try:
        outputs = write_gpo(plan_path, out_dir, options, force=force, accept_edited_plan=accept_edited_plan,
                            warn=lambda message: click.echo(f"auditplan gpo: warning: {message}", err=True))
    except (PlanError, EmitError) as exc:
        click.echo(f"auditplan gpo: {exc}", err=True)
        sys.exit(2)
    for o in outputs:
        extra = ""
        if o.losses:
            extra = f"; {len(o.losses)} host(s) lose audit subcategories"
        elif o.gains:
            extra = f"; {len(o.gains)} host(s) gain subcategories from the union (README.md)"
        elif o.kind:
            extra = "; their audit policy comes from a domain GPO: Process Creation only (README.md)"
        click.echo(f"wave {o.wave:>2}: {len(o.hosts):>4} hosts  {terminal(o.display_name)}  "
                   f"backups/{o.backup_guid}{extra}")
        for host, names in o.losses:
            # What --process-creation-only switches off, host by host (a GPO with advanced audit policy
            # clears the host's own first).
            click.echo(f"  {terminal(host)}: switches off " + ", ".join(terminal(n) for n in names))
    click.echo(f"Wrote {len(outputs)} GPO backup(s) and scripts to {out_dir} (see {out_dir / 'README.md'})")
