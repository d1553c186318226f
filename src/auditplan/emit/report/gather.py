"""Everything the report reads, from the store, plan.json and `auditplan gpo`'s output folder.

The projection is the one `auditplan plan` stored with the plan, so that a report made after a
re-run of `auditplan estimate` still shows the figures the waves were planned with; a projection
is computed for the report only when there is no plan, the plan has none stored, or the user asks
for another SIEM profile, price, currency or configuration. The report says which it shows.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditplan.config import defaults_text, load_config
from auditplan.emit.detections import builtin_rules_dir, evaluate, exposure, load_rules
from auditplan.emit.errors import NoStore, ReportError
from auditplan.emit.report import DEFAULT_TITLE
from auditplan.emit.report.gpo_names import plan_gpo_names
from auditplan.emit.report.inputs import ProjectionNote, ReportInputs, projected_rates
from auditplan.emit.report.noise_filters import noise_filters_volume
from auditplan.model.api import (
    Estimates,
    ModelError,
    Projection,
    load_estimates,
    load_plan_projection,
    project,
)
from auditplan.records import Plan, plan_number, read_plan
from auditplan.store import Store

OPTION_PRICE = "option --price-per-gb"
OPTION_CURRENCY = "option --currency"


@dataclass(frozen=True)
class ProjectionRequest:
    """What the user asked the report to cost: each None means "as planned" (or the defaults)."""

    siem: str | None = None
    config_file: Path | None = None
    price_per_gb: float | None = None  # 0 or None: the profile's price
    currency: str | None = None


def _differences(stored: Projection, asked: ProjectionRequest) -> list[str]:
    """What the user asked for that the stored projection does not have, in words."""
    out = []
    if asked.siem and asked.siem != stored.profile.name:
        out.append(f"--siem {asked.siem}, the plan's is {stored.profile.name}")
    if asked.price_per_gb and asked.price_per_gb != stored.price_per_gb:
        out.append(f"--price-per-gb {asked.price_per_gb:g}")
    if asked.currency and asked.currency != stored.currency:
        out.append(f"--currency {asked.currency}")
    if asked.config_file is not None and load_config(asked.config_file) != dict(stored.config):
        out.append(f"--config {asked.config_file}")
    return out


def _with_options(projection: Projection, config: Mapping[str, Any], sources: Mapping[str, str],
                  asked: ProjectionRequest) -> tuple[dict[str, Any], dict[str, str]]:
    """The effective config with the options that replaced a profile's price or currency."""
    effective: dict[str, Any] = copy.deepcopy(dict(config))
    named = dict(sources)
    profile = effective.get("siem", {}).get(projection.profile.name)
    for key, value, option in (("price_per_gb", asked.price_per_gb, OPTION_PRICE),
                               ("currency", asked.currency, OPTION_CURRENCY)):
        if value and isinstance(profile, dict):
            profile[key] = value
            named[f"siem.{projection.profile.name}.{key}"] = option
    return effective, named


@dataclass(frozen=True)
class ChosenProjection:
    """The projection the report shows, the note that says which it is, and its effective config."""

    projection: Projection
    note: ProjectionNote
    config: dict[str, Any]
    sources: dict[str, str]  # each config leaf's source
    # The events/s basis (mean or peak) of the SIEM profile of the projection stored with the plan, the
    # rate its planner counted, even when the report shows another; None when none is stored.
    plan_eps_basis: str | None = None


def choose_projection(store: Store, plan: Plan | None, asked: ProjectionRequest,
                      inputs: Estimates | None = None) -> ChosenProjection:
    """The plan's stored projection unless the user asked for something else; the note says which,
    and the effective config (with each value's source) is the one that projection used."""
    plan_id = plan.plan_id if plan else None
    stored = load_plan_projection(store, plan) if plan else None
    if plan_id is None:
        reason = "no plan given"
    elif stored is None:
        reason = (f"this store holds no projection of plan {plan_id} (the plan was made from another store, "
                  "or before auditplan kept projections)")
    else:
        differences = _differences(stored, asked)
        reason = "asked for " + "; ".join(differences) if differences else ""
    basis = stored.profile.eps_basis if stored is not None else None
    if stored is not None and not reason:
        note = ProjectionNote(planned=True, siem=stored.profile.name, estimate_run=stored.estimate_run or None,
                              plan_id=plan_id)
        return ChosenProjection(stored, note, dict(stored.config), dict(stored.config_sources), basis)
    siem = asked.siem or (plan.siem if plan else None)
    projection = project(store, siem=siem, config_file=asked.config_file, price_per_gb=asked.price_per_gb,
                         currency=asked.currency, inputs=inputs)
    note = ProjectionNote(planned=False, siem=projection.profile.name, estimate_run=projection.estimate_run or None,
                          plan_id=plan_id, reason=reason)
    config, sources = _with_options(projection, projection.config, projection.config_sources, asked)
    return ChosenProjection(projection, note, config, sources, basis)


