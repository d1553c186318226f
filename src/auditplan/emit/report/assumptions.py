"""The assumptions table: every number the projection used, where its value came from, and the
documented basis of the shipped default (defaults.toml's comment or [X.sources] entry)."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from typing import Any

from auditplan.config import NO_SOURCE, SOURCE_DEFAULT, defaults_table, leaves

NOT_DOCUMENTED = "(not in defaults.toml)"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _shown(value: Any) -> str:
    return str(value) if _is_number(value) else repr(value) if isinstance(value, str) else str(value)


def assumption_rows(defaults_text: str, config: Mapping[str, Any] | None,
                    sources: Mapping[str, str] | None) -> list[dict[str, str]]:
    """One row per setting: name, effective value, `set_by` (default, the --config file, an option)
    and `basis`, the shipped default's documented source (prefixed with that default where another
    value replaced it).

    Every number is listed, in defaults.toml's order; a value that is not a number (a profile's
    licence, a currency) only where something other than the defaults set it."""
    documented = defaults_table(defaults_text)
    shipped = {row["name"]: row for row in documented}
    try:
        default_values = leaves(tomllib.loads(defaults_text))
    except tomllib.TOMLDecodeError:
        default_values = {}
    values = default_values if config is None else leaves(config)
    sources = sources or {}
    names = [row["name"] for row in documented if row["name"] in values]
    names += sorted(n for n in values if n not in shipped and (
        _is_number(values[n]) or sources.get(n, SOURCE_DEFAULT) != SOURCE_DEFAULT))
    rows = []
    for name in names:
        value, set_by = values[name], sources.get(name, SOURCE_DEFAULT)
        default = shipped.get(name)
        if default is None:
            basis = f"default {_shown(default_values[name])}" if name in default_values else NOT_DOCUMENTED
        elif set_by == SOURCE_DEFAULT:
            basis = default["source"]
        else:
            basis = f"default {default['value']}: {default['source']}"
        rows.append({"name": name, "value": _shown(value), "set_by": set_by, "basis": basis or NO_SOURCE})
    return rows


# Settings the short appendix always shows (besides the SIEM profile's own and any not left at the default).
KEY_SETTINGS = ("plan.retention_days", "plan.quantile", "plan.draws", "plan.seed", "local_log.min_local_hours")


def key_rows(rows: list[dict[str, str]], siem: str | None) -> list[dict[str, str]]:
    """The rows a reader needs: what was not left at the shipped default, the SIEM profile's settings and
    KEY_SETTINGS. The full list stays in a collapsed block."""
    prefix = f"siem.{siem}." if siem else None
    return [r for r in rows if r["set_by"] != SOURCE_DEFAULT or r["name"] in KEY_SETTINGS
            or (prefix is not None and r["name"].startswith(prefix) and ".sources." not in r["name"])]
