"""Plans and the projections they were made from, in the store (Store.save_document).

`auditplan plan` saves each plan.json document under ("plan", plan_id) and ("plan", "latest"),
and the projection it planned with under ("projection", projection_id) as a
records.ProjectionRecord; plan.json names that projection_id, so a later report shows the numbers
that very plan.json was made from, even when the same plan (same plan_id) was made again since with
another config or price. docs/projection.md "Recalibration", docs/plan-json.md.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any, Final, cast

import pandas as pd

from auditplan.config import ConfigError
from auditplan.model.project import (
    GROUP_COLUMNS,
    HOST_INPUT_COLUMNS,
    Projection,
    add_host_metrics,
    blank_unusable,
    host_coefficients,
    unusable_hosts,
)
from auditplan.model.siem import SiemProfile, profile_from_table
from auditplan.records import (
    PROJECTION_ID,
    Plan,
    PlanError,
    ProjectionRecord,
    ProjectionRecordError,
    document_text,
    parse_plan,
)
from auditplan.store import Store, StoreError

PLAN_KIND: Final = "plan"
PLAN_LATEST: Final = "latest"
PROJECTION_KIND: Final = "projection"


def _rows(frame: pd.DataFrame) -> tuple[dict[str, Any], ...]:
    # The model's frames have string column names only.
    return tuple(cast(list[dict[str, Any]], frame.to_dict("records")))


# Per-host columns the store keeps: the inputs of every metric (project.HOST_INPUT_COLUMNS) and the
# local log columns; the METRICS x QUANTILES columns are computed again on load, by the same code,
# from the same numbers (the bench figures are in records/projection.py).
LOCAL_LOG_COLUMNS: Final = (
    "log_max_size_bytes", "log_file_size_bytes", "log_history_hours", "current_bytes_per_hour",
    "added_bytes_per_hour_p50", "local_hours_p50", "added_bytes_per_hour_p90", "local_hours_p90",
    "meets_min_local_hours", "recommended_log_max_size_mb", "log_size_capped", "current_rate_known",
)
_TEXT: Final = ("host", "role", "site", "os_family", "source", "change")
_OBJECT: Final = ("cmdline_supported",)  # True, False or None
_BOOL: Final = ("meets_min_local_hours", "log_size_capped", "current_rate_known")


def projection_record(projection: Projection, plan_id: str | None) -> ProjectionRecord:
    """The projection as the store keeps it: its settings, its hosts' input columns and every
    row of its group tables."""
    settings = dataclasses.asdict(projection.profile)
    del settings["name"]
    hosts = projection.hosts
    return ProjectionRecord(
        plan_id=plan_id,
        siem=projection.profile.name,
        siem_settings=settings,
        retention_days=projection.retention_days,
        price_per_gb=projection.price_per_gb,
        currency=projection.currency,
        seed=projection.seed,
        draws=projection.draws,
        min_local_hours=projection.min_local_hours,
        estimate_run=projection.estimate_run,
        hosts={c: hosts[c].tolist() for c in (*HOST_INPUT_COLUMNS, *LOCAL_LOG_COLUMNS) if c in hosts.columns},
        fleet=_rows(projection.fleet.reset_index())[0],
        by_role=_rows(projection.by_role.reset_index()),
        by_site=_rows(projection.by_site.reset_index()),
        warnings=projection.warnings,
        config=projection.config,
        config_sources=projection.config_sources,
    )


def _column(name: str, values: Sequence[Any]) -> pd.Series:
    if name in _TEXT:
        return pd.Series(values, dtype="str")
    if name in _OBJECT:
        return pd.Series(values, dtype=object)
    if name in _BOOL:
        return pd.Series(values, dtype=bool)
    return pd.Series([math.nan if v is None else v for v in values], dtype=float)


def _host_frame(record: ProjectionRecord, profile: SiemProfile) -> pd.DataFrame:
    """The projection's host frame again: the stored columns, then the metrics computed from them
    as project() computes them (unusable hosts blanked the same way), in project()'s column order."""
    columns = record.hosts
    missing = [c for c in (*HOST_INPUT_COLUMNS, *LOCAL_LOG_COLUMNS) if c not in columns]
    if missing:
        raise StoreError(f"stored projection of plan {record.plan_id}: no host column {missing[0]!r}")
    frame = pd.DataFrame({c: _column(c, columns[c]) for c in HOST_INPUT_COLUMNS})
    add_host_metrics(frame, profile, record.retention_days, record.price_per_gb)
    frame = pd.concat([frame, pd.DataFrame({c: _column(c, columns[c]) for c in LOCAL_LOG_COLUMNS})], axis=1)
    blank_unusable(frame, unusable_hosts(frame, host_coefficients(frame)))
    return frame.set_index("host", drop=False).rename_axis("host_key")


