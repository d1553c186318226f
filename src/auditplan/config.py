"""The defaults TOML (shipped in the package) merged with the user's `--config FILE`.

Each stage reads its own section: [probe], [priors], [event_size], [siem.NAME], [plan],
[local_log]. A user file sets only the keys it wants to change; tables merge key by key.
`Config.load` reads the user file once and keeps each value's source ("default" or the file);
each shipped number has a documented basis (`documented_basis`: the comment beside or above it,
or its `[X.sources]` entry).
"""

from __future__ import annotations

import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Final

from auditplan.records.input_limits import InputLimitError, load_toml


class ConfigError(ValueError):
    """A config file could not be read; the message names the file and what is wrong."""


def _merge(base: dict[str, Any], override: dict[str, Any], where: str) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value, f"{where}.{key}")
        elif key in merged and isinstance(merged[key], dict) != isinstance(value, dict):
            raise ConfigError(f"{where}.{key}: expected {'a table' if isinstance(merged[key], dict) else 'a value'}")
        else:
            merged[key] = value
    return merged


def defaults_text() -> str:
    """The shipped defaults.toml, comments and all."""
    return resources.files("auditplan").joinpath("defaults.toml").read_text(encoding="utf-8")


def load_defaults() -> dict[str, Any]:
    return tomllib.loads(defaults_text())


def _read_user_file(user_file: Path) -> dict[str, Any]:
    try:
        # Bounded: size, nesting, nan/inf refused (records/input_limits.py).
        return load_toml(user_file, what="config file")
    except InputLimitError as exc:
        raise ConfigError(str(exc)) from None


SOURCE_DEFAULT: Final = "default"
DEFAULT_SEED: Final = 4688  # [plan] seed when a config has none
DEFAULT_DRAWS: Final = 1000  # [plan] draws when a config has none
MAX_DRAWS: Final = 100_000  # [plan] draws above this need more memory than a planning run should take


def leaves(table: Mapping[str, Any], path: str = "") -> dict[str, Any]:
    """Every value of a nested config table under its dotted key ("plan.draws" -> 1000)."""
    out: dict[str, Any] = {}
    for key, value in table.items():
        here = f"{path}.{key}" if path else key
        if isinstance(value, Mapping):
            out.update(leaves(value, here))
        else:
            out[here] = value
    return out


@dataclass(frozen=True)
class Config:
    """The effective configuration and where each leaf value came from, with the [plan] settings
    every model stage reads (estimate, project and plan share the Monte Carlo's draws and seed)."""

    values: dict[str, Any]
    sources: dict[str, str]  # "plan.draws" -> "default" or the --config file

    @classmethod
    def load(cls, user_file: Path | None = None) -> Config:
        """Defaults with `user_file` (if given) merged over them; the file is read once."""
        defaults = load_defaults()
        sources = dict.fromkeys(leaves(defaults), SOURCE_DEFAULT)
        if user_file is None:
            return cls(defaults, sources)
        user = _read_user_file(user_file)
        sources.update(dict.fromkeys(leaves(user), str(user_file)))
        return cls(_merge(defaults, user, str(user_file)), sources)

    def plan_setting(self, key: str, default: Any) -> Any:
        section = self.values.get("plan", {})
        return section.get(key, default) if isinstance(section, dict) else default

    def plan_number(self, key: str, default: float, *, minimum: float = 0.0, maximum: float = math.inf) -> float:
        """A number of the [plan] section, or a ConfigError naming the file it came from and `plan.KEY`."""
        value = self.plan_setting(key, default)
        if (isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
                or not minimum <= value <= maximum):
            source = self.sources.get(f"plan.{key}", SOURCE_DEFAULT)
            where = f"{source}: " if source != SOURCE_DEFAULT else ""
            bound = f"from {minimum:g} to {maximum:,.0f}" if math.isfinite(maximum) else f">= {minimum:g}"
            raise ConfigError(f"{where}plan.{key}: expected a number {bound}, got {value!r}")
        return float(value)

    def monte_carlo(self) -> tuple[int, int]:
        """(draws, seed) of the fleet Monte Carlo, [plan] draws and seed: `project` and `estimate` share them."""
        # At most MAX_DRAWS: 10^15 draws used to end in a MemoryError instead of a message.
        return (int(self.plan_number("draws", DEFAULT_DRAWS, minimum=10, maximum=MAX_DRAWS)),
                int(self.plan_number("seed", DEFAULT_SEED, maximum=2**63)))

    def step_fraction(self) -> float:
        """[plan] default_step_fraction: the share of the budget one wave may add without --max-step."""
        fraction = self.plan_setting("default_step_fraction", 0.25)
        if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction <= 1:
            raise ConfigError(f"plan.default_step_fraction: expected a number in (0, 1], got {fraction!r}")
        return float(fraction)


def load_config(user_file: Path | None = None) -> dict[str, Any]:
    """Defaults, with `user_file` (if given) merged over them (Config.load(user_file).values)."""
    return Config.load(user_file).values


# -- the documented basis of each shipped number ------------------------------------------------

NO_SOURCE: Final = "(no source given)"
_ASSIGNMENT: Final = re.compile(r"^\s*([A-Za-z0-9_\-\"]+)\s*=\s*(.+?)\s*(?:#\s*(.*))?$")


def _source_tables(text: str) -> dict[str, str]:
    """`[X.sources]` tables of the defaults: "X.key" -> the source text given for X.key."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}
    found: dict[str, str] = {}

    def walk(table: Mapping[str, Any], path: str) -> None:
        for key, value in table.items():
            if not isinstance(value, Mapping):
                continue
            here = f"{path}.{key}" if path else key
            if key == "sources":
                found.update({f"{path}.{k}": str(v) for k, v in value.items() if not isinstance(v, Mapping)})
            else:
                walk(value, here)

    walk(doc, "")
    return found


def defaults_table(text: str) -> list[dict[str, str]]:
    """Every number in a defaults TOML text with its name, value (as written) and documented source.

    The source is the comment on the line, else the entry of a sibling `[X.sources]` table
    (the SIEM profiles keep theirs there), else the comment block above the assignment.
    A line scan, not the TOML parser: the parser drops the comments that carry the sources."""
    rows: list[dict[str, str]] = []
    section = ""
    pending: list[str] = []  # the comment block that applies to the assignments below it
    after_comment = False
    tables = _source_tables(text)
    for line in text.splitlines():
        stripped = line.strip()
        is_comment = stripped.startswith("#")
        if is_comment and not after_comment:
            pending = []  # a new block starts
        after_comment = is_comment
        if stripped.startswith("["):
            section = stripped.strip("[]").strip()
            pending = []
            continue
        if is_comment:
            pending.append(stripped.lstrip("# ").strip())
            continue
        if not stripped:
            pending = []
            continue
        m = _ASSIGNMENT.match(stripped)
        if not m:
            continue
        key, value, comment = m.group(1).strip('"'), m.group(2), m.group(3)
        if not re.match(r"^-?[0-9]", value):
            continue  # only numbers need a source
        name = f"{section}.{key}" if section else key
        source = (comment or tables.get(name) or " ".join(pending) or "").strip()
        rows.append({"name": name, "value": value, "source": source or NO_SOURCE})
    return rows


def documented_basis(text: str | None = None) -> dict[str, str]:
    """Leaf key ("plan.draws") -> the documented basis of its shipped number, in file order."""
    return {row["name"]: row["source"] for row in defaults_table(defaults_text() if text is None else text)}
