"""Local Security log retention once 4688 (with command line) is on: hours of history each host
keeps, and the MaxSize that keeps [local_log] min_local_hours (docs/projection.md "Local log")."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from auditplan.config import ConfigError
from auditplan.records import Change

HOURS_PER_DAY = 24.0
MB = 2**20
KB = 1024
_ENABLE = Change.ENABLE_4688.value
_CMDLINE = Change.CMDLINE_ONLY.value


@dataclass(frozen=True)
class LocalLogSettings:
    """[local_log] of the config: local Security log sizing (gpo-backup-format.md §A4 limits)."""

    min_local_hours: float = 168.0
    disk_factor_no_cmdline: float = 1.0
    disk_bytes_per_cmdline_char: float = 2.0
    round_to_mb: int = 64
    max_size_kb: int = 4194240
    min_size_kb: int = 20480

    @classmethod
    def from_config(cls, config: Mapping[str, Any], min_local_hours: float | None = None) -> LocalLogSettings:
        section = config.get("local_log", {})
        values: dict[str, float] = {}
        for key, default in (
            ("min_local_hours", cls.min_local_hours),
            ("disk_factor_no_cmdline", cls.disk_factor_no_cmdline),
            ("disk_bytes_per_cmdline_char", cls.disk_bytes_per_cmdline_char),
            ("round_to_mb", cls.round_to_mb),
            ("max_size_kb", cls.max_size_kb),
            ("min_size_kb", cls.min_size_kb),
        ):
            value = section.get(key, default)
            if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
                raise ConfigError(f"local_log.{key}: expected a number > 0, got {value!r}")
            values[key] = float(value)
        if min_local_hours is not None:
            if not math.isfinite(min_local_hours) or min_local_hours <= 0:
                raise ConfigError(f"--min-local-hours: expected a number > 0, got {min_local_hours!r}")
            values["min_local_hours"] = min_local_hours
        return cls(
            min_local_hours=values["min_local_hours"],
            disk_factor_no_cmdline=values["disk_factor_no_cmdline"],
            disk_bytes_per_cmdline_char=values["disk_bytes_per_cmdline_char"],
            round_to_mb=int(values["round_to_mb"]),
            max_size_kb=int(values["max_size_kb"]),
            min_size_kb=int(values["min_size_kb"]),
        )



def local_log_frame(hosts: pd.DataFrame, survey: pd.DataFrame | None, settings: LocalLogSettings) -> pd.DataFrame:
    """Hours of local Security log history after enablement, and the MaxSize that keeps
    `settings.min_local_hours`. `survey` is Store.hosts_frame() (host, log_max_size_bytes,
    log_file_size_bytes, log_history_hours); hosts missing from it get NaN."""
    frame = hosts[["host", "change", "p50", "p90", "xml_no_cmdline_bytes", "cmdline_chars"]].copy()
    cols = ["log_max_size_bytes", "log_file_size_bytes", "log_history_hours"]
    if survey is not None and len(survey) and "host" in survey.columns:
        # A host may have several results (survey, EVTX ingest): prefer one that has log facts.
        has_log = survey["log_max_size_bytes"].notna() if "log_max_size_bytes" in survey.columns else False
        ranked = survey.assign(_has_log=has_log).sort_values("_has_log", kind="stable")
        facts = ranked.drop_duplicates("host", keep="last").set_index("host")
        for col in cols:
            values = frame["host"].map(facts[col]) if col in facts.columns else pd.Series(math.nan, index=frame.index)
            frame[col] = pd.to_numeric(values, errors="coerce").astype("float64")
    else:
        for col in cols:
            frame[col] = math.nan
    disk_cmd = frame["cmdline_chars"] * settings.disk_bytes_per_cmdline_char
    per_event = np.where(
        frame["change"] == _ENABLE,
        frame["xml_no_cmdline_bytes"] * settings.disk_factor_no_cmdline + disk_cmd,
        np.where(frame["change"] == _CMDLINE, disk_cmd, 0.0),
    )
    history = frame["log_history_hours"]
    current = (frame["log_file_size_bytes"] / history).where(history > 0)
    frame["current_bytes_per_hour"] = current
    for q in ("p50", "p90"):
        added = frame[q].clip(lower=0.0) / HOURS_PER_DAY * per_event
        frame[f"added_bytes_per_hour_{q}"] = added
        rate = current.fillna(0.0) + added
        frame[f"local_hours_{q}"] = (frame["log_max_size_bytes"] / rate).where(rate > 0, math.inf)
    frame.loc[frame["log_max_size_bytes"].isna(), ["local_hours_p50", "local_hours_p90"]] = math.nan
    need_rate = current.fillna(0.0) + frame["added_bytes_per_hour_p90"]
    need_mb = need_rate * settings.min_local_hours / MB
    step = settings.round_to_mb
    cap_mb = (settings.max_size_kb * KB // MB) // step * step
    floor_mb = math.ceil(settings.min_size_kb * KB / MB / step) * step
    rec = np.ceil(need_mb / step) * step
    rec = np.clip(rec, floor_mb, cap_mb)
    meets = frame["local_hours_p90"] >= settings.min_local_hours
    current_mb = frame["log_max_size_bytes"] / MB
    frame["meets_min_local_hours"] = meets
    # Recommend only growth: a host that meets the target keeps its MaxSize (null in plan.json).
    frame["recommended_log_max_size_mb"] = pd.Series(rec, index=frame.index).where(
        ~meets & ~(current_mb >= rec), math.nan
    )
    frame["log_size_capped"] = (need_mb > cap_mb) & ~meets
    frame["current_rate_known"] = current.notna()
    return frame.drop(columns=["p50", "p90", "xml_no_cmdline_bytes", "cmdline_chars", "change"])
