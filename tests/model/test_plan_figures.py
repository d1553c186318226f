"""plan.json's figures checked on read (records/plan_reader.py, records/plan_sums.py): a plan whose
plan_id matches its content (recomputed by whoever edited it) is still refused when a host figure is
negative, a median is above its 90th percentile, a wave load is not the sum of its hosts, a running
total is not the total, or a wave is over the plan's own budget. The files are the hostile corpus's
(tests/data/hostile/plans/), each with a correct plan_id, so only the figure check can refuse them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from auditplan.records import PlanError, parse_plan, plan_id_of, read_plan

PLANS = Path(__file__).resolve().parents[1] / "data" / "hostile" / "plans"

CASES = [
    ("negative-figures.json", "(host 'web01'): events_per_day_p50: expected a number >= 0 or null, got -5"),
    ("string-figures.json", "(host 'web01'): gb_day_p90: expected a number or null, got 'str'"),
    ("negative-load.json", "waves[0].load.eps_mean_p50: expected a number >= 0 or null, got -1"),
    ("p50-above-p90.json", "(host 'web01'): events_per_day_p50 5000 is above events_per_day_p90 2000"),
    ("wave-load-987654.json", "wave 0: load.gb_day_p50 987654 is not the sum of its 1 host(s)' gb_day_p50 (0.1)"),
    ("cumulative-not-total.json", "wave 0: cumulative.gb_day_p90 0.02 is not the total of the loads"),
    ("wave-over-max-step.json", "wave 0: load.budget 0.2 is over budget.max_step 0.1"),
]


@pytest.mark.parametrize(("name", "fragment"), CASES, ids=[c[0] for c in CASES])
def test_figures_are_checked_even_when_the_plan_id_matches(name: str, fragment: str) -> None:
    path = PLANS / name
    doc = json.loads(path.read_text(encoding="utf-8"))
    assert doc["plan_id"] == plan_id_of(doc)  # the id is right: only the figure check can refuse it
    with pytest.raises(PlanError) as caught:
        read_plan(path)
    message = str(caught.value)
    assert message.startswith(f"{path}: ") and fragment in message and "\n" not in message


def _valid() -> dict[str, object]:
    doc: dict[str, object] = json.loads((PLANS / "wave-load-987654.json").read_text(encoding="utf-8"))
    doc["waves"][0]["load"]["gb_day_p50"] = 0.1  # type: ignore[index]
    doc["plan_id"] = plan_id_of(doc)
    return doc


def test_the_same_plan_with_consistent_figures_is_read() -> None:
    plan = parse_plan(_valid())
    assert plan.waves[0].load is not None and plan.waves[0].load.gb_day_p50 == 0.1


def test_sums_allow_the_six_digit_rounding_of_the_file_and_unknown_figures() -> None:
    doc = _valid()
    wave = doc["waves"][0]  # type: ignore[index]
    second = {**wave["hosts"][0], "host": "web02", "gb_day_p50": 0.123457}
    wave["hosts"] = [{**wave["hosts"][0], "gb_day_p50": 0.123457}, second]
    wave["load"]["gb_day_p50"] = 0.246913  # the rounded sum of 0.1234567 + 0.1234567
    wave["cumulative"]["gb_day_p50"] = 0.246913
    wave["load"]["gb_day_p90"] = wave["cumulative"]["gb_day_p90"] = 0.4
    wave["load"]["eps_peak_p90"] = 1.0
    doc["plan_id"] = plan_id_of(doc)
    assert len(parse_plan(doc).waves[0].hosts) == 2
    wave["load"]["gb_day_p50"] = wave["cumulative"]["gb_day_p50"] = 0.2470  # off in the fourth digit
    doc["plan_id"] = plan_id_of(doc)
    with pytest.raises(PlanError, match=r"load\.gb_day_p50 0\.247 is not the sum"):
        parse_plan(doc)
    second["gb_day_p50"] = None  # a host without the figure: the wave's sum cannot be checked
    wave["hosts"][1] = second
    doc["plan_id"] = plan_id_of(doc)
    assert parse_plan(doc).waves[0].load is not None


def test_a_running_total_over_the_budget_is_refused() -> None:
    doc = _valid()
    doc["budget"]["value"] = 0.1  # type: ignore[index]
    doc["plan_id"] = plan_id_of(doc)
    with pytest.raises(PlanError, match=r"wave 0: cumulative.budget 0.2 is over budget.value 0.1"):
        parse_plan(doc)
    doc["budget"]["value"], doc["budget"]["max_step"] = 1.0, -1  # type: ignore[index]
    doc["plan_id"] = plan_id_of(doc)
    with pytest.raises(PlanError, match=r"budget.max_step: expected a number > 0 or null, got -1"):
        parse_plan(doc)
