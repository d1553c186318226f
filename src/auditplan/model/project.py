"""Fleet projection: what enabling 4688 (with command line) costs a SIEM and each host's own log.

Per host every quantity is linear in the host's 4688 events/day, so its p10/p50/p90 are the
events/day Range times a per-host coefficient (exact). Groups (role, site, fleet) add hosts up:
their p10/p50/p90 come from a seeded Monte Carlo over per-host log-normals fitted to each Range
(mu = ln p50, sigma = (ln p90 - ln p10) / (2 * z90)). Hosts measured or traced are drawn
independently; hosts whose figure is a role prior or a peer fit share one draw per role, since
such a figure is wrong for all of them together. The planner (plan.py) adds per-host quantiles
instead: the all-wrong-together bound.
See docs/projection.md.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd

from auditplan.config import ConfigError
from auditplan.model.local_log import LocalLogSettings, local_log_frame
from auditplan.model.siem import SiemProfile
from auditplan.records import NO_GROUP, Change, EstimateSource, HostEstimate, Range
from auditplan.records.gc_pause import gc_paused

QUANTILES = ("p10", "p50", "p90")
Z90 = NormalDist().inv_cdf(0.9)
SECONDS_PER_DAY = 86400.0
HOURS_PER_DAY = 24.0
DAYS_PER_MONTH = 365.25 / 12.0

# records.Change values, as the host frame's `change` column holds them (plain strings).
CHANGE_ENABLE = Change.ENABLE_4688.value  # Process Creation off: every 4688 is new load
CHANGE_CMDLINE = Change.CMDLINE_ONLY.value  # 4688 already on, command line not: only the CommandLine bytes are new
CHANGE_NONE = Change.NONE.value  # both already on

# Metrics per host and group; each gets _p10/_p50/_p90 columns. "added_" = the change's increment.
METRICS = ("events_day", "eps_mean", "eps_peak", "gb_day", "gb_held", "cost_month")
_CHUNK = 4096
# Estimates from these sources share one error per role (the same prior or peer fit).
SHARED_ERROR_SOURCES = (str(EstimateSource.ROLE_PRIOR), str(EstimateSource.ROLE_PEERS))
SHARED_ERROR_TEXT = "role_prior and role_peers estimates share one draw per role"


@dataclass(frozen=True)
class Projection:
    """Per-host and per-group loads for one SIEM profile. Frames are indexed by host / group."""

    profile: SiemProfile
    retention_days: float
    price_per_gb: float | None  # None: unknown, costs are NaN
    currency: str
    seed: int
    draws: int
    min_local_hours: float
    hosts: pd.DataFrame
    fleet: pd.DataFrame  # one row, index "fleet"
    by_role: pd.DataFrame
    by_site: pd.DataFrame
    warnings: tuple[str, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)  # the effective config values it was made with
    # Leaf key of `config` ("plan.draws") -> "default" or the --config file it came from.
    config_sources: Mapping[str, str] = field(default_factory=dict)
    estimate_run: str = ""  # the store's estimate run (label) it projected


def change_of(estimate: HostEstimate) -> str:
    """What enabling the policy changes on this host (see CHANGE_*)."""
    if not estimate.already_on:
        return CHANGE_ENABLE
    if not estimate.cmdline_already_on:
        return CHANGE_CMDLINE
    return CHANGE_NONE


def lognormal_params(p10: float, p50: float, p90: float) -> tuple[float, float]:
    """(mu, sigma) of a log-normal through the Range; sigma 0 for a point. p50 <= 0 gives (-inf, 0)."""
    if not (p50 > 0 and math.isfinite(p50)):
        return -math.inf, 0.0
    mu = math.log(p50)
    if p10 > 0 and p90 > 0 and math.isfinite(p90):
        sigma = (math.log(p90) - math.log(p10)) / (2.0 * Z90)
    elif p90 > 0 and math.isfinite(p90):
        sigma = (math.log(p90) - mu) / Z90
    else:
        sigma = 0.0
    return mu, max(0.0, sigma)


def _lognormal_arrays(p10: np.ndarray, p50: np.ndarray, p90: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """lognormal_params over arrays (same rules, vectorised)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        ok50 = np.isfinite(p50) & (p50 > 0)
        ok90 = np.isfinite(p90) & (p90 > 0)
        ok10 = np.isfinite(p10) & (p10 > 0)
        mu = np.where(ok50, np.log(np.where(ok50, p50, 1.0)), -np.inf)
        log90 = np.log(np.where(ok90, p90, 1.0))
        log10 = np.log(np.where(ok10, p10, 1.0))
        sigma = np.where(
            ok50 & ok10 & ok90, (log90 - log10) / (2.0 * Z90), np.where(ok50 & ok90, (log90 - mu) / Z90, 0.0)
        )
    return mu, np.maximum(np.where(np.isfinite(sigma), sigma, 0.0), 0.0)


