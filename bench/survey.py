"""Survey throughput against a simulated fleet, as ratios measured in the same run.

The simulator runs in its own process (`auditplan simulate`, started here), so the survey
engine and the server do not share one GIL; --in-process puts both in this process instead.
Each simulated host adds --latency-ms before every HTTP response.

Printed per auth mode:
  hosts/s, HTTP requests per host, bytes per host;
  ratio 1: hosts/s vs the latency-bound limit  concurrency / (requests per host x latency)
           (target >= 0.8: the engine keeps `concurrency` conversations in flight);
  the survey process's own CPU ceiling (cores / its CPU per host) and the best ratio 1 it allows
           here: with the 20 ms default on 2 cores that ceiling, not the engine, is the bound
           (--latency-ms 400 shows ratio 1 where latency is the bound);
  ratio 2: hosts/s vs a naive baseline: a sequential loop of pywinrm Session.run_cmd, one call
           per tool of the probe, over --baseline-hosts hosts, extrapolated per host.

Then a sampling-on scenario (issue 3): hosts where 4688 auditing is on at a realistic rate (5,000/day,
command lines on, a 20 MB Security log), surveyed with --sample-events 0, the default and 100; it
prints bytes on the wire and requests per host for each (target: <= 64 KB per host at the defaults,
and sampling adds no request).

Usage: .venv/bin/python bench/survey.py [--hosts 500] [--concurrency 64] [--latency-ms 20]
       [--auth basic,ntlm] [--baseline-hosts 3] [--in-process] [--sampling-hosts 30]
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
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from datetime import UTC, datetime
from pathlib import Path
from statistics import mean

import winrm

from auditplan.collect import api
from auditplan.inventory import load_inventory
from auditplan.records import Host, HostStatus

USERNAME = "auditor"

# Light hosts: a small Security log that fills in a few hours. The simulator's CPU per probe
# grows with the hours of log it generates, and this bench measures the engine and the wire.
FLEET_TOML = """
seed = 1
[defaults]
role = "member_server"
rates = {{ process_starts_per_day = 100.0, other_security_events_per_day = 20000.0 }}
security_log = {{ max_size_bytes = 65536 }}
faults = {{ latency_ms = {latency_ms} }}

[[hosts]]
name = "b{{n:04}}"
count = {hosts}
"""

# Sampling on: Server 2022 with Process Creation (and its command line) audited, 5,000 starts a day,
# the documented default 20 MB Security log (gpo-backup-format.md §A4), 20,000 other events a day.
SAMPLING_FLEET_TOML = """
seed = 2
[defaults]
role = "member_server"
os = {{ product_name = "Windows Server 2022 Standard", build = 20348, ubr = 2655, product_type = "server", display_version = "21H2", edition_id = "ServerStandard" }}
audit = {{ process_creation = "success", cmdline = true }}
rates = {{ process_starts_per_day = 5000.0, other_security_events_per_day = 20000.0 }}
security_log = {{ max_size_bytes = 20971520 }}
faults = {{ latency_ms = {latency_ms} }}

[[hosts]]
name = "b{{n:04}}"
count = {hosts}
"""
WIRE_TARGET_BYTES = 64 * 1024


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux /proc), for the simulator's share of the work."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def simulator_process(
    work: Path, hosts: int, latency_ms: float, auth: str, password: str, shards: int = 1,
    template: str = FLEET_TOML,
) -> Iterator[tuple[Path, list[int]]]:
    """Start `shards` `auditplan simulate` processes over plain HTTP, each serving a share of
    the hosts; yield one hosts CSV for all of them and the processes' pids."""
    procs: list[subprocess.Popen[str]] = []
    parts: list[Path] = []
    try:
        for shard in range(shards):
            count = hosts // shards + (1 if shard < hosts % shards else 0)
            if count == 0:
                continue
            fleet = work / f"fleet-{auth}-{shard}.toml"
            text = template.format(hosts=count, latency_ms=latency_ms).replace('"b{n:04}"', f'"s{shard}b{{n:04}}"')
            fleet.write_text(text, encoding="utf-8")
            part = work / f"hosts-{auth}-{shard}.csv"
            parts.append(part)
            procs.append(subprocess.Popen(
                [sys.executable, "-m", "auditplan", "simulate", "--fleet", str(fleet), "--auth", auth, "--http",
                 "--hosts-out", str(part), "--credentials-out", str(work / f"creds-{auth}-{shard}.json"),
                 "--password-env", "BENCH_PW"],
                env={**os.environ, "BENCH_PW": password},
                stderr=subprocess.PIPE,
                text=True,
            ))
        for proc in procs:
            assert proc.stderr is not None
            for line in proc.stderr:
                if line.strip() == "ready":
                    break
            else:
                raise SystemExit(f"simulator exited early (status {proc.wait()})")
        hosts_csv = work / f"hosts-{auth}.csv"
        lines = [parts[0].read_text(encoding="utf-8").splitlines()[0]]
        for part in parts:
            lines += part.read_text(encoding="utf-8").splitlines()[1:]
        hosts_csv.write_text("\n".join(lines) + "\n", encoding="utf-8")
        yield hosts_csv, [p.pid for p in procs]
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)


