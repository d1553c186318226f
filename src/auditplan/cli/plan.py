"""`auditplan plan`: rollout waves under a SIEM budget; writes plan.json and plan.csv."""

from __future__ import annotations

import math
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from auditplan.cli import main
from auditplan.cli.chain import find_store, store_option
from auditplan.cli.console import stdout_console, working
from auditplan.cli.errors import usage_error_on
from auditplan.config import Config, ConfigError
from auditplan.records import QUANTILE_CHOICES, BudgetKind, plan_number
from auditplan.records.plan import REASON_WORDS

if TYPE_CHECKING:
    from auditplan.model.api import PlanRun
from auditplan.text import escaped, gb_for_people, number, percent

# The CLI's wave dates: one wave a week from a week after today, the report's assumption too.
WAVE_INTERVAL_DAYS = 7
FIRST_HOSTS = 3  # host names a wave's row shows; plan.csv has them all


def round_up_2sig(value: float) -> float:
    """`value` rounded up to two significant digits (0.4712 -> 0.48, 101 -> 110): a budget people can type."""
    step = 10.0 ** (math.floor(math.log10(value)) - 1)
    return round(math.ceil(value / step - 1e-9) * step, 12)


def _budget_suggestion(db: Path, siem: str | None, config_file: Path | None) -> str:
    """Why a budget is needed, and one to start from: the projection's whole-rollout p90 added GB/day, with a
    step the largest host fits in (a host above the step is never placed)."""
    head = ("plan needs the SIEM's headroom for the added load: --budget-gb-day N (GB/day) or --budget-eps N "
            "(events/s).")
    from auditplan.model.api import ModelError, project
    from auditplan.store import StoreError

    with usage_error_on(ConfigError, ModelError, StoreError):
        p = project(db, siem=siem, config_file=config_file)
        fraction = Config.load(config_file).step_fraction()
    f = p.fleet.iloc[0]
    p50, p90 = float(f["added_gb_day_p50"]), float(f["added_gb_day_p90"])
    if not p90 > 0:
        return head + f" The projection ({p.profile.name}) adds no load: any budget places every host."
    hosts = p.hosts.sort_values("added_gb_day_p90", ascending=False)
    largest, largest_load = str(hosts["host"].iloc[0]), float(hosts["added_gb_day_p90"].iloc[0])
    whole = round_up_2sig(p90)
    text = (f"{head} Turning 4688 with command line on for every host of {db} adds {number(p50, trim=True)}-"
            f"{number(p90, trim=True)} GB/day (p50-p90, {p.profile.name}; `auditplan project` shows it by role "
            f"and site); a budget of the p90 places every host that can be placed, in a pilot and waves")
    command = f"auditplan plan --budget-gb-day {whole:g}"
    if largest_load > whole * fraction:
        step = round_up_2sig(largest_load)
        command += f" --max-step-gb-day {step:g}"
        text += (f", with a step (the most one wave may add; default {fraction:g} of the budget) that the largest "
                 f"host, {escaped(largest)} at {number(largest_load, trim=True)} GB/day, fits in")
    return (f"{text}. A smaller budget places fewer hosts and lists the rest as unplaced, to plan again once the "
            f"pilot is measured. Suggested: {command}")


def _amount(value: float | None, unit: str) -> str:
    """A load in people's units: GB/day below 1 GB as MB/day, events/s as they are."""
    if value is None:
        return "n/a"
    if unit == "GB/day":
        scaled, size = gb_for_people(plan_number(value))
        return f"{number(scaled, trim=True)} {size}/day"
    return f"{number(plan_number(value), trim=True)} {unit}"


def _simulated(run: PlanRun, i: int) -> str:
    """The simulated total after wave `i` in GB/day: p50 (p10-p90)."""
    if i >= len(run.totals):
        return "n/a"
    r = run.totals[i].added_gb_day
    _, size = gb_for_people(r.p90)  # one unit for the three figures: the p90's
    scale = 1000.0 if size == "MB" else 1.0
    p10, p50, p90 = (number(x * scale, trim=True) for x in (r.p10, r.p50, r.p90))
    return f"{p50} ({p10}-{p90}) {size}/day"


