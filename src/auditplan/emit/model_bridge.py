"""TEMPORARY: the names emit takes from model, until `auditplan.model.api` exists on main.

MODEL is building model.api (project(), load_plan_projection(), Projection with config,
config_sources and estimate_run). Every emit module imports these names from here so that the
switch is one import line per module; this file is then deleted.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from auditplan.config import ConfigError, config_sources, load_config
from auditplan.emit.errors import EmitError
from auditplan.model.project import LocalLogSettings, Projection
from auditplan.model.project import project as _project
from auditplan.model.siem import EPS_BASIS_MEAN, EPS_BASIS_PEAK, SiemProfile, load_siem_profiles, pick_profile
from auditplan.store import Store

__all__ = [
    "EPS_BASIS_MEAN", "EPS_BASIS_PEAK", "Projection", "SiemProfile", "load_plan_projection", "load_siem_profiles",
    "pick_profile", "project", "projection_config",
]

ESTIMATE_RUN = "latest"  # the run `auditplan estimate` saves (cli/project.py RUN_LABEL)


class NoEstimates(EmitError):
    """The store holds no estimates to project."""


def _number(config: Mapping[str, Any], key: str, default: float) -> float:
    section = config.get("plan", {})
    value = section.get(key, default) if isinstance(section, Mapping) else default
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"plan.{key}: expected a number, got {value!r}")
    return float(value)


def project(store_or_db: Store | Path, *, siem: str | None = None, config_file: Path | None = None,
            price_per_gb: float | None = None, currency: str | None = None) -> Projection:
    """What cli/project.py run_projection does, from a store."""
    config = load_config(config_file)
    profiles = load_siem_profiles(config)
    section = config.get("plan", {})
    name = siem or str(section.get("default_siem", "splunk-xml") if isinstance(section, Mapping) else "splunk-xml")
    profile = pick_profile(profiles, name)
    if isinstance(store_or_db, Store):
        estimates, survey = store_or_db.load_estimates(ESTIMATE_RUN), store_or_db.hosts_frame()
        where = store_or_db.path if hasattr(store_or_db, "path") else "the store"
    else:
        with Store(store_or_db) as store:
            estimates, survey = store.load_estimates(ESTIMATE_RUN), store.hosts_frame()
        where = store_or_db
    if not estimates:
        raise NoEstimates(f"{where}: no estimates saved; run `auditplan estimate --db {where}` first")
    return _project(estimates, profile, retention_days=_number(config, "retention_days", 90.0),
                    price_per_gb=price_per_gb, currency=currency, seed=int(_number(config, "seed", 4688)),
                    draws=int(_number(config, "draws", 1000)), survey=survey,
                    local_log=LocalLogSettings.from_config(config))


def load_plan_projection(store: Store, plan_id: str) -> Projection | None:
    """No projection is stored with a plan before model.api exists."""
    return None


def projection_config(projection: Projection, config_file: Path | None) -> tuple[dict[str, Any], dict[str, str], str]:
    """(config, config_sources, estimate_run) of a projection: model.api's Projection carries them."""
    return load_config(config_file), config_sources(config_file), ESTIMATE_RUN
