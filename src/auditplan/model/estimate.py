"""Per-host 4688/day estimates (p10/p50/p90) with a named source, and the fleet total.

Sources, best first (DESIGN.md "Collect", "Model"): measured_4688, sysmon_eid1, process_trace,
role_peers, role_prior. The method and a worked example are in docs/estimation.md.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from auditplan.collect.interface import HostResult, HostStatus, OSInfo, ProductType
from auditplan.model.calibrate import PeerFit, lognormal_range, measured_range, shrink_to_peers
from auditplan.model.interface import EstimateSource, HostEstimate, Range
from auditplan.model.priors import Priors, load_priors, lognormal_sigma

HOURS_PER_DAY = 24


@dataclass(frozen=True)
class _Measured:
    rate: Range
    source: EstimateSource
    hourly: tuple[int, ...]
    start_hour: int  # hour of day (UTC) of hourly[0]
    notes: tuple[str, ...]


def os_family(os: OSInfo | None) -> str | None:
    """Short OS family from the build number (ProductType tells server from client)."""
    if os is None or os.current_build is None:
        return None
    build = os.current_build
    server = os.product_type in (ProductType.SERVER, ProductType.DOMAIN_CONTROLLER)
    if server:
        for low, name in ((26100, "2025"), (20348, "2022"), (17763, "2019"), (14393, "2016"),
                          (9600, "2012r2"), (9200, "2012"), (7600, "2008r2")):
            if build >= low:
                return name
        return "2008"
    if build >= 22000:
        return "win11"
    if build >= 10240:
        return "win10"
    if build >= 9600:
        return "win81"
    if build >= 7600:
        return "win7"
    return None


def _auditing_on(result: HostResult) -> bool | None:
    """Whether Process Creation (Success) was audited when the counts were taken."""
    if result.audit is not None and result.audit.process_creation is not None:
        return result.audit.process_creation.includes_success
    return None


def _own_measurement(result: HostResult, priors: Priors) -> _Measured | None:
    """measured_4688, then sysmon_eid1, then process_trace from the host's own data."""
    volume = result.volume
    if result.status is not HostStatus.OK or volume is None:
        return None
    notes: list[str] = []
    if volume.capped:
        notes.append("sample hit the event cap: counts are a lower bound")
    start_hour = volume.window_start.hour
    on = _auditing_on(result)
    counts = volume.hourly_4688
    if counts and not volume.boot_only and (on is True or (on is None and sum(counts) > 0)):
        if len(counts) < HOURS_PER_DAY:
            notes.append(f"measured over {len(counts)} h only (< 1 day)")
        return _Measured(measured_range(counts), EstimateSource.MEASURED_4688, counts, start_hour, tuple(notes))
    if volume.boot_only:
        notes.append("only boot-time 4688s: process creation auditing is off")
    sysmon = volume.hourly_sysmon_eid1
    if sysmon and sum(sysmon) > 0:
        raw = measured_range(sysmon)
        k = priors.sysmon_eid1_per_4688
        notes.append(f"Sysmon EID 1 as a proxy for 4688 (x{1 / k:g})")
        return _Measured(Range(raw.p10 / k, raw.p50 / k, raw.p90 / k), EstimateSource.SYSMON_EID1,
                         sysmon, start_hour, tuple(notes))
    # process_trace: a short live Win32_ProcessStartTrace count (a later feature). When
    # HostResult grows a trace field, convert it here; until then there is nothing to read.
    trace = getattr(result, "process_trace", None)
    if trace is not None:
        hourly = tuple(getattr(trace, "hourly", ()) or ())
        if hourly:
            return _Measured(measured_range(hourly), EstimateSource.PROCESS_TRACE, hourly, start_hour,
                             tuple(notes))
    return None


def _shape_from_counts(hourly: Sequence[int], start_hour: int) -> tuple[float, ...] | None:
    """Hour-of-day shares from a window of >= 24 hourly counts (each hour averaged over days)."""
    if len(hourly) < HOURS_PER_DAY or sum(hourly) == 0:
        return None
    sums = [0.0] * HOURS_PER_DAY
    seen = [0] * HOURS_PER_DAY
    for i, c in enumerate(hourly):
        h = (start_hour + i) % HOURS_PER_DAY
        sums[h] += c
        seen[h] += 1
    means = [s / n for s, n in zip(sums, seen, strict=True)]
    total = sum(means)
    return tuple(m / total for m in means)


def _best_result(results: Sequence[HostResult]) -> HostResult:
    """Of several results for one host (a survey and an ingest), the most useful one."""

    def rank(r: HostResult) -> tuple[int, int, float]:
        measured = r.volume is not None and bool(r.volume.hourly_4688) and not r.volume.boot_only
        return (r.status is HostStatus.OK, measured, r.collected_at.timestamp())

    return max(results, key=rank)


