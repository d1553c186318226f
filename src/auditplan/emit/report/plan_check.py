"""TEMPORARY: plan.json as the report reads it, until records/plan.py (MODEL) validates it all."""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from auditplan.emit.gpo import PlanError, parse_plan
from auditplan.emit.model_bridge import BUDGET_EPS, BUDGET_GB_DAY, QUANTILE_CHOICES


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return {str: "a string", list: "a list", dict: "an object", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__)


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PlanError(f"{where}: expected an object, got {_json_kind(value)}")
    return value


def _number(value: object, where: str, *, positive: bool = False, nullable: bool = True) -> None:
    if value is None and nullable:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or (
            positive and value <= 0):
        wanted = "a number > 0" if positive else "a number or null"
        raise PlanError(f"{where}: expected {wanted}, got {value!r}")


def check_plan(raw: object, where: str) -> dict[str, Any]:
    """plan.json as the report reads it, or PlanError naming the file and the field.

    Schema version, waves and hosts get emit/gpo.parse_plan's checks (the same as `auditplan gpo`);
    the fields only the report reads (budget, load, cumulative, unplaced) are checked here."""
    parse_plan(raw, where)
    doc = dict(_object(raw, where))
    if doc.get("budget") is not None:
        budget = _object(doc["budget"], f"{where}: budget")
        if budget.get("kind") not in (BUDGET_GB_DAY, BUDGET_EPS):
            raise PlanError(f"{where}: budget.kind: expected {BUDGET_GB_DAY!r} or {BUDGET_EPS!r}, "
                            f"got {budget.get('kind')!r}")
        _number(budget.get("value"), f"{where}: budget.value", positive=True, nullable=False)
        if budget.get("quantile", "p90") not in QUANTILE_CHOICES:
            raise PlanError(f"{where}: budget.quantile: expected one of {', '.join(QUANTILE_CHOICES)}, "
                            f"got {budget.get('quantile')!r}")
    for i, wave in enumerate(doc["waves"]):
        for key in ("load", "cumulative"):
            if key in wave:
                for name, value in _object(wave[key], f"{where}: waves[{i}].{key}").items():
                    _number(value, f"{where}: waves[{i}].{key}.{name}")
    unplaced = doc.get("unplaced", [])
    if not isinstance(unplaced, list):
        raise PlanError(f"{where}: unplaced: expected a list, got {_json_kind(unplaced)}")
    for i, entry in enumerate(unplaced):
        entry = _object(entry, f"{where}: unplaced[{i}]")
        for key in ("host", "reason"):
            if not isinstance(entry.get(key), str):
                raise PlanError(f"{where}: unplaced[{i}].{key}: expected a string, got {_json_kind(entry.get(key))}")
    if not isinstance(doc.get("siem", ""), str | None):
        raise PlanError(f"{where}: siem: expected a string, got {_json_kind(doc['siem'])}")
    return doc


def read_report_plan(path: Path) -> dict[str, Any]:
    """Read and check plan.json; PlanError names the file."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PlanError(f"{path}: cannot read the plan: {exc}") from None
    return check_plan(doc, str(path))
