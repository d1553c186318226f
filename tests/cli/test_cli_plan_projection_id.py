"""plan.json names the projection it was made with (`projection_id`), so a later `auditplan plan`
of the same plan with another config or price cannot replace what a report of the first plan.json
shows "as planned" (issue 13 review). projection_id is outside plan_id: same waves, same plan_id,
same GPO bytes."""

from __future__ import annotations

import hashlib
import html as markup
import json
import re
import sqlite3
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from auditplan.cli import main
from auditplan.emit import api as emit
from auditplan.model.api import ESTIMATE_RUN, load_plan_projection, projection_record
from auditplan.records import PlanError, parse_plan, plan_id_of, plan_json_text, projection_id_of, read_plan
from auditplan.store import Store
from auditplan.text import number

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "emit"))
import report_fixtures as rf  # the report tests' hand-built fleet (tests/emit, put on sys.path above)

PRICED = '[siem.splunk-xml]\nprice_per_gb = 2.5\ncurrency = "USD"\n'
UNPRICED = "# the shipped defaults: no price\n"


def _plan(db: Path, out: Path, config: Path, budget: str = "0.5") -> dict[str, Any]:
    result = CliRunner().invoke(main, ["plan", "--db", str(db), "--budget-gb-day", budget, "--out", str(out),
                                       "--config", str(config)])
    assert result.exit_code == 0, result.output
    doc: dict[str, Any] = json.loads((out / "plan.json").read_text(encoding="utf-8"))
    return doc


def _value(html: str, element_id: str) -> str:
    found = re.search(rf'id="{element_id}">([^<]*)<', html)
    assert found, element_id
    return markup.unescape(found.group(1))


@pytest.fixture
def two_runs(tmp_path: Path) -> tuple[Path, Path, Path]:
    """One store planned twice with the same estimates and budget: first with a price (as the demo
    does), then with a config that sets none. Returns the store and both plan folders."""
    db = tmp_path / "auditplan.db"
    with Store(db) as store:
        store.save_estimates(ESTIMATE_RUN, rf.fleet()[0])
    (tmp_path / "priced.toml").write_text(PRICED, encoding="utf-8")
    (tmp_path / "unpriced.toml").write_text(UNPRICED, encoding="utf-8")
    _plan(db, tmp_path / "a", tmp_path / "priced.toml")
    _plan(db, tmp_path / "b", tmp_path / "unpriced.toml")
    return db, tmp_path / "a", tmp_path / "b"


def test_a_later_run_of_the_same_plan_keeps_the_first_plans_projection(two_runs: tuple[Path, Path, Path],
                                                                       tmp_path: Path) -> None:
    db, a, b = two_runs
    first, second = read_plan(a / "plan.json"), read_plan(b / "plan.json")
    assert first.plan_id == second.plan_id  # the price does not change the waves
    assert first.projection_id and second.projection_id and first.projection_id != second.projection_id
    planned_a, planned_b = load_plan_projection(db, first), load_plan_projection(db, second)
    assert planned_a is not None and planned_b is not None
    assert (planned_a.price_per_gb, planned_b.price_per_gb) == (2.5, None)
    assert planned_a.config_sources["siem.splunk-xml.price_per_gb"] == str(tmp_path / "priced.toml")

    out = tmp_path / "report-a.html"
    result = CliRunner().invoke(main, ["report", "--db", str(db), "--plan", str(a / "plan.json"), "--out", str(out)])
    assert result.exit_code == 0, result.output
    html = out.read_text(encoding="utf-8")
    assert _value(html, "projection-note").startswith(f"Projection as planned: plan {first.plan_id},")
    # the first plan's price, not the later run's (which has none: cost n/a)
    assert f"at {number(2.5)} USD/GB" in html and _value(html, "v-cost") != "n/a"


