"""Estimate accuracy against simulated fleets of known truth (issue 15), at default settings.

Per seed: a 72-host fleet from simulator/accuracy_fleet.py (roles far from the priors, rates 50 to
200,000 4688/day, flat/office/server/batch/bursty hours, day-to-day variation, 20 MB to 4 GB Security
logs, hosts with 4688 on, off with Sysmon, off) is served by the simulator on loopback, surveyed with
the real pywinrm stack (collect.api.survey, default probe options), estimated (model.api.estimate) and
scored against each host's expected 4688/day.

Printed per fleet: truth, fleet p10/p50/p90 and its error; then over all fleets the issue's targets:
fleet p50 within +-10 % and truth inside p10..p90 in every seed; median |p50 error| <= 10 % for
measured hosts and <= 15 % for measured hosts >= 50,000/day; 80 % intervals covering 75-90 % of hosts
overall and >= 70 % in every class (measured, peers, prior, trace).

Usage: .venv/bin/python bench/accuracy.py [--seeds 5] [--first-seed 1] [--hosts-per-role-scale 1.0]
       [--trace-seconds 60]  (not a default setting: adds the trace class for hosts with 4688 and Sysmon off)
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

from auditplan.collect import api as collect
from auditplan.model import api as model
from auditplan.records import Host, HostStatus
from auditplan.simulator.accuracy_fleet import ROLES, FleetScore, TruthHost, accuracy_fleet, score_fleet, summary
from auditplan.simulator.fleet import sim_host
from auditplan.simulator.interface import Credentials
from auditplan.simulator.server import FleetServer

USERNAME = "auditor"


def survey_and_estimate(truth: Sequence[TruthHost], work: Path, probe: collect.ProbeOptions | None = None,
                        concurrency: int = 8) -> model.EstimateRun:
    """Serve the fleet, survey it over WinRM into a fresh store, and estimate it."""
    password = "Pw-" + secrets.token_hex(8)
    server = FleetServer([sim_host(t.profile) for t in truth], users=[Credentials(USERNAME, password)],
                         auth={"basic"}, tls=None, allow_unencrypted=True)
    db = work / "accuracy.db"
    with server:
        hosts = []
        for t in truth:
            address, port = server.endpoint(t.profile.name)
            hosts.append(Host(name=t.profile.name, address=address, port=port, role=t.profile.role,
                              site=t.profile.site, source="accuracy"))
        settings = collect.TransportSettings(
            username=USERNAME, password=collect.Secret(password), transport=collect.AuthTransport("basic"),
            scheme="http", allow_basic_over_http=True, operation_timeout=20, read_timeout=60, deadline=300.0)
        results = collect.survey(hosts, db, settings, probe=probe, concurrency=concurrency)
    failed = [r.host.name for r in results.results if r.status is not HostStatus.OK]
    if failed:
        raise SystemExit(f"survey failed for {len(failed)} host(s): {', '.join(failed[:5])}")
    return model.estimate(db)


def run(seeds: Sequence[int], scale: float = 1.0, trace_seconds: int = 0) -> list[FleetScore]:
    roles = tuple(replace(r, hosts=max(1, round(r.hosts * scale))) for r in ROLES)
    probe = collect.ProbeOptions(trace_seconds=trace_seconds) if trace_seconds else None
    scores = []
    for seed in seeds:
        truth = accuracy_fleet(seed, roles=roles)
        with tempfile.TemporaryDirectory(prefix="ap-accuracy-") as tmp:
            run_ = survey_and_estimate(truth, Path(tmp), probe)
        assert run_.fleet is not None
        scores.append(score_fleet(seed, truth, run_.estimates, run_.fleet))
    return scores


def print_report(scores: Sequence[FleetScore]) -> None:
    for s in scores:
        f = s.fleet
        print(f"seed {s.seed}: {len(s.hosts)} hosts, truth {s.truth:,.0f}/day; fleet p10/p50/p90 "
              f"{f.p10:,.0f} / {f.p50:,.0f} / {f.p90:,.0f}: p50 {s.fleet_error:+.1%}, "
              f"truth {'inside' if s.fleet_covered else 'OUTSIDE'} p10..p90")
    figures = summary(scores)
    hosts = [h for s in scores for h in s.hosts]
    print(f"hosts: {len(hosts)}; " + ", ".join(f"{c} {int(figures.get(f'hosts_{c}', 0))}"
                                                for c in ("measured", "peers", "prior", "trace")))
    print(f"fleet total: max |p50 error| {figures['fleet_error_max']:.1%} (target <= 10 %), truth inside "
          f"p10..p90 in {figures['fleet_covered']:.0%} of seeds (target 100 %)")
    print(f"per host: median |p50 error| measured {figures['measured_median_abs_error']:.1%} (target <= 10 %), "
          f"measured >= 50k/day {figures['busy_median_abs_error']:.1%} (target <= 15 %)")
    classes = ", ".join(f"{c} {figures[f'coverage_{c}']:.0%} (median signed error {figures[f'median_error_{c}']:+.1%})"
                        for c in ("measured", "peers", "prior", "trace") if f"coverage_{c}" in figures)
    print(f"80 % intervals: cover {figures['coverage']:.0%} of hosts (target 75-90 %); by class: {classes} "
          "(target >= 70 % each)")
    shapes = sorted({h.shape for h in hosts})
    by_shape = []
    for shape in shapes:
        members = [h for h in hosts if h.shape == shape and h.cls == "measured"]
        if members:
            errs = sorted(abs(h.error) for h in members)
            by_shape.append(f"{shape} {errs[len(errs) // 2]:.1%} / {sum(h.covered for h in members) / len(members):.0%}")
    print("measured hosts by shape (median |error| / coverage): " + ", ".join(by_shape))


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--first-seed", type=int, default=1)
    parser.add_argument("--hosts-per-role-scale", type=float, default=1.0)
    parser.add_argument("--hosts", action="store_true", help="print every host's truth and estimate")
    parser.add_argument("--trace-seconds", type=int, default=0,
                        help="survey with a live process-start trace (not a default): the trace class")
    args = parser.parse_args(argv)
    scores = run(range(args.first_seed, args.first_seed + args.seeds), args.hosts_per_role_scale,
                 args.trace_seconds)
    if args.hosts:
        for s in scores:
            for h in s.hosts:
                e = h.estimate
                print(f"{h.host:16} {h.cls:8} {h.shape:7} truth {h.truth:>10,.0f}  p10/p50/p90 {e.p10:>10,.0f} "
                      f"{e.p50:>10,.0f} {e.p90:>10,.0f}  {h.error:+7.1%} {'' if h.covered else 'MISS'}")
    print_report(scores)
    return 0


if __name__ == "__main__":
    sys.exit(main())
