"""Where the fleet is today: surveyed, reachable, Process Creation and command line on, OS support."""

from __future__ import annotations

import math
from collections import Counter
from typing import Any

import pandas as pd

from auditplan.records import AuditSetting
from auditplan.text import percent

# Process Creation audits successes (records/survey.py AuditSetting.includes_success).
_SUCCESS_SETTINGS = frozenset(str(s) for s in AuditSetting if s.includes_success)


def _truthy(value: Any) -> bool:
    return bool(value) if value is not None and value is not pd.NA and value == value else False


def _is_false(value: Any) -> bool:
    """False, numpy's False or pandas' False; unknown (None, NA, NaN) is not false."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return False
    return not bool(value)


def one_row_per_host(hosts: pd.DataFrame) -> pd.DataFrame:
    """Store.hosts_frame() has a row per source (WinRM, EVTX); keep one per host, a reachable one if any."""
    if not len(hosts) or "host" not in hosts:
        return hosts
    ok = (hosts["status"] == "ok").fillna(False).astype(bool) if "status" in hosts else False
    ranked = hosts.assign(_ok=ok).sort_values("_ok", kind="stable")
    return ranked.drop_duplicates("host", keep="last").drop(columns="_ok").sort_index()


def _column(frame: pd.DataFrame, name: str) -> list[Any]:
    return frame[name].tolist() if name in frame else [None] * len(frame)


def readiness(all_rows: pd.DataFrame) -> dict[str, Any]:
    """The readiness figures of the verdict and the Readiness section, from Store.hosts_frame()."""
    hosts = one_row_per_host(all_rows)
    total = len(hosts)
    ok = hosts[(hosts["status"] == "ok").fillna(False).astype(bool)] if total else hosts
    pc_on = [isinstance(v, str) and v in _SUCCESS_SETTINGS for v in _column(ok, "process_creation")]
    cmd_on = [_truthy(v) for v in _column(ok, "cmdline_enabled")]
    cannot = [_is_false(v) for v in _column(ok, "cmdline_supported")]
    on, cmd, unsupported = sum(pc_on), sum(cmd_on), sum(cannot)
    both = sum(p and c for p, c in zip(pc_on, cmd_on, strict=True))
    off_supported = sum(not p and not u for p, u in zip(pc_on, cannot, strict=True))
    categories = [
        ("4688 with command line on", both),
        ("4688 on, command line off", on - both),
        ("4688 off", off_supported),
        ("4688 off, OS cannot log the command line", len(ok) - on - off_supported),
        ("not reachable / failed", total - len(ok)),
    ]
    return {
        "surveyed": total, "reachable": len(ok), "process_creation_on": on, "cmdline_on": cmd,
        "unsupported": unsupported, "process_creation_on_share": percent(on, len(ok)),
        "cmdline_on_share": percent(cmd, len(ok)), "categories": categories,
        "failures": Counter(str(s) for s in hosts["status"] if s != "ok") if total else Counter(),
    }
