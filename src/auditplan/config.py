"""The defaults TOML (shipped in the package) merged with the user's `--config FILE`.

Each stage reads its own section: [probe], [priors], [event_size], [siem.NAME], [plan],
[local_log]. A user file sets only the keys it wants to change; tables merge key by key.
Each value has a source (`config_sources`), and each shipped number a documented basis
(`documented_basis`: the comment beside or above it, or its `[X.sources]` entry).
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Final


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
        raw = user_file.read_bytes()
    except OSError as exc:
        raise ConfigError(f"{user_file}: cannot read: {exc.strerror or exc}") from None
    try:
        user = tomllib.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{user_file}: not UTF-8 (byte {exc.start})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{user_file}: {exc}") from None
    return user


def load_config(user_file: Path | None = None) -> dict[str, Any]:
    """Defaults, with `user_file` (if given) merged over them."""
    config = load_defaults()
    if user_file is None:
        return config
    return _merge(config, _read_user_file(user_file), str(user_file))


SOURCE_DEFAULT = "default"


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


def config_sources(user_file: Path | None = None) -> dict[str, str]:
    """Each leaf key of the effective config ("plan.draws") -> where its value came from:
    "default" (the shipped defaults.toml) or the user file's path."""
    sources = dict.fromkeys(leaves(load_defaults()), SOURCE_DEFAULT)
    if user_file is not None:
        sources.update(dict.fromkeys(leaves(_read_user_file(user_file)), str(user_file)))
    return sources


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
