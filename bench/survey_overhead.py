"""Bench: the survey engine's own cost, and what `--processes 2` buys, as ratios measured in the same run.

The simulator runs in its own process (`auditplan simulate --replay-answers`): every host replays one
pre-generated answer, so the simulator's CPU per host is its WS-Management handling only and the
client is what is measured. No added latency.

Printed:
  bare pywinrm   client CPU per host of a sequential loop of the same conversation with pywinrm's
                 Protocol (open_shell, run_command of the probe's own command line, Receive until done,
                 close_shell): nothing of auditplan's but the line. Run before and after the survey; the
                 mean of both is the baseline.
  survey engine  client CPU per host of collect.api.survey over the same hosts (threads, --concurrency
                 64, parsing, the store, progress callbacks).
  ratio 1        survey engine / bare pywinrm (target <= 1.3).
  processes      hosts/s of `--processes 1` and `--processes 2` (local Dask clusters; from the first host
                 handed out to the last one saved, the cluster's start-up excluded) and the threaded
                 engine in this process for reference.
  ratio 2        --processes 2 / --processes 1 (target >= 1.5 on 2 cores).

Usage: .venv/bin/python bench/survey_overhead.py [--hosts 300] [--bare-hosts 100] [--process-hosts 600]
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import winrm.protocol

from auditplan.collect import api
from auditplan.inventory import load_inventory
from auditplan.records import Host, HostStatus

USERNAME = "auditor"
FLEET_TOML = """
seed = 1
[defaults]
role = "member_server"
rates = {{ process_starts_per_day = 100.0, other_security_events_per_day = 20000.0 }}
security_log = {{ max_size_bytes = 65536 }}

[[hosts]]
name = "b{{n:04}}"
count = {hosts}
"""


def start_simulator(work: Path, hosts: int, password: str) -> tuple[subprocess.Popen[str], list[Host]]:
    fleet = work / "fleet.toml"
    fleet.write_text(FLEET_TOML.format(hosts=hosts), encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "auditplan", "simulate", "--fleet", str(fleet), "--auth", "basic", "--http",
         "--hosts-out", str(work / "hosts.csv"), "--credentials-out", str(work / "creds.json"),
         "--password-env", "BENCH_PW", "--replay-answers"],
        env={**os.environ, "BENCH_PW": password}, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stderr is not None
    for line in proc.stderr:
        if line.strip() == "ready":
            break
    else:
        raise SystemExit(f"simulator exited early (status {proc.wait()})")
    return proc, list(load_inventory(work / "hosts.csv").hosts)


def settings_for(password: str) -> api.TransportSettings:
    return api.TransportSettings(username=USERNAME, password=api.Secret(password), transport=api.AuthTransport.BASIC,
                                 scheme="http", allow_basic_over_http=True, operation_timeout=10, read_timeout=30,
                                 deadline=120.0)


def probe_line(settings: api.TransportSettings) -> str:
    options = replace(api.ProbeOptions(), max_bytes=settings.max_output_bytes, deadline_seconds=settings.deadline)
    return api.build_probe(options, datetime.now(UTC)).command_line


def bare_cpu_per_host(hosts: list[Host], password: str, line: str) -> float:
    """Client CPU seconds per host of the bare conversation, one host after another."""
    cpu0 = time.process_time()
    for host in hosts:
        protocol = winrm.protocol.Protocol(f"http://{host.address}:{host.port}/wsman", transport="plaintext",
                                           username=USERNAME, password=password, read_timeout_sec=30,
                                           operation_timeout_sec=10, proxy=None)
        shell = protocol.open_shell(codepage=65001)
        command = protocol.run_command(shell, line)
        done = False
        while not done:
            _, _, _, done = protocol.get_command_output_raw(shell, command)
        protocol.close_shell(shell, close_session=True)
    return (time.process_time() - cpu0) / len(hosts)


def survey_run(hosts: list[Host], db: Path, settings: api.TransportSettings,
               processes: int | None = None) -> tuple[float, float]:
    """(client CPU seconds per host, hosts/s from the first host handed out to the last saved)."""
    started: list[float] = []
    cpu0 = time.process_time()
    results = api.survey(hosts, db, settings, concurrency=64, refresh=True, processes=processes,
                         on_start=lambda to_run, skipped: started.append(time.perf_counter()))
    end = time.perf_counter()
    bad = [r for r in results.results if r.status is not HostStatus.OK]
    if bad:
        raise SystemExit(f"{len(bad)} host(s) failed, e.g. {bad[0].host.name}: {bad[0].reason}")
    return (time.process_time() - cpu0) / len(hosts), len(hosts) / (end - started[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=300, help="hosts of the in-process survey")
    parser.add_argument("--bare-hosts", type=int, default=100, help="hosts of each bare pywinrm loop")
    parser.add_argument("--process-hosts", type=int, default=600, help="hosts of each --processes run")
    args = parser.parse_args()
    password = secrets.token_urlsafe(18)
    with tempfile.TemporaryDirectory(prefix="auditplan-bench-") as tmp:
        work = Path(tmp)
        total = max(args.hosts, args.bare_hosts, args.process_hosts)
        sim, hosts = start_simulator(work, total, password)
        try:
            settings = settings_for(password)
            line = probe_line(settings)
            survey_run(hosts[:20], work / "warm.db", settings)  # the simulator generates its one answer here
            bare_before = bare_cpu_per_host(hosts[: args.bare_hosts], password, line)
            engine, threads_rate = survey_run(hosts[: args.hosts], work / "engine.db", settings)
            bare_after = bare_cpu_per_host(hosts[: args.bare_hosts], password, line)
            bare = (bare_before + bare_after) / 2
            print(f"bare pywinrm   {bare * 1000:6.2f} ms client CPU/host (before {bare_before * 1000:.2f}, "
                  f"after {bare_after * 1000:.2f}; {args.bare_hosts} hosts each)")
            print(f"survey engine  {engine * 1000:6.2f} ms client CPU/host ({args.hosts} hosts, concurrency 64, "
                  f"{threads_rate:.0f} hosts/s)")
            print(f"ratio 1: survey engine / bare pywinrm = {engine / bare:.2f}  (target <= 1.3)")
            procs = work / "procs"
            procs.mkdir()
            _, one = survey_run(hosts[: args.process_hosts], procs / "p1.db", settings, processes=1)
            _, two = survey_run(hosts[: args.process_hosts], procs / "p2.db", settings, processes=2)
            print(f"--processes 1: {one:.0f} hosts/s, --processes 2: {two:.0f} hosts/s "
                  f"({args.process_hosts} hosts; threads in one process: {threads_rate:.0f} hosts/s over {args.hosts})")
            print(f"ratio 2: --processes 2 / --processes 1 = {two / one:.2f}  (target >= 1.5 on {os.cpu_count()} cores)")
        finally:
            sim.send_signal(signal.SIGTERM)
            sim.wait(timeout=60)
    print("load average now:", " ".join(f"{x:.1f}" for x in os.getloadavg()), "(other work on the machine moves "
          "the absolute figures)")


if __name__ == "__main__":
    main()
