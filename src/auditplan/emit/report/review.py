"""What the report asks someone to review (issue 18): who can read the command lines, and the analyst
hours the detections cost at the configured minutes per alert.

The readers come from each host's Security channel ACL (survey columns security_log_*); secrets are
counted (detections/secret_exposure.py), never shown.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd

from auditplan.config import load_defaults
from auditplan.emit.detections import Evaluation, Exposure
from auditplan.emit.detections.workload import AlertRange, analyst_hours, total

# Who, besides the hosts' own readers, sees the command lines once they are collected.
SIEM_AUDIENCE = ("everyone with search access to the Security events in the SIEM (Splunk index / role, "
                 "Log Analytics workspace or table RBAC, Elastic index privileges, the WEF collector's "
                 "Forwarded Events log)")


def _names(sids: Any, names: Any) -> list[str]:
    sids = list(sids) if isinstance(sids, list | tuple) else []
    names = list(names) if isinstance(names, list | tuple) else [None] * len(sids)
    return [f"{name} ({sid})" if name else str(sid) for sid, name in zip(sids, names, strict=False)]


def log_readers(hosts: pd.DataFrame, exposure: Exposure | None) -> dict[str, Any]:
    """The exposure section: hosts whose Security log more principals can read than Windows lets by
    default (broad groups first), how many hosts were read, and the secrets counted."""
    rows: list[dict[str, Any]] = []
    read = 0
    if len(hosts) and "security_log_readers" in hosts:
        for rec in hosts.to_dict("records"):
            readers = rec.get("security_log_readers")
            if not isinstance(readers, list | tuple):
                continue
            read += 1
            extra = rec.get("security_log_readers_beyond_default")
            if not isinstance(extra, list | tuple) or not extra:
                continue
            by_sid = dict(zip(readers, _names(readers, rec.get("security_log_reader_names")), strict=False))
            rows.append({"host": str(rec["host"]), "broad": bool(rec.get("security_log_broad_readers") is True),
                         "readers": ", ".join(by_sid.get(sid, str(sid)) for sid in extra)})
    rows.sort(key=lambda r: (not r["broad"], r["host"].lower()))
    return {
        "hosts_read": read,
        "beyond_default": rows,
        "broad_hosts": [r["host"] for r in rows if r["broad"]],
        "secrets": exposure.events_with_secrets if exposure else 0,
        "secret_hosts": len(exposure.by_host) if exposure else 0,
        "sampled": exposure.events if exposure else 0,
        "audience": SIEM_AUDIENCE,
    }


def minutes_per_alert(config: Mapping[str, Any] | None) -> float | None:
    """[detections] minutes_per_alert of the report's configuration (None: the defaults), if usable."""
    section = (config if config is not None else load_defaults()).get("detections", {})
    value = section.get("minutes_per_alert") if isinstance(section, dict) else None
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    return float(value)


def detection_rows(detections: Evaluation | None, minutes: float | None) -> dict[str, Any]:
    """Per rule: alerts/day as p10/p50/p90 and the analyst hours/day they cost; and the total."""
    if detections is None:
        return {"rules": [], "total_alerts": None, "total_hours": None, "minutes": minutes}
    rules = []
    for r in detections.results:
        hours = analyst_hours(r.alerts_per_day_range, minutes) if minutes else None
        rules.append({"result": r, "alerts": r.alerts_per_day_range, "hours": hours})
    alerts: AlertRange | None = total(r.alerts_per_day_range for r in detections.results)
    return {"rules": rules, "total_alerts": alerts,
            "total_hours": analyst_hours(alerts, minutes) if minutes else None, "minutes": minutes}
