"""Cost of redact() on hostile command lines, as a ratio to a busy benign line of the same length.

Run: .venv/bin/python bench/redaction.py [--runs 3]
Each line is 32,767 characters (the longest command line CreateProcess accepts). A rule that
rescans to the end of the line for every match start makes its ratio grow with the length (the
`pw={ ` line was 110x before the braced-value fix); linear rules stay near 1. No assertion on time.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "collect"))

from hostile_lines import BASELINE_UNIT, HOSTILE_UNITS, fill

from auditplan.collect.api import redact


def best_of(line: str, runs: int) -> float:
    best = float("inf")
    for _ in range(runs):
        start = time.perf_counter()
        redact(line)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=3, help="runs per line; the best counts (default 3)")
    args = parser.parse_args()
    baseline = best_of(fill(BASELINE_UNIT), args.runs)
    print(f"benign baseline, {len(fill(BASELINE_UNIT)):,} characters: {baseline * 1e3:.2f} ms")
    worst = 0.0
    for unit in HOSTILE_UNITS:
        cost = best_of(fill(unit), args.runs)
        worst = max(worst, cost / baseline)
        print(f"  {unit!r:42} {cost * 1e3:8.2f} ms  ratio {cost / baseline:6.2f}")
    print(f"worst ratio to the benign line: {worst:.2f} (linear rules keep it near 1)")


if __name__ == "__main__":
    main()
