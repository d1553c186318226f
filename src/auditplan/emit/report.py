"""The HTML capacity report: one self-contained file, a verdict first, then the evidence.

Everything from hosts (names, OS strings, reasons, command lines) is untrusted: the jinja2
environment autoescapes, charts get sanitised labels, and the per-host CSV beside the HTML goes
through export.neutralise_cell against formula injection.
"""

from __future__ import annotations

import math
import re
import tomllib
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
import pandas as pd
from markupsafe import Markup

from auditplan.emit import charts
from auditplan.emit.detections import Evaluation, Exposure
from auditplan.emit.gpo import GpoOptions, PlanError, parse_plan
from auditplan.emit.gpo_outdir import MANIFEST_NS
from auditplan.model.api import BUDGET_EPS, BUDGET_GB_DAY, EPS_BASIS_MEAN, EPS_BASIS_PEAK, Projection
from auditplan.records import QUANTILE_CHOICES, AuditSetting, HostEstimate, Reason
from auditplan.store.export import frame_to_csv

_ASSIGNMENT = re.compile(r"^\s*([A-Za-z0-9_\-\"]+)\s*=\s*(.+?)\s*(?:#\s*(.*))?$")


@dataclass(frozen=True)
class ReportInputs:
    hosts: pd.DataFrame  # Store.hosts_frame()
    projection: Projection | None
    estimates: Sequence[HostEstimate]
    plan: Mapping[str, Any] | None = None  # plan.json
    detections: Evaluation | None = None
    exposure: Exposure | None = None
    defaults_text: str = ""
    title: str = "Process creation auditing: capacity report"
    org: str | None = None
    generated_at: datetime = field(default_factory=lambda: datetime(2000, 1, 1))
    wave_interval_days: int = 7
    first_wave_date: datetime | None = None
    gpo_names: Mapping[int, str] | None = None  # wave -> GPO display name, from `auditplan gpo`'s manifest


NO_SOURCE = "(no source given)"
REASON_EXCEEDS_BUDGET, REASON_EXCEEDS_STEP, REASON_MAX_WAVES = (
    Reason.EXCEEDS_BUDGET.value, Reason.EXCEEDS_STEP.value, Reason.MAX_WAVES.value)
CAPACITY_REASONS = (REASON_EXCEEDS_BUDGET, REASON_EXCEEDS_STEP, REASON_MAX_WAVES)
GROUP_LIMIT = 15  # roles/sites drawn and tabled; the rest are in the CSV
# Why a host is in no wave, by the plan's reason code (docs/plan-json.md, model/plan.py _waves):
# its own load over the step, the budget spent before it, or every allowed wave full.
CAPACITY_WORDS = {REASON_EXCEEDS_STEP: "its own load is larger than one wave's step",
                  REASON_EXCEEDS_BUDGET: "the budget is used up",
                  REASON_MAX_WAVES: "the wave limit was reached"}
CAPACITY_LIMITS = {REASON_EXCEEDS_BUDGET: "the SIEM budget", REASON_EXCEEDS_STEP: "the wave step",
                   REASON_MAX_WAVES: "the wave limit"}  # what a host did not fit, in the headline
# The `auditplan plan` options (cli/plan.py) that would let such a host in, by budget kind.
CAPACITY_FIXES: dict[str, dict[str | None, str]] = {
    REASON_EXCEEDS_STEP: {BUDGET_GB_DAY: "a larger step (--max-step-gb-day)",
                          BUDGET_EPS: "a larger step (--max-step-eps)",
                          None: "a larger step (--max-step-gb-day or --max-step-eps)"},
    REASON_EXCEEDS_BUDGET: {BUDGET_GB_DAY: "a larger budget (--budget-gb-day)",
                            BUDGET_EPS: "a larger budget (--budget-eps)",
                            None: "a larger budget (--budget-gb-day or --budget-eps)"},
    REASON_MAX_WAVES: {None: "more waves (--max-waves)"},
}
UNKNOWN_BASIS = "mean or peak, as the plan's SIEM profile counts"  # neither plan.json nor the profile says
MANIFEST = ("backups", "manifest.xml")  # where `auditplan gpo --out DIR` lists its backups
MAX_MANIFEST_BYTES = 16 * 2**20
# bkupInfo/manifest Comment as emit/gpo.py writes it: "auditplan plan <id> wave N" (and "auditplan wave N: ...").
_COMMENT_WAVE = re.compile(r"auditplan\b.*?\bwave (\d+)\b", re.S)