def _sizes(result: HostResult, priors: Priors) -> tuple[float, float, float | None, str]:
    """(xml bytes, xml bytes without CommandLine, CommandLine length p50, bytes_source)."""
    defaults = priors.event_size
    events = [e for e in result.events if e.event_id == 4688]
    if len(events) < priors.min_sampled_events:
        return defaults.xml_bytes, defaults.xml_bytes_no_cmdline, defaults.cmdline_length_p50, "dev_set"
    lengths = [len(e.command_line.encode("utf-8")) if e.command_line else 0 for e in events]
    no_cmd = sum(e.size_bytes - n for e, n in zip(events, lengths, strict=True)) / len(events)
    populated = sorted(len(e.command_line) for e in events if e.command_line)
    if not populated:
        # The command line is off on this host: its XML has no CommandLine text yet.
        return (no_cmd + defaults.xml_bytes - defaults.xml_bytes_no_cmdline, no_cmd,
                defaults.cmdline_length_p50, "sampled_no_cmdline+dev_set")
    mean_with = sum(e.size_bytes for e in events if e.command_line) / len(populated)
    return mean_with, no_cmd, float(statistics.median(populated)), "sampled"


def estimate_hosts(results: Sequence[HostResult], config: dict[str, Any]) -> list[HostEstimate]:
    """One HostEstimate per host (results for the same host name are merged; best kept)."""
    priors = load_priors(config)
    by_host: dict[str, list[HostResult]] = defaultdict(list)
    for r in results:
        by_host[r.host.name.lower()].append(r)
    chosen = [_best_result(rs) for rs in by_host.values()]

    measured: dict[str, _Measured] = {}
    peer_logs: dict[str, list[float]] = defaultdict(list)
    for r in chosen:
        m = _own_measurement(r, priors)
        if m is None:
            continue
        measured[r.host.name] = m
        if m.rate.p50 > 0:
            peer_logs[_role_key(r, priors)].append(math.log(m.rate.p50))

    fits: dict[str, PeerFit] = {}
    for key, prior in priors.roles.items():
        fits[key] = shrink_to_peers(math.log(prior.median_per_day), prior.sigma, peer_logs.get(key, []))

    estimates = [_estimate_one(r, measured.get(r.host.name), fits, priors) for r in chosen]
    return sorted(estimates, key=lambda e: e.host.lower())


def _role_key(r: HostResult, priors: Priors) -> str:
    return priors.role_key(r.host.role, r.os.product_type if r.os else None)


def _estimate_one(r: HostResult, m: _Measured | None, fits: dict[str, PeerFit], priors: Priors) -> HostEstimate:
    key = _role_key(r, priors)
    prior = priors.roles[key]
    notes: list[str] = []
    if r.status is not HostStatus.OK:
        notes.append(f"survey {r.status.value}: {r.reason or 'no detail'}; estimate from the role prior")
    if r.host.role and priors.role_key(r.host.role) == priors.default_role and key == priors.default_role:
        notes.append(f"no prior for role {r.host.role!r}: default prior used")
    shape: tuple[float, ...] | None = None
    if m is not None:
        rate, source = m.rate, m.source
        notes.extend(m.notes)
        shape = _shape_from_counts(m.hourly, m.start_hour)
    else:
        fit = fits[key]
        if fit.peers:
            rate, source = lognormal_range(fit.mu, fit.sigma), EstimateSource.ROLE_PEERS
            notes.append(f"role {key!r} calibrated from {fit.peers} measured peer(s)")
        else:
            rate, source = lognormal_range(fit.mu, fit.sigma), EstimateSource.ROLE_PRIOR
        if r.volume is not None and r.volume.boot_only and not any("boot-time" in n for n in notes):
            notes.append("only boot-time 4688s: process creation auditing is off")
    if shape is None:
        shape = prior.shape
    xml, xml_no_cmd, cmd_p50, bytes_source = _sizes(r, priors)
    audit = r.audit
    already_on = bool(audit and audit.process_creation is not None and audit.process_creation.includes_success)
    if r.volume is not None and r.volume.boot_only:
        already_on = False
    return HostEstimate(
        host=r.host.name,
        role=r.host.role,
        site=r.host.site,
        os_family=os_family(r.os),
        events_per_day=rate,
        source=source,
        peak_hour_factor=max(1.0, HOURS_PER_DAY * max(shape)),
        hourly_shape=shape,
        bytes_per_event_xml=xml,
        bytes_per_event_xml_no_cmdline=xml_no_cmd,
        cmdline_length_p50=cmd_p50,
        bytes_source=bytes_source,
        already_on=already_on,
        cmdline_already_on=bool(audit and audit.cmdline_enabled),
        cmdline_supported=r.os.cmdline_supported if r.os else None,
        notes=tuple(notes),
    )


FLEET_CHUNK = 256


def fleet_total(estimates: Sequence[HostEstimate], draws: int, seed: int) -> Range:
    """Fleet 4688/day p10/p50/p90 by seeded Monte Carlo over independent per-host log-normals.

    Each host is log-normal with median p50 and sigma = ln(p90/p50)/z90. Hosts measured at
    zero add 0. Independence understates the spread when a role prior is wrong for every host
    of the role at once (docs/estimation.md).
    """
    rng = np.random.default_rng(seed)
    totals = np.zeros(draws)
    params = [(math.log(e.events_per_day.p50), lognormal_sigma(e.events_per_day.p50, e.events_per_day.p90))
              for e in estimates if e.events_per_day.p50 > 0]
    for i in range(0, len(params), FLEET_CHUNK):
        chunk = params[i:i + FLEET_CHUNK]
        mu = np.array([p[0] for p in chunk])
        sigma = np.array([p[1] for p in chunk])
        z = rng.standard_normal((draws, len(chunk)))
        totals += np.exp(mu + sigma * z).sum(axis=1)
    p10, p50, p90 = np.percentile(totals, [10, 50, 90])
    return Range(float(p10), float(p50), float(p90))
