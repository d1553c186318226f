"""The one flattening of a HostResult to a row, and the typed frames built from such rows.

Every per-host table auditplan writes uses `host_row` and HOSTS_COLUMNS: `survey --csv/--json`,
Store.hosts_frame() (which the model reads) and the report's per-host CSV. Column names follow the
records, and Windows' own names where a setting has one (`sce_no_apply_legacy` is
SCENoApplyLegacyAuditPolicy, "force subcategory settings"). Unknown is None (NA in a frame), never
0 or False.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas costs ~0.6 s to import; `survey --help` and the survey itself never need it
    import pandas as pd

from auditplan.records import HostResult, SubcategorySetting

HOURS_PER_DAY = 24

# Column name -> pandas dtype, in output order. Nullable dtypes keep "unknown" apart from 0 / False.
HOSTS_COLUMNS: dict[str, str] = {
    "host": "object",
    "status": "object",
    "reason": "object",
    "address": "object",
    "port": "Int64",
    "computer_name": "object",
    "source": "object",
    "collected_at": "datetime64[ns, UTC]",
    "role": "object",
    "site": "object",
    "group": "object",
    "tags": "object",
    "product_name": "object",
    "os_build": "Int64",
    "ubr": "Int64",
    "display_version": "object",
    "product_type": "object",
    "cmdline_supported": "boolean",
    "process_creation": "object",
    "cmdline_enabled": "boolean",
    "sce_no_apply_legacy": "boolean",
    "audit_policy_source": "object",  # gpo | local | default (records HostResult.audit_policy_source)
    "audit_subcategories": "object",  # {"{guid}": "none|success|failure|success_and_failure"} (a mapping)
    "log_max_size_bytes": "Int64",
    "log_retention": "object",
    "log_file_size_bytes": "Int64",
    "log_record_count": "Int64",
    "log_history_hours": "float64",
    "sysmon_installed": "boolean",
    "sysmon_running": "boolean",
    "sampled_hours": "Int64",
    "sampled_4688_per_day": "float64",
    "sampled_sysmon_eid1_per_day": "float64",
    "security_events_per_hour": "float64",
    "sample_capped": "boolean",
    "boot_only": "boolean",
    "events_sampled": "Int64",
    "requests": "Int64",
    "bytes_sent": "Int64",
    "bytes_received": "Int64",
    "seconds": "float64",
    "truncated": "boolean",
    "warnings": "object",  # the warning lines (a list; CSV joins them with ';')
    # Who can read the Security log (`wevtutil gl Security` channelAccess): SIDs, their names in the same
    # order (null where not well known), the SIDs beyond Windows' default ACL, and whether a group most
    # accounts are in (Everyone, Authenticated Users, Users, Domain Users...) is one of them.
    "security_log_readers": "object",
    "security_log_reader_names": "object",
    "security_log_readers_beyond_default": "object",
    "security_log_broad_readers": "boolean",
}

EVENTS_COLUMNS: dict[str, str] = {
    "host": "object",
    "source": "object",
    "time": "datetime64[ns, UTC]",
    "event_id": "Int64",
    "version": "Int64",
    "new_process_name": "object",
    "parent_process_name": "object",
    "subject_user_name": "object",
    "command_line": "object",
    "size_bytes": "Int64",
    "secrets_found": "Int64",
}


def utc(moment: datetime) -> datetime:
    """`moment` in UTC. Records carry tz-aware UTC; a naive time is taken to be UTC, never local time."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _per_day(hourly: tuple[int, ...] | None) -> float:
    """Hourly counts scaled to 24 h; NaN when nothing was counted."""
    if not hourly:
        return math.nan
    return sum(hourly) * HOURS_PER_DAY / len(hourly)


def _value(value: Any) -> Any:
    return str(value.value) if hasattr(value, "value") else value


@functools.lru_cache(maxsize=4096)
def _subcategory_map(subcategories: tuple[SubcategorySetting, ...]) -> Mapping[str, str]:
    """GUID (lower case, braced) -> setting, read-only and shared: most hosts have one of a few
    tables, so a fleet of 100,000 hosts holds a few hundred mappings, not 100,000."""
    return MappingProxyType({s.guid.lower(): str(s.setting.value) for s in subcategories})


