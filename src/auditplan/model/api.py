"""The model stage's front door: estimate, project and plan, from a store to records and files.

Plain functions: no click, no printing. Each takes the store as an open `Store` (the caller's,
left open) or its path (opened once here, for the whole call) and raises the library's own
errors with one-line messages naming the file: ModelError (no store, no estimates, a file it
cannot read or write), ConfigError (the config or an option's value), PlanError (plan options),
StoreError (the store). Outside model/, only this module is imported (.importlinter).
"""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from auditplan.config import Config, ConfigError
from auditplan.inventory import InventoryError, read_exclude
from auditplan.model.errors import ModelError
from auditplan.model.estimate import estimate_hosts
from auditplan.model.local_log import LocalLogSettings
from auditplan.model.noise import EMPTY as NOISE_EMPTY
from auditplan.model.noise import FILTER_FIELDS as FILTER_FIELDS
from auditplan.model.noise import FLEET as NOISE_FLEET
from auditplan.model.noise import FilteredVolume, NoiseRanking, PairShare, ScopeTotals, noise_ranking
from auditplan.model.noise import filtered_volume as filtered_volume_of
from auditplan.model.output import (
    FLEET_ROW,
    LocalHistory,
    capacity_units,
    change_summary,
    estimate_csv_text,
    estimate_fleet,
    estimate_row,
    local_history,
    projections_csv_text,
    projections_document,
)
from auditplan.model.plan_csv import plan_csv_text
from auditplan.model.plan_totals import PlanTotal, plan_totals
from auditplan.model.planner import BUDGET_EPS, BUDGET_GB_DAY, EnabledLoad, PlanOptions, enabled_load
from auditplan.model.planner import plan as plan_waves
from auditplan.model.priors import load_priors
from auditplan.model.project import (
    Projection,
    fleet_events_day,
)
from auditplan.model.project import project as project_estimates
from auditplan.model.recalibrate import measured, recalibration
from auditplan.model.siem import (
    EPS_BASIS_MEAN,
    EPS_BASIS_PEAK,
    SiemProfile,
    config_profile,
    config_profiles,
    load_siem_profiles,
)
from auditplan.model.store_inputs import (
    ESTIMATE_RUN,
    MAKES_ESTIMATES,
    MAKES_RESULTS,
    Estimates,
    load_estimates,
    load_local_subcategories,
    opened,
)
from auditplan.model.stored import PLAN_KIND, PLAN_LATEST, earlier_plans, latest_plan, projection_record, save_plan
from auditplan.model.stored import load_plan_projection as _load_plan_projection
from auditplan.records import (
    PROJECTION_ID,
    HostEstimate,
    Plan,
    PlanError,
    Range,
    document_text,
    plan_document,
    plan_json_text,
    projection_id_of,
)
from auditplan.safe_write import UnsafePathError, write_text
from auditplan.store import Store

# Settings of the old independent-hosts fleet total, replaced by [plan] draws / seed.
RETIRED_PRIORS_KEYS: Final = frozenset({"fleet_draws", "fleet_seed"})
DEFAULT_OUT: Final = Path("auditplan-out")

__all__ = [
    "BUDGET_EPS",
    "BUDGET_GB_DAY",
    "EPS_BASIS_MEAN",
    "EPS_BASIS_PEAK",
    "ESTIMATE_RUN",
    "FLEET_ROW",
    "PLAN_LATEST",
    "ConfigError",
    "EnabledLoad",
    "EstimateRun",
    "Estimates",
    "LocalHistory",
    "ModelError",
    "PlanError",
    "PlanOptions",
    "PlanRun",
    "PlanTotal",
    "Projection",
    "SiemProfile",
    "capacity_units",
    "change_summary",
    "enabled_load",
    "estimate",
    "estimate_csv_text",
    "estimate_fleet",
    "estimate_row",
    "load_estimates",
    "load_plan_projection",
    "load_siem_profiles",
    "local_history",
    "plan",
    "plan_csv_text",
    "plan_totals",
    "plan_waves",
    "project",
    "project_estimates",
    "projection_record",
    "projections",
    "projections_csv_text",
    "projections_document",
    "recalibration",
    "stored_plan_document",
]