def _print(console: Console, run: PlanRun, unit: str) -> None:
    p, o = run.plan, run.options
    start = datetime.now(UTC).date() + timedelta(days=WAVE_INTERVAL_DAYS)
    table = Table(title=escape(f"Waves for {p.siem}: budget {_amount(o.budget, unit)} at {o.quantile}, "
                               f"at most {_amount(o.max_step, unit)} per wave"))
    # "in total" and its share are the planner's ceiling (each host's quantile added up); the
    # simulated column is the range to expect (docs/projection.md "Plan totals").
    for name in ("wave", "hosts", f"adds ({o.quantile})", "in total", "share of budget",
                 "in total, simulated p50 (p10-p90)", "peak events/s p90", "from", "first hosts"):
        table.add_column(name, justify="left" if name in ("wave", "from", "first hosts") else "right")
    for i, w in enumerate(p.waves):
        load, cum = w.load, w.cumulative
        assert load is not None and cum is not None  # the planner's waves always carry both
        names = [h.host for h in w.hosts]
        shown = ", ".join(names[:FIRST_HOSTS]) + (f" +{len(names) - FIRST_HOSTS}" if len(names) > FIRST_HOSTS else "")
        table.add_row(Text(escaped(w.name)), str(len(w.hosts)), _amount(load.budget, unit), _amount(cum.budget, unit),
                      percent(plan_number(cum.budget or 0.0), o.budget),
                      _simulated(run, i), number(plan_number(load.eps_peak_p90), trim=True),
                      (start + timedelta(days=WAVE_INTERVAL_DAYS * i)).isoformat(), Text(escaped(shown)))
    console.print(table)
    console.print("\"in total\" adds up each host's own " + o.quantile + " (a ceiling, held under the budget); the "
                  "simulated column is the range to expect for the same hosts (docs/projection.md \"Plan totals\").")
    console.print(f"Dates assume one wave a week, each after the previous one is verified; plan.csv lists every "
                  f"host. The pilot covers {p.pilot.strata if p.pilot else 0} (role, OS family, site) group(s) "
                  f"({p.pilot_coverage} cover).")
    reasons = Counter(h.reason_code for h in p.unplaced)
    if reasons:
        console.print(Text("Not in a wave: " + "; ".join(
            f"{n} {REASON_WORDS.get(code, code.replace('_', ' '))}" for code, n in sorted(reasons.items()))))
    for warning in p.warnings:
        console.print(Text(f"warning: {escaped(warning)}", style="yellow"))


def _print_enabled(console: Console, run: PlanRun, flag: str, unit: str) -> None:
    """Hosts already auditing 4688 are outside the budget: say what they carry and what that
    means for --budget-* on a re-plan (docs/projection.md "The budget on a re-plan")."""
    e, q = run.enabled, run.options.quantile
    if not e.hosts:
        return
    text = (f"Already auditing 4688: {e.hosts} host(s) ({e.measured} measured), {number(e.load, trim=True)} {unit} "
            f"({q}) today. {flag} is headroom for the ADDED load only: this plan's cumulative starts at 0 and leaves "
            "out the 4688 stream these hosts send today.")
    if e.cmdline_only:
        text += (f" {e.cmdline_only} of them audit 4688 without its command line: the command line this plan "
                 f"adds to them is added load: it counts against {flag}.")
    console.print(Text(text, style="yellow"))
    left, total = run.headroom_left, run.rollout_total
    if left is not None and total is not None and e.first_budget is not None:
        first, earlier = number(e.first_budget, trim=True), number(e.rollout_load, trim=True)
        advice = (f"give {flag} {number(left, trim=True)} now ({first} - {earlier})" if left > 0
                  else f"no headroom is left for more waves ({first} - {earlier})")
        console.print(Text(
            f"{e.rollout_hosts} of them were enabled by waves of earlier plans (they audit more now than when "
            f"placed), which added {earlier} {unit} ({q}). The first plan in this store had {flag} "
            f"{first}: if that was the SIEM's headroom before the rollout, {advice}.", style="yellow"))
        if run.over_first_budget:
            console.print(Text(
                f"warning: earlier waves {earlier} + this plan {number(run.added, trim=True)} = "
                f"{number(total, trim=True)} {unit} > the first plan's budget {first}", style="bold yellow"))
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
            table.add_row(Text(escaped(e["host"])), str(e["wave"]), *(number(e[k], trim=True) for k in (
                "assumed_events_per_day_p50", "measured_events_per_day_p50", "ratio")))
        console.print(table)
    table = Table(title="Load per wave, previous plan -> now (GB/day)")
    for name in ("wave", "previous p50", "previous p90", "now p50", "now p90"):
        table.add_column(name, justify="right")
    for w in recal["waves"]:
        table.add_row(str(w["wave"]), *(number(w[when][k], trim=True) for when in ("previous", "now")
                                        for k in ("gb_day_p50", "gb_day_p90")))
    console.print(table)
    moved = recal["moved"]
    console.print(f"{len(moved)} host(s) moved" + (":" if moved else ""))
    for m in moved[:30]:
        before = "unplaced" if m["from"] is None else f"wave {m['from']}"
        after = "unplaced" if m["to"] is None else f"wave {m['to']}"
        console.print(Text(f"  {escaped(m['host'])}: {before} -> {after}"))
    if len(moved) > 30:
        console.print(f"  ... and {len(moved) - 30} more (recalibration.json)")


