"""The emit stage's front door: GPO backups, the capacity report, the detections and the SCOM pack,
as plain functions a Python user (and the CLI) can call without click. Outside emit/, only this
module is imported.

Errors are the library's own, each naming the file, option or rule at fault: PlanError (plan.json),
StoreError, ConfigError, ModelError (the report's projection: e.g. no estimates in the store), and
emit's: NoStore, ReportError, OutputError (where --out points cannot be written), GpoOptionError,
OutputConflict, ScomOptionError (all EmitError, a ValueError), ExportUnavailable (a pySigma backend is
not installed) and ManagementPackInvalid (a bug). Warnings come back in the results; nothing here prints.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from auditplan.emit.errors import (
    EmitError,
    ExportUnavailable,
    GpoOptionError,
    ManagementPackInvalid,
    NoStore,
    OutputError,
    ReportError,
    ScomOptionError,
    cannot_write,
    unsafe_output,
)

# GPO block imports (emit/gpo/backups.py); names re-exported for cli/gpo.py are written `X as X`.
from auditplan.emit.gpo.backups import DEFAULT_BACKUP_TIME as DEFAULT_BACKUP_TIME
from auditplan.emit.gpo.backups import GpoOptions as GpoOptions
from auditplan.emit.gpo.backups import WaveOutput as WaveOutput
from auditplan.emit.gpo.backups import validate_domain as validate_domain
from auditplan.emit.gpo.backups import write_backups
from auditplan.emit.gpo.outdir import OutputConflict as OutputConflict
from auditplan.emit.plan_input import PlanEdits as PlanEdits
from auditplan.emit.plan_input import edited_plan as edited_plan
from auditplan.emit.report import DEFAULT_TITLE
from auditplan.records import LOG_MAX_SIZE_MB_MAX as LOG_MAX_SIZE_MB_MAX
from auditplan.records import LOG_MAX_SIZE_MB_MIN as LOG_MAX_SIZE_MB_MIN
from auditplan.records import Plan, PlanError, read_plan
from auditplan.safe_write import UnsafePathError, write_bytes, write_text

# The report, the detections and the SCOM pack need pandas, matplotlib and pySigma: they are
# imported where they are used (and these names on first use, below), so that importing the front
# door, as `auditplan gpo` does, loads none of them.
if TYPE_CHECKING:
    import pandas as pd

    from auditplan.emit.detections import EXPORT_BACKENDS as EXPORT_BACKENDS
    from auditplan.emit.detections import EXPORT_FORMATS as EXPORT_FORMATS
    from auditplan.emit.detections import QUERY_FILE_NAMES as QUERY_FILE_NAMES
    from auditplan.emit.detections import Evaluation as Evaluation
    from auditplan.emit.detections import Exposure as Exposure
    from auditplan.emit.detections import Rule as Rule
    from auditplan.emit.detections import RuleResult as RuleResult
    from auditplan.emit.detections.workload import Workload as Workload
    from auditplan.emit.forwarding.filters import FilterFileError as FilterFileError
    from auditplan.emit.forwarding.proposals import NoiseReport as NoiseReport
    from auditplan.emit.forwarding.writer import ForwardingWritten as ForwardingWritten
    from auditplan.emit.report.inputs import ProjectionNote as ProjectionNote
    from auditplan.emit.report.inputs import ReportInputs as ReportInputs

_LAZY: Final = {
    "EXPORT_BACKENDS": "auditplan.emit.detections", "Evaluation": "auditplan.emit.detections",
    "Exposure": "auditplan.emit.detections", "Rule": "auditplan.emit.detections",
    "RuleResult": "auditplan.emit.detections", "ProjectionNote": "auditplan.emit.report.inputs",
    "ReportInputs": "auditplan.emit.report.inputs", "EXPORT_FORMATS": "auditplan.emit.detections",
    "Workload": "auditplan.emit.detections.workload", "QUERY_FILE_NAMES": "auditplan.emit.detections",
    "NoiseReport": "auditplan.emit.forwarding.proposals", "ForwardingWritten": "auditplan.emit.forwarding.writer",
    "FilterFileError": "auditplan.emit.forwarding.filters",
}


def __getattr__(name: str) -> Any:
    """The names above that live in the heavy modules, imported on first use."""
    if name in _LAZY:
        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "DEFAULT_MP_ID", "DEFAULT_MP_VERSION", "DEFAULT_TITLE", "EXPORT_BACKENDS", "EXPORT_FORMATS", "QUERY_FILE_NAMES",
    "DetectionRun", "EmitError", "Evaluation", "ExportUnavailable", "Exposure", "GpoOptionError",
    "ManagementPackInvalid", "NoStore", "OutputError", "PlanError", "ProjectionNote", "ReportError", "ReportInputs",
    "ReportWritten", "Rule", "RuleResult", "RuleSet", "RulesExported", "ScomOptionError", "Workload",
    "detection_rules", "evaluate_detections", "evaluate_events", "export_rules", "gather_report", "write_gpo",
    "write_report", "write_report_files", "write_scom_pack",
]
__all__ += ["PlanEdits", "edited_plan"]
__all__ += ["FORWARDING_FORMATS", "FilterFileError", "ForwardingWritten", "NoiseReport", "noise_report",
            "read_filter_file", "write_forwarding"]

DEFAULT_MP_ID: Final = "Auditplan.ProcessCreation.Detections"
DEFAULT_MP_VERSION: Final = "1.0.0.0"


# -- the capacity report ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class ReportWritten:
    html: Path
    csv: Path  # the per-host CSV beside the HTML
    projection_note: str | None  # what the report says about its projection
    warnings: tuple[str, ...]
    context: Mapping[str, Any]  # every figure the report shows


def gather_report(db: Path, *, plan_path: Path | None = None, siem: str | None = None, title: str = DEFAULT_TITLE,
                  org: str | None = None, config_file: Path | None = None, price_per_gb: float | None = None,
                  currency: str | None = None, gpo_dir: Path | None = None,
                  now: datetime | None = None, accept_edited_plan: bool = False) -> ReportInputs:
    """Everything the report shows, read from the store `db`, plan.json and `auditplan gpo`'s folder.

    The projection is the one `auditplan plan` stored with the plan, unless there is no plan, none is
    stored, or `siem` / `price_per_gb` / `currency` / `config_file` ask for another. Errors: PlanError,
    NoStore, StoreError, ConfigError, ReportError (--gpo-dir), ModelError (a projection cannot be made,
    e.g. the store holds no estimates: run `auditplan estimate`)."""
    from auditplan.emit.report.gather import ProjectionRequest, gather

    asked = ProjectionRequest(siem=siem, config_file=config_file, price_per_gb=price_per_gb, currency=currency)
    return gather(db, plan_path=plan_path, asked=asked, title=title, org=org, gpo_dir=gpo_dir, now=now,
                  accept_edited_plan=accept_edited_plan)


def write_report_files(inputs: ReportInputs, out: Path) -> ReportWritten:
    """Write the HTML to `out` and the per-host CSV beside it (<name>-hosts.csv); OutputError naming
    the file that cannot be written."""
    from auditplan.emit.report.render import write_report as write_files

    html, csv_path, ctx = write_files(inputs, out)
    note = inputs.projection_note.text if inputs.projection_note else None
    return ReportWritten(html, csv_path, note, inputs.warnings, ctx)


def write_report(db: Path, out: Path, *, plan_path: Path | None = None, siem: str | None = None,
                 title: str = DEFAULT_TITLE, org: str | None = None, config_file: Path | None = None,
                 price_per_gb: float | None = None, currency: str | None = None, gpo_dir: Path | None = None,
                 now: datetime | None = None, accept_edited_plan: bool = False) -> ReportWritten:
    """The one-file HTML capacity report of the store `db` (and plan.json), written to `out`. Errors:
    gather_report's (among them ModelError when the store holds no estimates) and OutputError."""
    inputs = gather_report(db, plan_path=plan_path, siem=siem, title=title, org=org, config_file=config_file,
                           price_per_gb=price_per_gb, currency=currency, gpo_dir=gpo_dir, now=now,
                           accept_edited_plan=accept_edited_plan)
    return write_report_files(inputs, out)


