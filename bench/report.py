"""Bench: the HTML capacity report for synthetic fleets of 1,000 and 10,000 hosts.

Times two steps separately for each size:
  inputs  - the real projection (Monte Carlo) and planner over the fleet (not part of the report);
  report  - write_report: context, six matplotlib charts, the HTML and the per-host CSV.
Prints the best of --repeat runs in seconds, the HTML and CSV sizes, and each step's growth
ratio against the first size.
Target from issue 6: the report step under 10 s at 10,000 hosts. Figures only, no asserts.
The synthetic fleet is the test suite's (tests/emit/report_fixtures.synthetic_inputs).
Run: .venv/bin/python bench/report.py [--sizes 1000,10000] [--out DIR]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "emit"))

import report_fixtures

from auditplan.emit.report import write_report


def run(n: int, out: Path, repeat: int = 1) -> dict[str, float]:
    """Best of `repeat` runs of each step (the machine is shared: the minimum is the least disturbed)."""
    best = {"inputs": float("inf"), "report": float("inf")}
    for _ in range(repeat):
        t0 = time.perf_counter()
        inputs = report_fixtures.synthetic_inputs(n)
        t1 = time.perf_counter()
        html, csv_path, _ = write_report(inputs, out / f"report-{n}.html")
        t2 = time.perf_counter()
        best = {"inputs": min(best["inputs"], t1 - t0), "report": min(best["report"], t2 - t1)}
    return {**best, "html_kb": html.stat().st_size / 1024, "csv_kb": csv_path.stat().st_size / 1024}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", default="1000,10000", help="comma-separated fleet sizes")
    parser.add_argument("--repeat", type=int, default=3, help="runs per size; the best is printed")
    parser.add_argument("--out", type=Path, default=None, help="folder for the reports (default: a temp folder)")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    with tempfile.TemporaryDirectory() as tmp:
        out = args.out or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        run(min(sizes), out)  # warm-up: imports, matplotlib font cache, jinja2 template compile
        print(f"{'hosts':>7} {'inputs s':>9} {'report s':>9} {'HTML KB':>8} {'CSV KB':>8} "
              f"{'inputs x':>9} {'report x':>9}")
        base: dict[str, float] | None = None
        for n in sizes:
            r = run(n, out, args.repeat)
            base = base or r
            print(f"{n:>7} {r['inputs']:>9.2f} {r['report']:>9.2f} {r['html_kb']:>8.0f} {r['csv_kb']:>8.0f} "
                  f"{r['inputs'] / base['inputs']:>9.2f} {r['report'] / base['report']:>9.2f}")
    print(f"growth ratios are against {sizes[0]} hosts ({sizes[-1] // sizes[0]}x the hosts); "
          "'inputs' = projection + plan (not the report), 'report' = write_report alone; "
          "target: report under 10 s at 10,000 hosts")


if __name__ == "__main__":
    main()
