"""`auditplan merge OUT.db SITE1.db ...`: the union of per-site stores, for collectors that cannot
reach one scheduler. Click only: the arguments become one store.merge.merge_stores() call."""

from __future__ import annotations

from pathlib import Path

import click

from auditplan.cli import main
from auditplan.cli.errors import usage_error_on
from auditplan.store.merge import MergeError, merge_stores
from auditplan.text import escaped


@main.command()
@click.argument("out", type=click.Path(path_type=Path, dir_okay=False))
@click.argument("stores", nargs=-1, required=True, type=click.Path(path_type=Path, dir_okay=False))
def merge(out: Path, stores: tuple[Path, ...]) -> None:
    """Merge the stores STORES (one per site) into the new store OUT.

    \b
    Host results: one per host and source; the newest survey wins, a tie goes to the store
    listed first (each tie is printed). Estimates are kept per store as `latest@SITE1.db`
    (run `auditplan estimate --db OUT` for the union); plans and projections keep their ids.
    OUT must not exist. A store of a newer schema, a corrupt or foreign file, or OUT among
    STORES: exit 2 and OUT is not written.

    \b
    Example:
      auditplan merge fleet.db lon/auditplan.db fra/auditplan.db nyc/auditplan.db
    """
    with usage_error_on(MergeError):
        summary = merge_stores(out, list(stores))
    for tie in summary.ties:
        click.echo(f"tie: {escaped(tie.host)} ({tie.source}) collected at the same instant in {escaped(tie.kept)} and "
                   f"{escaped(tie.dropped)}; kept {escaped(tie.kept)} (the store listed first)", err=True)
    taken = ", ".join(f"{escaped(origin)}: {summary.per_origin.get(origin, 0)}" for origin in summary.inputs)
    click.echo(f"merge: {summary.results} host result(s) from {len(summary.inputs)} store(s) ({taken}); "
               f"{summary.superseded} older or tied result(s) left out, {len(summary.ties)} tie(s); "
               f"{len(summary.estimate_runs)} estimate run(s) kept per store, {summary.documents} document(s) "
               f"-> {escaped(str(out))}")
    if summary.estimate_runs:
        click.echo("estimates are kept per store; run `auditplan estimate --db "
                   f"{escaped(str(out))}` for the merged fleet", err=True)