# -- detections ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleSet:
    rules: tuple[Rule, ...]
    problems: tuple[str, ...]  # one line per file or folder that could not be used


def detection_rules(rules_dirs: Sequence[Path] = (), *, builtin: bool = True) -> RuleSet:
    """The built-in five families (unless `builtin` is False) and the user's rules under `rules_dirs`."""
    from auditplan.emit.detections import builtin_rules_dir, load_rules

    rules, problems = load_rules(([builtin_rules_dir()] if builtin else []) + list(rules_dirs))
    return RuleSet(tuple(rules), tuple(problems))


def evaluate_events(events: pd.DataFrame, rates: Mapping[str, float],
                    rules: Sequence[Rule] | None = None) -> Evaluation:
    """Run `rules` (default: the built-in five) over a frame of 4688 events (columns host,
    new_process_name, parent_process_name, subject_user_name, command_line); `rates` maps a host to
    its 4688 events/day, which scales its hits to alerts/day."""
    from auditplan.emit.detections import evaluate

    return evaluate(detection_rules().rules if rules is None else rules, events, rates)


@dataclass(frozen=True)
class DetectionRun:
    evaluation: Evaluation
    exposure: Exposure
    problems: tuple[str, ...]  # rule files that could not be used
    workload: Workload | None = None  # analyst hours (None: built by hand without one)

    def document(self) -> dict[str, Any]:
        """The run as one JSON-able object (`detections evaluate --json`): fleet figures, "exposure",
        "rules" (one object per rule, alerts/day and analyst hours/day as {p10, p50, p90}), the analyst
        workload and, with a plan, "waves". Secrets are counted, never shown."""
        from auditplan.emit.detections.workload import analyst_hours

        result, exposed, load = self.evaluation, self.exposure, self.workload
        minutes = load.minutes_per_alert if load else None

        def rng(r: Any) -> dict[str, float] | None:
            return None if r is None else dict(r.document())

        doc: dict[str, Any] = {
            "events": result.events,
            "hosts": result.hosts,
            "cmdline_share": result.cmdline_share,
            "hosts_without_command_line": list(result.hosts_without_command_line),
            "hosts_without_parent_process": list(result.hosts_without_parent_process),
            "warnings": list(result.warnings),
            "exposure": {"events_with_secrets": exposed.events_with_secrets, "events": exposed.events,
                         "by_host": exposed.by_host},
            "rules": [
                {"id": r.id, "title": r.title, "family": r.family, "level": r.level, "hits": r.hits,
                 "alerts_per_day": rng(r.alerts_per_day_range), "hosts": r.hosts,
                 "analyst_hours_per_day": rng(analyst_hours(r.alerts_per_day_range, minutes)) if minutes else None,
                 "sampled_events": r.sampled_events, "events_per_day": r.events_per_day,
                 "alerts_per_day_by_host": r.alerts_per_day_by_host,
                 "hosts_not_evaluated": list(r.hosts_not_evaluated),
                 "top_processes": [list(p) for p in r.top_processes], "notes": list(r.notes)}
                for r in result.results
            ],
        }
        if load:
            doc.update(load.document())
        return doc