@contextmanager
def simulator_in_process(
    work: Path, hosts: int, latency_ms: float, auth: str, password: str, shards: int = 1,
    template: str = FLEET_TOML,
) -> Iterator[tuple[Path, list[int]]]:
    from auditplan.simulator.fleet import parse_fleet
    from auditplan.simulator.runner import run_fleet

    fleet = parse_fleet(template.format(hosts=hosts, latency_ms=latency_ms), "bench")
    with run_fleet(fleet.profiles, work / f"sim-{auth}-{abs(hash(template)) % 10_000}", auth=auth, https=False, password=password) as running:
        yield running.files.hosts, []


def settings_for(auth: str, password: str) -> api.TransportSettings:
    return api.TransportSettings(
        username=USERNAME,
        password=api.Secret(password),
        transport=api.AuthTransport(auth),
        scheme="http",
        allow_basic_over_http=auth == "basic",
        operation_timeout=10,
        read_timeout=30,
        deadline=120.0,
    )


def tool_commands(command_line: str, marker: str) -> list[str]:
    """The probe's single command line cut back into one command per tool (its sections)."""
    tools = []
    for segment in command_line.split(f"echo {marker}")[1:]:
        _, _, rest = segment.partition("&")
        rest = rest.split(" 2>&1 && ", 1)[0].rstrip("&")
        if rest:
            tools.append(rest)
    return tools


def naive_seconds_per_host(hosts: list[Host], auth: str, password: str, tools: list[str]) -> float:
    """A sequential loop of Session.run_cmd, one call per tool, the way a first script would do it."""
    started = time.perf_counter()
    for host in hosts:
        session = winrm.Session(
            f"http://{host.address}:{host.port}/wsman",
            auth=(USERNAME, password),
            transport="plaintext" if auth == "basic" else auth,
            proxy=None,
        )
        for tool in tools:
            session.run_cmd(tool)
    return (time.perf_counter() - started) / len(hosts)


def bench(auth: str, args: argparse.Namespace, work: Path) -> None:
    password = secrets.token_urlsafe(18)
    start = simulator_in_process if args.in_process else simulator_process
    with start(work, args.hosts, args.latency_ms, auth, password, args.sim_processes) as (hosts_csv, sim_pids):
        inventory = load_inventory(hosts_csv)
        hosts = list(inventory.hosts)
        settings = settings_for(auth, password)
        sim_cpu0 = sum(process_cpu_seconds(pid) for pid in sim_pids) if sim_pids else float("nan")
        cpu0, t0 = time.process_time(), time.perf_counter()
        outcome = api.survey(hosts, work / f"bench-{auth}.db", settings, concurrency=args.concurrency,
                             refresh=True).outcome
        elapsed = time.perf_counter() - t0
        client_cpu = time.process_time() - cpu0
        sim_cpu = sum(process_cpu_seconds(pid) for pid in sim_pids) - sim_cpu0 if sim_pids else float("nan")
        ok = [r for r in outcome.results if r.status is HostStatus.OK and r.cost is not None]
        if len(ok) != len(hosts):
            bad = [f"{r.host.name}: {r.status} {r.reason}" for r in outcome.results if r.status is not HostStatus.OK]
            print(f"  WARNING: {len(hosts) - len(ok)} hosts not ok, e.g. {bad[:3]}")
        requests = mean(r.cost.requests for r in ok if r.cost)
        sent = mean(r.cost.bytes_sent for r in ok if r.cost)
        received = mean(r.cost.bytes_received for r in ok if r.cost)
        rate = len(outcome.results) / elapsed
        limit = args.concurrency / (requests * args.latency_ms / 1000.0)

        command = api.build_probe(api.ProbeOptions(), datetime.now(UTC))
        tools = tool_commands(command.command_line, command.marker)
        naive = naive_seconds_per_host(hosts[: args.baseline_hosts], auth, password, tools)

    print(f"{auth} over http, {len(hosts)} hosts, concurrency {args.concurrency}, {args.latency_ms:g} ms latency")
    print(f"  engine:   {rate:8.1f} hosts/s   ({elapsed:.2f} s for {len(outcome.results)} hosts)")
    print(f"  requests: {requests:8.2f} per host    bytes: {sent:,.0f} sent + {received:,.0f} received per host")
    print(
        f"  CPU per host: survey process {1000 * client_cpu / len(hosts):.1f} ms, "
        f"simulator process {1000 * sim_cpu / len(hosts):.1f} ms (wall per host at this rate "
        f"{1000 / rate:.1f} ms; {os.cpu_count()} cores)"
    )
    print(f"  ratio vs latency-bound limit {limit:.1f} hosts/s: {rate / limit:.2f}  (target >= 0.8)")
    if sim_pids:
        # Both processes share the machine's cores; at best they split them perfectly.
        cpu_limit = (os.cpu_count() or 1) / ((client_cpu + sim_cpu) / len(hosts))
        print(f"  ratio vs CPU-bound limit {cpu_limit:.1f} hosts/s (cores / CPU per host, both processes): "
              f"{rate / cpu_limit:.2f}")
    # Even with a simulator that cost nothing, the survey's own CPU caps the rate on this machine:
    # when that ceiling is below the latency-bound limit, the >= 0.8 target cannot be met here.
    client_ceiling = (os.cpu_count() or 1) / (client_cpu / len(hosts))
    print(f"  survey-process CPU ceiling {client_ceiling:.1f} hosts/s (cores / survey CPU per host): "
          f"best ratio reachable vs the latency-bound limit here {min(1.0, client_ceiling / limit):.2f}")
    print(
        f"  ratio vs naive sequential run_cmd x {len(tools)} tools "
        f"({1 / naive:.2f} hosts/s over {args.baseline_hosts} hosts): {rate * naive:.0f}x"
    )