def _shapes(estimates: Sequence[HostEstimate]) -> tuple[np.ndarray, np.ndarray]:
    """Hourly shapes as an (n, 24) array and a mask of the valid ones (24 shares summing to 1)."""
    n = len(estimates)
    shapes = np.zeros((n, 24))
    lengths = np.fromiter((len(e.hourly_shape) for e in estimates), dtype=np.int64, count=n)
    full = np.flatnonzero(lengths == 24)
    if len(full):
        shapes[full] = np.array([estimates[int(i)].hourly_shape for i in full], dtype=np.float64)
    with np.errstate(invalid="ignore"):
        ok = (
            (lengths == 24)
            & np.isfinite(shapes).all(axis=1)
            & (shapes >= 0).all(axis=1)
            & (np.abs(shapes.sum(axis=1) - 1.0) < 1e-3)
        )
    shapes[~ok] = 0.0
    return shapes, ok


def _host_frame(
    estimates: Sequence[HostEstimate],
    profile: SiemProfile,
    retention_days: float,
    price: float | None,
) -> tuple[pd.DataFrame, np.ndarray, np.ndarray]:
    """Per-host coefficients and exact per-host quantiles; also the hourly shapes and a validity mask."""
    es = estimates
    xml = np.array([e.bytes_per_event_xml for e in es], dtype=float)
    xml_no = np.array([e.bytes_per_event_xml_no_cmdline for e in es], dtype=float)
    cmd_xml = np.clip(xml - xml_no, 0.0, None)
    full = profile.add_bytes + profile.size_factor * xml_no + profile.cmdline_factor * cmd_xml
    cmd = profile.cmdline_factor * cmd_xml
    change = np.array([change_of(e) for e in es], dtype=object)
    added = np.where(change == CHANGE_ENABLE, full, np.where(change == CHANGE_CMDLINE, cmd, 0.0))
    lengths = np.array([math.nan if e.cmdline_length_p50 is None else e.cmdline_length_p50 for e in es], dtype=float)
    peak = np.array([e.peak_hour_factor for e in es], dtype=float)
    peak = np.where(np.isfinite(peak), np.maximum(peak, 1.0), 1.0)
    frame = pd.DataFrame(
        {
            "host": [e.host for e in es],
            "role": [e.role or NO_GROUP for e in es],
            "site": [e.site or NO_GROUP for e in es],
            "os_family": [e.os_family or NO_GROUP for e in es],
            "source": [str(e.source) for e in es],
            "change": change,
            "cmdline_supported": pd.Series([e.cmdline_supported for e in es], dtype=object),
            "p10": np.array([e.events_per_day.p10 for e in es], dtype=float),
            "p50": np.array([e.events_per_day.p50 for e in es], dtype=float),
            "p90": np.array([e.events_per_day.p90 for e in es], dtype=float),
            "peak_hour_factor": peak,
            "bytes_per_event": full,
            "added_bytes_per_event": added,
            "cmdline_bytes_per_event": cmd,
            "xml_bytes": xml,
            "xml_no_cmdline_bytes": xml_no,
            "cmdline_chars": np.where(np.isfinite(lengths), lengths, cmd_xml),
        }
    )
    shapes, shape_ok = _shapes(es)
    frame["added_events"] = (frame["change"] == CHANGE_ENABLE).astype(float)
    add_host_metrics(frame, profile, retention_days, price)
    return frame, shapes, shape_ok


# The per-host columns every metric follows from (with the profile, retention and price): what the
# store keeps of a projection's hosts (model/stored.py), with the local log columns.
HOST_INPUT_COLUMNS = (
    "host", "role", "site", "os_family", "source", "change", "cmdline_supported", "p10", "p50", "p90",
    "peak_hour_factor", "bytes_per_event", "added_bytes_per_event", "cmdline_bytes_per_event", "xml_bytes",
    "xml_no_cmdline_bytes", "cmdline_chars", "added_events",
)


# Columns of the group tables (fleet, by_role, by_site) in _group_table's order.
GROUP_COLUMNS = (
    "hosts",
    *(f"{prefix}{m}_{q}" for q in QUANTILES for prefix in ("", "added_") for m in METRICS),
    "peak_hour_factor",
)