def evaluate_detections(db: Path, rules_dirs: Sequence[Path] = (), *, minutes_per_alert: float | None = None,
                        config_file: Path | None = None, plan_path: Path | None = None,
                        accept_edited_plan: bool = False) -> DetectionRun:
    """Run the rules over every sampled or ingested 4688 event of the store `db`; alerts/day per rule
    scale each host's hits by its 4688/day (the estimate's p50, else the sampled rate), with a p10-p90
    range from the number of hits. Analyst hours/day at `minutes_per_alert` (else [detections]
    minutes_per_alert of the config, with its source), and per wave of plan.json at `plan_path`.
    Errors: NoStore, StoreError, ConfigError, PlanError, EmitError (minutes per alert not > 0)."""
    from auditplan.emit.detections import evaluate, exposure
    from auditplan.emit.detections.workload import workload
    from auditplan.model.api import ESTIMATE_RUN
    from auditplan.store import Store

    plan = read_plan(plan_path, accept_edited=accept_edited_plan) if plan_path else None
    minutes, basis = _minutes_per_alert(minutes_per_alert, config_file)
    if not db.is_file():
        raise NoStore(f"{db}: no store here; run `auditplan survey` or `auditplan ingest` first")
    with Store(db) as store:
        events = store.events_frame()
        estimates = store.load_estimates(ESTIMATE_RUN)
        hosts = store.hosts_frame()
    events = events[events["event_id"] == 4688] if len(events) else events
    rates: dict[str, float] = {}
    if len(hosts) and "sampled_4688_per_day" in hosts:
        rates.update({str(h): float(r) for h, r in zip(hosts["host"], hosts["sampled_4688_per_day"], strict=False)
                      if r == r and r is not None})
    rates.update({e.host: e.events_per_day.p50 for e in estimates})
    ruleset = detection_rules(rules_dirs)
    evaluation = evaluate(ruleset.rules, events, rates)
    return DetectionRun(evaluation, exposure(events), ruleset.problems,
                        workload(evaluation.results, minutes, basis, plan))


