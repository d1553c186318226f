"""The report as files: the HTML (jinja2, autoescaped) and the per-host CSV beside it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
import pandas as pd
from markupsafe import Markup

from auditplan.emit.errors import cannot_write, unsafe_output
from auditplan.emit.report.context import build_context
from auditplan.emit.report.inputs import ReportInputs
from auditplan.emit.report.readiness import host_categories, one_row_per_host
from auditplan.emit.report.verdict import hours_for_people, size_for_people
from auditplan.records.plan import REASON_WORDS
from auditplan.safe_write import UnsafePathError, write_text
from auditplan.store.export import frame_to_csv
from auditplan.text import number, percent

HOST_COLUMNS = ("host", "source", "change", "p10", "p50", "p90", "added_gb_day_p50", "added_gb_day_p90",
                "added_eps_peak_p90", "local_hours_p90", "recommended_log_max_size_mb")


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("auditplan.reports", "."),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["fmt"] = number
    env.filters["pct"] = percent
    env.filters["size"] = size_for_people
    env.filters["hours"] = hours_for_people
    env.filters["reason_words"] = reason_words
    return env


def reason_words(code: str) -> str:
    """An unplaced host's reason code in words (records.plan.REASON_WORDS), e.g. exceeds_step."""
    return REASON_WORDS.get(code, code.replace("_", " "))


def render(inputs: ReportInputs) -> tuple[str, dict[str, Any]]:
    """The HTML and the context it shows."""
    env = _environment()
    ctx = build_context(inputs)
    css = env.loader.get_source(env, "report.css")[0] if env.loader else ""
    html = env.get_template("report.html.j2").render(ctx=ctx, css=Markup(css))  # noqa: S704 - our own stylesheet
    return html, ctx


def host_table(inputs: ReportInputs) -> pd.DataFrame:
    """The per-host CSV written beside the HTML: survey facts joined with the projection."""
    hosts = one_row_per_host(inputs.hosts)
    if len(hosts):
        # The one classification the report's readiness counts are made of: the CSV carries it per host.
        hosts = hosts.assign(readiness=host_categories(hosts))
    if inputs.projection is None or not len(inputs.projection.hosts):
        return hosts.reset_index(drop=True)
    cols = [c for c in HOST_COLUMNS if c in inputs.projection.hosts.columns]
    proj = inputs.projection.hosts[cols].rename(columns={"source": "estimate_source", "p10": "events_day_p10",
                                                         "p50": "events_day_p50", "p90": "events_day_p90"})
    merged = hosts.merge(proj, on="host", how="outer") if len(hosts) else proj
    if inputs.plan:
        wave_of = {h.host: w.number for w in inputs.plan.waves for h in w.hosts}
        reason_of = {u.host: u.reason for u in inputs.plan.unplaced}
        merged["wave"] = merged["host"].map(wave_of)
        merged["unplaced_reason"] = merged["host"].map(reason_of)
    return merged.sort_values("host").reset_index(drop=True)


def write_report(inputs: ReportInputs, out: Path) -> tuple[Path, Path, dict[str, Any]]:
    """Write the HTML and, beside it, the per-host CSV; return both paths and the context.
    OutputError (an EmitError) naming the file when either cannot be written."""
    html, ctx = render(inputs)
    csv_path = out.with_name(out.stem + "-hosts.csv")
    table = frame_to_csv(host_table(inputs))
    for path, text in ((out, html), (csv_path, table)):
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_text(path, text)  # beside, then renamed over: never through a planted link
        except UnsafePathError as exc:
            raise unsafe_output(path, exc) from None
        except OSError as exc:
            raise cannot_write(path, exc) from None
    return out, csv_path, ctx
