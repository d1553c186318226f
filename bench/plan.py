"""Bench: `project` + `plan` (+ plan.json / plan.csv text) for synthetic fleets of 10k, 30k, 100k hosts.

Prints wall time and CPU time of project + plan (CPU time is the fairer figure on a shared,
busy machine), time per 10,000 hosts (near-linear growth expected) and peak traced memory
(tracemalloc, Python + numpy allocations) and the process's peak RSS (resource.getrusage); also
what `auditplan plan` adds to save the projection beside the plan in the store (the document,
its JSON text as the store keeps it, its projection_id digest, and its size). Calls auditplan.model.api only.
Targets: 100,000 hosts in under 3 s (issue 17; the first brief said 5 s and 1 GB), memory under
4 GB at 1,000,000 hosts. Peak RSS is shown twice: up to the end of project + plan (the synthetic fleet
included), and for the whole run with the plan files and the stored projection document.
Run: .venv/bin/python bench/plan.py [--sizes 10000,30000,100000]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import time
import tracemalloc

import pandas as pd

from auditplan.config import load_defaults
from auditplan.model.api import (
    PlanOptions,
    load_siem_profiles,
    plan_csv_text,
    plan_totals,
    plan_waves,
    project_estimates,
    projection_record,
)
from auditplan.records import (
    EstimateSource,
    HostEstimate,
    Range,
    document_text,
    plan_document,
    plan_json_text,
    projection_id_of,
)

ROLES = ("domain_controller", "file_server", "sql_server", "web_server", "app_server", "rds_host", "workstation")
OS = ("2012r2", "2016", "2019", "2022", "2025", "win10", "win11")
SOURCES = (EstimateSource.MEASURED_4688, EstimateSource.ROLE_PEERS, EstimateSource.ROLE_PRIOR)


def synthetic_fleet(n: int, seed: int = 1) -> tuple[list[HostEstimate], pd.DataFrame]:
    rng = random.Random(seed)
    shape = tuple([0.02] * 6 + [0.06] * 12 + [0.02] * 6)
    shape = tuple(s / sum(shape) for s in shape)
    estimates = []
    survey: dict[str, list[str | int | float | None]] = {
        "host": [], "status": [], "reason": [], "group": [], "log_max_size_bytes": [],
        "log_file_size_bytes": [], "log_history_hours": [],
    }
    for i in range(n):
        p50 = rng.lognormvariate(7.5, 1.0)
        spread = rng.uniform(1.5, 4.0)
        name = f"host{i:06d}"
        on = rng.random() < 0.15
        estimates.append(HostEstimate(
            host=name, role=rng.choice(ROLES), site=f"site{rng.randrange(60):02d}", os_family=rng.choice(OS),
            events_per_day=Range(p50 / spread, p50, p50 * spread), source=rng.choice(SOURCES),
            peak_hour_factor=1.44, hourly_shape=shape, bytes_per_event_xml=1508.0,
            bytes_per_event_xml_no_cmdline=1420.0, cmdline_length_p50=81.0, bytes_source="dev_set",
            already_on=on, cmdline_already_on=on and rng.random() < 0.5, cmdline_supported=rng.random() > 0.02,
        ))
        survey["host"].append(name)
        survey["status"].append("ok" if rng.random() > 0.03 else "timeout")
        survey["reason"].append("")
        survey["group"].append(None)
        survey["log_max_size_bytes"].append(rng.choice((20, 128, 1024)) * 2**20)
        survey["log_file_size_bytes"].append(rng.choice((20, 128)) * 2**20)
        survey["log_history_hours"].append(rng.uniform(4, 400))
    return estimates, pd.DataFrame(survey)


def run(n: int, trace: bool = False) -> dict[str, float]:
    estimates, survey = synthetic_fleet(n)
    profile = load_siem_profiles(load_defaults())["splunk-xml"]
    if trace:
        tracemalloc.start()
    c0 = time.process_time()
    t0 = time.perf_counter()
    projection = project_estimates(estimates, profile, retention_days=90, price_per_gb=1.0, currency=None,
                                   seed=4688, survey=survey)
    t1 = time.perf_counter()
    fleet_gb = float(projection.fleet.iloc[0]["added_gb_day_p90"])
    options = PlanOptions(budget_kind="gb_day", budget=fleet_gb * 0.8, max_step=fleet_gb * 0.1)
    result = plan_waves(projection, options, survey=survey)
    t2 = time.perf_counter()
    c2 = time.process_time()
    # The high-water mark so far: the synthetic fleet, project and plan (larger sizes run last).
    rss_plan_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    text = plan_json_text(plan_document(result))
    csv_text = plan_csv_text(result)
    t3 = time.perf_counter()
    # What `auditplan plan` adds to save the projection beside the plan: the document, its text
    # (serialised once: the store keeps it) and the projection_id plan.json names (a digest of the text).
    stored = document_text(projection_record(projection, "bench").to_document())
    projection_id_of(stored)
    t4 = time.perf_counter()
    # What `auditplan plan` adds for its "simulated total" column (model/plan_totals.py).
    c4 = time.process_time()
    plan_totals(projection, [(w.number, [h.host for h in w.hosts]) for w in result.waves])
    totals_cpu = time.process_time() - c4
    peak = 0
    if trace:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    return {"project": t1 - t0, "plan": t2 - t1, "write": t3 - t2, "cpu": c2 - c0, "peak_mb": peak / 2**20,
            "bytes": len(text) + len(csv_text), "waves": len(result.waves), "store": t4 - t3,
            "store_mb": len(stored.encode("utf-8")) / 2**20, "totals_cpu": totals_cpu, "rss_plan_mb": rss_plan_mb}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="10000,30000,100000", help="comma-separated fleet sizes")
    parser.add_argument("--no-trace", action="store_true",
                        help="skip the tracemalloc run of the largest size (slow at 1,000,000 hosts)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    # tracemalloc slows allocation-heavy code 2-5x: time without it, then trace memory separately.
    print(f"{'hosts':>8} {'project s':>10} {'plan s':>8} {'total s':>8} {'CPU s':>7} {'CPU s/10k':>9} {'files s':>8} "
          f"{'store s':>8} {'store MB':>9} {'waves':>6}")
    base = None
    rss_plan_mb = 0.0
    print("load average at the start:", " ".join(f"{x:.1f}" for x in os.getloadavg()))
    for n in sizes:
        r = run(n)
        rss_plan_mb = r["rss_plan_mb"]
        total = r["project"] + r["plan"]
        per10k = r["cpu"] / (n / 10_000)  # CPU: other jobs on a shared machine do not inflate it
        base = base or per10k
        print(f"{n:>8} {r['project']:>10.2f} {r['plan']:>8.2f} {total:>8.2f} {r['cpu']:>7.2f} {per10k:>9.3f} "
              f"{r['write']:>8.2f} {r['store']:>8.2f} {r['store_mb']:>9.1f} "
              f"{int(r['waves']):>6}   CPU s/10k ratio vs {sizes[0]}: {per10k / base:.2f}; "
              f"plan totals (simulated) {r['totals_cpu']:.2f} s CPU, {r['totals_cpu'] / r['cpu']:.2f}x project + plan")
    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    traced = "not traced (--no-trace)" if args.no_trace else f"{run(sizes[-1], trace=True)['peak_mb']:.0f} MB"
    print(f"{sizes[-1]} hosts: peak traced memory of project + plan + files {traced}; peak RSS of this "
          f"process (incl. the synthetic fleet) {rss_plan_mb:.0f} MB up to the end of project + plan, "
          f"{rss_mb:.0f} MB with plan.json/csv and the stored projection document. "
          "Targets: 100,000 hosts < 3 s CPU; < 4 GB at 1,000,000.")
    print("load average now:", " ".join(f"{x:.1f}" for x in os.getloadavg()), "(other work on the machine "
          "inflates the times)")


if __name__ == "__main__":
    main()