def _minutes_per_alert(asked: float | None, config_file: Path | None) -> tuple[float, str]:
    """Minutes an analyst spends on one alert, and where the figure comes from (the option, the
    --config file, or the default's documented basis)."""
    from auditplan.config import Config, documented_basis

    value: object
    if asked is not None:
        value, basis = asked, "--minutes-per-alert"
    else:
        config = Config.load(config_file)
        section = config.values.get("detections", {})
        value = section.get("minutes_per_alert") if isinstance(section, dict) else None
        source = config.sources.get("detections.minutes_per_alert", "default")
        basis = (documented_basis().get("detections.minutes_per_alert", "assumption") if source == "default"
                 else source)
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value <= 0:
        raise EmitError(f"minutes per alert ({basis}): expected a number > 0, got {value!r}")
    return float(value), basis


@dataclass(frozen=True)
class RulesExported:
    fmt: str
    path: Path  # the folder (sigma) or file (scom, queries) written
    count: int  # rule files (sigma) or queries written; rule files read (scom)
    skipped: tuple[str, ...] = ()  # files not exported, one line each
    notes: tuple[str, ...] = ()  # scom: what each rule's translation could not keep
    enabled_hosts: tuple[str, ...] = ()  # scom: the hosts the rules are enabled on


def _plan_hosts(plan_path: Path | None, through_wave: int, accept_edited: bool) -> list[str]:
    if plan_path is None:
        return []
    plan = read_plan(plan_path, accept_edited=accept_edited)
    return [h.host for w in plan.waves if w.number <= through_wave for h in w.hosts]


MAX_MP_ID: Final = 256  # SCOM's ID columns are nvarchar(256)


def write_scom_pack(out: Path, *, rules_dirs: Sequence[Path] = (), mp_id: str = DEFAULT_MP_ID,
                    mp_version: str = DEFAULT_MP_VERSION, plan_path: Path | None = None,
                    through_wave: int = 0, accept_edited_plan: bool = False) -> RulesExported:
    """An unsealed SCOM management pack of the rules, disabled except (by override) on the hosts of
    waves 0..`through_wave` of plan.json. `out` is the .xml file, or a folder for <mp-id>.xml."""
    from auditplan.emit.detections import builtin_rules_dir, rule_files
    from auditplan.emit.detections.scom import mp_identifier, write_management_pack

    if mp_identifier(mp_id) != mp_id or len(mp_id) > MAX_MP_ID:
        # Refused, not rewritten: `../../x` used to become `_._x` silently, an ID nobody asked for.
        raise ScomOptionError(f"--mp-id {mp_id!r}: not a management pack ID (letters, digits and '_' in "
                              f"dot-separated parts, none starting with a digit, at most {MAX_MP_ID} characters)")
    files, problems = rule_files([builtin_rules_dir(), *rules_dirs])
    hosts = _plan_hosts(plan_path, through_wave, accept_edited_plan)
    # The file name uses the sanitised ID (as the XML does), so mp_id cannot point outside `out`.
    target = out if out.suffix.lower() == ".xml" else out / f"{mp_identifier(mp_id)}.xml"
    notes = write_management_pack(files, target, mp_id=mp_id, mp_version=mp_version, enabled_hosts=hosts)
    return RulesExported("scom", target, len(files), tuple(problems), tuple(notes), tuple(hosts))


