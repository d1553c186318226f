"""`auditplan demo`: the whole pipeline against the built-in demo fleet, in one process.

Each step calls one stage's front door (collect.api, model.api, emit.api), as a Python user of the
library would; nothing here drives another click command. The simulated fleet runs only while the
survey does: every later step reads the store.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import click

from auditplan.cli import main
from auditplan.cli.noise import table_lines
from auditplan.cli.plan import round_up_2sig
from auditplan.cli.simulate import load_profiles
from auditplan.collect import api as collect
from auditplan.emit import api as emit
from auditplan.inventory import load_inventory
from auditplan.model import api as model
from auditplan.safe_write import UnsafePathError, write_text
from auditplan.simulator.runner import AUTH_MODES, RunningFleet, run_fleet
from auditplan.text import number, percent, terminal

# The demo's offline-collected host: a whole Security.evtx of a Windows Server 2022 VM shipped as
# package data (MIT; simulator/data/SOURCES.md). Its name fits the inventory's DNS-label rules and
# says how it was collected; its Computer field (WIN-FUDU2CKJOE8) stays in the result.
DEMO_EVTX_RESOURCE = "data/dfirmuseum__APTSimulatorVM_EventLogs_Server2022__Security.evtx"
DEMO_EVTX_HOST = "aptsim-srv2022-evtx"
DEMO_EVTX_ROLE = "member_server"
DEMO_DOMAIN = "corp.example.com"
DEMO_PRICE_PER_GB = 2.5  # assumption: an illustrative figure for the demo, not a vendor's price
DEMO_ORG = "Demo fleet (illustrative price)"
# The demo's price goes in through a config file, as a user's own would, so that the plan's stored
# projection carries it and the report shows "as planned" with the file named as the price's source.
DEMO_CONFIG = "demo-config.toml"


@dataclass
class DemoContext:
    """What the demo steps share. Later stages read `db` and write under `out`."""

    out: Path
    fleet: RunningFleet | None
    db: Path
    messages: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def config(self) -> Path:
        return self.out / DEMO_CONFIG


DemoStep = Callable[[DemoContext], None]


def demo_survey(ctx: DemoContext) -> None:
    """Survey the demo fleet with HTTPS + NTLM against the generated CA."""
    fleet = ctx.fleet
    if fleet is None:
        raise click.ClickException("the demo fleet is not running")
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
    outcome = collect.survey(inventory.hosts, ctx.db, settings, concurrency=16, refresh=True).outcome
    counts = ", ".join(f"{status}: {n}" for status, n in sorted(outcome.counts.items()))
    ctx.messages.append(f"survey: {len(outcome.results)} hosts ({counts}) -> {ctx.db}")


def demo_ingest(ctx: DemoContext) -> None:
    """Ingest the shipped Security.evtx into the same store, as an offline-collected host."""
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


def _write(path: Path, text: str) -> None:
    """Every file the demo writes itself goes through safe_write: a link planted there is refused (exit 2)."""
    try:
        write_text(path, text)
    except UnsafePathError as exc:
        raise click.UsageError(str(exc)) from None


def demo_estimate(ctx: DemoContext) -> None:
    run = model.estimate(ctx.db, config_file=ctx.config)
    ctx.warnings.extend(run.warnings)
    if run.fleet is None:
        raise click.ClickException(f"{ctx.db}: no host to estimate")
    path = ctx.out / "estimates.csv"
    _write(path, run.csv_text())
    ctx.messages.append(
        f"estimate: {len(run.estimates)} hosts, fleet {number(run.fleet.p10)}..{number(run.fleet.p90)} x 4688/day "
        f"(p10..p90, median {number(run.fleet.p50)}) -> {path}"
    )


def demo_plan(ctx: DemoContext) -> None:
    projection = model.project(ctx.db, config_file=ctx.config)
    need = float(projection.fleet["added_gb_day_p90"].iloc[0])
    # The demo SIEM has 50 % headroom over the whole rollout's p90, rounded up to two significant digits.
    budget = round_up_2sig(need * 1.5) if need > 0 else 1.0
    run = model.plan(ctx.db, budget_kind=model.BUDGET_GB_DAY, budget=budget, out_dir=ctx.out, config_file=ctx.config)
    ctx.warnings.extend(run.warnings)
    placed = sum(len(w.hosts) for w in run.plan.waves)
    ctx.messages.append(
        f"plan: {placed} host(s) in {len(run.plan.waves)} wave(s), {len(run.plan.unplaced)} unplaced, budget "
        f"{budget:g} GB/day ({projection.profile.name}; plan {run.plan.plan_id}) -> "
        + ", ".join(str(p) for p in run.files)
    )


def demo_gpo(ctx: DemoContext) -> None:
    outputs = emit.write_gpo(ctx.out / "plan.json", ctx.out / "gpo", emit.GpoOptions(domain=DEMO_DOMAIN),
                             warn=ctx.warnings.append)
    # A wave gets one GPO per group of hosts whose audit policy can be kept by one audit.csv
    # (emit/gpo/audit_union.py), so there can be more GPOs than waves.
    waves = len({o.wave for o in outputs})
    ctx.messages.append(f"gpo: {len(outputs)} GPO backup(s) for {waves} wave(s), each keeping its hosts' other "
                        f"audit settings, with rollout/verify/rollback scripts -> {ctx.out / 'gpo'}")


def demo_detections(ctx: DemoContext) -> None:
    run = emit.evaluate_detections(ctx.db, plan_path=ctx.out / "plan.json", config_file=ctx.config)
    ctx.warnings.extend(run.problems)
    ctx.warnings.extend(run.evaluation.warnings)
    path = ctx.out / "detections.json"
    _write(path, json.dumps(run.document(), indent=2) + "\n")
    rules = emit.export_rules("sigma", ctx.out / "detections")  # the rules, each with its triage runbook
    ctx.warnings.extend(rules.skipped)
    mp = emit.write_scom_pack(ctx.out / "scom" / "Auditplan.ProcessCreation.Detections.xml",
                              plan_path=ctx.out / "plan.json", through_wave=0)
    ctx.warnings.extend(mp.skipped)
    exposed = run.exposure
    ctx.messages.append(
        f"detections: alerts/day of {len(run.evaluation.results)} rules on {run.evaluation.events} sampled 4688s; "
        f"{exposed.events_with_secrets} command line(s) exposed a secret (redacted) -> {path}; "
        f"Sigma rules and triage runbooks -> {rules.path}; SCOM management pack -> {mp.path}"
    )


def demo_noise(ctx: DemoContext) -> None:
    """The noise table (noise.txt) and its JSON (noise.json, whose "filters" forwarding reads)."""
    report = emit.noise_report(ctx.db, plan_path=ctx.out / "plan.json")
    _write(ctx.out / "noise.json", json.dumps(report.document(), indent=2) + "\n")
    _write(ctx.out / "noise.txt", "\n".join(table_lines(report, 10)) + "\n")
    top = report.ranking.scope(model.NOISE_FLEET)[0]
    mid, low, high = report.saving()
    refused = sum(not p.verdict.accepted for p in report.proposals)
    ctx.messages.append(
        f"noise: top 4688 contributor {terminal(top.new_process_name)} <- {terminal(top.parent_process_name)} "
        f"({percent(top.share, digits=1)}, {percent(top.share_low, digits=1)}..{percent(top.share_high, digits=1)}); "
        f"{len(report.accepted)} suppression(s) accepted, {refused} refused by the detection rules, saving "
        f"{number(mid)} GB/day ({number(low)}..{number(high)}) -> {ctx.out / 'noise.txt'}, {ctx.out / 'noise.json'}"
    )


def demo_forwarding(ctx: DemoContext) -> None:
    written = emit.write_forwarding(ctx.out / "plan.json", ctx.out / "forwarding", filters_path=ctx.out / "noise.json")
    last = written.waves[-1]
    ctx.messages.append(
        f"forwarding: WEF, Splunk, Sentinel and Winlogbeat configs for {len(written.waves)} wave(s) with "
        f"{len(written.filters)} noise filter(s); {last.collectors} WEC collector(s) for the whole rollout "
        f"-> {ctx.out / 'forwarding'}"
    )


def demo_report(ctx: DemoContext) -> None:
    written = emit.write_report(ctx.db, ctx.out / "report.html", plan_path=ctx.out / "plan.json",
                                org=DEMO_ORG, config_file=ctx.config, gpo_dir=ctx.out / "gpo")
    ctx.messages.append(f"report: {written.html.resolve()} (per-host CSV: {written.csv})")


# The demo is these steps in order: collect, model, emit.
DEMO_STEPS: list[DemoStep] = [demo_survey]
OFFLINE_STEPS: list[DemoStep] = [demo_ingest, demo_estimate, demo_plan, demo_gpo, demo_detections, demo_noise,
                                  demo_forwarding, demo_report]


def write_demo_config(out: Path) -> Path:
    """The demo's own --config file: the illustrative price of the default SIEM profile."""
    path = out / DEMO_CONFIG
    _write(
        path,
        "# auditplan demo: an illustrative SIEM price (no public price list is in the reference).\n"
        f'[siem.splunk-xml]\nprice_per_gb = {DEMO_PRICE_PER_GB}  # assumption: illustrative only\ncurrency = "USD"\n',
    )
    return path


