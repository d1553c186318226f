"""`--accept-edited-plan`: what a hand edit of plan.json changed, so that an admin sees what the GPOs,
report or SCOM overrides will carry that `auditplan plan` did not plan.

The plan_id is a digest: the original cannot be rebuilt from it. But `auditplan plan` saves every
plan.json it writes in the store beside it under its plan_id (model/stored.py), so the edited file is
compared with that copy, field by field and host by host (records/plan_edits.py). Without it (the
plan was copied without its store, or the store was replaced), the comparison is with the latest
plan the store holds, and says so; with no plan in the store at all, only the ids can be shown.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from auditplan.records import parse_plan, read_plan_document
from auditplan.records.plan_edits import plan_edits
from auditplan.records.plan_sums import sum_problems

STORE_NAME = "auditplan.db"


@dataclass(frozen=True)
class PlanEdits:
    """An edited plan.json and what differs from the plan it is compared with."""

    path: Path
    plan_id: str  # as written in the file: the plan it was edited from
    content_id: str  # the id its content has now (the same when the editor recomputed it)
    compared_with: str | None  # which plan the changes are against (None: nothing to compare with)
    changes: tuple[str, ...]  # one line each; empty when compared_with is None
    unsummed: tuple[str, ...]  # figures that do not add up as `auditplan plan` writes them (plan_sums.py)

    def lines(self) -> list[str]:
        """The warning a command prints before using the plan: one line, then one per change."""
        ids = (f"plan_id {self.plan_id}, recomputed by whoever edited it" if self.content_id == self.plan_id
               else f"plan_id {self.plan_id}, its content now {self.content_id}")
        head = f"{self.path} was edited after `auditplan plan` wrote it ({ids}); used as edited (--accept-edited-plan)"
        sums = [f"  figures as edited, not as planned: {u}" for u in self.unsummed]
        if self.compared_with is None:
            return [head + "; what changed cannot be shown: no store beside it holds a plan to compare with "
                           "(keep auditplan.db with plan.json, or give --db)", *sums]
        return [f"{head}; against {self.compared_with}:", *(f"  {c}" for c in self.changes), *sums]


def edited_plan(plan_path: Path, db: Path | None = None) -> PlanEdits | None:
    """None when plan.json at `plan_path` is as `auditplan plan` wrote it; else what its edit
    changed, compared with the plan `auditplan plan` saved under its plan_id in `db` (default:
    auditplan.db beside the plan), else with the latest plan there. PlanError for a plan.json that
    is unreadable for any other reason (the same checks as read_plan); StoreError for a store that
    cannot be read."""
    from auditplan.model import api as model

    raw = read_plan_document(plan_path)
    plan = parse_plan(raw, str(plan_path), accept_edited=True)
    if plan.edited_id is None:
        return None
    unsummed = tuple(sum_problems(plan))
    store = db if db is not None else plan_path.parent / STORE_NAME
    original = latest = None
    if store.is_file():
        original = model.stored_plan_document(store, plan.plan_id)
        latest = None if original is not None else model.stored_plan_document(store, model.PLAN_LATEST)
    if original is not None:
        against, reference = f"plan {plan.plan_id} as `auditplan plan` saved it in {store}", original
    elif latest is not None:
        against = (f"the latest plan in {store} ({latest.get('plan_id')}), NOT the original: {store} does not "
                   f"hold plan {plan.plan_id}")
        reference = latest
    else:
        return PlanEdits(plan_path, plan.plan_id, plan.edited_id, None, (), unsummed)
    return PlanEdits(plan_path, plan.plan_id, plan.edited_id, against, tuple(plan_edits(raw, reference)), unsummed)