def export_rules(fmt: str, out: Path, *, rules_dirs: Sequence[Path] = (), mp_id: str = DEFAULT_MP_ID,
                 mp_version: str = DEFAULT_MP_VERSION, plan_path: Path | None = None,
                 through_wave: int = 0, accept_edited_plan: bool = False) -> RulesExported:
    """Write the rules as Sigma files (`fmt` "sigma", into the folder `out`), a SCOM pack ("scom"), or
    queries of a pySigma backend (splunk, kusto, elastic) into the file `out`. Errors: EmitError (an
    unknown `fmt`), OutputError (`out` cannot be written), PlanError, ScomOptionError, ExportUnavailable."""
    if fmt == "scom":
        return write_scom_pack(out, rules_dirs=rules_dirs, mp_id=mp_id, mp_version=mp_version, plan_path=plan_path,
                               through_wave=through_wave, accept_edited_plan=accept_edited_plan)
    from auditplan.emit.detections import EXPORT_FORMATS, builtin_rules_dir, export_queries, load_rules, rule_files

    if fmt not in EXPORT_FORMATS:
        raise EmitError(f"--format {fmt}: expected one of {', '.join(EXPORT_FORMATS)}")
    files, problems = rule_files([builtin_rules_dir(), *rules_dirs])
    # Only files that load as rules auditplan evaluates are exported (a broken one is skipped, as
    # evaluate_detections skips it).
    loaded, load_problems = load_rules(files)
    problems += load_problems
    usable = {Path(r.path) for r in loaded}
    files = [f for f in files if f in usable]
    if fmt == "sigma":
        _copy_rules(files, out)
        return RulesExported(fmt, out, len(files), tuple(problems))
    queries, query_problems = export_queries(files, fmt)
    target = out  # the CLI turns a folder into QUERY_FILE_NAMES[fmt] inside it (cli/vocabulary.single_file_out)
    try:
        out.parent.mkdir(parents=True, exist_ok=True)
        write_text(out, "".join(f"# {name}\n{query}\n\n" for name, query in queries))
    except UnsafePathError as exc:
        raise unsafe_output(out, exc) from None
    except OSError as exc:
        raise cannot_write(target, exc) from None
    return RulesExported(fmt, target, len(queries), tuple(problems + query_problems))


def _copy_rules(files: Sequence[Path], out: Path) -> None:
    """Copy the rule files into the folder `out`, each with its triage runbook beside it
    (<rule>.runbook.md); OutputError naming the path that cannot be written."""
    from auditplan.emit.detections.runbooks import runbook_for, runbook_name

    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise cannot_write(out, exc, folder=True) from None
    if out.is_symlink():
        raise OutputError(f"{out}: the output folder is a symbolic link; refusing to write through it")
    for file in files:
        target = out / file.name
        try:
            if not (target.exists() and not target.is_symlink() and target.samefile(file)):
                write_bytes(target, file.read_bytes())  # never through a link planted at the rule's name
            write_text(out / runbook_name(file), runbook_for(file))
        except UnsafePathError as exc:
            raise unsafe_output(target, exc) from None
        except OSError as exc:
            raise cannot_write(target, exc) from None


# -- GPO backups (emit/gpo/backups.py) ------------------------------------------------------------------


def write_gpo(plan: Plan | Path, out_dir: Path, options: GpoOptions | None = None, *, force: bool = False,
              warn: Callable[[str], None] | None = None, accept_edited_plan: bool = False) -> list[WaveOutput]:
    """One Import-GPO-ready backup per wave of `plan` (a Plan, or the path of its plan.json) with
    rollout, verify and rollback scripts, into `out_dir` (emit/gpo/backups.py write_backups). Errors:
    PlanError (the plan), GpoOptionError (an option, e.g. the domain), OutputConflict (what is in
    `out_dir`), OutputError (`out_dir` cannot be written); all but PlanError are EmitError."""
    plan = read_plan(plan, accept_edited=accept_edited_plan) if isinstance(plan, Path) else plan
    try:
        return write_backups(plan, out_dir, options or GpoOptions(), force=force, warn=warn)
    except OSError as exc:
        raise cannot_write(out_dir, exc, folder=True) from None


# -- forwarding and noise filters (emit/forwarding/) -------------------------------------------------


FORWARDING_FORMATS: Final = ("wef", "splunk", "sentinel", "winlogbeat")


def _sampled_4688(db: Path) -> pd.DataFrame:
    from auditplan.store import Store

    if not db.is_file():
        raise NoStore(f"{db}: no store here; run `auditplan survey` or `auditplan ingest` first")
    with Store(db) as store:
        events = store.events_frame()
    return events[events["event_id"] == 4688] if len(events) else events