def _groups(rows: Sequence[Mapping[str, Any]]) -> pd.DataFrame:
    """A group table again, in _group_table's column order (the store sorts a document's keys)."""
    frame = pd.DataFrame(list(rows)) if rows else pd.DataFrame({"group": []})
    order = [c for c in GROUP_COLUMNS if c in frame.columns]
    return frame.set_index("group")[order + [c for c in frame.columns if c not in (*order, "group")]]


def projection_from_record(record: ProjectionRecord) -> Projection:
    """The model's Projection again, frames rebuilt from the stored values (NaN and infinity
    included). ConfigError when the stored SIEM settings are not a profile any more."""
    profile = profile_from_table(record.siem, record.siem_settings)
    return Projection(
        profile=profile,
        retention_days=record.retention_days,
        price_per_gb=record.price_per_gb,
        currency=record.currency,
        seed=record.seed,
        draws=record.draws,
        min_local_hours=record.min_local_hours,
        hosts=_host_frame(record, profile),
        fleet=_groups([record.fleet]),
        by_role=_groups(record.by_role),
        by_site=_groups(record.by_site),
        warnings=record.warnings,
        config=record.config,
        config_sources=record.config_sources,
        estimate_run=record.estimate_run,
    )


def save_plan(store: Store, document: Mapping[str, Any], projection_text: str) -> None:
    """Save plan.json's document (under its plan_id and as the latest) and the projection document it
    names (its document_text, under the document's projection_id). Each is serialised once."""
    plan_id = str(document["plan_id"])
    store.save_document_text(PROJECTION_KIND, str(document[PROJECTION_ID]), projection_text)
    plan_text = document_text(document)
    store.save_document_text(PLAN_KIND, plan_id, plan_text)
    store.save_document_text(PLAN_KIND, PLAN_LATEST, plan_text)


def _stored_plan(store: Store, key: str, warnings: list[str]) -> Plan | None:
    doc = store.load_document(PLAN_KIND, key)
    if doc is None:
        return None
    try:
        return parse_plan(doc, f"{store.path}: stored plan {key}")
    except PlanError as exc:
        warnings.append(f"{exc}; left out")
        return None


def earlier_plans(store: Store, current_id: str, warnings: list[str]) -> list[Plan]:
    """Plans saved in the store before `current_id`, oldest first; an unreadable one is left out
    with a warning (it must not stop a new plan)."""
    keys = [k for k in store.list_documents(PLAN_KIND) if k not in (PLAN_LATEST, current_id)]
    return [p for k in keys if (p := _stored_plan(store, k, warnings)) is not None]


def latest_plan(store: Store, warnings: list[str]) -> Plan | None:
    """The plan `auditplan plan` saved last, if it can be read."""
    return _stored_plan(store, PLAN_LATEST, warnings)


def load_plan_projection(store: Store, plan_id: str, projection_id: str | None) -> Projection | None:
    """The projection plan.json names (`projection_id`), rebuilt with its frames; for a plan without
    one (written before plans named their projection) the one saved under its `plan_id`. None when
    the store has none, or when the one named was saved for another plan (a projection_id copied
    from another plan.json: it is outside plan_id, so read_plan cannot catch that). StoreError when
    it cannot be read."""
    key = projection_id or plan_id
    doc = store.load_document(PROJECTION_KIND, key)
    if doc is None:
        return None
    where = f"{store.path}: stored projection {key} of plan {plan_id}"
    try:
        record = ProjectionRecord.from_document(doc, where)
        return projection_from_record(record) if record.plan_id == plan_id else None
    except ProjectionRecordError as exc:
        raise StoreError(str(exc)) from None
    except ConfigError as exc:
        raise StoreError(f"{where}: {exc}") from None