def add_host_metrics(frame: pd.DataFrame, profile: SiemProfile, retention_days: float, price: float | None) -> None:
    """Add each host's METRICS x QUANTILES columns (whole stream and added_) to `frame` (HOST_INPUT_COLUMNS)."""
    gb = float(profile.gb_bytes)
    held = retention_days * profile.storage_factor
    for q in QUANTILES:
        ev = frame[q].clip(lower=0.0)
        frame[f"events_day_{q}"] = ev
        frame[f"eps_mean_{q}"] = ev / SECONDS_PER_DAY
        frame[f"eps_peak_{q}"] = ev / SECONDS_PER_DAY * frame["peak_hour_factor"]
        frame[f"gb_day_{q}"] = ev * frame["bytes_per_event"] / gb
        frame[f"gb_held_{q}"] = frame[f"gb_day_{q}"] * held
        frame[f"cost_month_{q}"] = frame[f"gb_day_{q}"] * DAYS_PER_MONTH * price if price else math.nan
        added_ev = ev * frame["added_events"]
        frame[f"added_events_day_{q}"] = added_ev
        frame[f"added_eps_mean_{q}"] = added_ev / SECONDS_PER_DAY
        frame[f"added_eps_peak_{q}"] = added_ev / SECONDS_PER_DAY * frame["peak_hour_factor"]
        frame[f"added_gb_day_{q}"] = ev * frame["added_bytes_per_event"] / gb
        frame[f"added_gb_held_{q}"] = frame[f"added_gb_day_{q}"] * held
        frame[f"added_cost_month_{q}"] = (
            frame[f"added_gb_day_{q}"] * DAYS_PER_MONTH * price if price else math.nan
        )


def host_coefficients(frame: pd.DataFrame) -> np.ndarray:
    """Per host: events, bytes, added events and added bytes per 4688 (what the Monte Carlo sums)."""
    return np.stack(
        [
            np.ones(len(frame)),
            frame["bytes_per_event"].to_numpy(dtype=float),
            frame["added_events"].to_numpy(dtype=float),
            frame["added_bytes_per_event"].to_numpy(dtype=float),
        ],
        axis=1,
    )


def unusable_hosts(frame: pd.DataFrame, coeffs: np.ndarray) -> np.ndarray:
    """Hosts whose estimate has a NaN, infinite or negative number: left out of every total."""
    bad: np.ndarray = _unusable(frame[list(_CHECKED)].to_numpy(dtype=float)) | ~np.isfinite(coeffs).all(axis=1)
    return bad


def blank_unusable(frame: pd.DataFrame, bad: np.ndarray) -> None:
    """NaN for the load columns of `bad` hosts (their own rows stay NaN; the planner lists them)."""
    if bad.any():
        for col in [c for c in frame.columns if c.startswith(("added_", "events_day_", "eps_", "gb_", "cost_"))]:
            frame.loc[bad, col] = math.nan


def _group_peak_factors(
    group: np.ndarray, n_groups: int, weights: np.ndarray, shapes: np.ndarray, shape_ok: np.ndarray, factors: np.ndarray
) -> list[float]:
    """Peak-hour factor of each group's summed load, from its hosts' weighted hourly shapes.

    Hosts without a valid shape are assumed to peak in the group's peak hour (conservative)."""
    total = np.bincount(group, weights=weights, minlength=n_groups)
    shaped = np.where(shape_ok, weights, 0.0)
    weighted = shaped[:, None] * shapes
    # A bincount per hour adds the hosts in the same order np.add.at did (the same sums), far faster.
    hourly = np.stack([np.bincount(group, weights=weighted[:, h], minlength=n_groups) for h in range(24)], axis=1)
    unshaped = np.bincount(group, weights=np.where(shape_ok, 0.0, weights * factors), minlength=n_groups)
    peak = (hourly.max(axis=1) + unshaped / HOURS_PER_DAY) * HOURS_PER_DAY
    with np.errstate(invalid="ignore", divide="ignore"):
        factor = np.where(total > 0, peak / np.where(total > 0, total, 1.0), 1.0)
    return [float(v) for v in np.maximum(factor, 1.0)]


