"""Defaults that chain: each command finds what the previous step wrote in auditplan-out/, and says which.

`survey`/`ingest` write the store, `plan` writes plan.json beside it, `gpo` writes gpo/ beside plan.json,
`report` writes report.html beside the plan. A command that reads them without being told (no --db,
--plan) looks here, in this order, and prints one line on stderr naming what it used:

- store: auditplan-out/auditplan.db, else the newest auditplan-out/*/auditplan.db (what `auditplan demo`
  writes under auditplan-out/demo/);
- plan: plan.json beside the store, else auditplan-out/plan.json.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import click

F = TypeVar("F", bound=Callable[..., Any])

# Where every command writes by default; the store and the plan are looked for here.
DEFAULT_OUT = Path("auditplan-out")
DEFAULT_DB = DEFAULT_OUT / "auditplan.db"
PLAN_NAME = "plan.json"
STORE_NAME = DEFAULT_DB.name


def _say(ctx_name: str, text: str) -> None:
    click.echo(f"{ctx_name}: {text}", err=True)


def _command_path() -> str:
    ctx = click.get_current_context(silent=True)
    return ctx.command_path if ctx is not None else "auditplan"


def find_store(given: Path | None, *, announce: bool = True) -> Path:
    """The store to read: `given`, else auditplan-out/auditplan.db, else the newest auditplan-out/*/auditplan.db
    (named on stderr), else auditplan-out/auditplan.db (whose absence the stage reports)."""
    if given is not None:
        return given
    if DEFAULT_DB.is_file():
        found = DEFAULT_DB
    else:
        candidates = sorted((p for p in DEFAULT_OUT.glob(f"*/{STORE_NAME}") if p.is_file()),
                            key=lambda p: (p.stat().st_mtime, str(p)), reverse=True)
        if not candidates:
            return DEFAULT_DB
        found = candidates[0]
        if announce and len(candidates) > 1:
            others = ", ".join(str(p) for p in candidates[1:])
            _say(_command_path(), f"{len(candidates)} stores in {DEFAULT_OUT}/; using the newest (others: {others})")
    if announce:
        _say(_command_path(), f"using the store {found} (--db to choose another)")
    return found


def plan_candidates(store: Path) -> list[Path]:
    """Where `plan` writes plan.json for this store, in the order they are looked at."""
    out = [store.parent / PLAN_NAME]
    if DEFAULT_OUT / PLAN_NAME not in out:
        out.append(DEFAULT_OUT / PLAN_NAME)
    return out


def find_plan(given: Path | None, store: Path, *, announce: bool = True) -> Path | None:
    """The plan to read: `given`, else plan.json beside the store, else auditplan-out/plan.json (named on
    stderr); None when there is none."""
    if given is not None:
        return given
    for candidate in plan_candidates(store):
        if candidate.is_file():
            if announce:
                _say(_command_path(), f"using the plan {candidate} (--plan to choose another)")
            return candidate
    return None


def no_plan_message(store: Path) -> str:
    """The one-line error of a command that needs a plan and found none."""
    looked = " and ".join(str(p) for p in plan_candidates(store))
    return (f"no plan.json found ({looked}): run `auditplan plan --budget-gb-day N` first, "
            "or give --plan FILE")


def store_option(help_text: str) -> Callable[[F], F]:
    """The `--db` option of a command that reads the store: default None, found by `find_store`."""
    return click.option("--db", type=click.Path(path_type=Path, dir_okay=False), default=None,
                        show_default=f"{DEFAULT_DB}, else the newest {DEFAULT_OUT}/*/{STORE_NAME}", help=help_text)


def accept_edited_plan_option(f: F) -> F:
    """`--accept-edited-plan`, the same in every command that reads plan.json."""
    return click.option(
        "--accept-edited-plan", is_flag=True,
        help="Use a plan.json edited by hand (its content no longer matches its plan_id) instead of refusing "
             "it; first prints what the edit changed, against the copy `auditplan plan` saved in the store "
             "beside the plan (hosts added, removed or moved, figures, wave loads, budget).")(f)


def announce_plan_edits(command: str, plan_path: Path | None, accept: bool, db: Path | None = None) -> None:
    """With --accept-edited-plan and an edited plan.json: what the edit changed, on stderr, before the
    command uses the plan (docs/plan-json.md). Nothing otherwise: the command's own read refuses it."""
    if not accept or plan_path is None:
        return
    # Imported here: `auditplan --help` loads no command module but this one (test_cli_vocabulary).
    from auditplan.cli.errors import usage_error_on
    from auditplan.emit.api import PlanError, edited_plan
    from auditplan.model.api import ModelError
    from auditplan.store import StoreError
    from auditplan.text import escaped

    with usage_error_on(PlanError, StoreError, ModelError):
        edits = edited_plan(plan_path, db)
    for line in edits.lines() if edits is not None else []:
        click.echo(f"auditplan {command}: warning: {escaped(line)}", err=True)