@dataclass(frozen=True)
class EstimateRun:
    """What `estimate` saved: per-host estimates and the fleet total's range."""

    estimates: list[HostEstimate]
    fleet: Range | None  # None when the store holds no hosts
    draws: int
    seed: int
    run: str  # the store label they were saved under
    warnings: tuple[str, ...] = ()

    def rows(self) -> list[dict[str, Any]]:
        """One row per host, as `auditplan estimate --json / --csv` prints them."""
        return [estimate_row(e) for e in self.estimates]

    def fleet_row(self) -> dict[str, Any] | None:
        """The fleet total with its method (None when the store holds no hosts)."""
        return None if self.fleet is None else estimate_fleet(self.fleet, len(self.estimates), self.draws, self.seed)

    def document(self) -> dict[str, Any]:
        """`auditplan estimate --json`: {"hosts": [...], "fleet": {...}}."""
        return {"hosts": self.rows(), "fleet": self.fleet_row()}

    def csv_text(self) -> str:
        """`auditplan estimate --csv` (and the demo's estimates.csv): one row per host, then the
        fleet total; "" when the store holds no hosts."""
        fleet = self.fleet_row()
        return "" if fleet is None or not self.estimates else estimate_csv_text(self.rows(), fleet)


def estimate(source: Store | Path, *, config_file: Path | None = None) -> EstimateRun:
    """Estimate every stored host's 4688/day and save the estimates under ESTIMATE_RUN; the
    fleet total comes from the Monte Carlo `project` uses ([plan] draws and seed)."""
    config = Config.load(config_file)
    load_priors(config.values)
    draws, seed = config.monte_carlo()
    warnings: list[str] = []
    retired = sorted(set(config.values.get("priors", {})) & RETIRED_PRIORS_KEYS)
    if retired:
        warnings.append(f"[priors] {', '.join(retired)} no longer read: the fleet range uses [plan] draws and seed, "
                        "as `auditplan project` does")
    with opened(source, MAKES_RESULTS) as store:
        estimates = estimate_hosts(store.load_results(), config.values)
        store.save_estimates(ESTIMATE_RUN, estimates)
    fleet = fleet_events_day(estimates, draws=draws, seed=seed) if estimates else None
    return EstimateRun(estimates, fleet, draws, seed, ESTIMATE_RUN, tuple(warnings))


def _project(config: Config, inputs: Estimates, profile: SiemProfile, *, retention_days: float | None,
             price_per_gb: float | None, currency: str | None, min_local_hours: float | None) -> Projection:
    retention = retention_days if retention_days is not None else config.plan_number("retention_days", 90.0)
    draws, seed = config.monte_carlo()
    settings = LocalLogSettings.from_config(config.values, min_local_hours)
    result = project_estimates(inputs.estimates, profile, retention_days=retention, price_per_gb=price_per_gb,
                           currency=currency, seed=seed, draws=draws, survey=inputs.survey, local_log=settings)
    return dataclasses.replace(result, config=config.values, config_sources=config.sources, estimate_run=inputs.run)


def projections(source: Store | Path, *, siems: Sequence[str] = (), config_file: Path | None = None,
                retention_days: float | None = None, price_per_gb: float | None = None, currency: str | None = None,
                min_local_hours: float | None = None) -> list[Projection]:
    """Project the stored estimates for each profile in `siems` (every profile of the config when
    empty): per host, role, site and fleet, with local log retention."""
    config = Config.load(config_file)
    load_siem_profiles(config.values)  # a bad profile is named before the store is read
    with opened(source, MAKES_ESTIMATES) as store:
        inputs = load_estimates(store)
    return [_project(config, inputs, profile, retention_days=retention_days, price_per_gb=price_per_gb,
                     currency=currency, min_local_hours=min_local_hours) for profile in config_profiles(config, siems)]


def project(source: Store | Path, *, siem: str | None = None, config_file: Path | None = None,
            retention_days: float | None = None, price_per_gb: float | None = None, currency: str | None = None,
            min_local_hours: float | None = None, inputs: Estimates | None = None) -> Projection:
    """The projection for one SIEM profile (`siem`, else [plan] default_siem). `inputs`: the store's
    estimates and hosts as `load_estimates` read them, for a caller that has them already (the store is
    then not read again)."""
    config = Config.load(config_file)
    profile = config_profile(config, siem)
    if inputs is None:
        with opened(source, MAKES_ESTIMATES) as store:
            inputs = load_estimates(store)
    return _project(config, inputs, profile, retention_days=retention_days, price_per_gb=price_per_gb,
                    currency=currency, min_local_hours=min_local_hours)