def gather(db: Path, *, plan_path: Path | None = None, asked: ProjectionRequest = ProjectionRequest(),
           title: str = DEFAULT_TITLE, org: str | None = None, gpo_dir: Path | None = None,
           now: datetime | None = None, accept_edited_plan: bool = False) -> ReportInputs:
    """Everything the report shows; PlanError, StoreError, ConfigError, NoStore or ReportError on bad input,
    ModelError when a projection cannot be made (e.g. no estimates)."""
    if gpo_dir is not None and plan_path is None:
        raise ReportError("--gpo-dir needs --plan: the GPO names are matched to the plan's waves")
    # The plan first: a malformed one fails before the store is read and the fleet simulated.
    plan = read_plan(plan_path, accept_edited=accept_edited_plan) if plan_path else None
    warnings: list[str] = []
    gpo_names: dict[int, str] = {}
    if plan and plan_path:
        gpo_names, warnings = plan_gpo_names(plan, plan_path, gpo_dir)
    if not db.is_file():
        raise NoStore(f"{db}: no store here; run `auditplan survey` (or ingest) and `auditplan estimate` first")
    with Store(db) as store:
        # Read once: the estimates and hosts serve both the projection (when one is computed) and the report.
        try:
            inputs: Estimates | None = load_estimates(store)
        except ModelError:
            inputs = None  # no estimates: project() says so, after checking the options it was given
        chosen = choose_projection(store, plan, asked, inputs)
        projection, note = chosen.projection, chosen.note
        if plan is not None and plan.edited_id is not None:  # read with --accept-edited-plan: the report says so
            note = dataclasses.replace(note, edited_id=plan.edited_id)
        # No estimates (inputs None) gets this far only with a plan's stored projection.
        estimates, survey = (inputs.estimates, inputs.survey) if inputs else ([], store.hosts_frame())
        events = store.events_frame()
    events = events[events["event_id"] == 4688] if len(events) else events
    rules, _ = load_rules([builtin_rules_dir()])
    filtered = noise_filters_volume(plan_path, events, projection, rules, warnings)
    rates = {e.host: e.events_per_day.p50 for e in estimates} | projected_rates(projection)
    detections = evaluate(rules, events, rates) if len(events) else None
    return ReportInputs(
        hosts=survey, projection=projection, estimates=estimates, plan=plan, detections=detections,
        exposure=exposure(events), defaults_text=defaults_text(), title=title, org=org,
        generated_at=now or datetime.now(UTC), gpo_names=gpo_names, config=chosen.config,
        config_sources=chosen.sources, projection_note=note, warnings=tuple(warnings),
        plan_eps_basis=chosen.plan_eps_basis, noise_filters=filtered,
        recalibration=_recalibration(plan, plan_path),
    )


def _recalibration(plan: Plan | None, plan_path: Path | None) -> dict[str, Any] | None:
    """recalibration.json beside plan.json if it describes this plan (its "now" loads are this plan's waves'):
    a file left from an earlier plan run is not shown."""
    if plan is None or plan_path is None:
        return None
    path = plan_path.parent / "recalibration.json"
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(doc, dict) or not isinstance(doc.get("waves"), list):
        return None
    loads = {w.number: plan_number(w.load.gb_day_p90) if w.load else None for w in plan.waves}
    for w in doc["waves"]:
        now = (w.get("now") or {}).get("gb_day_p90") if isinstance(w, dict) else None
        if w.get("wave") in loads and now != loads[w["wave"]]:
            return None
    return doc

