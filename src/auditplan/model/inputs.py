"""What `estimate`, `project` and `plan` read: the store (opened once per run), the config with
each value's source, the [plan] settings, and the plan's host files (--exclude)."""

from __future__ import annotations

import math
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import pandas as pd

from auditplan.config import ConfigError, config_sources, load_config
from auditplan.model.errors import ModelError
from auditplan.model.siem import SiemProfile, load_siem_profiles, pick_profile
from auditplan.records import PROCESS_CREATION_GUID, EstimateSource, HostEstimate, HostResult, LocalSubcategory
from auditplan.store import Store

ESTIMATE_RUN: Final = "latest"  # the store label `auditplan estimate` saves its estimates under
DEFAULT_SEED: Final = 4688
DEFAULT_DRAWS: Final = 1000
DEFAULT_SIEM: Final = "splunk-xml"
EXCLUDE_MAX_BYTES: Final = 16 * 2**20
MAKES_RESULTS: Final = "`auditplan survey` or `auditplan ingest`"
MAKES_ESTIMATES: Final = "`auditplan survey` (or ingest) and `auditplan estimate`"


@contextmanager
def opened(source: Store | Path, first: str) -> Iterator[Store]:
    """`source` as an open Store: a Store as it is (the caller closes it), a path opened here and
    closed on exit; ModelError when no store file is there (`first` says which command makes it)."""
    if isinstance(source, Store):
        yield source
        return
    if not source.is_file():
        raise ModelError(f"{source}: no store here; run {first} first")
    with Store(source) as store:
        yield store


@dataclass(frozen=True)
class Config:
    """The effective configuration and where each leaf value came from."""

    values: dict[str, Any]
    sources: dict[str, str]  # "plan.draws" -> "default" or the --config file

    @classmethod
    def load(cls, config_file: Path | None) -> Config:
        return cls(load_config(config_file), config_sources(config_file))

    def plan_setting(self, key: str, default: Any) -> Any:
        section = self.values.get("plan", {})
        return section.get(key, default) if isinstance(section, dict) else default

    def plan_number(self, key: str, default: float, *, minimum: float = 0.0) -> float:
        """A number of the [plan] section, or a ConfigError naming `plan.KEY`."""
        value = self.plan_setting(key, default)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < minimum:
            raise ConfigError(f"plan.{key}: expected a number >= {minimum:g}, got {value!r}")
        return float(value)

    def monte_carlo(self) -> tuple[int, int]:
        """(draws, seed) of the fleet Monte Carlo, [plan] draws and seed: `project` and `estimate` share them."""
        return int(self.plan_number("draws", DEFAULT_DRAWS, minimum=10)), int(self.plan_number("seed", DEFAULT_SEED))

    def step_fraction(self) -> float:
        """[plan] default_step_fraction: the share of the budget one wave may add without --max-step."""
        fraction = self.plan_setting("default_step_fraction", 0.25)
        if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction <= 1:
            raise ConfigError(f"plan.default_step_fraction: expected a number in (0, 1], got {fraction!r}")
        return float(fraction)

    def profile(self, name: str | None) -> SiemProfile:
        """The SIEM profile `name`, else [plan] default_siem (splunk-xml); ConfigError when unknown."""
        return pick_profile(load_siem_profiles(self.values), name or str(self.plan_setting("default_siem",
                                                                                         DEFAULT_SIEM)))

    def profiles(self, names: Sequence[str] = ()) -> list[SiemProfile]:
        """The named profiles, or every profile of the config when none is named."""
        every = load_siem_profiles(self.values)
        return [pick_profile(every, n) for n in names] if names else list(every.values())


@dataclass(frozen=True)
class Estimates:
    """What a projection projects: the store's latest estimates and its survey facts."""

    run: str
    estimates: list[HostEstimate]
    survey: pd.DataFrame  # Store.hosts_frame()


def load_estimates(store: Store) -> Estimates:
    """The estimates `auditplan estimate` saved and the hosts frame; ModelError when there are none."""
    estimates = store.load_estimates(ESTIMATE_RUN)
    if not estimates:
        raise ModelError(f"{store.path}: no estimates saved; run `auditplan estimate --db {store.path}` first")
    return Estimates(ESTIMATE_RUN, estimates, store.hosts_frame())


def measured(estimates: Sequence[HostEstimate]) -> dict[str, float]:
    """Host -> measured 4688/day p50, for hosts that audit 4688 and were measured doing it."""
    return {
        e.host: e.events_per_day.p50
        for e in estimates
        if e.source == EstimateSource.MEASURED_4688 and e.already_on
    }


def local_subcategories(results: Sequence[HostResult]) -> dict[str, list[LocalSubcategory]]:
    """Advanced-audit subcategories set locally on each host (other than Process Creation)."""
    out: dict[str, list[LocalSubcategory]] = {}
    for result in results:
        if result.audit is None:
            continue
        subs = {
            LocalSubcategory(s.guid.lower(), s.setting, s.name)
            for s in result.audit.subcategories
            if s.guid.lower() != PROCESS_CREATION_GUID and s.setting.value != "none"
        }
        if subs:
            out[result.host.name] = sorted(subs)
    return out


def read_exclude(path: Path) -> tuple[dict[str, str], list[str]]:
    """Host names to leave out, one per line (`#` comments, blank lines). Returns
    (host lower-case -> "FILE:LINE", warnings naming FILE:LINE); ModelError when unreadable."""
    try:
        if path.stat().st_size > EXCLUDE_MAX_BYTES:
            raise ModelError(f"{path}: larger than {EXCLUDE_MAX_BYTES // 2**20} MB; not a host list")
        raw = path.read_bytes()
    except OSError as exc:
        raise ModelError(f"{path}: cannot read: {exc.strerror or exc}") from None
    text = raw.decode("utf-8-sig", errors="replace")
    out: dict[str, str] = {}
    warnings: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if "\ufffd" in entry or any(ord(c) < 32 for c in entry):
            warnings.append(f"{path}:{number}: not a host name (bad bytes), skipped")
            continue
        name, *extra = entry.split()
        if extra:
            warnings.append(f"{path}:{number}: only the first word ({name}) is a host name; the rest is ignored")
        out.setdefault(name.lower(), f"{path.name}:{number}")
    return out, warnings

