"""`auditplan report --plan` shows the projection the plan was made with (issue 13): a report made
after a re-run of `auditplan estimate` no longer mixes the plan's waves with newer estimates, and the
report says which projection it shows."""

from __future__ import annotations

import dataclasses
import html as markup
import json
import re
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from markupsafe import escape

from auditplan.cli import main
from auditplan.model.api import ESTIMATE_RUN, Projection, load_plan_projection, project
from auditplan.records import HostEstimate, Range, read_plan
from auditplan.store import Store
from auditplan.text import number

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "emit"))
import report_fixtures as rf  # the report tests' hand-built fleet (tests/emit, put on sys.path above)


@dataclasses.dataclass(frozen=True)
class Planned:
    db: Path
    plan_path: Path
    plan_id: str
    estimates: list[HostEstimate]  # the ones the plan was made from


def _value(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert found, element_id
    return markup.unescape(found.group(1))


def _gb(projection: Projection) -> str:
    return number(float(projection.fleet["added_gb_day_p50"].iloc[0]))


def _report(db: Path, plan_path: Path, out: Path, *args: str) -> str:
    result = CliRunner().invoke(main, ["report", "--db", str(db), "--plan", str(plan_path), "--out", str(out), *args])
    assert result.exit_code == 0, result.output
    return out.read_text(encoding="utf-8")


@pytest.fixture
def planned(tmp_path: Path) -> Planned:
    """A store whose estimates were planned, then re-estimated at three times the rate."""
    db = tmp_path / "auditplan.db"
    estimates = rf.fleet()[0]
    with Store(db) as store:
        store.save_estimates(ESTIMATE_RUN, estimates)
    result = CliRunner().invoke(main, ["plan", "--db", str(db), "--budget-gb-day", "0.5", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    plan_path = tmp_path / "plan.json"
    plan_id = json.loads(plan_path.read_text(encoding="utf-8"))["plan_id"]
    tripled = [dataclasses.replace(e, events_per_day=Range(3 * e.events_per_day.p10, 3 * e.events_per_day.p50,
                                                           3 * e.events_per_day.p90)) for e in estimates]
    with Store(db) as store:
        store.save_estimates(ESTIMATE_RUN, tripled)  # `auditplan estimate` again, with other figures
    return Planned(db, plan_path, plan_id, estimates)


def test_report_after_a_re_estimate_shows_the_plans_projection(planned: Planned, tmp_path: Path) -> None:
    as_planned = load_plan_projection(planned.db, read_plan(planned.plan_path))
    assert as_planned is not None
    latest = project(planned.db)  # what the store's newer estimates give
    assert _gb(as_planned) != _gb(latest)
    html = _report(planned.db, planned.plan_path, tmp_path / "r.html")
    assert _value(html, "v-gb") == _gb(as_planned)
    assert _value(html, "projection-note") == (
        f"Projection as planned: plan {planned.plan_id}, estimates {ESTIMATE_RUN}, SIEM profile splunk-xml.")
    # The appendix's first host carries the 4688/day the plan was made from, not the newer (tripled) one.
    top = str(as_planned.hosts.sort_values(["added_gb_day_p50", "host"], ascending=[False, True])["host"].iloc[0])
    p50 = next(e.events_per_day.p50 for e in planned.estimates if e.host == top)
    row = re.search(rf"<tr><td>{re.escape(str(escape(top)))}</td>.*?</tr>", html.split("Appendix")[-1])
    assert row, top
    assert f'<td class="num">{number(p50)}</td>' in row.group(0)
    assert f'<td class="num">{number(3 * p50)}</td>' not in row.group(0)


@pytest.mark.parametrize(("args", "siem", "why"), [
    (["--siem", "sentinel"], "sentinel", "asked for --siem sentinel, the plan's is splunk-xml"),
    (["--price-per-gb", "3"], "splunk-xml", "asked for --price-per-gb 3"),
])
def test_asking_for_another_projection_computes_one_and_says_so(planned: Planned, tmp_path: Path, args: list[str],
                                                                 siem: str, why: str) -> None:
    html = _report(planned.db, planned.plan_path, tmp_path / "r.html", *args)
    assert _value(html, "projection-note") == (
        f"Projection computed for this report: estimates {ESTIMATE_RUN}, SIEM profile {siem} ({why}).")
    price = float(args[1]) if args[0] == "--price-per-gb" else None
    assert _value(html, "v-gb") == _gb(project(planned.db, siem=siem, price_per_gb=price))


def test_the_plans_own_settings_keep_the_planned_projection(planned: Planned, tmp_path: Path) -> None:
    html = _report(planned.db, planned.plan_path, tmp_path / "r.html", "--siem", "splunk-xml")
    assert _value(html, "projection-note").startswith("Projection as planned: ")


def test_a_plan_without_a_stored_projection_gets_one_computed(planned: Planned, tmp_path: Path) -> None:
    older = tmp_path / "older.db"  # a store written before plans kept their projection
    with Store(older) as store:
        store.save_estimates(ESTIMATE_RUN, planned.estimates)
    html = _report(older, planned.plan_path, tmp_path / "r.html")
    assert _value(html, "projection-note") == (
        f"Projection computed for this report: estimates {ESTIMATE_RUN}, SIEM profile splunk-xml (this store holds "
        f"no projection of plan {planned.plan_id} (the plan was made from another store, or before auditplan kept "
        "projections)).")
    assert _value(html, "v-gb") == _gb(project(older))


def test_an_events_per_second_plan_costed_with_another_profile_keeps_the_rate_it_counted(tmp_path: Path) -> None:
    """An events/s budget counts one rate, the plan's SIEM profile's (splunk-xml: mean). A report costed
    with QRadar (peak) still holds the waves to the mean rate the stored projection's profile counted,
    rather than guessing it from the waves' loads (which cannot tell mean at p90)."""
    db = tmp_path / "auditplan.db"
    with Store(db) as store:
        store.save_estimates(ESTIMATE_RUN, rf.fleet()[0])
    result = CliRunner().invoke(main, ["plan", "--db", str(db), "--budget-eps", "1000", "--siem", "splunk-xml",
                                       "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    plan_path = tmp_path / "plan.json"
    stored = load_plan_projection(db, read_plan(plan_path))
    assert stored is not None and stored.profile.eps_basis == "mean"
    html = _report(db, plan_path, tmp_path / "r.html", "--siem", "qradar")
    assert _value(html, "projection-note").startswith("Projection computed for this report: ")
    text = re.sub(r"\s+", " ", markup.unescape(re.sub(r"<[^>]+>", "", html)))
    assert "events/s (mean) budget (SIEM headroom)" in text and "mean or peak" not in text
