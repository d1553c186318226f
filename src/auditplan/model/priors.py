"""Role priors and event-size defaults, read from the [priors] and [event_size] config sections."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from auditplan.config import ConfigError
from auditplan.records import ProductType

Z90 = 1.2815515655446004  # standard normal 90th percentile


@dataclass(frozen=True)
class RolePrior:
    role: str
    median_per_day: float
    sigma: float  # natural-log standard deviation of 4688/day across hosts of the role
    shape: tuple[float, ...]  # 24 shares summing to 1


@dataclass(frozen=True)
class EventSizeDefaults:
    xml_bytes: float
    xml_bytes_no_cmdline: float
    cmdline_length_p50: float


@dataclass(frozen=True)
class Priors:
    roles: dict[str, RolePrior]
    aliases: dict[str, str]
    default_role: str
    event_size: EventSizeDefaults
    min_sampled_events: int
    sysmon_eid1_per_4688: float
    day_to_day_sigma: float = 0.10
    peer_shape_sigma: float = 0.3
    prior_shape_sigma: float = 0.6
    trace_noise_sigma: float = 0.35

    def role_key(self, role: str | None, product_type: ProductType | None = None) -> str:
        """The [priors.roles] key for an inventory role (aliases applied); default when unknown."""
        if role:
            key = role.strip().lower().replace("-", "_").replace(" ", "_")
            key = self.aliases.get(key, key)
            if key in self.roles:
                return key
        if product_type is ProductType.DOMAIN_CONTROLLER and "domain_controller" in self.roles:
            return "domain_controller"
        if product_type is ProductType.WORKSTATION and "workstation" in self.roles:
            return "workstation"
        return self.default_role


def _number(table: dict[str, Any], key: str, where: str, positive: bool = True) -> float:
    value = table.get(key)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}.{key}: expected a number, got {value!r}")
    if positive and not value > 0:
        raise ConfigError(f"{where}.{key}: must be > 0, got {value!r}")
    return float(value)


def _shape(weights: Any, where: str) -> tuple[float, ...]:
    if not isinstance(weights, list) or len(weights) != 24:
        raise ConfigError(f"{where}: expected a list of 24 hourly weights")
    if any(isinstance(w, bool) or not isinstance(w, int | float) or w < 0 for w in weights):
        raise ConfigError(f"{where}: weights must be numbers >= 0")
    total = float(sum(weights))
    if total <= 0:
        raise ConfigError(f"{where}: weights sum to 0")
    return tuple(float(w) / total for w in weights)


def load_priors(config: dict[str, Any]) -> Priors:
    """Validate and read [priors] and [event_size]; errors name the offending key."""
    section = config.get("priors", {})
    shapes = {name: _shape(w, f"priors.shapes.{name}") for name, w in section.get("shapes", {}).items()}
    roles: dict[str, RolePrior] = {}
    for name, table in section.get("roles", {}).items():
        where = f"priors.roles.{name}"
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: expected a table")
        shape_name = table.get("shape", "flat")
        if shape_name not in shapes:
            raise ConfigError(f"{where}.shape: unknown shape {shape_name!r} (have {sorted(shapes)})")
        roles[name] = RolePrior(
            role=name,
            median_per_day=_number(table, "median_per_day", where),
            sigma=_number(table, "sigma", where),
            shape=shapes[shape_name],
        )
    default_role = str(section.get("default_role", "default"))
    if default_role not in roles:
        raise ConfigError(f"priors.default_role: no [priors.roles.{default_role}] table")
    aliases = {str(k): str(v) for k, v in section.get("aliases", {}).items()}
    size = config.get("event_size", {})
    event_size = EventSizeDefaults(
        xml_bytes=_number(size, "xml_bytes", "event_size"),
        xml_bytes_no_cmdline=_number(size, "xml_bytes_no_cmdline", "event_size"),
        cmdline_length_p50=_number(size, "cmdline_length_p50", "event_size"),
    )
    return Priors(
        roles=roles,
        aliases=aliases,
        default_role=default_role,
        event_size=event_size,
        min_sampled_events=int(_number(section, "min_sampled_events", "priors")),
        sysmon_eid1_per_4688=_number(section, "sysmon_eid1_per_4688", "priors"),
        day_to_day_sigma=_number(section, "day_to_day_sigma", "priors"),
        peer_shape_sigma=_number(section, "peer_shape_sigma", "priors"),
        prior_shape_sigma=_number(section, "prior_shape_sigma", "priors"),
        trace_noise_sigma=_number(section, "trace_noise_sigma", "priors"),
    )


def lognormal_sigma(p50: float, p90: float) -> float:
    """The log-space spread of a log-normal Range (0 when the range is degenerate)."""
    if p50 <= 0 or p90 <= p50:
        return 0.0
    return math.log(p90 / p50) / Z90
