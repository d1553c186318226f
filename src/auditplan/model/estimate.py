"""Per-host 4688/day estimates (p10/p50/p90) with a named source, and the fleet total.

Sources, best first (DESIGN.md "Collect", "Model"): measured_4688, sysmon_eid1, process_trace,
role_peers, role_prior. The method and worked examples are in docs/estimation.md: a measured host's day
is model/hours.py, the series it comes from model/measure.py, role calibration model/calibrate.py.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from auditplan.model.calibrate import PeerFit, lognormal_range, shrink_to_peers
from auditplan.model.hours import BURSTY_K2, DayRate, choose_shape, day_rate, own_shape
from auditplan.model.measure import Series, auditing_on, host_series
from auditplan.model.priors import Priors, load_priors
from auditplan.model.trace_rate import trace_exposure, trace_posterior
from auditplan.records import (
    EstimateSource,
    HostEstimate,
    HostResult,
    HostStatus,
    OSInfo,
    ProductType,
    Range,
)

HOURS_PER_DAY = 24
# A peer measured at zero counts as this many events over its window, so a quiet host pulls its role
# down instead of dropping out (docs/estimation.md, "Role peers"); its log-variance is ZERO_PEER_VAR.
ZERO_PEER_EVENTS = 0.5
ZERO_PEER_VAR = 1.0
FULL_COVERAGE = 0.999  # a window whose hours hold (nearly) the whole day by the shape
# An ingested file with fewer usable hours does not calibrate its role: a seconds-long attack capture is one
# hour-aligned hour holding a burst (evtx-data.md §5.1). A survey's short window comes from a Security log
# that holds few hours, which busy hosts have most: those count, weighted by their own (wide) variance.
MIN_PEER_HOURS = 12


@dataclass(frozen=True)
class _Measured:
    rate: Range
    source: EstimateSource
    shape: tuple[float, ...]
    notes: tuple[str, ...]
    flags: tuple[str, ...]
    narrow_by: str
    peer_log: tuple[float, float] | None  # (ln 4688/day, its variance) as a calibration peer of its role


@dataclass(frozen=True)
class _RoleShapes:
    """Hour-of-day shapes measured on hosts of each role whose window covered the whole day."""

    shape: dict[str, tuple[float, ...]]
    peak: dict[str, float]  # median peak-hour factor of those hosts
    hosts: dict[str, int]
    each: dict[str, list[tuple[float, ...]]]  # every such host's own shape


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


def _role_shapes(chosen: Sequence[HostResult], series: dict[str, Series], priors: Priors) -> _RoleShapes:
    """Per role: the mean of its whole-day hosts' own shapes, and the median of their peak-hour factors
    (a mean shape smooths each host's own bursts away; the peak a host of the role shows is the median's)."""
    shapes: dict[str, list[tuple[float, ...]]] = defaultdict(list)
    for r in chosen:
        s = series.get(r.host.name)
        if s is not None and (own := own_shape(s.hours)) is not None:
            shapes[_role_key(r, priors)].append(own)
    mean = {k: tuple(sum(col) / len(v) for col in zip(*v, strict=True)) for k, v in shapes.items()}
    peak = {k: float(statistics.median(HOURS_PER_DAY * max(sh) for sh in v)) for k, v in shapes.items()}
    return _RoleShapes(mean, peak, {k: len(v) for k, v in shapes.items()}, dict(shapes))


def _reference(key: str, shapes: _RoleShapes, priors: Priors) -> tuple[tuple[float, ...], float, str]:
    """The shape a partial window of role `key` is extrapolated with, its log-sd, and its name."""
    if key in shapes.shape:
        return shapes.shape[key], priors.peer_shape_sigma, f"the hour shape of {shapes.hosts[key]} measured peer(s)"
    return priors.roles[key].shape, priors.prior_shape_sigma, f"role {key!r}'s configured hour shape"


def _measure(r: HostResult, s: Series, shapes: _RoleShapes, priors: Priors) -> _Measured:
    key = _role_key(r, priors)
    _mean, shape_sd, named = _reference(key, shapes, priors)
    # Candidates for a partial window: the role's whole-day hosts' own shapes and the configured shapes.
    configured = list(dict.fromkeys([priors.roles[key].shape, *(p.shape for p in priors.roles.values())]))
    reference, shape_var = choose_shape(s.hours, [*shapes.each.get(key, []), *configured])
    dr: DayRate = day_rate(s.hours, reference, shape_sd=shape_sd, day_sd=priors.day_to_day_sigma, cap=s.cap,
                           shape_var=shape_var)
    rate = Range(dr.rate.p10 * s.scale, dr.rate.p50 * s.scale, dr.rate.p90 * s.scale)
    notes = list(s.notes)
    flags: list[str] = []
    narrow: list[str] = []
    n = len(s.hours)
    if dr.coverage < FULL_COVERAGE:
        flags.append("partial_day")
        notes.append(f"measured over {n} h covering {dr.coverage:.0%} of the day: extrapolated with the shapes "
                     f"({named} and the configured ones) that fit its hours, range widened for the hours not seen")
        held = r.security_log.history_hours if r.security_log is not None else None
        if held is not None and held < HOURS_PER_DAY:
            narrow.append(f"a larger Security log (it holds {held:.0f} h): a whole day measured")
        else:
            narrow.append("a survey window of at least 24 h")
    elif n < HOURS_PER_DAY:
        notes.append(f"measured over {n} h only (< 1 day)")
    if dr.capped_hours:
        flags.append("capped")
        notes.append(f"{dr.capped_hours} h above the per-hour cap of {s.cap} events: each measured over the "
                     "part of the hour its newest events span")
    if dr.censored_hours:
        flags.append("censored")
        notes.append(f"{dr.censored_hours} capped h of unknown span: counted as at least {s.cap}, "
                     "filled from the shape")
    if dr.capped_hours or dr.censored_hours:
        narrow.append("a higher --max-events (whole hours counted)")
    if dr.burst_k2 >= BURSTY_K2:
        flags.append("bursty")
        notes.append(f"bursty: hours swing {math.sqrt(dr.burst_k2):.1f}x their mean beyond Poisson; range widened")
        if dr.days < 2:
            narrow.append("a longer window (--window-hours 168)")
    peer: tuple[float, float] | None
    if r.source != "winrm" and n < MIN_PEER_HOURS:
        peer = None
    elif rate.p50 > 0:
        peer = (math.log(rate.p50), dr.log_sd**2)
    else:
        peer = (math.log(ZERO_PEER_EVENTS * s.scale / max(dr.days, 1 / HOURS_PER_DAY)), ZERO_PEER_VAR)
    return _Measured(rate, s.source, dr.shape, tuple(notes), tuple(flags), "; ".join(narrow), peer)


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

    series: dict[str, Series] = {}
    why_not: dict[str, tuple[str, ...]] = {}
    for r in chosen:
        s, unmeasured_notes = host_series(r, priors)
        if s is None:
            why_not[r.host.name] = unmeasured_notes
        else:
            series[r.host.name] = s
    shapes = _role_shapes(chosen, series, priors)
    measured: dict[str, _Measured] = {}
    peers: dict[str, list[tuple[float, float]]] = defaultdict(list)
    short: dict[str, int] = defaultdict(int)
    for r in chosen:
        if (s := series.get(r.host.name)) is None:
            continue
        m = _measure(r, s, shapes, priors)
        measured[r.host.name] = m
        if m.peer_log is not None:
            peers[_role_key(r, priors)].append(m.peer_log)
        else:
            short[_role_key(r, priors)] += 1

    fits: dict[str, PeerFit] = {}
    for key, prior in priors.roles.items():
        logs = peers.get(key, [])
        fits[key] = shrink_to_peers(math.log(prior.median_per_day), prior.sigma, [y for y, _ in logs],
                                    [v for _, v in logs])
    estimates = [_estimate_one(r, measured.get(r.host.name), fits, shapes, priors, why_not.get(r.host.name, ()),
                               short.get(_role_key(r, priors), 0)) for r in chosen]
    return sorted(estimates, key=lambda e: e.host.lower())


def _role_key(r: HostResult, priors: Priors) -> str:
    return priors.role_key(r.host.role, r.os.product_type if r.os else None)


def _unmeasured(r: HostResult, fit: PeerFit, key: str, shapes: _RoleShapes, priors: Priors,
                notes: list[str]) -> tuple[Range, EstimateSource, tuple[str, ...], str]:
    """process_trace (the role's range updated by the trace's count), else role_peers / role_prior."""
    shape, shape_sd, named = _reference(key, shapes, priors)
    trace = r.trace
    if trace is not None and trace.seconds > 0 and r.status is HostStatus.OK:
        # The host's share of its day in the traced seconds is the role's, uncertain by how much the role's
        # hosts differ at that hour: that spread joins the trace's own noise.
        exposure, spread = trace_exposure(trace, shape, shapes.each.get(key, []), shape_sd)
        rate = trace_posterior(trace, shape, fit.mu, fit.sigma, math.hypot(priors.trace_noise_sigma, spread),
                               exposure=exposure)
        notes.append(f"live process-start trace: {trace.process_starts} starts in {trace.seconds:g} s, placed in "
                     f"the day by {named} at the trace's own hour (their spread there {spread:.2f} in log), "
                     f"combined with role {key!r}'s range")
        return rate, EstimateSource.PROCESS_TRACE, ("trace",), "a longer trace, or 4688 on (the pilot)"
    rate = lognormal_range(fit.mu, fit.sigma)
    if fit.peers:
        notes.append(f"role {key!r} calibrated from {fit.peers} measured peer(s)")
        return rate, EstimateSource.ROLE_PEERS, ("peers",), "measure it: 4688 on in the pilot, or --trace-seconds"
    return rate, EstimateSource.ROLE_PRIOR, ("prior_only",), f"measure any host of role {key!r} (the pilot)"


def _estimate_one(r: HostResult, m: _Measured | None, fits: dict[str, PeerFit], shapes: _RoleShapes,
                  priors: Priors, unmeasured_notes: tuple[str, ...] = (), left_out: int = 0) -> HostEstimate:
    key = _role_key(r, priors)
    notes: list[str] = list(unmeasured_notes)
    if r.host.role and priors.role_key(r.host.role) == priors.default_role and key == priors.default_role:
        notes.append(f"no prior for role {r.host.role!r}: default prior used")
    if m is not None:
        rate, source, flags, narrow_by = m.rate, m.source, m.flags, m.narrow_by
        notes.extend(m.notes)
        shape = m.shape
        peak = HOURS_PER_DAY * max(shape)
    else:
        rate, source, flags, narrow_by = _unmeasured(r, fits[key], key, shapes, priors, notes)
        if left_out:
            notes.append(f"{left_out} measured host(s) of role {key!r} left out of its calibration: ingested "
                         f"over < {MIN_PEER_HOURS} usable h")
        shape = _reference(key, shapes, priors)[0]
        # Peers' own peaks, not their mean shape's: bursts at different hours average away in the mean.
        peak = shapes.peak.get(key, HOURS_PER_DAY * max(shape))
        if r.status is not HostStatus.OK:
            used = {EstimateSource.ROLE_PEERS: "role peers", EstimateSource.ROLE_PRIOR: "the role prior"}
            notes.insert(0, f"survey {r.status.value}: {r.reason or 'no detail'}; estimate from "
                            f"{used.get(source, 'the role')}")
        if r.volume is not None and r.volume.boot_only and not any("boot-time" in n for n in notes):
            notes.append("only boot-time 4688s: process creation auditing is off")
    xml, xml_no_cmd, cmd_p50, bytes_source = _sizes(r, priors)
    audit = r.audit
    already_on = bool(auditing_on(r))
    if r.volume is not None and r.volume.boot_only:
        already_on = False
    return HostEstimate(
        host=r.host.name,
        role=r.host.role,
        site=r.host.site,
        os_family=os_family(r.os),
        events_per_day=rate,
        source=source,
        peak_hour_factor=max(1.0, peak),
        hourly_shape=shape,
        bytes_per_event_xml=xml,
        bytes_per_event_xml_no_cmdline=xml_no_cmd,
        cmdline_length_p50=cmd_p50,
        bytes_source=bytes_source,
        already_on=already_on,
        cmdline_already_on=bool(audit and audit.cmdline_enabled),
        cmdline_supported=r.os.cmdline_supported if r.os else None,
        notes=tuple(notes),
        flags=flags,
        narrow_by=narrow_by,
    )
