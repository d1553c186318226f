"""`auditplan plan`: rollout waves under a SIEM budget; writes plan.json and plan.csv."""

from __future__ import annotations

import json
import os
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from auditplan.cli import DEFAULT_DB, main
from auditplan.cli.project import load_inputs, plan_setting, run_projection
from auditplan.config import ConfigError
from auditplan.model.plan import (
    BUDGET_EPS,
    BUDGET_GB_DAY,
    QUANTILE_CHOICES,
    EnabledLoad,
    Plan,
    PlanError,
    PlanOptions,
    enabled_load,
    plan,
    plan_csv_text,
    plan_document,
    plan_json_text,
    recalibration,
)
from auditplan.model.siem import pick_profile
from auditplan.records import EstimateSource
from auditplan.store import Store, StoreError

DOC_KIND = "plan"
DOC_LATEST = "latest"
EXCLUDE_MAX_BYTES = 16 * 2**20


def read_exclude(path: Path) -> tuple[dict[str, str], list[str]]:
    """Host names to leave out, one per line (`#` comments, blank lines). Returns
    (host lower-case -> "FILE:LINE", warnings naming FILE:LINE)."""
    try:
        if path.stat().st_size > EXCLUDE_MAX_BYTES:
            raise click.UsageError(f"{path}: larger than {EXCLUDE_MAX_BYTES // 2**20} MB; not a host list")
        raw = path.read_bytes()
    except OSError as exc:
        raise click.UsageError(f"{path}: cannot read: {exc.strerror or exc}") from None
    text = raw.decode("utf-8-sig", errors="replace")
    out: dict[str, str] = {}
    warnings: list[str] = []
    for number, line in enumerate(text.splitlines(), start=1):
        entry = line.split("#", 1)[0].strip()
        if not entry:
            continue
        if "\ufffd" in entry or any(ord(c) < 32 for c in entry):
            warnings.append(f"{path}:{number}: not a host name (bad bytes), skipped")
            continue
        name, *extra = entry.split()
        if extra:
            warnings.append(f"{path}:{number}: only the first word ({name}) is a host name; the rest is ignored")
        out.setdefault(name.lower(), f"{path.name}:{number}")
    return out, warnings


