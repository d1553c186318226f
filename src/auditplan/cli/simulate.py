"""`auditplan simulate` (a simulated fleet in the foreground) and `auditplan demo` (the whole
pipeline against the built-in demo fleet, in one process)."""

from __future__ import annotations

import contextlib
import math
import os
import signal
import tempfile
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import click

from auditplan.cli import main
from auditplan.simulator.profile import HostProfile
from auditplan.simulator.runner import AUTH_MODES, RunningFleet, run_fleet


def _load_profiles(fleet_file: Path | None) -> list[HostProfile]:
    from auditplan.simulator import fleet as fleet_module

    try:
        loaded = fleet_module.load_fleet(fleet_file) if fleet_file is not None else fleet_module.demo_fleet()
    except fleet_module.FleetError as exc:
        raise click.UsageError(str(exc)) from None
    return list(loaded.profiles)


def _raise_interrupt(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt


@main.command()
@click.option("--fleet", "fleet_file", type=click.Path(path_type=Path, exists=True, dir_okay=False),
              help="Fleet TOML (docs/fleet-toml.md). Default: the built-in demo fleet.")
@click.option("--hosts-out", type=click.Path(path_type=Path, dir_okay=False),
              default=Path("auditplan-out/sim-hosts.csv"), show_default=True,
              help="Where to write the hosts CSV (host,address,port,role,site) that `survey` accepts as is.")
@click.option("--credentials-out", type=click.Path(path_type=Path, dir_okay=False),
              default=Path("auditplan-out/sim-credentials.json"), show_default=True,
              help="Where to write the JSON with username, password, transport, scheme, ca_bundle (mode 0600); "
                   "pass it to `survey --credentials`.")
@click.option("--auth", type=click.Choice(AUTH_MODES), default="ntlm", show_default=True,
              help="Authentication the simulated hosts accept.")
@click.option("--http", "http", is_flag=True,
              help="Serve plain HTTP instead of HTTPS (Basic then needs `survey --allow-basic-over-http`).")
@click.option("--work-dir", type=click.Path(path_type=Path, file_okay=False),
              help="Where the generated CA and certificates go. Default: a temporary directory.")
@click.option("--password-env", metavar="VAR",
              help="Use the password in this environment variable for the fleet account instead of a random one.")
def simulate(
    fleet_file: Path | None,
    hosts_out: Path,
    credentials_out: Path,
    auth: str,
    http: bool,
    work_dir: Path | None,
    password_env: str | None,
) -> None:
    """Run a simulated Windows fleet on loopback until Ctrl-C (or SIGTERM).

    Each host listens on its own 127.0.0.x address. Survey it from another shell with:

    \b
      auditplan survey auditplan-out/sim-hosts.csv --credentials auditplan-out/sim-credentials.json
    """
    password = None
    if password_env:
        password = os.environ.get(password_env)
        if password is None:
            raise click.UsageError(f"--password-env {password_env}: that environment variable is not set")
    if auth == "certificate" and http:
        raise click.UsageError("certificate auth needs HTTPS; drop --http")
    profiles = _load_profiles(fleet_file)
    signal.signal(signal.SIGTERM, _raise_interrupt)
    with tempfile.TemporaryDirectory(prefix="auditplan-sim-") as tmp:
        try:
            with run_fleet(
                profiles, work_dir or Path(tmp), auth=auth, https=not http, hosts_out=hosts_out,
                credentials_out=credentials_out, password=password,
            ) as fleet:
                click.echo(
                    f"serving {len(fleet.profiles)} simulated hosts ({auth} over {fleet.scheme}); "
                    f"hosts: {hosts_out}; credentials: {credentials_out}",
                    err=True,
                )
                click.echo("ready", err=True)
                threading.Event().wait()
        except KeyboardInterrupt:
            click.echo("stopped", err=True)


@dataclass
class DemoContext:
    """What the demo steps share. Later stages read `db` and write under `out`."""

    out: Path
    fleet: RunningFleet
    db: Path
    messages: list[str] = field(default_factory=list)


DemoStep = Callable[[DemoContext], None]


def demo_survey(ctx: DemoContext) -> None:
    """Survey the demo fleet with HTTPS + NTLM against the generated CA."""
    from auditplan.collect import api as collect
    from auditplan.inventory import load_inventory

    fleet = ctx.fleet
    inventory = load_inventory(fleet.files.hosts)
    settings = collect.TransportSettings(
        username=fleet.credentials.username,
        password=collect.Secret(fleet.credentials.password),
        transport=collect.AuthTransport(fleet.auth),
        scheme=fleet.scheme,
        ca_bundle=fleet.tls.ca_cert if fleet.tls else None,
        client_cert=fleet.tls.client_cert if fleet.tls else None,
        client_key=fleet.tls.client_key if fleet.tls else None,
        # The hanging demo host costs one read timeout (5 s); the deadline leaves room for the
        # busiest simulated hosts, whose event logs take the simulator seconds of CPU to query.
        operation_timeout=2,
        read_timeout=5,
        deadline=30.0,
    )
    results = collect.survey(inventory.hosts, ctx.db, settings, concurrency=16, refresh=True)
    outcome = results.outcome
    counts = ", ".join(f"{status}: {n}" for status, n in sorted(outcome.counts.items()))
    ctx.messages.append(f"survey: {len(outcome.results)} hosts ({counts}) -> {ctx.db}")


# The demo's offline-collected host: a whole Security.evtx of a Windows Server 2022 VM shipped as
# package data (MIT; simulator/data/SOURCES.md). Its name fits the inventory's DNS-label rules and
# says how it was collected; its Computer field (WIN-FUDU2CKJOE8) stays in the result.
DEMO_EVTX_RESOURCE = "data/dfirmuseum__APTSimulatorVM_EventLogs_Server2022__Security.evtx"
DEMO_EVTX_HOST = "aptsim-srv2022-evtx"
DEMO_EVTX_ROLE = "member_server"


def demo_ingest(ctx: DemoContext) -> None:
    """Ingest the shipped Security.evtx into the same store, as an offline-collected host."""
    from importlib import resources

    from auditplan.collect import api as collect

    resource = resources.files("auditplan.simulator").joinpath(DEMO_EVTX_RESOURCE)
    with resources.as_file(resource) as path:
        (s,) = collect.ingest([path], ctx.db, host_name=DEMO_EVTX_HOST, role=DEMO_EVTX_ROLE).files
    if s.error:
        raise click.ClickException(f"{s.file}: {s.error}")
    window = ""
    if s.first_time is not None and s.last_time is not None:
        hours = (s.last_time - s.first_time).total_seconds() / 3600
        window = f" over {s.first_time:%Y-%m-%d %H:%M}..{s.last_time:%H:%M} UTC ({hours:.1f} h)"
        if s.audit_off:
            window += f"; boot-time 4688s only ({s.boots} boots): auditing off, no rate"
        elif hours > 0:
            window += f"; {s.events_4688 / hours:,.1f} x 4688/h"
    ctx.messages.append(
        f"ingest: {DEMO_EVTX_HOST} ({DEMO_EVTX_ROLE}), offline Security.evtx of {s.computer_name}: "
        f"{s.events_total} events, {s.events_4688} x 4688{window} -> {ctx.db}"
    )


def _quietly(ctx: DemoContext, name: str, command: click.Command, **params: Any) -> None:
    """Run a stage's own command as `auditplan <stage>` would, its tables going to a log file."""
    log = ctx.out / "logs" / f"{name}.txt"
    log.parent.mkdir(parents=True, exist_ok=True)
    with log.open("w", encoding="utf-8") as handle, contextlib.redirect_stdout(handle):
        click.get_current_context().invoke(command, **params)


def demo_estimate(ctx: DemoContext) -> None:
    from auditplan.cli.estimate import estimate

    _quietly(ctx, "estimate", estimate, db=ctx.db)
    ctx.messages.append(f"estimate: per-host 4688/day with ranges -> {ctx.out / 'logs' / 'estimate.txt'}")


def _round_up_2sig(value: float) -> float:
    """`value` rounded up to two significant digits (0.4712 -> 0.48, 101 -> 110)."""
    step = 10.0 ** (math.floor(math.log10(value)) - 1)
    return round(math.ceil(value / step - 1e-9) * step, 12)


def demo_plan(ctx: DemoContext) -> None:
    from auditplan.cli.plan import plan_command
    from auditplan.model.api import project

    projection = project(ctx.db)
    profile = projection.profile
    need = float(projection.fleet["added_gb_day_p90"].iloc[0])
    # The demo SIEM has 50 % headroom over the whole rollout's p90, rounded up to two significant digits.
    budget = _round_up_2sig(need * 1.5) if need > 0 else 1.0
    _quietly(ctx, "plan", plan_command, db=ctx.db, budget_gb_day=budget, out_dir=ctx.out)
    ctx.messages.append(f"plan: budget {budget:g} GB/day ({profile.name}) -> {ctx.out / 'plan.json'}, "
                        f"{ctx.out / 'plan.csv'}")


def demo_gpo(ctx: DemoContext) -> None:
    from auditplan.cli.gpo import gpo

    _quietly(ctx, "gpo", gpo, plan_path=ctx.out / "plan.json", out_dir=ctx.out / "gpo", domain="corp.example.com")
    ctx.messages.append(f"gpo: one GPO backup per wave with rollout/verify/rollback scripts -> {ctx.out / 'gpo'}")


def demo_detections(ctx: DemoContext) -> None:
    from auditplan.cli.detections import evaluate_rules, export_rules

    _quietly(ctx, "detections", evaluate_rules, db=ctx.db, as_json=True)
    mp = ctx.out / "scom" / "Auditplan.ProcessCreation.Detections.xml"
    _quietly(ctx, "scom", export_rules, fmt="scom", out_path=mp, plan_path=ctx.out / "plan.json", through_wave=0)
    ctx.messages.append(f"detections: alerts/day per rule -> {ctx.out / 'logs' / 'detections.txt'}; "
                        f"SCOM management pack -> {mp}")


DEMO_PRICE_PER_GB = 2.5  # assumption: an illustrative figure for the demo, not a vendor's price


def demo_report(ctx: DemoContext) -> None:
    from auditplan.emit.api import write_report

    # No public price list is in the reference, so the demo's price per GB is illustrative only.
    written = write_report(ctx.db, ctx.out / "report.html", plan_path=ctx.out / "plan.json",
                           org="Demo fleet (illustrative price)", price_per_gb=DEMO_PRICE_PER_GB, currency="USD",
                           now=datetime.now(UTC))
    ctx.messages.append(f"report: {written.html.resolve()} (per-host CSV: {written.csv})")


# The demo is these steps in order: collect, model, emit.
DEMO_STEPS: list[DemoStep] = [demo_survey]
OFFLINE_STEPS: list[DemoStep] = [demo_ingest, demo_estimate, demo_plan, demo_gpo, demo_detections, demo_report]


@main.command()
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("auditplan-out/demo"),
              show_default=True, help="Folder for the store and everything later stages produce.")
@click.option("--auth", type=click.Choice(AUTH_MODES), default="ntlm", show_default=True,
              help="Authentication of the demo fleet (HTTPS with a generated CA in every case).")
def demo(out: Path, auth: str) -> None:
    """Start the built-in demo fleet in this process, survey it, ingest a shipped Security.evtx as an
    offline-collected host, and run every later stage, saying where the results are."""
    profiles = _load_profiles(None)
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="auditplan-demo-") as tmp, run_fleet(
        profiles, Path(tmp), auth=auth, https=True
    ) as fleet:
        ctx = DemoContext(out=out, fleet=fleet, db=out / "auditplan.db")
        for step in DEMO_STEPS:
            _run_step(ctx, step)
    # Everything after the survey reads only the store: the simulated fleet is already stopped.
    for step in OFFLINE_STEPS:
        _run_step(ctx, step)


def _run_step(ctx: DemoContext, step: DemoStep) -> None:
    """Run one stage and print what it produced as soon as it is done."""
    seen = len(ctx.messages)
    step(ctx)
    for message in ctx.messages[seen:]:
        click.echo(message)