def _monte_carlo_cells(
    mu: np.ndarray,
    sigma: np.ndarray,
    coeffs: np.ndarray,
    cell: np.ndarray,
    n_cells: int,
    draws: int,
    seed: int,
    shared: np.ndarray,
    shared_group: np.ndarray,
) -> np.ndarray:
    """Sum over hosts of coeff * events/day draws, per cell: array (n_cells, n_coeffs, draws).

    Hosts must be sorted by cell. Hosts with `shared` set take the normal draw of their
    `shared_group` (one per role): a prior that is wrong is wrong for every host it covers.
    Draws come in fixed chunks of hosts in that order, so the result depends only on the seed
    and the sorted hosts.
    """
    rng = np.random.default_rng(seed)
    n_groups = int(shared_group.max(initial=-1)) + 1
    group_z = rng.standard_normal((n_groups, draws), dtype=np.float32)
    n_coeffs = coeffs.shape[1]
    mu32, sigma32, coeffs32 = mu.astype(np.float32), sigma.astype(np.float32), coeffs.astype(np.float32)
    # Each coefficient's weights contiguous, so its product is the same BLAS call for every caller.
    coeffs_by_k = np.ascontiguousarray(coeffs32.T)
    out = np.zeros((n_cells, n_coeffs, draws))
    for start in range(0, len(mu), _CHUNK):
        stop = min(start + _CHUNK, len(mu))
        # float32 halves the time of the draws; only hosts with their own error draw at all.
        own = ~shared[start:stop]
        z = np.empty((stop - start, draws), dtype=np.float32)
        z[own] = rng.standard_normal((int(own.sum()), draws), dtype=np.float32)
        z[~own] = group_z[shared_group[start:stop][~own]]
        x = np.exp(mu32[start:stop, None] + sigma32[start:stop, None] * z)  # exp(-inf) = 0 for zero hosts
        chunk_cells = cell[start:stop]
        bounds = np.flatnonzero(np.r_[True, chunk_cells[1:] != chunk_cells[:-1], True])
        chunk_coeffs = coeffs_by_k[:, start:stop]
        # Per cell and coefficient, (hosts) @ (hosts x draws): a BLAS product over a cell's rows, which
        # stay in cache, where a weighted np.add.reduceat per coefficient made and summed a full copy of
        # the chunk each time. One product per coefficient, so a coefficient's sums do not depend on
        # which others are asked for (fleet_events_day and project must print the same range).
        for lo, hi in pairwise(bounds):
            rows = x[lo:hi]
            target = out[chunk_cells[lo]]
            for k in range(n_coeffs):
                target[k] += chunk_coeffs[k, lo:hi] @ rows
    return out


def _group_table(
    sums: np.ndarray,
    names: Sequence[str],
    counts: Sequence[int],
    peak: Sequence[float],
    added_peak: Sequence[float],
    gb: float,
    held: float,
    price: float | None,
) -> pd.DataFrame:
    """Quantiles of group sums (coeff order: events, bytes, added events, added bytes)."""
    qs = np.percentile(sums, [10.0, 50.0, 90.0], axis=2)  # (3, groups, coeffs)
    data: dict[str, Any] = {"hosts": list(counts)}
    for qi, q in enumerate(QUANTILES):
        for prefix, ev_k, by_k, pk in (("", 0, 1, peak), ("added_", 2, 3, added_peak)):
            ev = qs[qi, :, ev_k]
            gbd = qs[qi, :, by_k] / gb
            data[f"{prefix}events_day_{q}"] = ev
            data[f"{prefix}eps_mean_{q}"] = ev / SECONDS_PER_DAY
            data[f"{prefix}eps_peak_{q}"] = ev / SECONDS_PER_DAY * np.asarray(pk)
            data[f"{prefix}gb_day_{q}"] = gbd
            data[f"{prefix}gb_held_{q}"] = gbd * held
            data[f"{prefix}cost_month_{q}"] = gbd * DAYS_PER_MONTH * price if price else np.full(len(names), math.nan)
    data["peak_hour_factor"] = list(peak)
    return pd.DataFrame(data, index=pd.Index(list(names), name="group"))


# Per-host numbers that must be finite and >= 0 for a host to count in group totals.
_CHECKED = ("p10", "p50", "p90", "xml_bytes", "xml_no_cmdline_bytes")


def unique_estimates(estimates: Sequence[HostEstimate]) -> tuple[list[HostEstimate], list[str]]:
    """Estimates sorted by (role, site, host), the order the Monte Carlo draws in, one per host
    name (any case); a warning for each duplicate left out."""
    warnings: list[str] = []
    seen: set[str] = set()
    unique: list[HostEstimate] = []
    for e in sorted(estimates, key=lambda e: (e.role or NO_GROUP, e.site or NO_GROUP, e.host)):
        key = e.host.lower()
        if key in seen:
            warnings.append(f"{e.host}: duplicate estimate ignored")
            continue
        seen.add(key)
        unique.append(e)
    return unique, warnings