def noise_report(db: Path, *, plan_path: Path | None = None, rules_dirs: Sequence[Path] = (),
                 config_file: Path | None = None, siem: str | None = None, top: int = 10,
                 attack_events: pd.DataFrame | None = None, accept_edited_plan: bool = False) -> NoiseReport:
    """(NewProcessName, ParentProcessName) pairs of the store's sampled 4688s ranked by share and GB/day,
    per role and fleet-wide, and suppressions of the top ones, each checked against the enabled rules
    (the built-in five and `rules_dirs`) on the sampled events, `attack_events` and canary attacks.
    Errors: NoStore, PlanError, ModelError (no sampled 4688, no estimates), ConfigError."""
    from auditplan.emit.forwarding.proposals import propose
    from auditplan.model import api as model

    plan = read_plan(plan_path, accept_edited=accept_edited_plan) if plan_path is not None else None
    events = _sampled_4688(db)
    ranking = model.noise(db, plan=plan, siem=siem, config_file=config_file)
    return propose(ranking, detection_rules(rules_dirs).rules, events, attack_events, top=top)


def write_forwarding(plan_path: Path, out: Path, *, formats: Sequence[str] = FORWARDING_FORMATS,
                     filters_path: Path | None = None, no_filters: bool = False, db: Path | None = None,
                     rules_dirs: Sequence[Path] = (), name_prefix: str = GpoOptions.name_prefix,
                     attack_events: pd.DataFrame | None = None,
                     accept_edited_plan: bool = False) -> ForwardingWritten:
    """The collection configs of every wave of plan.json into `out` (wef/, splunk/, sentinel/,
    winlogbeat/, README.md). Filters: none with `no_filters`; those of `filters_path`, each checked
    against the enabled rules on the store's sampled events (refused: EmitError naming the file and
    filter); else the store's own accepted proposals (noise_report). The store (`db`, default
    auditplan.db beside the plan) must hold the plan's projection: a plan from another store is
    refused. Everything is rendered before anything is written."""
    from auditplan.emit.forwarding.filters import FilterFileError, read_filters
    from auditplan.emit.forwarding.safety import check_filters
    from auditplan.emit.forwarding.wave_set import wave_sets
    from auditplan.emit.forwarding.writer import ForwardingWritten, render, write_files
    from auditplan.emit.gpo.backups import _group_name
    from auditplan.model import api as model
    from auditplan.model.api import ModelError

    plan = read_plan(plan_path, accept_edited=accept_edited_plan)
    filters: tuple[Any, ...] = ()
    source = "--no-filters"
    if not no_filters:
        db = db or plan_path.parent / "auditplan.db"
        if not db.is_file():
            raise NoStore(f"{db}: no store beside the plan; give --db, or --no-filters")
        if model.load_plan_projection(db, plan) is None:
            raise EmitError(f"{plan_path}: plan {plan.plan_id} is not in the store {db} (made from another store?); "
                            "give its --db, or --no-filters")
        if filters_path is not None:
            asked = read_filters(filters_path)
            verdicts = check_filters(asked, detection_rules(rules_dirs).rules, _sampled_4688(db), attack_events)
            refused = [f"filter {i} ({v.filter.label()}): {v.reason}" for i, v in enumerate(verdicts, 1)
                       if not v.accepted]
            if refused:
                raise FilterFileError(f"{filters_path}: " + "; ".join(refused))
            filters, source = asked, f"{filters_path}"
        else:
            try:
                report = noise_report(db, plan_path=plan_path, rules_dirs=rules_dirs, attack_events=attack_events)
            except ModelError as exc:
                raise EmitError(f"{exc}; --no-filters writes the configs without noise filters") from None
            filters, source = report.accepted, f"the proposals of `auditplan noise --db {db}`"
    waves = wave_sets(plan, lambda n: _group_name(name_prefix, n))
    files = render(plan, waves, list(formats), filters, source)
    written = write_files(out, files)
    return ForwardingWritten(out, written, tuple(waves), tuple(filters), source)


def read_filter_file(path: Path) -> list[dict[str, str]]:
    """The filters of a filter file (`noise --json`'s "filters"), each a 4688 field name -> value map;
    FilterFileError naming the file and filter when one is not usable."""
    from auditplan.emit.forwarding.filters import read_filters

    return [f.fields for f in read_filters(path)]