def host_row(result: HostResult, events_sampled: int | None = None) -> dict[str, Any]:
    """One host result as a flat row with the HOSTS_COLUMNS keys, in their order. `events_sampled`
    defaults to the events the result holds (the store passes its own count: it reads results
    without their events)."""
    host, os_info, audit, log = result.host, result.os, result.audit, result.security_log
    volume, cost = result.volume, result.cost
    return {
        "host": host.name,
        "status": _value(result.status),
        "reason": result.reason,
        "address": host.address,
        "port": host.port,
        "computer_name": result.computer_name,
        "source": result.source,
        "collected_at": utc(result.collected_at),
        "role": host.role,
        "site": host.site,
        "group": host.group,
        "tags": ";".join(host.tags),
        "product_name": os_info.product_name if os_info else None,
        "os_build": os_info.current_build if os_info else None,
        "ubr": os_info.ubr if os_info else None,
        "display_version": os_info.display_version if os_info else None,
        "product_type": _value(os_info.product_type) if os_info and os_info.product_type else None,
        "cmdline_supported": os_info.cmdline_supported if os_info else None,
        "process_creation": _value(audit.process_creation) if audit and audit.process_creation else None,
        "cmdline_enabled": audit.cmdline_enabled if audit else None,
        "sce_no_apply_legacy": audit.sce_no_apply_legacy if audit else None,
        "audit_policy_source": result.audit_policy_source,
        "audit_subcategories": _subcategory_map(audit.subcategories) if audit and audit.subcategories else None,
        "log_max_size_bytes": log.max_size_bytes if log else None,
        "log_retention": log.retention if log else None,
        "log_file_size_bytes": log.file_size_bytes if log else None,
        "log_record_count": log.record_count if log else None,
        "log_history_hours": log.history_hours if log else None,
        "sysmon_installed": result.sysmon.installed if result.sysmon else None,
        "sysmon_running": result.sysmon.running if result.sysmon else None,
        "sampled_hours": len(volume.hourly_4688) if volume else None,
        "sampled_4688_per_day": _per_day(volume.hourly_4688) if volume else math.nan,
        "sampled_sysmon_eid1_per_day": _per_day(volume.hourly_sysmon_eid1) if volume else math.nan,
        "security_events_per_hour": volume.security_events_per_hour if volume else None,
        "sample_capped": volume.capped if volume else None,
        "boot_only": volume.boot_only if volume else None,
        "events_sampled": len(result.events) if events_sampled is None else events_sampled,
        "requests": cost.requests if cost else None,
        "bytes_sent": cost.bytes_sent if cost else None,
        "bytes_received": cost.bytes_received if cost else None,
        "seconds": cost.seconds if cost else None,
        "truncated": cost.truncated if cost else None,
        "warnings": list(result.warnings),
        **_readers(result),
    }


def _readers(result: HostResult) -> dict[str, Any]:
    access = result.security_channel_access
    if access is None:
        return {"security_log_readers": None, "security_log_reader_names": None,
                "security_log_readers_beyond_default": None, "security_log_broad_readers": None}
    return {
        "security_log_readers": [r.sid for r in access.readers],
        "security_log_reader_names": [r.name for r in access.readers],
        "security_log_readers_beyond_default": [r.sid for r in access.beyond_default],
        "security_log_broad_readers": bool(access.broad),
    }


def typed_frame(records: list[dict[str, Any]], columns: dict[str, str]) -> pd.DataFrame:
    """`records` as a frame with exactly `columns`, each of its dtype."""
    import pandas as pd  # deferred: see the TYPE_CHECKING import above

    frame = pd.DataFrame.from_records(records, columns=list(columns))
    for column, dtype in columns.items():
        if dtype.startswith("datetime64"):
            frame[column] = pd.to_datetime(frame[column], utc=True).dt.as_unit("ns")
        elif dtype == "float64":
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("float64")
        else:
            frame[column] = frame[column].astype(dtype)  # type: ignore[call-overload]
    return frame


def hosts_frame(results: Iterable[HostResult]) -> pd.DataFrame:
    """Host results as the frame Store.hosts_frame() gives for stored ones (HOSTS_COLUMNS)."""
    return typed_frame([host_row(result) for result in results], HOSTS_COLUMNS)