@main.command("plan")
@store_option("The store with the estimates `auditplan estimate` saved.")
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
@click.option("--out", "out_dir", type=click.Path(path_type=Path, file_okay=False), default=None,
              show_default="the store's folder",
              help="Folder: plan.json and plan.csv go in it (where `auditplan gpo` and `auditplan report` look).")
@click.option("--config", "config_file", type=click.Path(path_type=Path, dir_okay=False), default=None,
              help="A TOML file overriding [siem.NAME], [plan] and [local_log] defaults.")
def plan_command(db: Path | None, budget_gb_day: float | None, budget_eps: float | None, siem: str | None,
                 max_step_gb_day: float | None, max_step_eps: float | None, pilot_size: int | None,
                 max_waves: int | None, quantile: str | None, exclude_file: Path | None, first: tuple[str, ...],
                 out_dir: Path | None, config_file: Path | None) -> None:
    """Plan rollout waves: a pilot with one low-volume host per (role, OS family, site), then
    waves whose cumulative added load stays under the budget and whose increment stays under
    the step. Unreachable, excluded, unsupported and non-fitting hosts are listed with the
    reason. Writes plan.json (docs/plan-json.md) and plan.csv; same inputs, same bytes.

    The budget is headroom for the added load: on a re-plan, hosts earlier waves enabled add
    nothing, so the command prints what they carry and the budget that is left.
    """
    if budget_gb_day is not None and budget_eps is not None:
        raise click.UsageError("give exactly one of --budget-gb-day and --budget-eps")
    db = find_store(db)
    if out_dir is None:
        out_dir = db.parent
    if budget_gb_day is None and budget_eps is None:
        raise click.UsageError(_budget_suggestion(db, siem, config_file))
    kind = BudgetKind.GB_DAY if budget_gb_day is not None else BudgetKind.EPS
    budget = float(budget_gb_day if budget_gb_day is not None else budget_eps)  # type: ignore[arg-type]
    step_given = max_step_gb_day if kind == BudgetKind.GB_DAY else max_step_eps
    wrong_step = max_step_eps if kind == BudgetKind.GB_DAY else max_step_gb_day
    if wrong_step is not None:
        raise click.UsageError("--max-step-gb-day goes with --budget-gb-day, --max-step-eps with --budget-eps")
    # Imported here, not at the top: `auditplan plan --help` should not load pandas and the model.
    from auditplan.model.api import ModelError, PlanError
    from auditplan.model.api import plan as make_plan
    from auditplan.store import StoreError

    with usage_error_on(ConfigError, ModelError, PlanError, StoreError), working("plan: projecting and placing hosts"):
        run = make_plan(db, budget_kind=kind, budget=budget, max_step=step_given, siem=siem, quantile=quantile,
                        pilot_size=pilot_size, max_waves=max_waves, first=first, exclude_file=exclude_file,
                        out_dir=out_dir, config_file=config_file)
    for note in run.warnings:
        click.echo(f"warning: {note}", err=True)
    console = stdout_console()
    unit = "GB/day" if kind == BudgetKind.GB_DAY else "EPS"
    _print(console, run, unit)
    flag = "--budget-gb-day" if kind == BudgetKind.GB_DAY else "--budget-eps"
    _print_enabled(console, run, flag, unit)
    if run.recalibration is not None:
        _print_recalibration(console, run.recalibration)
    p = run.plan
    total = sum(len(w.hosts) for w in p.waves)
    click.echo(f"{total} host(s) in {len(p.waves)} wave(s), {len(p.unplaced)} unplaced; "
               f"wrote {out_dir / 'plan.json'} and {out_dir / 'plan.csv'} (plan {p.plan_id})", err=True)