def _write_atomic(path: Path, text: str) -> None:
    """Write via a temporary file and rename, so a reader never sees half a plan."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as out:
            out.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _measured(estimates: list[Any]) -> dict[str, float]:
    return {
        e.host: e.events_per_day.p50
        for e in estimates
        if e.source == EstimateSource.MEASURED_4688 and e.already_on
    }


def _local_subcategories(db: Path) -> dict[str, list[tuple[str, str, str]]]:
    """Advanced-audit subcategories set locally on each host (other than Process Creation)."""
    from auditplan.records import PROCESS_CREATION_GUID

    out: dict[str, list[tuple[str, str, str]]] = {}
    with Store(db) as store:
        for result in store.load_results():
            if result.audit is None:
                continue
            subs = [
                (s.guid.lower(), str(s.setting), s.name)
                for s in result.audit.subcategories
                if s.guid.lower() != PROCESS_CREATION_GUID and s.setting.value != "none"
            ]
            if subs:
                out[result.host.name] = sorted(set(subs))
    return out


def _fmt(value: float) -> str:
    if value == 0:
        return "0"
    return f"{value:,.0f}" if abs(value) >= 1000 else f"{value:.3g}"


def _print(console: Console, p: Plan, doc: dict[str, Any], unit: str) -> None:
    table = Table(title=escape(f"Waves for {p.siem}: budget {p.options.budget:g} {unit} ({p.options.quantile}), "
                               f"step {p.options.max_step:g}"))
    for name in ("wave", "hosts", f"added {unit} ({p.options.quantile})", "cumulative", "GB/day p50", "GB/day p90",
                 "EPS peak p90"):
        table.add_column(name, justify="left" if name == "wave" else "right")
    for w in doc["waves"]:
        table.add_row(w["name"], str(len(w["hosts"])), _fmt(w["load"]["budget"]), _fmt(w["cumulative"]["budget"]),
                      _fmt(w["load"]["gb_day_p50"]), _fmt(w["load"]["gb_day_p90"]), _fmt(w["load"]["eps_peak_p90"]))
    console.print(table)
    console.print(f"pilot covers {len(p.strata)} stratum/strata of (role, OS family, site) ({p.pilot_coverage} cover)")
    reasons = Counter(h.reason.split(":", 1)[0] for h in p.unplaced)
    if reasons:
        console.print("unplaced: " + ", ".join(f"{code} {n}" for code, n in sorted(reasons.items())))
    for warning in p.warnings:
        console.print(Text(f"warning: {warning}", style="yellow"))


def _earlier_plans(store: Store, current_id: str) -> list[dict[str, Any]]:
    """Plans saved in the store before this one, oldest first."""
    keys = [k for k in store.list_documents(DOC_KIND) if k not in (DOC_LATEST, current_id)]
    return [d for k in keys if (d := store.load_document(DOC_KIND, k)) is not None]


def _print_enabled(console: Console, e: EnabledLoad, p: Plan, flag: str, unit: str, added: float) -> None:
    """Hosts already auditing 4688 are outside the budget: say what they carry and what that
    means for --budget-* on a re-plan (docs/projection.md "The budget on a re-plan")."""
    if not e.hosts:
        return
    q = p.options.quantile
    text = (f"Already auditing 4688: {e.hosts} host(s) ({e.measured} measured), {_fmt(e.load)} {unit} ({q}) today. "
            f"{flag} is headroom for the ADDED load only: this plan's cumulative starts at 0 and leaves out the "
            "4688 stream these hosts send today.")
    if e.cmdline_only:
        text += (f" {e.cmdline_only} of them audit 4688 without its command line: the command line this plan "
                 f"adds to them is added load: it counts against {flag}.")
    console.print(Text(text, style="yellow"))
    if e.rollout_hosts and e.first_budget is not None:
        left = e.first_budget - e.rollout_load
        advice = (f"give {flag} {_fmt(left)} now ({_fmt(e.first_budget)} - {_fmt(e.rollout_load)})" if left > 0
                  else f"no headroom is left for more waves ({_fmt(e.first_budget)} - {_fmt(e.rollout_load)})")
        console.print(Text(
            f"{e.rollout_hosts} of them were enabled by waves of earlier plans (they audit more now than when "
            f"placed), which added {_fmt(e.rollout_load)} {unit} ({q}). The first plan in this store had {flag} "
            f"{_fmt(e.first_budget)}: if that was the SIEM's headroom before the rollout, {advice}.", style="yellow"))
        total = e.rollout_load + added
        if total > e.first_budget * (1 + 1e-9):
            console.print(Text(
                f"warning: earlier waves {_fmt(e.rollout_load)} + this plan {_fmt(added)} = {_fmt(total)} {unit} "
                f"> the first plan's budget {_fmt(e.first_budget)}", style="bold yellow"))
    elif e.placed_hosts:
        console.print(Text(
            f"Earlier plans in this store placed {e.placed_hosts} host(s) in waves; none of them audits more now "
            f"than when it was placed, so no earlier wave shows as enabled: {flag} needs no lowering for them "
            "(if a wave was enabled after the last survey, run survey and estimate before planning).",
            style="yellow"))
    else:
        console.print(Text(
            f"If waves of this rollout enabled some of them, lower {flag} by the load those waves added.",
            style="yellow"))


def _print_recalibration(console: Console, recal: dict[str, Any]) -> None:
    console.print(Text(f"Changes since plan {recal['previous_plan_id']}:", style="bold"))  # noqa: RUF100
    if recal["enabled"]:
        table = Table(title="Hosts of earlier waves that now measure 4688")
        for name in ("host", "wave", "assumed/day", "measured/day", "ratio"):
            table.add_column(name, justify="left" if name == "host" else "right")
        for e in recal["enabled"]:
            ratio = "n/a" if e["ratio"] is None else f"{e['ratio']:.2f}"
            table.add_row(Text(e["host"]), str(e["wave"]), _fmt(e["assumed_events_per_day_p50"]),
                          _fmt(e["measured_events_per_day_p50"]), ratio)
        console.print(table)
    table = Table(title="Load per wave, previous plan -> now (GB/day)")
    for name in ("wave", "previous p50", "previous p90", "now p50", "now p90"):
        table.add_column(name, justify="right")
    for w in recal["waves"]:
        table.add_row(str(w["wave"]), _fmt(w["previous"]["gb_day_p50"]), _fmt(w["previous"]["gb_day_p90"]),
                      _fmt(w["now"]["gb_day_p50"]), _fmt(w["now"]["gb_day_p90"]))
    console.print(table)
    moved = recal["moved"]
    console.print(f"{len(moved)} host(s) moved" + (":" if moved else ""))
    for m in moved[:30]:
        before = "unplaced" if m["from"] is None else f"wave {m['from']}"
        after = "unplaced" if m["to"] is None else f"wave {m['to']}"
        console.print(Text(f"  {m['host']}: {before} -> {after}"))
    if len(moved) > 30:
        console.print(f"  ... and {len(moved) - 30} more (recalibration.json)")


@main.command("plan")
@click.option("--db", type=click.Path(path_type=Path, dir_okay=False), default=DEFAULT_DB, show_default=True,
              help="The store with the estimates `auditplan estimate` saved.")
@click.option("--budget-gb-day", type=click.FloatRange(min=0, min_open=True), default=None,
              help="SIEM headroom for the ADDED load, GB/day in the profile's GB. Hosts already auditing 4688 "
                   "(earlier waves too) are not counted: lower it by what earlier waves added.")
@click.option("--budget-eps", type=click.FloatRange(min=0, min_open=True), default=None,
              help="SIEM headroom for the ADDED load, events/s (peak hour for EPS-licensed profiles, else mean). "
                   "Hosts already auditing 4688 are not counted: lower it by what earlier waves added.")
@click.option("--siem", default=None, metavar="NAME", help="SIEM profile (default: [plan] default_siem, splunk-xml).")
@click.option("--max-step-gb-day", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Largest added GB/day one wave may bring (default: [plan] default_step_fraction of the budget).")
@click.option("--max-step-eps", type=click.FloatRange(min=0, min_open=True), default=None,
              help="Largest added events/s one wave may bring, with --budget-eps.")
@click.option("--pilot-size", type=click.IntRange(min=1), default=None,
              help="Most hosts in the pilot; with more (role, OS, site) strata the pilot covers each role, "
                   "OS family and site instead.")
@click.option("--max-waves", type=click.IntRange(min=1), default=None,
              help="Most waves after the pilot; hosts that do not fit are listed as unplaced.")
@click.option("--quantile", type=click.Choice(QUANTILE_CHOICES), default=None,
              help="Which per-host load quantile counts against the budget (default p90).")
@click.option("--exclude", "exclude_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="File of host names (one per line, # comments) to leave out of every wave.")
@click.option("--first", "first", multiple=True, metavar="GROUP",
              help="Put these hosts in the earliest waves: role:X, site:X, group:X, os:X, host:X or a bare "
                   "name matching any of them. Repeatable, in priority order.")
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=Path("auditplan-out"),
              show_default=True, help="Folder for plan.json and plan.csv.")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A TOML file overriding [siem.NAME], [plan] and [local_log] defaults.")
def plan_command(db: Path, budget_gb_day: float | None, budget_eps: float | None, siem: str | None,
                 max_step_gb_day: float | None, max_step_eps: float | None, pilot_size: int | None,
                 max_waves: int | None, quantile: str | None, exclude_file: Path | None, first: tuple[str, ...],
                 out_dir: Path, config_file: Path | None) -> None:
    """Plan rollout waves: a pilot with one low-volume host per (role, OS family, site), then
    waves whose cumulative added load stays under the budget and whose increment stays under
    the step. Unreachable, excluded, unsupported and non-fitting hosts are listed with the
    reason. Writes plan.json (docs/plan-json.md) and plan.csv; same inputs, same bytes.

    The budget is headroom for the added load: on a re-plan, hosts earlier waves enabled add
    nothing, so the command prints what they carry and the budget that is left.
    """
    if (budget_gb_day is None) == (budget_eps is None):
        raise click.UsageError("give exactly one of --budget-gb-day and --budget-eps")
    kind = BUDGET_GB_DAY if budget_gb_day is not None else BUDGET_EPS
    budget = float(budget_gb_day if budget_gb_day is not None else budget_eps)  # type: ignore[arg-type]
    step_given = max_step_gb_day if kind == BUDGET_GB_DAY else max_step_eps
    wrong_step = max_step_eps if kind == BUDGET_GB_DAY else max_step_gb_day
    if wrong_step is not None:
        raise click.UsageError("--max-step-gb-day goes with --budget-gb-day, --max-step-eps with --budget-eps")
    inputs = load_inputs(db, config_file)
    config = inputs.config
    fraction = plan_setting(config, "default_step_fraction", 0.25)
    if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not 0 < fraction <= 1:
        raise click.UsageError(f"plan.default_step_fraction: expected a number in (0, 1], got {fraction!r}")
    step = float(step_given) if step_given is not None else budget * float(fraction)
    exclude: dict[str, str] = {}
    if exclude_file is not None:
        exclude, notes = read_exclude(exclude_file)
        for note in notes:
            click.echo(f"warning: {note}", err=True)
    try:
        profile = pick_profile(inputs.profiles, siem or str(plan_setting(config, "default_siem", "splunk-xml")))
        options = PlanOptions(
            budget_kind=kind, budget=budget, max_step=step,
            quantile=quantile or str(plan_setting(config, "quantile", "p90")),
            pilot_size=pilot_size, max_waves=max_waves, first=first, exclude=exclude,
        )
    except (ConfigError, PlanError) as exc:
        raise click.UsageError(str(exc)) from None
    projection = run_projection(inputs, profile, retention_days=None, price_per_gb=None, currency=None,
                                min_local_hours=None)
    try:
        subcats = _local_subcategories(db)
        result = plan(projection, options, survey=inputs.survey, local_subcategories=subcats)
    except (PlanError, StoreError) as exc:
        raise click.UsageError(str(exc)) from None
    doc = plan_document(result)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        _write_atomic(out_dir / "plan.json", plan_json_text(doc))
        _write_atomic(out_dir / "plan.csv", plan_csv_text(result))
    except OSError as exc:
        raise click.UsageError(f"{out_dir}: cannot write the plan: {exc.strerror or exc}") from None

    console = Console()
    unit = "GB/day" if kind == BUDGET_GB_DAY else "EPS"
    _print(console, result, doc, unit)
    added = sum(w.total("load") for w in result.waves)
    flag = "--budget-gb-day" if kind == BUDGET_GB_DAY else "--budget-eps"
    try:
        with Store(db) as store:
            earlier = _earlier_plans(store, doc["plan_id"])
            _print_enabled(console, enabled_load(projection, options, earlier), result, flag, unit, added)
            previous = store.load_document(DOC_KIND, DOC_LATEST)
            if previous is not None and previous.get("plan_id") != doc["plan_id"]:
                recal = recalibration(previous, result, _measured(inputs.estimates))
                _write_atomic(out_dir / "recalibration.json", json.dumps(recal, indent=2, sort_keys=True) + "\n")
                _print_recalibration(console, recal)
            store.save_document(DOC_KIND, doc["plan_id"], doc)
            store.save_document(DOC_KIND, DOC_LATEST, doc)
    except StoreError as exc:
        raise click.UsageError(str(exc)) from None
    total = sum(len(w.hosts) for w in result.waves)
    click.echo(f"{total} host(s) in {len(result.waves)} wave(s), {len(result.unplaced)} unplaced; "
               f"wrote {out_dir / 'plan.json'} and {out_dir / 'plan.csv'} (plan {doc['plan_id']})", err=True)
