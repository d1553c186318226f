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


# The readiness categories, in the order the report draws them, each with the colour it means:
# on = green, partly on = light green, off = amber (work to do), cannot = red, failed = grey.
CATEGORIES: tuple[tuple[str, str], ...] = (
    ("4688 with command line on", "#2e7d32"),
    ("4688 on, command line off", "#9ccc65"),
    ("4688 off", "#f0a30a"),
    ("OS cannot log the command line", "#c62828"),
    ("not reachable / failed", "#8c8c8c"),
)
CATEGORY_LABELS = tuple(label for label, _ in CATEGORIES)
ON, ON_NO_CMDLINE, OFF, CANNOT, FAILED = CATEGORY_LABELS


def host_categories(hosts: pd.DataFrame) -> list[str]:
    """Each host's readiness category (rows of one_row_per_host): the one classification the tiles, the
    chart, the table and the CSV's `readiness` column all count. A host whose OS cannot log the command
    line is in CANNOT whatever its registry value says (2008 R2 without KB3004375 with the value set
    logs no command line)."""
    out = []
    for status, pc, cmd, supported in zip(_column(hosts, "status"), _column(hosts, "process_creation"),
                                          _column(hosts, "cmdline_enabled"), _column(hosts, "cmdline_supported"),
                                          strict=True):
        if status != "ok":
            out.append(FAILED)
        elif _is_false(supported):
            out.append(CANNOT)
        elif not (isinstance(pc, str) and pc in _SUCCESS_SETTINGS):
            out.append(OFF)
        else:
            out.append(ON if _truthy(cmd) else ON_NO_CMDLINE)
    return out


def readiness(all_rows: pd.DataFrame) -> dict[str, Any]:
    """The readiness figures of the verdict and the Readiness section, from Store.hosts_frame(): every count
    is a count of host_categories (what the CSV's `readiness` column holds)."""
    hosts = one_row_per_host(all_rows)
    total = len(hosts)
    counts = Counter(host_categories(hosts))
    reachable = total - counts[FAILED]
    ok = hosts[(hosts["status"] == "ok").fillna(False).astype(bool)] if total else hosts
    # Process Creation on, whatever the OS can log: ON, ON_NO_CMDLINE and the CANNOT hosts auditing.
    pc_on = sum(isinstance(v, str) and v in _SUCCESS_SETTINGS for v in _column(ok, "process_creation"))
    categories = [(label, counts[label]) for label in CATEGORY_LABELS]
    return {
        "surveyed": total, "reachable": reachable, "process_creation_on": pc_on, "cmdline_on": counts[ON],
        "unsupported": counts[CANNOT], "process_creation_on_share": percent(pc_on, reachable),
        "cmdline_on_share": percent(counts[ON], reachable), "categories": categories,
        "colours": dict(CATEGORIES),
        "failures": Counter(str(s) for s in hosts["status"] if s != "ok") if total else Counter(),
    }