@main.command(renamed={"--auth": "--transport"})
@click.option("--out", type=click.Path(path_type=Path, file_okay=False), default=Path("auditplan-out/demo"),
              show_default=True, help="Folder: the store and everything later stages produce go in it.")
@click.option("--transport", "auth", type=click.Choice(AUTH_MODES), default="ntlm", show_default=True,
              help="Authentication of the demo fleet, as `survey --transport` (HTTPS with a generated CA in "
                   "every case).")
def demo(out: Path, auth: str) -> None:
    """Start the built-in demo fleet in this process, survey it, ingest a shipped Security.evtx as an
    offline-collected host, and run every later stage, saying where the results are.

    \b
    Example:
      auditplan demo --out demo/ --transport credssp
    """
    profiles = load_profiles(None)
    out.mkdir(parents=True, exist_ok=True)
    write_demo_config(out)
    ctx = DemoContext(out=out, fleet=None, db=out / "auditplan.db")
    with tempfile.TemporaryDirectory(prefix="auditplan-demo-") as tmp, run_fleet(
        profiles, Path(tmp), auth=auth, https=True
    ) as fleet:
        ctx.fleet = fleet
        for step in DEMO_STEPS:
            _run_step(ctx, step)
    # Everything after the survey reads only the store: the simulated fleet is already stopped.
    ctx.fleet = None
    for step in OFFLINE_STEPS:
        _run_step(ctx, step)


def _run_step(ctx: DemoContext, step: DemoStep) -> None:
    """Run one stage and print what it produced (and warned about) as soon as it is done."""
    seen, warned = len(ctx.messages), len(ctx.warnings)
    step(ctx)
    for warning in ctx.warnings[warned:]:
        click.echo(f"WARNING: {warning}", err=True)
    for message in ctx.messages[seen:]:
        click.echo(message)