def test_projection_id_is_outside_plan_id_and_the_gpo_bytes(two_runs: tuple[Path, Path, Path],
                                                            tmp_path: Path) -> None:
    _, a, b = two_runs
    doc = json.loads((a / "plan.json").read_text(encoding="utf-8"))
    without = {k: v for k, v in doc.items() if k != "projection_id"}
    assert plan_id_of(doc) == plan_id_of(without) == doc["plan_id"]
    # read back and written again: the same bytes, projection_id included
    assert plan_json_text(parse_plan(doc)) == (a / "plan.json").read_text(encoding="utf-8")
    written = {}
    for plan_dir in (a, b):
        folder = tmp_path / f"gpo-{plan_dir.name}"
        emit.write_gpo(plan_dir / "plan.json", folder, emit.GpoOptions(domain="corp.example.com"))
        written[plan_dir.name] = {p.relative_to(folder): p.read_bytes() for p in sorted(folder.rglob("*"))
                                  if p.is_file()}
    assert written[a.name] and written[a.name] == written[b.name]


def test_the_stored_projection_digest_is_the_one_plan_json_names(two_runs: tuple[Path, Path, Path]) -> None:
    db, a, _ = two_runs
    plan = read_plan(a / "plan.json")
    projection = load_plan_projection(db, plan)
    assert projection is not None
    with Store(db) as store:
        stored = store.load_document("projection", str(plan.projection_id))
    assert stored is not None and projection_id_of(stored) == plan.projection_id
    assert projection_id_of(projection_record(projection, plan.plan_id).to_document()) == plan.projection_id
    # the digest of the very text the store keeps: checkable with sqlite3 and sha256sum alone
    with closing(sqlite3.connect(db)) as conn:
        (payload,) = conn.execute("SELECT payload FROM documents WHERE kind = 'projection' AND key = ?",
                                  (plan.projection_id,)).fetchone()
    assert hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32] == plan.projection_id


def test_an_older_plan_without_projection_id_falls_back_to_its_plan_id(two_runs: tuple[Path, Path, Path]) -> None:
    db, a, _ = two_runs
    doc = json.loads((a / "plan.json").read_text(encoding="utf-8"))
    older = parse_plan({k: v for k, v in doc.items() if k != "projection_id"})  # a plan.json of before
    assert older.projection_id is None
    assert load_plan_projection(db, older) is None  # nothing was stored under its plan_id
    named = load_plan_projection(db, read_plan(a / "plan.json"))
    assert named is not None
    with Store(db) as store:  # a store written before projections were keyed by projection_id
        store.save_document("projection", older.plan_id, projection_record(named, older.plan_id).to_document())
    loaded = load_plan_projection(db, older)
    assert loaded is not None and loaded.price_per_gb == 2.5
    assert load_plan_projection(db, older.plan_id) is not None  # the plan_id alone, as before


def test_a_projection_id_of_another_plan_is_not_taken(two_runs: tuple[Path, Path, Path], tmp_path: Path) -> None:
    db, a, _ = two_runs
    other = _plan(db, tmp_path / "c", tmp_path / "priced.toml", budget="0.2")
    doc = json.loads((a / "plan.json").read_text(encoding="utf-8"))
    assert other["plan_id"] != doc["plan_id"]
    copied = parse_plan({**doc, "projection_id": other["projection_id"]})  # outside plan_id: it still reads
    assert load_plan_projection(db, copied) is None
    assert load_plan_projection(db, doc["plan_id"], other["projection_id"]) is None


@pytest.mark.parametrize("bad", ["x", 7, "A" * 32, "0" * 31, "0" * 64])
def test_a_malformed_projection_id_is_refused(two_runs: tuple[Path, Path, Path], bad: object) -> None:
    _, a, _ = two_runs
    doc = json.loads((a / "plan.json").read_text(encoding="utf-8"))
    with pytest.raises(PlanError, match=r"plan\.json: projection_id: expected 32 hex digits"):
        parse_plan({**doc, "projection_id": bad}, "plan.json")