def _json_kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    return {str: "a string", list: "a list", dict: "an object", int: "a number", float: "a number"}.get(
        type(value), type(value).__name__)


def _object(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise PlanError(f"{where}: expected an object, got {_json_kind(value)}")
    return value


def _number(value: object, where: str, *, positive: bool = False, nullable: bool = True) -> None:
    if value is None and nullable:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or (
            positive and value <= 0):
        wanted = "a number > 0" if positive else "a number or null"
        raise PlanError(f"{where}: expected {wanted}, got {value!r}")


def check_plan(raw: object, where: str) -> dict[str, Any]:
    """plan.json as the report reads it, or PlanError naming the file and the field.

    Schema version, waves and hosts get emit/gpo.parse_plan's checks (the same as `auditplan gpo`);
    the fields only the report reads (budget, load, cumulative, unplaced) are checked here."""
    parse_plan(raw, where)
    doc = dict(_object(raw, where))
    if doc.get("budget") is not None:
        budget = _object(doc["budget"], f"{where}: budget")
        if budget.get("kind") not in (BUDGET_GB_DAY, BUDGET_EPS):
            raise PlanError(f"{where}: budget.kind: expected {BUDGET_GB_DAY!r} or {BUDGET_EPS!r}, "
                            f"got {budget.get('kind')!r}")
        _number(budget.get("value"), f"{where}: budget.value", positive=True, nullable=False)
        if budget.get("quantile", "p90") not in QUANTILE_CHOICES:
            raise PlanError(f"{where}: budget.quantile: expected one of {', '.join(QUANTILE_CHOICES)}, "
                            f"got {budget.get('quantile')!r}")
    for i, wave in enumerate(doc["waves"]):
        for key in ("load", "cumulative"):
            if key in wave:
                for name, value in _object(wave[key], f"{where}: waves[{i}].{key}").items():
                    _number(value, f"{where}: waves[{i}].{key}.{name}")
    unplaced = doc.get("unplaced", [])
    if not isinstance(unplaced, list):
        raise PlanError(f"{where}: unplaced: expected a list, got {_json_kind(unplaced)}")
    for i, entry in enumerate(unplaced):
        entry = _object(entry, f"{where}: unplaced[{i}]")
        for key in ("host", "reason"):
            if not isinstance(entry.get(key), str):
                raise PlanError(f"{where}: unplaced[{i}].{key}: expected a string, got {_json_kind(entry.get(key))}")
    if not isinstance(doc.get("siem", ""), str | None):
        raise PlanError(f"{where}: siem: expected a string, got {_json_kind(doc['siem'])}")
    return doc


def _hosts_txt(path: Path) -> list[str] | None:
    try:
        return [line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, UnicodeDecodeError):
        return None


def read_gpo_names(gpo_dir: Path, plan: Mapping[str, Any]) -> dict[int, str]:
    """Wave -> GPO display name, as `auditplan gpo --out gpo_dir` wrote them for this plan.

    Each backup in backups/manifest.xml names its wave in its Comment ("auditplan ... wave N");
    its name is taken only when wave-NN/hosts.txt beside it lists exactly the plan's hosts of
    that wave, so the output of another plan, or an edited one, shows no names.
    ValueError when the manifest is unreadable."""
    path = gpo_dir.joinpath(*MANIFEST)
    try:
        if path.stat().st_size > MAX_MANIFEST_BYTES:
            raise ValueError(f"{path}: larger than {MAX_MANIFEST_BYTES // 2**20} MB")
        root = ET.fromstring(path.read_bytes())  # noqa: S314 - expat expands no external entities
    except OSError as exc:
        raise ValueError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except ET.ParseError as exc:
        raise ValueError(f"{path}: not a GPO backup manifest: {exc}") from None
    written: dict[int, str] = {}
    for inst in root.iter(f"{{{MANIFEST_NS}}}BackupInst"):
        comment = inst.findtext(f"{{{MANIFEST_NS}}}Comment") or ""
        name = (inst.findtext(f"{{{MANIFEST_NS}}}GPODisplayName") or "").strip()
        found = _COMMENT_WAVE.match(comment.strip())
        if found and name:
            written[int(found.group(1))] = name
    names: dict[int, str] = {}
    for wave in plan.get("waves", []):
        number = wave.get("wave")
        if not isinstance(number, int) or number not in written:
            continue
        listed = _hosts_txt(gpo_dir / f"wave-{number:02d}" / "hosts.txt")
        if listed is not None and sorted(listed) == sorted(str(h.get("host", "")) for h in wave.get("hosts", [])):
            names[number] = written[number]
    return names


def _source_tables(text: str) -> dict[str, str]:
    """`[X.sources]` tables of the defaults: "X.key" -> the source text given for X.key."""
    try:
        doc = tomllib.loads(text)
    except tomllib.TOMLDecodeError:
        return {}
    found: dict[str, str] = {}

    def walk(table: Mapping[str, Any], path: str) -> None:
        for key, value in table.items():
            if not isinstance(value, Mapping):
                continue
            here = f"{path}.{key}" if path else key
            if key == "sources":
                found.update({f"{path}.{k}": str(v) for k, v in value.items() if not isinstance(v, Mapping)})
            else:
                walk(value, here)

    walk(doc, "")
    return found


def defaults_table(text: str) -> list[dict[str, str]]:
    """Every number in the defaults TOML with its name, value and source.

    The source is the comment on the line, else the entry of a sibling `[X.sources]` table
    (the SIEM profiles keep theirs there), else the comment block above the assignment."""
    rows: list[dict[str, str]] = []
    section = ""
    pending: list[str] = []  # the comment block that applies to the assignments below it
    after_comment = False
    tables = _source_tables(text)
    for line in text.splitlines():
        stripped = line.strip()
        is_comment = stripped.startswith("#")
        if is_comment and not after_comment:
            pending = []  # a new block starts
        after_comment = is_comment
        if stripped.startswith("["):
            section = stripped.strip("[]").strip()
            pending = []
            continue
        if is_comment:
            pending.append(stripped.lstrip("# ").strip())
            continue
        if not stripped:
            pending = []
            continue
        m = _ASSIGNMENT.match(stripped)
        if not m:
            continue
        key, value, comment = m.group(1).strip('"'), m.group(2), m.group(3)
        if not re.match(r"^-?[0-9]", value):
            continue  # only numbers need a source
        name = f"{section}.{key}" if section else key
        source = (comment or tables.get(name) or " ".join(pending) or "").strip()
        rows.append({"name": name, "value": value, "source": source or NO_SOURCE})
    return rows


def _num(value: Any) -> float:
    try:
        out = float(value)
    except (TypeError, ValueError):
        return math.nan
    return out


def fmt(value: Any, digits: int = 3) -> str:
    """Numbers for people: 3 significant digits, thousands separators, 'n/a' when unknown."""
    x = _num(value)
    if not math.isfinite(x):
        return "n/a"
    if x == 0:
        return "0"
    if abs(x) >= 1000:
        return f"{x:,.0f}"
    return f"{x:.{max(0, digits - 1 - math.floor(math.log10(abs(x))))}f}"


def _share(part: int, whole: int) -> str:
    return f"{100.0 * part / whole:.0f}%" if whole else "n/a"


def _truthy(value: Any) -> bool:
    return bool(value) if value is not None and value is not pd.NA and value == value else False


def _is_false(value: Any) -> bool:
    """False, numpy's False or pandas' False; unknown (None, NA, NaN) is not false."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        return False
    return not bool(value)


def one_row_per_host(hosts: pd.DataFrame) -> pd.DataFrame:
    """Store.hosts_frame() has a row per source (WinRM, EVTX); keep one per host, a reachable one if any."""
    if not len(hosts) or "host" not in hosts:
        return hosts
    ok = (hosts["status"] == "ok").fillna(False).astype(bool) if "status" in hosts else False
    ranked = hosts.assign(_ok=ok).sort_values("_ok", kind="stable")
    return ranked.drop_duplicates("host", keep="last").drop(columns="_ok").sort_index()


def _column(frame: pd.DataFrame, name: str) -> list[Any]:
    return frame[name].tolist() if name in frame else [None] * len(frame)


_SUCCESS_SETTINGS = frozenset(str(s) for s in AuditSetting if s.includes_success)


def _readiness(all_rows: pd.DataFrame) -> dict[str, Any]:
    hosts = one_row_per_host(all_rows)
    total = len(hosts)
    ok = hosts[(hosts["status"] == "ok").fillna(False).astype(bool)] if total else hosts
    # Process Creation audits successes (records/survey.py AuditSetting.includes_success).
    pc_on = [isinstance(v, str) and v in _SUCCESS_SETTINGS for v in _column(ok, "process_creation")]
    cmd_on = [_truthy(v) for v in _column(ok, "cmdline_enabled")]
    cannot = [_is_false(v) for v in _column(ok, "cmdline_supported")]
    on, cmd, unsupported = sum(pc_on), sum(cmd_on), sum(cannot)
    both = sum(p and c for p, c in zip(pc_on, cmd_on, strict=True))
    off_supported = sum(not p and not u for p, u in zip(pc_on, cannot, strict=True))
    categories = [
        ("4688 with command line on", both),
        ("4688 on, command line off", on - both),
        ("4688 off", off_supported),
        ("4688 off, OS cannot log the command line", len(ok) - on - off_supported),
        ("not reachable / failed", total - len(ok)),
    ]
    return {
        "surveyed": total, "reachable": len(ok), "process_creation_on": on, "cmdline_on": cmd,
        "unsupported": unsupported, "process_creation_on_share": _share(on, len(ok)),
        "cmdline_on_share": _share(cmd, len(ok)), "categories": categories,
        "failures": Counter(str(s) for s in hosts["status"] if s != "ok") if total else Counter(),
    }


def _risks(ctx: dict[str, Any], inputs: ReportInputs) -> list[dict[str, Any]]:
    """Every risk found, worst first; the verdict shows the top three."""
    risks: list[dict[str, Any]] = []
    r = ctx["readiness"]
    capacity = ctx["capacity_unplaced"]
    if capacity:
        risks.append({"weight": 100, "text": capacity_risk(capacity, (ctx["budget"] or {}).get("kind"))})
    if ctx["logs_short"]:
        risks.append({"weight": 90, "text": f"{ctx['logs_short']} host(s) would keep less than "
                      f"{fmt(ctx['min_local_hours'])} hours of Security log history after enablement; raise their "
                      "log size first (the GPO can set it)."})
    if r["unsupported"]:
        risks.append({"weight": 80, "text": f"{r['unsupported']} host(s) run an OS that cannot log the command "
                      "line (older than 2012 R2 / 8.1 without KB3004375)."})
    failed = r["surveyed"] - r["reachable"]
    if failed:
        kinds = ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in sorted(r["failures"].items()))
        risks.append({"weight": 70, "text": f"{failed} host(s) could not be surveyed ({kinds}): their load is a "
                      "guess from role priors."})
    if ctx["local_settings_hosts"]:
        risks.append({"weight": 60, "text": f"{ctx['local_settings_hosts']} host(s) have audit subcategories set "
                      "locally; a GPO with advanced audit policy would wipe them (use gpo --preserve-local)."})
    if inputs.exposure and inputs.exposure.events_with_secrets:
        e = inputs.exposure
        risks.append({"weight": 85, "text": f"{e.events_with_secrets} of {e.events} sampled command lines carried a "
                      f"credential on {len(e.by_host)} host(s); with command-line auditing everyone who can read "
                      "the Security log would see such secrets."})
    if inputs.detections and inputs.detections.cmdline_share is not None and inputs.detections.cmdline_share < 0.5:
        risks.append({"weight": 40, "text": "Most sampled 4688 events carry no command line yet, so the detection "
                      "estimates below are a floor, not a forecast."})
    return sorted(risks, key=lambda x: -x["weight"])


def capacity_risk(capacity: Sequence[Mapping[str, Any]], kind: str | None) -> str:
    """The risk for hosts the plan left out for its limits: why, by reason, and the options that help."""
    codes = Counter(_reason_code(u) for u in capacity)
    why = "; ".join(f"{codes[code]} because {words}" for code, words in CAPACITY_WORDS.items() if codes[code])
    fixes = [f.get(kind, f[None]) for code, f in CAPACITY_FIXES.items() if codes[code]]
    names = ", ".join(str(u.get("host", "")) for u in capacity[:3]) + (
        f" and {len(capacity) - 3} more" if len(capacity) > 3 else "")
    return (f"{len(capacity)} host(s) are in no wave ({why}): {names}. They head the list 'Hosts not placed in "
            f"a wave' under Risks; to place them, re-run auditplan plan with {' and '.join(fixes)}, or plan them "
            "on their own.")


def _reason_code(entry: Mapping[str, Any]) -> str:
    """The code an unplaced entry's reason starts with (docs/plan-json.md: `code: words`)."""
    return str(entry.get("reason", "")).split(":", 1)[0].strip()


def gpo_display_name(number: Any, name: Any, prefix: str = GpoOptions.name_prefix) -> str:
    """The wave's GPO as `auditplan gpo` names it by default (emit/gpo.py write_backups)."""
    try:
        return f"{prefix} - wave {int(number):02d} ({name})"
    except (TypeError, ValueError):
        return f"{prefix} - wave {number} ({name})"


def eps_basis(plan: Mapping[str, Any], projection: Projection | None) -> str | None:
    """Which events/s the plan's budget counts: "mean" or "peak", the basis of its SIEM profile's
    licence (model/plan.py _load_column); None when neither the profile nor the plan tells.

    The projection's profile tells when it is the plan's (`auditplan report --siem` may cost
    another). Else the waves' loads tell where plan.json carries that rate (mean p50, peak p90)."""
    siem = plan.get("siem")
    if projection is not None and (not siem or projection.profile.name == siem):
        return EPS_BASIS_PEAK if projection.profile.eps_basis == EPS_BASIS_PEAK else EPS_BASIS_MEAN
    quantile = (plan.get("budget") or {}).get("quantile", "p90")
    loads = [w.get("load") or {} for w in plan.get("waves", [])]
    for basis, held in ((EPS_BASIS_MEAN, "eps_mean_p50"), (EPS_BASIS_PEAK, "eps_peak_p90")):
        if loads and held.endswith(quantile) and all(
                math.isclose(_num(x.get("budget")), _num(x.get(held)), rel_tol=1e-4) for x in loads):
            return basis
    return None


def _wave_budget(load: Mapping[str, Any], kind: str | None, quantile: str, basis: str | None) -> float:
    """A wave's (or, from `cumulative`, the running) load in the budget's unit and basis, as the
    planner held it under the budget. Plans written before `budget` existed there
    (docs/plan-json.md's first example) carry the rate under its own name, when at all."""
    value = _num(load.get("budget"))
    if not math.isfinite(value):
        value = _num(load.get(f"gb_day_{quantile}" if kind == BUDGET_GB_DAY else f"eps_{basis}_{quantile}"))
    return value


def _timeline(plan: Mapping[str, Any] | None, start: datetime, interval: int,
              gpo_names: Mapping[int, str] | None = None, basis: str | None = None) -> list[dict[str, Any]]:
    if not plan:
        return []
    budget = plan.get("budget") or {}
    kind, quantile, value = budget.get("kind"), budget.get("quantile", "p90"), _num(budget.get("value"))
    out = []
    running = 0.0
    for i, wave in enumerate(plan.get("waves", [])):
        load = wave.get("load") or {}
        cumulative = wave.get("cumulative") or {}
        own = _wave_budget(load, kind, quantile, basis)
        running += own
        held = _wave_budget(cumulative, kind, quantile, basis)
        if not math.isfinite(held):
            held = running
        number = wave.get("wave")
        real_name = gpo_names.get(number) if gpo_names and isinstance(number, int) else None
        out.append({
            "wave": wave.get("wave"), "name": wave.get("name", ""), "hosts": len(wave.get("hosts", [])),
            "gb_day_p50": load.get("gb_day_p50"), "gb_day_p90": load.get("gb_day_p90"),
            "eps_peak_p90": load.get("eps_peak_p90"), "cumulative_gb_day_p90": cumulative.get("gb_day_p90"),
            "cumulative_p50": cumulative.get("gb_day_p50"), "load_budget": own, "cumulative_budget": held,
            "cumulative_share": held / value if math.isfinite(held) and value > 0 else None,
            "date": (start + timedelta(days=interval * i)).date().isoformat(),
            "gpo": real_name or gpo_display_name(wave.get("wave"), wave.get("name", "")),
            "gpo_default": real_name is None,
            "host_names": [h.get("host", "") for h in wave.get("hosts", [])][:12],
            "more_hosts": max(0, len(wave.get("hosts", [])) - 12),
        })
    return out


def _fleet_value(projection: Projection | None, column: str) -> float:
    if projection is None or column not in projection.fleet.columns or not len(projection.fleet):
        return math.nan
    return float(projection.fleet[column].iloc[0])


def build_context(inputs: ReportInputs) -> dict[str, Any]:
    """All numbers the report shows, computed once (tests compare the rendered text with these)."""
    hosts = inputs.hosts
    projection = inputs.projection
    ctx: dict[str, Any] = {"title": inputs.title, "org": inputs.org,
                           "generated": inputs.generated_at.strftime("%Y-%m-%d %H:%M UTC")}
    ctx["readiness"] = _readiness(hosts)
    q = {name: _fleet_value(projection, name) for name in (
        "added_eps_mean_p50", "added_eps_peak_p90", "added_gb_day_p10", "added_gb_day_p50", "added_gb_day_p90",
        "added_cost_month_p10", "added_cost_month_p50", "added_cost_month_p90", "added_events_day_p50")}
    ctx["fleet"] = q
    ctx["siem"] = projection.profile.name if projection else None
    ctx["currency"] = projection.currency if projection else ""
    ctx["price_per_gb"] = projection.price_per_gb if projection else None
    min_hours = projection.min_local_hours if projection else 168.0
    ctx["min_local_hours"] = min_hours
    local = projection.hosts if projection is not None else pd.DataFrame()
    hours = [float(h) for h in local.get("local_hours_p90", pd.Series(dtype=float)).tolist() if h == h]
    ctx["logs_short"] = sum(1 for h in hours if h < min_hours)
    plan = inputs.plan
    start = inputs.first_wave_date or inputs.generated_at + timedelta(days=7)
    b = (plan or {}).get("budget") or None
    # The same rate the planner counts: the plan's profile's eps basis (model/plan.py _load_column).
    basis = eps_basis(plan, projection) if plan and b and b.get("kind") == BUDGET_EPS else None
    ctx["waves"] = _timeline(plan, start, inputs.wave_interval_days, inputs.gpo_names, basis)
    ctx["gpo_names_read"] = sum(1 for w in ctx["waves"] if not w["gpo_default"])
    ctx["gpo_default_prefix"] = GpoOptions.name_prefix
    budget = None
    if b:
        kind, value, quantile = b.get("kind"), _num(b.get("value")), str(b.get("quantile", "p90"))
        # The verdict's share is the plan's: the last wave's cumulative load, the figure the
        # wave table and the chart end on. The simulated fleet total is only context.
        planned = ctx["waves"][-1]["cumulative_budget"] if ctx["waves"] else 0.0
        column = f"added_gb_day_{quantile}" if kind == BUDGET_GB_DAY else f"added_eps_{basis}_{quantile}"
        need = _fleet_value(projection, column)
        unit = "GB/day" if kind == BUDGET_GB_DAY else "events/s"
        # An events/s budget counts one rate, mean or peak: every figure held against it names it.
        shown = unit if kind == BUDGET_GB_DAY else f"{unit} ({basis or UNKNOWN_BASIS})"
        budget = {"kind": kind, "value": value, "quantile": quantile, "unit": unit, "basis": basis,
                  "unit_basis": shown, "column": f"{unit} {basis + ' ' if basis else ''}{quantile}",
                  "planned": planned, "share": planned / value if value > 0 and math.isfinite(planned) else None,
                  "fleet_need": need, "share_fleet": need / value if value > 0 and math.isfinite(need) else None}
    ctx["budget"] = budget
    unplaced = list(plan.get("unplaced", [])) if plan else []
    capacity = [u for u in unplaced if _reason_code(u) in CAPACITY_REASONS]
    # Capacity first: those are the hosts the verdict and the top risk point at.
    ctx["unplaced"] = capacity + [u for u in unplaced if _reason_code(u) not in CAPACITY_REASONS]
    ctx["capacity_unplaced"] = capacity
    codes = {_reason_code(u) for u in capacity}
    ctx["capacity_limits"] = " and ".join(words for code, words in CAPACITY_LIMITS.items() if code in codes)
    ctx["local_settings_hosts"] = sum(1 for w in (plan or {}).get("waves", []) for h in w.get("hosts", [])
                                      if h.get("local_subcategories"))
    ctx["risks"] = _risks(ctx, inputs)
    ctx["sources"] = Counter(str(e.source) for e in inputs.estimates)
    ctx["defaults"] = defaults_table(inputs.defaults_text)
    ctx["detections"] = inputs.detections
    ctx["exposure"] = inputs.exposure
    ctx["by_role"], ctx["by_role_more"] = _group_rows(projection.by_role if projection else None)
    ctx["by_site"], ctx["by_site_more"] = _group_rows(projection.by_site if projection else None)
    ctx["top_hosts"] = _top_hosts(projection)
    ctx["charts"] = _charts(ctx, inputs)
    return ctx


def _group_rows(frame: pd.DataFrame | None, limit: int = GROUP_LIMIT) -> tuple[list[dict[str, Any]], int]:
    """The `limit` groups with the most added load (p50), and how many more there are."""
    if frame is None or not len(frame):
        return [], 0
    if "added_gb_day_p50" in frame:
        frame = frame.sort_values("added_gb_day_p50", ascending=False, kind="stable")
    rows = []
    for name, row in frame.head(limit).iterrows():
        rows.append({"name": str(name), **{k: row.get(k) for k in (
            "hosts", "added_eps_mean_p50", "added_gb_day_p10", "added_gb_day_p50", "added_gb_day_p90",
            "added_cost_month_p50")}})
    return rows, max(0, len(frame) - limit)


def _top_hosts(projection: Projection | None, n: int = 20) -> list[dict[str, Any]]:
    if projection is None or not len(projection.hosts):
        return []
    frame = projection.hosts.sort_values(["added_gb_day_p50", "host"], ascending=[False, True]).head(n)
    return [{str(k): v for k, v in row.items()} for row in frame.to_dict("records")]


def _charts(ctx: dict[str, Any], inputs: ReportInputs) -> dict[str, Markup]:
    out: dict[str, str] = {}
    waves = ctx["waves"]
    budget = ctx["budget"]
    if waves:
        if budget and budget["kind"] != BUDGET_GB_DAY:
            out["cumulative"] = charts.cumulative_by_wave(
                [f"wave {w['wave']}" for w in waves], [_num(w["cumulative_budget"]) for w in waves],
                [_num(w["cumulative_budget"]) for w in waves], budget["value"], budget["unit_basis"])
        else:
            out["cumulative"] = charts.cumulative_by_wave(
                [f"wave {w['wave']}" for w in waves], [_num(w["cumulative_p50"]) for w in waves],
                [_num(w["cumulative_gb_day_p90"]) for w in waves], budget["value"] if budget else None, "GB/day")
    for key, what in (("by_role", "role"), ("by_site", "site")):
        rows, more = ctx[key], ctx[f"{key}_more"]
        title = f"Added load by {what}" + (f" (top {len(rows)} of {len(rows) + more})" if more else "")
        if rows:
            out[key] = charts.bars_with_range(
                [r["name"] for r in rows], [_num(r["added_gb_day_p10"]) for r in rows],
                [_num(r["added_gb_day_p50"]) for r in rows], [_num(r["added_gb_day_p90"]) for r in rows],
                title, "GB/day")
    if inputs.estimates:
        flat = (1 / 24,) * 24
        shapes = np.array([e.hourly_shape if len(e.hourly_shape) == 24 else flat for e in inputs.estimates],
                          dtype=float)
        p50 = np.array([e.events_per_day.p50 for e in inputs.estimates], dtype=float)
        per_hour = np.nan_to_num(shapes * p50[:, None], nan=0.0, posinf=0.0, neginf=0.0).sum(axis=0)
        out["hours"] = charts.hour_of_day([float(v) for v in per_hour])
    if ctx["readiness"]["surveyed"]:
        out["readiness"] = charts.readiness(ctx["readiness"]["categories"])
    if inputs.projection is not None and "local_hours_p90" in inputs.projection.hosts:
        out["local"] = charts.local_history(
            [float(h) for h in inputs.projection.hosts["local_hours_p90"].tolist() if h == h], ctx["min_local_hours"])
    # Our own SVG from matplotlib, with sanitised labels and comments stripped: safe to inline.
    return {k: Markup(v) for k, v in out.items()}  # noqa: S704


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("auditplan.reports", "."),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = fmt
    env.filters["pct"] = lambda v: "n/a" if v is None or not math.isfinite(_num(v)) else f"{100 * _num(v):.0f}%"
    return env


def render(inputs: ReportInputs) -> tuple[str, dict[str, Any]]:
    env = _environment()
    ctx = build_context(inputs)
    css = env.loader.get_source(env, "report.css")[0] if env.loader else ""
    html = env.get_template("report.html.j2").render(ctx=ctx, css=Markup(css))  # noqa: S704 - our own stylesheet
    return html, ctx


def host_table(inputs: ReportInputs) -> pd.DataFrame:
    """The per-host CSV written beside the HTML: survey facts joined with the projection."""
    hosts = one_row_per_host(inputs.hosts)
    if inputs.projection is None or not len(inputs.projection.hosts):
        return hosts.reset_index(drop=True)
    cols = [c for c in ("host", "source", "change", "p10", "p50", "p90", "added_gb_day_p50", "added_gb_day_p90",
                        "added_eps_peak_p90", "local_hours_p90", "recommended_log_max_size_mb")
            if c in inputs.projection.hosts.columns]
    proj = inputs.projection.hosts[cols].rename(columns={"source": "estimate_source", "p10": "events_day_p10",
                                                         "p50": "events_day_p50", "p90": "events_day_p90"})
    merged = hosts.merge(proj, on="host", how="outer") if len(hosts) else proj
    if inputs.plan:
        wave_of = {h.get("host"): w.get("wave") for w in inputs.plan.get("waves", []) for h in w.get("hosts", [])}
        reason_of = {u.get("host"): u.get("reason") for u in inputs.plan.get("unplaced", [])}
        merged["wave"] = merged["host"].map(wave_of)
        merged["unplaced_reason"] = merged["host"].map(reason_of)
    return merged.sort_values("host").reset_index(drop=True)


def write_report(inputs: ReportInputs, out: Path) -> tuple[Path, Path, dict[str, Any]]:
    """Write the HTML and, beside it, the per-host CSV; return both paths and the context."""
    html, ctx = render(inputs)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html, encoding="utf-8")
    csv_path = out.with_name(out.stem + "-hosts.csv")
    csv_path.write_text(frame_to_csv(host_table(inputs)), encoding="utf-8", newline="")
    return out, csv_path, ctx
