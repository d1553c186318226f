"""How long `auditplan --help` and each command's `--help` take to start, against a bare Python start-up and
against loading every command module (what the top-level help did before it listed commands lazily).

Run: .venv/bin/python bench/cli_help.py [--runs 7]. Prints medians and ratios measured in this run; the
target is `auditplan --help` under 0.5 s (issue 19). Nothing is asserted: times move with the machine.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time

COMMANDS = ("demo", "detections", "estimate", "gpo", "ingest", "merge", "plan", "project", "report", "simulate",
            "survey")
EVERY_MODULE = "import auditplan.cli.commands as c, importlib; [importlib.import_module(m) for m in c.COMMAND_MODULES.values()]"


def _median_seconds(args: list[str], runs: int) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(args, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--runs", type=int, default=7)
    runs = parser.parse_args().runs
    py = sys.executable
    bare = _median_seconds([py, "-c", "pass"], runs)
    eager = _median_seconds([py, "-c", EVERY_MODULE], runs)
    top = _median_seconds([py, "-m", "auditplan", "--help"], runs)
    print(f"python start-up (baseline)          {bare:6.3f} s")
    print(f"every command module imported       {eager:6.3f} s  ({eager / bare:4.1f}x start-up)")
    print(f"auditplan --help                    {top:6.3f} s  ({top / bare:4.1f}x start-up, {top / eager:4.2f}x eager)"
          f"  target < 0.5 s: {'met' if top < 0.5 else 'NOT met'}")
    for name in COMMANDS:
        t = _median_seconds([py, "-m", "auditplan", name, "--help"], runs)
        print(f"auditplan {name + ' --help':<26}{t:6.3f} s  ({t / bare:4.1f}x start-up)")


if __name__ == "__main__":
    main()