def _unusable(values: np.ndarray) -> np.ndarray:
    """Rows with a NaN, infinite or negative number."""
    with np.errstate(invalid="ignore"):
        ok: np.ndarray = np.isfinite(values).all(axis=1) & (values >= 0).all(axis=1)
    return ~ok


def draws_by_cell(frame: pd.DataFrame, bad: np.ndarray, coeffs: np.ndarray, cell: np.ndarray, n_cells: int,
                  draws: int, seed: int) -> np.ndarray:
    """Monte Carlo sums of `frame`'s hosts (columns role, source, p10, p50, p90; sorted by `cell`)
    per cell: (n_cells, n_coeffs, draws). Hosts flagged `bad` add 0; role_prior and role_peers hosts
    share one draw per role. The draws do not depend on `coeffs`."""
    if not len(frame):
        return np.zeros((n_cells, coeffs.shape[1], draws))
    mu, sigma = _lognormal_arrays(
        frame["p10"].to_numpy(dtype=float), frame["p50"].to_numpy(dtype=float), frame["p90"].to_numpy(dtype=float)
    )
    mu[bad], sigma[bad] = -math.inf, 0.0
    shared = frame["source"].isin(SHARED_ERROR_SOURCES).to_numpy()
    role_codes, _ = pd.factorize(frame["role"], sort=True)
    return _monte_carlo_cells(mu, sigma, coeffs, cell, n_cells, draws, seed, shared, np.asarray(role_codes))


