"""Ingest throughput (records/s) beside a bare evtx-rs iteration and python-evtx, in one run.

Usage: .venv/bin/python bench/ingest.py [--events 100000] [--dev-dir ../shared/reference/evtx-dev]

Two shapes of the same data (the dev set, 837 records in 20 files, read until >= --events):
  A. one large log: the dev files' 64 KiB chunks concatenated behind one file header, repeated
     (evtx-rs reads every chunk; evtx-data.md §2.3). Like a real Security.evtx: one host,
     many records, the 200-event sample is a small share. The targets are checked on A.
  B. the 20 small files, each ingested on its own, repeated: the worst case, because every
     4688 of a small file lands in its sample and has its command line redacted.
python-evtx (≈300 records/s, evtx-data.md §2.3) reads the 19 small files once; its rate is
extrapolated. Bare iteration = the same PyEvtxParser(...).records() call ingest makes (collect.api.read_evtx).
Targets: ingest >= 100x python-evtx and >= 0.5x the bare evtx iteration.

Rates are records per second of this process's CPU time (time.process_time, evtx-rs's threads
included), so that other work on a shared machine moves them less than wall time would; the load
average is printed beside them. For B, ingest with `--sample 0` (no 4688 drawn into the sample, so
none parsed or redacted) is shown too: the difference is what building the sample costs.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import evtx

from auditplan.collect import api

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DEV_DIR = REPO / ".." / "shared" / "reference" / "evtx-dev"
DIRTY_FILE = "dfirmuseum__APTSimulatorVM_EventLogs_Server2022__Security.evtx"  # python-evtx undercounts it
TARGET_VS_PYTHON_EVTX = 100.0
TARGET_VS_BARE = 0.5


def bare(files: list[Path]) -> int:
    n = 0
    for f in files:
        for _record in evtx.PyEvtxParser(str(f)).records():
            n += 1
    return n


def ingest(files: list[Path]) -> int:
    return sum(api.read_evtx(f).summary.events_total for f in files)


def ingest_without_sample(files: list[Path]) -> int:
    return sum(api.read_evtx(f, sample_size=0).summary.events_total for f in files)


def python_evtx_rate(files: list[Path]) -> tuple[int, float]:
    from Evtx.Evtx import Evtx  # python-evtx, a dev dependency

    n = 0
    start = time.perf_counter()
    for f in files:
        with Evtx(str(f)) as log:
            for record in log.records():
                record.xml()
                n += 1
    return n, time.perf_counter() - start


def rate(fn: Callable[[list[Path]], int], files: list[Path], passes: int) -> float:
    start = time.process_time()
    n = sum(fn(files) for _ in range(passes))
    return n / max(time.process_time() - start, 1e-9)


def median_rates(files: list[Path], passes: int, repeats: int,
                 fns: tuple[Callable[[list[Path]], int], ...] = (bare, ingest)) -> list[float]:
    rates: list[list[float]] = [[] for _ in fns]
    for _ in range(repeats):  # interleaved so that machine noise hits each alike
        for fn, out in zip(fns, rates, strict=True):
            out.append(rate(fn, files, passes))
    return [statistics.median(r) for r in rates]


def load() -> str:
    return "load average " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def verdict(ratio: float, target: float) -> str:
    return "OK" if ratio >= target else "BELOW TARGET"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=100_000, help="records to read per measurement (at least)")
    parser.add_argument("--dev-dir", type=Path, default=DEFAULT_DEV_DIR, help="folder of the dev .evtx files")
    parser.add_argument("--repeats", type=int, default=3, help="runs of each measurement; the median is shown")
    args = parser.parse_args()

    files = sorted(args.dev_dir.resolve().glob("*.evtx"))
    if not files:
        raise SystemExit(f"{args.dev_dir}: no .evtx files")
    per_pass = bare(files)
    passes = -(-args.events // per_pass)
    total = per_pass * passes

    with tempfile.TemporaryDirectory(prefix="auditplan-bench-") as tmp:
        big = Path(tmp) / "Security.evtx"
        chunks = b"".join(f.read_bytes()[api.EVTX_HEADER_SIZE:] for f in files)
        with big.open("wb") as fh:
            fh.write(files[0].read_bytes()[:api.EVTX_HEADER_SIZE])
            for _ in range(passes):
                fh.write(chunks)
        big_total = api.read_evtx(big).summary.events_total
        if big_total != total:
            raise SystemExit(f"large log: read {big_total} records, expected {total}")
        load_before = load()
        bare_a, ours_a = median_rates([big], 1, args.repeats)
    bare_b, ours_b, unsampled_b = median_rates(files, passes, args.repeats, (bare, ingest, ingest_without_sample))
    small = [f for f in files if f.name != DIRTY_FILE]
    py_n, py_dt = python_evtx_rate(small)
    py_rate = py_n / py_dt

    print(f"dev set: {len(files)} files, {per_pass} records per pass, {passes} passes = {total:,} records")
    print(f"records per CPU second; {load_before} at the start, {load()} at the end")
    print(f"python-evtx Record.xml()      : {py_rate:10,.0f} records/s ({py_n} records in {py_dt:.2f} s; "
          f"{total:,} records would take {total / py_rate:,.0f} s)")
    print("A. one large log")
    print(f"   bare evtx-rs iteration     : {bare_a:10,.0f} records/s (median of {args.repeats})")
    print(f"   auditplan api.read_evtx    : {ours_a:10,.0f} records/s")
    print(f"   ingest / bare evtx-rs      : {ours_a / bare_a:8.2f}x  (target >= {TARGET_VS_BARE}x)  "
          f"{verdict(ours_a / bare_a, TARGET_VS_BARE)}")
    print(f"   ingest / python-evtx       : {ours_a / py_rate:8.0f}x  (target >= {TARGET_VS_PYTHON_EVTX:.0f}x)  "
          f"{verdict(ours_a / py_rate, TARGET_VS_PYTHON_EVTX)}")
    print("B. 20 small files, each its own host (every 4688 sampled and redacted)")
    print(f"   bare evtx-rs iteration     : {bare_b:10,.0f} records/s (median of {args.repeats})")
    print(f"   auditplan api.read_evtx    : {ours_b:10,.0f} records/s")
    print(f"   ingest / bare evtx-rs      : {ours_b / bare_b:8.2f}x  (target >= {TARGET_VS_BARE}x)  "
          f"{verdict(ours_b / bare_b, TARGET_VS_BARE)}")
    print(f"   ingest, no sample drawn    : {unsampled_b:10,.0f} records/s = {unsampled_b / bare_b:.2f}x bare "
          f"(the sample's share of ingest's CPU: {1 - ours_b / unsampled_b:.0%})")
    print(f"   ingest / python-evtx       : {ours_b / py_rate:8.0f}x")


if __name__ == "__main__":
    main()