def bench_sampling(auth: str, args: argparse.Namespace, work: Path) -> None:
    """Bytes on the wire and requests per host on 4688-on hosts, at several sample sizes."""
    password = secrets.token_urlsafe(18)
    start = simulator_in_process if args.in_process else simulator_process
    hosts_n = args.sampling_hosts
    sizes = sorted({0, api.DEFAULT_SAMPLE_EVENTS, 100})
    print(f"{auth} over http, sampling on: {hosts_n} hosts with 4688 on (5,000/day, command lines, 20 MB log)")
    with start(work, hosts_n, args.latency_ms, auth, password, 1, SAMPLING_FLEET_TOML) as (hosts_csv, _):
        hosts = list(load_inventory(hosts_csv).hosts)
        settings = settings_for(auth, password)
        for size in sizes:
            t0 = time.perf_counter()
            outcome = api.survey(hosts, work / f"bench-sampling-{auth}-{size}.db", settings,
                                 concurrency=args.concurrency, refresh=True,
                                 probe=api.ProbeOptions(sample_events=size)).outcome
            elapsed = time.perf_counter() - t0
            ok = [r for r in outcome.results if r.status is HostStatus.OK and r.cost is not None]
            if not ok:
                print(f"  sample {size:4d}: no host ok, e.g. {outcome.results[0].reason if outcome.results else '-'}")
                continue
            requests = mean(r.cost.requests for r in ok if r.cost)
            sent = mean(r.cost.bytes_sent for r in ok if r.cost)
            received = mean(r.cost.bytes_received for r in ok if r.cost)
            events = mean(len(r.events) for r in ok)
            wire = sent + received
            default = " (default)" if size == api.DEFAULT_SAMPLE_EVENTS else ""
            print(
                f"  sample {size:4d}{default:10s}: {events:5.1f} events, requests {requests:5.2f} per host, "
                f"bytes {sent:,.0f} sent + {received:,.0f} received = {wire / 1024:6.1f} KB per host "
                f"(vs 64 KB target: {wire / WIRE_TARGET_BYTES:.2f}); {len(ok) / elapsed:.1f} hosts/s"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=500, help="simulated hosts (default 500)")
    parser.add_argument("--concurrency", type=int, default=64, help="survey concurrency (default 64)")
    parser.add_argument("--latency-ms", type=float, default=20.0, help="latency per HTTP response (default 20)")
    parser.add_argument("--auth", default="basic,ntlm", help="comma-separated: basic, ntlm (default both)")
    parser.add_argument("--baseline-hosts", type=int, default=3, help="hosts the naive baseline loops over")
    parser.add_argument("--in-process", action="store_true", help="run the simulator in this process")
    parser.add_argument("--sim-processes", type=int, default=1,
                        help="split the fleet over this many simulator processes (default 1)")
    parser.add_argument("--sampling-hosts", type=int, default=30,
                        help="4688-on hosts in the sampling-on scenario (default 30; 0 skips it)")
    args = parser.parse_args()
    where = (
        "in this process" if args.in_process
        else f"in {args.sim_processes} separate process(es) (auditplan simulate)"
    )
    print(f"simulator {where}; client and server on loopback")
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="auditplan-bench-")))
        for auth in args.auth.split(","):
            bench(auth.strip(), args, work)
        if args.sampling_hosts > 0:
            for auth in args.auth.split(","):
                bench_sampling(auth.strip(), args, work)


if __name__ == "__main__":
    main()
