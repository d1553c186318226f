"""The defaults TOML (shipped in the package) merged with the user's `--config FILE`.

Each stage reads its own section: [probe], [priors], [event_size], [siem.NAME], [plan],
[local_log]. A user file sets only the keys it wants to change; tables merge key by key.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path
from typing import Any


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


def load_defaults() -> dict[str, Any]:
    text = resources.files("auditplan").joinpath("defaults.toml").read_text(encoding="utf-8")
    return tomllib.loads(text)


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


def _leaves(table: dict[str, Any], path: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in table.items():
        here = f"{path}.{key}" if path else key
        if isinstance(value, dict):
            out.update(_leaves(value, here))
        else:
            out[here] = value
    return out


def config_sources(user_file: Path | None = None) -> dict[str, str]:
    """Each leaf key of the effective config ("plan.draws") -> where its value came from:
    "default" (the shipped defaults.toml) or the user file's path."""
    sources = dict.fromkeys(_leaves(load_defaults()), SOURCE_DEFAULT)
    if user_file is not None:
        sources.update(dict.fromkeys(_leaves(_read_user_file(user_file)), str(user_file)))
    return sources