def _draw_cells(
    frame: pd.DataFrame, bad: np.ndarray, coeffs: np.ndarray, draws: int, seed: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Monte Carlo sums per (role, site) cell of `frame` (columns role, site, source, p10, p50,
    p90; rows in unique_estimates order): (cells (n_cells, n_coeffs, draws), cell roles, cell sites).
    Every caller with the same hosts, draws and seed sees the same events/day sums."""
    roles = frame["role"].to_numpy(dtype=object)
    sites = frame["site"].to_numpy(dtype=object)
    cell_codes, cell_uniques = pd.factorize(pd.MultiIndex.from_arrays([roles, sites]), sort=True)
    cells = draws_by_cell(frame, bad, coeffs, cell_codes, len(cell_uniques), draws, seed)
    cell_role = np.array([c[0] for c in cell_uniques], dtype=object)
    cell_site = np.array([c[1] for c in cell_uniques], dtype=object)
    return cells, cell_role, cell_site


def _sum_cells(cells: np.ndarray, cell_group: np.ndarray, n_groups: int) -> np.ndarray:
    """Cells added into their groups: (n_groups, n_coeffs, draws)."""
    sums = np.zeros((n_groups, cells.shape[1], cells.shape[2]))
    np.add.at(sums, cell_group, cells)
    return sums


def fleet_events_day(estimates: Sequence[HostEstimate], *, draws: int, seed: int) -> Range:
    """The fleet's 4688 events/day p10/p50/p90 by the Monte Carlo of `project` (role_prior and
    role_peers hosts share one draw per role): the same numbers as `project(...).fleet`'s
    events_day_* for the same estimates, draws and seed."""
    if draws < 10:
        raise ConfigError(f"draws must be >= 10, got {draws}")
    unique, _ = unique_estimates(estimates)
    frame = pd.DataFrame(
        {
            "role": [e.role or NO_GROUP for e in unique],
            "site": [e.site or NO_GROUP for e in unique],
            "source": [str(e.source) for e in unique],
            "p10": np.array([e.events_per_day.p10 for e in unique], dtype=float),
            "p50": np.array([e.events_per_day.p50 for e in unique], dtype=float),
            "p90": np.array([e.events_per_day.p90 for e in unique], dtype=float),
            "xml_bytes": np.array([e.bytes_per_event_xml for e in unique], dtype=float),
            "xml_no_cmdline_bytes": np.array([e.bytes_per_event_xml_no_cmdline for e in unique], dtype=float),
        }
    )
    bad = _unusable(frame[list(_CHECKED)].to_numpy(dtype=float))
    cells, _, _ = _draw_cells(frame, bad, np.ones((len(frame), 1)), draws, seed)
    sums = _sum_cells(cells, np.zeros(len(cells), dtype=np.int64), 1)
    p10, p50, p90 = np.percentile(sums, [10.0, 50.0, 90.0], axis=2)[:, 0, 0]
    return Range(float(p10), float(p50), float(p90))


@gc_paused()
def project(
    estimates: Sequence[HostEstimate],
    profile: SiemProfile,
    *,
    retention_days: float,
    price_per_gb: float | None,
    currency: str | None,
    seed: int,
    draws: int = 1000,
    survey: pd.DataFrame | None = None,
    local_log: LocalLogSettings | None = None,
) -> Projection:
    """Project 4688 load for `profile`: per host (exact quantiles) and per role, site and fleet
    (Monte Carlo, `draws` draws from `seed`). `price_per_gb` None or 0 falls back to the profile's
    price; 0 there means unknown (costs NaN). `survey` (Store.hosts_frame()) feeds local log sizing."""
    if retention_days < 0 or not math.isfinite(retention_days):
        raise ConfigError(f"retention days must be >= 0, got {retention_days!r}")
    if draws < 10:
        raise ConfigError(f"draws must be >= 10, got {draws}")
    settings = local_log or LocalLogSettings()
    price = price_per_gb if price_per_gb else (profile.price_per_gb or None)
    unique, warnings = unique_estimates(estimates)
    frame, shapes, shape_ok = _host_frame(unique, profile, retention_days, price)
    frame = pd.concat([frame, local_log_frame(frame, survey, settings).drop(columns=["host"])], axis=1)

    gb = float(profile.gb_bytes)
    held = retention_days * profile.storage_factor
    added_ev = frame["added_events"].to_numpy(dtype=float)
    coeffs = host_coefficients(frame)
    # An estimate with NaN/inf/negative numbers would poison every sum: keep it out of the group
    # totals (its own row stays NaN, and the planner lists it as unusable) and say so.
    bad = unusable_hosts(frame, coeffs)
    if bad.any():
        coeffs[bad] = 0.0
        names = frame.loc[bad, "host"].tolist()
        warnings.append(
            f"{len(names)} estimate(s) with missing or negative numbers left out of the totals: "
            + ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        )
        blank_unusable(frame, bad)
    roles = frame["role"].to_numpy(dtype=object)
    sites = frame["site"].to_numpy(dtype=object)
    cells, cell_role, cell_site = _draw_cells(frame, bad, coeffs, draws, seed)
    n_cells = len(cell_role)
    p50 = np.where(bad, 0.0, frame["p50"].clip(lower=0.0).to_numpy(dtype=float))
    factors = frame["peak_hour_factor"].to_numpy(dtype=float)

    def table(labels_of_cells: np.ndarray, labels_of_hosts: np.ndarray) -> pd.DataFrame:
        names = sorted(set(labels_of_cells.tolist()))
        index = {n: i for i, n in enumerate(names)}
        cell_group = np.array([index[n] for n in labels_of_cells.tolist()], dtype=np.int64)
        host_group = np.array([index[n] for n in labels_of_hosts.tolist()], dtype=np.int64)
        g = len(names)
        sums = _sum_cells(cells, cell_group, g)
        counts = np.bincount(host_group, minlength=g).tolist()
        peaks = _group_peak_factors(host_group, g, p50, shapes, shape_ok, factors)
        added_peaks = _group_peak_factors(host_group, g, p50 * added_ev, shapes, shape_ok, factors)
        return _group_table(sums, names, counts, peaks, added_peaks, gb, held, price)

    by_role = table(cell_role, roles)
    by_site = table(cell_site, sites)
    fleet = table(np.array(["fleet"] * n_cells, dtype=object), np.array(["fleet"] * len(frame), dtype=object))
    if fleet.empty:
        fleet = _group_table(np.zeros((1, 4, draws)), ["fleet"], [0], [1.0], [1.0], gb, held, price)
    unknown_rate = int((~frame["current_rate_known"]).sum())
    if unknown_rate:
        warnings.append(
            f"{unknown_rate} host(s) without a current Security log rate: local hours count the added 4688s only"
        )
    return Projection(
        profile=profile,
        retention_days=retention_days,
        price_per_gb=price,
        currency=currency or profile.currency,
        seed=seed,
        draws=draws,
        min_local_hours=settings.min_local_hours,
        hosts=frame.set_index("host", drop=False).rename_axis("host_key"),
        fleet=fleet,
        by_role=by_role,
        by_site=by_site,
        warnings=tuple(warnings),
    )
