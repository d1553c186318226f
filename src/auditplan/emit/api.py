"""The emit stage's front door: what the CLI (and other stages) call to write GPOs, forwarding
configuration, the report and detections. Outside emit/, only this module is imported."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

# GPO block imports (emit/gpo.py); names re-exported for cli/gpo.py are written `X as X`.
from auditplan.emit.gpo import DEFAULT_BACKUP_TIME as DEFAULT_BACKUP_TIME
from auditplan.emit.gpo import GpoOptions as GpoOptions
from auditplan.emit.gpo import WaveOutput as WaveOutput
from auditplan.emit.gpo import validate_domain as validate_domain
from auditplan.emit.gpo import write_backups
from auditplan.emit.gpo_outdir import OutputConflict as OutputConflict
from auditplan.records import LOG_MAX_SIZE_MB_MAX as LOG_MAX_SIZE_MB_MAX
from auditplan.records import LOG_MAX_SIZE_MB_MIN as LOG_MAX_SIZE_MB_MIN
from auditplan.records import Plan, read_plan
from auditplan.records import PlanError as PlanError

# ---- GPO backups (emit/gpo.py) ----------------------------------------------------------------
# The MODEL + PLAN helper's block: `auditplan gpo` calls write_gpo.


def write_gpo(plan: Plan | Path, out_dir: Path, options: GpoOptions | None = None, *, force: bool = False,
              warn: Callable[[str], None] | None = None) -> list[WaveOutput]:
    """One Import-GPO-ready backup per wave of `plan` (a Plan, or the path of its plan.json) with
    rollout, verify and rollback scripts, into `out_dir` (emit/gpo.py write_backups). Errors:
    PlanError (the plan), ValueError (an option, e.g. the domain), OutputConflict (what is in
    `out_dir`, a ValueError too), OSError (writing)."""
    plan = read_plan(plan) if isinstance(plan, Path) else plan
    return write_backups(plan, out_dir, options or GpoOptions(), force=force, warn=warn)
