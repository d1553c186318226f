"""The report's plan figures a manager reads as a range (p50 to p90) are the simulated total's
(model/plan_totals.py), while the budget share stays the planner's ceiling (each host's p90 added up).

Before: the verdict showed the hosts' p50s added up to their p90s added up; on skewed hosts that p50
lies below the total's p10, and that p90 above its p90."""

from __future__ import annotations

import html as html_lib
import math
import re
from dataclasses import replace

import report_fixtures as rf  # tests/emit/, on sys.path under pytest's default import mode

from auditplan.emit.report.render import render
from auditplan.model.api import plan_totals
from auditplan.text import number


def _text(page: str) -> str:
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def _mb(gb: float) -> str:
    return f"{number(gb * 1000, trim=True)} MB" if gb < 1 else f"{number(gb, trim=True)} GB"


def test_the_verdict_range_is_the_simulated_total_and_the_share_the_ceiling() -> None:
    inputs = rf.report_inputs(with_detections=False)
    assert inputs.plan is not None and inputs.projection is not None
    waves = [(w.number, [h.host for h in w.hosts]) for w in inputs.plan.waves]
    totals = plan_totals(inputs.projection, waves)
    last = totals[-1].added_gb_day
    hosts = [h for w in inputs.plan.waves for h in w.hosts]
    summed_p50 = math.fsum(h.gb_day_p50 for h in hosts)
    summed_p90 = math.fsum(h.gb_day_p90 for h in hosts)
    # The fixture is a fleet where the two differ: otherwise this test could not tell them apart.
    assert summed_p50 < last.p50 and last.p90 < summed_p90
    page, _ = render(inputs)
    text = _text(page)
    load = re.search(r'id="n-load"><span class="big">([^<]*)</span>', page)
    assert load is not None
    assert load.group(1) == f"{_mb(last.p50)} to {_mb(last.p90)} a day"
    assert "added to the SIEM by the plan (p50 to p90 of the simulated total)" in text
    # The share against the budget is still the ceiling, and says so.
    share = f"{100 * summed_p90 / rf.BUDGET_GB_DAY:.0f}%"
    assert f"using {share} of it at p90 (each host's p90 added up: a ceiling)" in text
    # The wave table's simulated column, wave by wave.
    for total in totals:
        r = total.added_gb_day
        assert f"{number(r.p50)} ({number(r.p10)}–{number(r.p90)})" in text
    total_id = re.search(r'id="v-total">([^<]*)<', page)
    assert total_id is not None and total_id.group(1) == number(last.p50)


def test_without_a_projection_holding_the_planned_hosts_no_simulated_total_is_shown() -> None:
    inputs = rf.report_inputs(with_detections=False)
    assert inputs.projection is not None and inputs.plan is not None
    planned = {h.host for w in inputs.plan.waves for h in w.hosts}
    keep = ~inputs.projection.hosts["host"].isin(list(planned)[:1])
    partial = replace(inputs.projection, hosts=inputs.projection.hosts[keep])
    page, _ = render(replace(inputs, projection=partial))
    text = _text(page)
    assert "simulated total" not in text
    assert 'id="v-total"' not in page
    # The verdict falls back to the plan's own figures, labelled as the plan's p50 to p90.
    assert "added to the SIEM by the plan (p50 to p90)" in text


def test_the_union_gpo_finding_says_gained_subcategories_are_not_costed() -> None:
    # The wave GPO keeps each host's other subcategories by carrying their union: a host can gain
    # one, and its events (other IDs than 4688) are in none of the report's figures.
    inputs = rf.report_inputs(with_detections=False)
    text = _text(render(inputs)[0])
    assert (f"{len(rf.LOCAL_SETTINGS)} host(s) audit other subcategories that a GPO with advanced audit policy "
            "clears") in text
    assert "which this report's volume and log-history figures do not include" in text
