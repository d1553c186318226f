"""What `auditplan estimate` and `auditplan project` show: the machine output (--json, --csv) and
the figures the tables print (capacity units, hosts short of local log history), built here so the
commands only print them and a library user gets the same numbers."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

import pandas as pd

from auditplan.model.project import METRICS, QUANTILES, SHARED_ERROR_TEXT, Projection
from auditplan.records import HostEstimate, Range
from auditplan.store.export import frame_records, frame_to_csv

FLEET_ROW: Final = "(fleet total)"

# Columns of the per-host machine output: every METRICS x QUANTILES figure, for the whole 4688
# stream after enablement and for the added load ("added_"), then byte and local-log columns.
HOST_COLUMNS: Final = (
    "host", "role", "site", "os_family", "source", "change",
    *(f"{metric}_{q}" for metric in METRICS for q in QUANTILES),
    *(f"added_{metric}_{q}" for metric in METRICS for q in QUANTILES),
    "peak_hour_factor", "bytes_per_event", "added_bytes_per_event",
    "log_max_size_bytes", "current_bytes_per_hour", "local_hours_p50", "local_hours_p90",
    "meets_min_local_hours", "recommended_log_max_size_mb", "log_size_capped",
)


def estimate_row(e: HostEstimate) -> dict[str, Any]:
    """One host's estimate as `auditplan estimate --json / --csv` prints it."""
    return {
        "host": e.host,
        "role": e.role,
        "site": e.site,
        "os_family": e.os_family,
        "source": e.source.value,
        "events_per_day_p10": round(e.events_per_day.p10, 1),
        "events_per_day_p50": round(e.events_per_day.p50, 1),
        "events_per_day_p90": round(e.events_per_day.p90, 1),
        "peak_hour_factor": round(e.peak_hour_factor, 3),
        "bytes_per_event_xml": round(e.bytes_per_event_xml, 1),
        "bytes_per_event_xml_no_cmdline": round(e.bytes_per_event_xml_no_cmdline, 1),
        "cmdline_length_p50": e.cmdline_length_p50,
        "bytes_source": e.bytes_source,
        "already_on": e.already_on,
        "cmdline_already_on": e.cmdline_already_on,
        "cmdline_supported": e.cmdline_supported,
        "notes": "; ".join(e.notes),
        # Issue 15: what limits the range (capped, censored, partial_day, bursty, peers, prior_only, trace),
        # space-separated, and what would narrow it.
        "flags": " ".join(e.flags),
        "narrow_by": e.narrow_by,
    }


def estimate_fleet(total: Range, hosts: int, draws: int, seed: int) -> dict[str, Any]:
    """The fleet total as `auditplan estimate --json` prints it."""
    return {"hosts": hosts, "events_per_day_p10": round(total.p10, 1), "events_per_day_p50": round(total.p50, 1),
            "events_per_day_p90": round(total.p90, 1), "method": "monte_carlo", "draws": draws, "seed": seed,
            "shared_error": SHARED_ERROR_TEXT}


def estimate_csv_text(rows: Sequence[dict[str, Any]], fleet: dict[str, Any]) -> str:
    """One row per host, then the fleet-total row."""
    fleet_row: dict[str, Any] = dict.fromkeys(rows[0])
    fleet_row.update(host=FLEET_ROW, source="monte_carlo", events_per_day_p10=fleet["events_per_day_p10"],
                     events_per_day_p50=fleet["events_per_day_p50"], events_per_day_p90=fleet["events_per_day_p90"])
    return frame_to_csv(pd.DataFrame([*rows, fleet_row]))


def change_summary(p: Projection) -> dict[str, dict[str, float]]:
    """Hosts and added GB/day (sum of per-host p50 / p90) per kind of change: the
    `cmdline_only` row is the delta of command-line auditing alone."""
    out: dict[str, dict[str, float]] = {}
    for change, group in p.hosts.groupby("change", sort=True):
        out[str(change)] = {
            "hosts": len(group),
            "added_gb_day_p50": float(group["added_gb_day_p50"].sum()),
            "added_gb_day_p90": float(group["added_gb_day_p90"].sum()),
        }
    return out


def capacity_units(p: Projection) -> float | None:
    """How many units of the profile's EPS capacity (e.g. WEC servers) the whole 4688 stream after
    enablement needs, at p90 of the profile's EPS basis; None for a profile without one."""
    prof = p.profile
    if prof.eps_capacity <= 0:
        return None
    basis = "eps_peak" if prof.eps_basis == "peak" else "eps_mean"
    units = float(p.fleet[f"{basis}_p90"].iloc[0]) / prof.eps_capacity
    return units if math.isfinite(units) else None


@dataclass(frozen=True)
class LocalHistory:
    """Local Security log history after enablement against the target (--min-local-hours)."""

    target_hours: float
    surveyed: int  # hosts whose log MaxSize the survey read
    short: pd.DataFrame  # of them, those below the target at p90: host rows, shortest history first

    @property
    def hosts_below(self) -> list[str]:
        return [str(h) for h in self.short["host"].tolist()]


def local_history(p: Projection) -> LocalHistory:
    """The surveyed hosts that would hold less than the target's hours of history at p90."""
    hosts = p.hosts
    surveyed = hosts["log_max_size_bytes"].notna()
    short = hosts[~hosts["meets_min_local_hours"].astype(bool) & surveyed]
    return LocalHistory(p.min_local_hours, int(surveyed.sum()), short.sort_values(["local_hours_p90", "host"]))


def projections_document(projections: Sequence[Projection]) -> dict[str, Any]:
    """`auditplan project --json`: per SIEM the profile, settings, fleet, by_role, by_site and hosts,
    the capacity units the stream needs (null without an EPS capacity) and the surveyed hosts below
    the local history target."""
    out: dict[str, Any] = {}
    for p in projections:
        history = local_history(p)
        out[p.profile.name] = {
            "profile": {"description": p.profile.description, "gb_bytes": p.profile.gb_bytes,
                        "licence": p.profile.licence, "eps_basis": p.profile.eps_basis,
                        "eps_capacity": p.profile.eps_capacity, "sources": dict(p.profile.sources)},
            "retention_days": p.retention_days, "price_per_gb": p.price_per_gb, "currency": p.currency,
            "method": {"kind": "monte_carlo", "draws": p.draws, "seed": p.seed, "shared_error": SHARED_ERROR_TEXT},
            "min_local_hours": p.min_local_hours,
            "changes": change_summary(p),
            "fleet": frame_records(p.fleet.reset_index())[0],
            "by_role": frame_records(p.by_role.reset_index()),
            "by_site": frame_records(p.by_site.reset_index()),
            "hosts": frame_records(p.hosts[list(HOST_COLUMNS)]),
            "warnings": list(p.warnings),
            "capacity_units_p90": capacity_units(p),
            "local_log": {"surveyed_hosts": history.surveyed, "hosts_below_min_local_hours": history.hosts_below},
        }
    return {"siem": out}


def projections_csv_text(projections: Sequence[Projection]) -> str:
    """`auditplan project --csv`: one row per SIEM and host."""
    frames = [p.hosts[list(HOST_COLUMNS)].assign(siem=p.profile.name) for p in projections]
    frame = pd.concat(frames, ignore_index=True)
    return frame_to_csv(frame[["siem", *HOST_COLUMNS]])
