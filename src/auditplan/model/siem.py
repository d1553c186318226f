"""SIEM profiles: what one 4688 costs in bytes, and how each product licenses or sizes it.

Profiles live in the defaults TOML ([siem.NAME]); a user's `--config FILE` overrides any key.
The byte model (per host, from its sampled or dev-set XML sizes, evtx-data.md §2.1):

    bytes = add_bytes + size_factor * xml_no_cmdline + cmdline_factor * (xml - xml_no_cmdline)
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from auditplan.config import Config, ConfigError

DEFAULT_SIEM: Final = "splunk-xml"  # the profile when neither --siem nor [plan] default_siem names one

LICENCE_GB_DAY = "gb_day"
LICENCE_EPS = "eps"
LICENCE_NONE = "none"
LICENCES = (LICENCE_GB_DAY, LICENCE_EPS, LICENCE_NONE)

EPS_BASIS_MEAN = "mean"
EPS_BASIS_PEAK = "peak"
EPS_BASES = (EPS_BASIS_MEAN, EPS_BASIS_PEAK)

GB_BINARY = 2**30
GB_DECIMAL = 10**9

_FLOAT_KEYS = (
    "size_factor",
    "cmdline_factor",
    "add_bytes",
    "storage_factor",
    "eps_capacity",
    "price_per_gb",
)


@dataclass(frozen=True)
class SiemProfile:
    """One SIEM (or collector) as the projection sees it. Sources name each number's origin."""

    name: str
    description: str
    size_factor: float
    cmdline_factor: float
    add_bytes: float
    gb_bytes: int
    storage_factor: float
    licence: str
    eps_basis: str
    eps_capacity: float
    price_per_gb: float
    currency: str
    sources: Mapping[str, str] = field(default_factory=dict)

    def event_bytes(self, xml_bytes: float, xml_no_cmdline_bytes: float) -> float:
        """Bytes one 4688 costs in this SIEM, given its XML size with and without CommandLine."""
        cmdline = max(0.0, xml_bytes - xml_no_cmdline_bytes)
        return self.add_bytes + self.size_factor * xml_no_cmdline_bytes + self.cmdline_factor * cmdline

    def cmdline_bytes(self, xml_bytes: float, xml_no_cmdline_bytes: float) -> float:
        """Bytes the CommandLine field alone adds to one event (the delta of command-line auditing)."""
        return self.cmdline_factor * max(0.0, xml_bytes - xml_no_cmdline_bytes)


def _number(table: Mapping[str, Any], key: str, where: str) -> float:
    if key not in table:
        raise ConfigError(f"{where}.{key}: missing")
    value = table[key]
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ConfigError(f"{where}.{key}: expected a number, got {value!r}")
    result = float(value)
    if not math.isfinite(result) or result < 0:
        raise ConfigError(f"{where}.{key}: must be a finite number >= 0, got {value!r}")
    return result


def _text(table: Mapping[str, Any], key: str, where: str, allowed: tuple[str, ...] | None = None) -> str:
    if key not in table:
        raise ConfigError(f"{where}.{key}: missing")
    value = table[key]
    if not isinstance(value, str):
        raise ConfigError(f"{where}.{key}: expected a string, got {value!r}")
    if allowed is not None and value not in allowed:
        raise ConfigError(f"{where}.{key}: {value!r} is not one of {', '.join(allowed)}")
    return value


def profile_from_table(name: str, table: Mapping[str, Any]) -> SiemProfile:
    """Build one profile from its [siem.NAME] table; errors name the key."""
    where = f"siem.{name}"
    if not isinstance(table, Mapping):
        raise ConfigError(f"{where}: expected a table")
    numbers = {key: _number(table, key, where) for key in _FLOAT_KEYS}
    gb_bytes = _number(table, "gb_bytes", where)
    if gb_bytes not in (GB_BINARY, GB_DECIMAL):
        raise ConfigError(f"{where}.gb_bytes: expected {GB_BINARY} (2^30) or {GB_DECIMAL} (10^9), got {gb_bytes:g}")
    raw_sources = table.get("sources", {})
    if not isinstance(raw_sources, Mapping) or not all(isinstance(v, str) for v in raw_sources.values()):
        raise ConfigError(f"{where}.sources: expected a table of strings")
    return SiemProfile(
        name=name,
        description=_text(table, "description", where),
        size_factor=numbers["size_factor"],
        cmdline_factor=numbers["cmdline_factor"],
        add_bytes=numbers["add_bytes"],
        gb_bytes=int(gb_bytes),
        storage_factor=numbers["storage_factor"],
        licence=_text(table, "licence", where, LICENCES),
        eps_basis=_text(table, "eps_basis", where, EPS_BASES),
        eps_capacity=numbers["eps_capacity"],
        price_per_gb=numbers["price_per_gb"],
        currency=_text(table, "currency", where),
        sources=dict(sorted(raw_sources.items())),
    )


def load_siem_profiles(config: Mapping[str, Any]) -> dict[str, SiemProfile]:
    """Every [siem.NAME] table of the merged config, as profiles keyed by NAME (sorted)."""
    section = config.get("siem")
    if not isinstance(section, Mapping) or not section:
        raise ConfigError("siem: no [siem.NAME] profiles in the configuration")
    return {name: profile_from_table(name, section[name]) for name in sorted(section)}


def pick_profile(profiles: Mapping[str, SiemProfile], name: str) -> SiemProfile:
    """The named profile, or a ConfigError listing the known names."""
    try:
        return profiles[name]
    except KeyError:
        raise ConfigError(f"unknown SIEM profile {name!r}; known: {', '.join(sorted(profiles))}") from None


def config_profile(config: Config, name: str | None) -> SiemProfile:
    """The SIEM profile `name`, else [plan] default_siem (splunk-xml); ConfigError when unknown."""
    return pick_profile(load_siem_profiles(config.values), name or str(config.plan_setting("default_siem",
                                                                                           DEFAULT_SIEM)))


def config_profiles(config: Config, names: Sequence[str] = ()) -> list[SiemProfile]:
    """The named profiles, or every profile of the config when none is named."""
    every = load_siem_profiles(config.values)
    return [pick_profile(every, n) for n in names] if names else list(every.values())