@dataclass(frozen=True)
class PlanRun:
    """A plan made, written and saved, with what the command prints about it."""

    plan: Plan  # with its plan_id
    projection: Projection  # the one it was planned with (saved with the plan)
    options: PlanOptions
    enabled: EnabledLoad  # what hosts already auditing 4688 carry
    added: float  # the plan's added load in the budget's unit (the last wave's cumulative)
    recalibration: dict[str, Any] | None  # against the store's previous plan, when it differs
    files: tuple[Path, ...]  # plan.json, plan.csv (and recalibration.json)
    warnings: tuple[str, ...] = ()  # --exclude lines skipped, stored plans that could not be read
    # The simulated total after each wave (model/plan_totals.py): the range to expect, where the
    # waves' own figures add up each host's quantile.
    totals: tuple[PlanTotal, ...] = ()

    @property
    def headroom_left(self) -> float | None:
        """The first plan's budget less what the waves of earlier plans added: the budget to give
        now if the first was the SIEM's headroom before the rollout (docs/projection.md "The budget
        on a re-plan"); None when no earlier wave shows as enabled or no first budget is known."""
        e = self.enabled
        if not e.rollout_hosts or e.first_budget is None:
            return None
        return e.first_budget - e.rollout_load

    @property
    def rollout_total(self) -> float | None:
        """What earlier waves added plus this plan's added load; None as for headroom_left."""
        return None if self.headroom_left is None else self.enabled.rollout_load + self.added

    @property
    def over_first_budget(self) -> bool:
        """Earlier waves plus this plan take the SIEM past the first plan's budget."""
        first, total = self.enabled.first_budget, self.rollout_total
        return first is not None and total is not None and total > first * (1 + 1e-9)


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename (a reader never sees half a plan); a link planted at
    the path is refused, like every output of auditplan (safe_write), not replaced."""
    try:
        write_text(path, text)
    except UnsafePathError as exc:
        raise ModelError(str(exc)) from None


def plan(source: Store | Path, *, budget_kind: str, budget: float, max_step: float | None = None,
         siem: str | None = None, quantile: str | None = None, pilot_size: int | None = None,
         max_waves: int | None = None, first: Sequence[str] = (), exclude_file: Path | None = None,
         out_dir: Path = DEFAULT_OUT, config_file: Path | None = None) -> PlanRun:
    """Plan rollout waves for the stored estimates (docs/projection.md), write plan.json, plan.csv
    and, when the store's previous plan differs, recalibration.json into `out_dir`, and save the
    plan and the projection it used in the store. `max_step` defaults to [plan]
    default_step_fraction of `budget`; `siem` and `quantile` to [plan] default_siem and quantile."""
    config = Config.load(config_file)
    load_siem_profiles(config.values)
    with opened(source, MAKES_ESTIMATES) as store:
        inputs = load_estimates(store)
        fraction = config.step_fraction()  # checked even when --max-step is given, as before
        step = max_step if max_step is not None else budget * fraction
        exclude, notes = _exclude(exclude_file)
        profile = config_profile(config, siem)
        options = PlanOptions(budget_kind=budget_kind, budget=budget, max_step=step,
                              quantile=quantile or str(config.plan_setting("quantile", "p90")),
                              pilot_size=pilot_size, max_waves=max_waves, first=tuple(first), exclude=exclude)
        projection = _project(config, inputs, profile, retention_days=None, price_per_gb=None, currency=None,
                              min_local_hours=None)
        planned = plan_waves(projection, options, survey=inputs.survey,
                             local_subcategories=load_local_subcategories(store))
        document = plan_document(planned)
        # plan.json names the projection it was made with (outside plan_id: docs/plan-json.md), so a
        # later run of the same plan with another config or price cannot replace what it shows.
        # Serialised once: the digest and the store take the same text (35 MB at 100,000 hosts).
        stored_projection = document_text(projection_record(projection, document["plan_id"]).to_document())
        document[PROJECTION_ID] = projection_id_of(stored_projection)
        planned = dataclasses.replace(planned, plan_id=document["plan_id"], projection_id=document[PROJECTION_ID])
        files = [out_dir / "plan.json", out_dir / "plan.csv"]
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
            _write_atomic(files[0], plan_json_text(document))
            _write_atomic(files[1], plan_csv_text(planned))
        except OSError as exc:
            raise ModelError(f"{out_dir}: cannot write the plan: {exc.strerror or exc}") from None
        warnings = list(notes)
        enabled = enabled_load(projection, options, earlier_plans(store, planned.plan_id, warnings))
        previous = latest_plan(store, warnings)
        recal = None
        if previous is not None and previous.plan_id != planned.plan_id:
            recal = recalibration(previous, planned, measured(inputs.estimates))
            files.append(out_dir / "recalibration.json")
            try:
                _write_atomic(files[-1], json.dumps(recal, indent=2, sort_keys=True) + "\n")
            except OSError as exc:
                raise ModelError(f"{out_dir}: cannot write the plan: {exc.strerror or exc}") from None
        save_plan(store, document, stored_projection)
    added = sum(w.load.budget for w in planned.waves if w.load is not None and w.load.budget is not None)
    totals = plan_totals(projection, [(w.number, [h.host for h in w.hosts]) for w in planned.waves])
    return PlanRun(planned, projection, options, enabled, float(added), recal, tuple(files), tuple(warnings),
                   tuple(totals))


def _exclude(path: Path | None) -> tuple[dict[str, str], list[str]]:
    if path is None:
        return {}, []
    try:
        return read_exclude(path)
    except InventoryError as exc:
        raise ModelError(str(exc)) from None


def load_plan_projection(source: Store | Path, plan: Plan | str, projection_id: str | None = None
                         ) -> Projection | None:
    """The projection `auditplan plan` saved with this plan.json, rebuilt with its frames: the one
    its projection_id names (`plan` a Plan, or its plan_id with `projection_id`). A plan without one
    (written before plans named their projection) gets the one saved under its plan_id. None when
    the store has none for it (a plan made before projections were saved, or not in this store)."""
    plan_id, named = (plan.plan_id, plan.projection_id) if isinstance(plan, Plan) else (plan, projection_id)
    with opened(source, MAKES_ESTIMATES) as store:
        return _load_plan_projection(store, plan_id, named)



def stored_plan_document(source: Store | Path, plan_id: str) -> dict[str, Any] | None:
    """The plan.json document `auditplan plan` saved in the store under `plan_id` (or PLAN_LATEST: the
    last one it saved), as it wrote it (what `--accept-edited-plan` compares an edited plan.json
    with); None when the store holds none."""
    with opened(source, MAKES_ESTIMATES) as store:
        return store.load_document(PLAN_KIND, plan_id)


def noise(source: Store | Path, *, plan: Plan | None = None, siem: str | None = None,
          config_file: Path | None = None) -> NoiseRanking:
    """(NewProcessName, ParentProcessName) pairs ranked by their share of the sampled 4688 volume and
    GB/day, per role and fleet-wide (model/noise.py), against the plan's stored projection when `plan`
    is given and the store holds it, else a projection for `siem`. ModelError when the store has no
    sampled 4688 (or no estimates)."""
    with opened(source, MAKES_ESTIMATES) as store:
        events = store.events_frame()
        stored = _load_plan_projection(store, plan.plan_id, plan.projection_id) if plan is not None else None
        projection = stored if stored is not None else project(store, siem=siem, config_file=config_file)
        return noise_ranking(events, projection, str(store.path))


def filtered_volume(source: Store | Path, projection: Projection, filters: Sequence[dict[str, str]]
                    ) -> FilteredVolume:
    """The fleet's 4688 GB/day of `projection` with and without `filters` (each: 4688 field name ->
    value, FILTER_FIELDS), from the store's sampled events; ModelError when there are none."""
    with opened(source, MAKES_ESTIMATES) as store:
        return filtered_volume_of(store.events_frame(), projection, filters, str(store.path))


__all__ += ["FILTER_FIELDS", "NOISE_EMPTY", "NOISE_FLEET", "FilteredVolume", "NoiseRanking", "PairShare",
            "ScopeTotals", "filtered_volume", "filtered_volume_of", "noise"]
