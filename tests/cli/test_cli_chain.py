"""Defaults that chain (issue 19): from a fresh folder, each command finds what the previous one wrote in
auditplan-out/ and names it; no option is given beyond the budget."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from auditplan.cli import main
from auditplan.records import read_plan

EVTX = Path(__file__).resolve().parents[1] / "data" / "dfirmuseum__APTSimulatorVM_EventLogs_Server2022__Security.evtx"


def _run(*args: str) -> Result:
    result = CliRunner().invoke(main, list(args))
    assert "Traceback" not in result.output, result.output
    return result


@pytest.fixture
def fresh(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_the_steps_chain_through_auditplan_out(fresh: Path) -> None:
    assert _run("ingest", str(EVTX)).exit_code == 0
    assert _run("estimate").exit_code == 0

    no_budget = _run("plan")
    assert no_budget.exit_code == 2
    # It says why, and suggests a budget from the projection, as an option the user can type.
    assert "--budget-gb-day" in no_budget.stderr and "p50-p90" in no_budget.stderr
    assert not (fresh / "auditplan-out" / "plan.json").exists()
    suggested = " ".join(no_budget.stderr.split()).split("Suggested: auditplan ")[1].split()
    assert suggested[:2] == ["plan", "--budget-gb-day"]
    tried = _run(*suggested)
    assert tried.exit_code == 0, tried.output
    placed = [h.host for w in read_plan(fresh / "auditplan-out" / "plan.json").waves for h in w.hosts]
    assert placed == ["WIN-FUDU2CKJOE8"], "the suggested command places the one host (named by its Computer field)"

    planned = _run("plan", "--budget-gb-day", "5")
    assert planned.exit_code == 0, planned.output
    plan = read_plan(fresh / "auditplan-out" / "plan.json")

    gpo = _run("gpo")
    assert gpo.exit_code == 0, gpo.output
    assert "using the plan auditplan-out/plan.json" in gpo.stderr
    assert (fresh / "auditplan-out" / "gpo" / "README.md").is_file()

    report = _run("report")
    assert report.exit_code == 0, report.output
    assert "using the plan auditplan-out/plan.json" in report.stderr
    html = (fresh / "auditplan-out" / "report.html").read_text(encoding="utf-8")
    assert plan.plan_id in html  # the waves of that plan, not "No plan given"
    assert "auditplan 4688 - wave 00" in html  # the GPO names gpo/ beside the plan holds

    scom = _run("detections", "export", "--format", "scom")
    assert scom.exit_code == 0, scom.output
    assert "using the plan auditplan-out/plan.json" in scom.stderr
    assert "1 host(s) of rolled-out waves" in scom.output


def test_gpo_without_a_plan_says_which_step_comes_first(fresh: Path) -> None:
    result = _run("gpo")
    assert result.exit_code == 2
    assert "no plan.json found" in result.stderr and "auditplan plan --budget-gb-day" in result.stderr
    assert not (fresh / "auditplan-out" / "gpo").exists()


def test_a_store_in_a_subfolder_of_auditplan_out_is_found_and_named(fresh: Path) -> None:
    """`auditplan demo` writes auditplan-out/demo/: the commands after it find that store and its plan."""
    sub = fresh / "auditplan-out" / "demo"
    sub.mkdir(parents=True)
    assert _run("ingest", str(EVTX), "--db", str(sub / "auditplan.db")).exit_code == 0
    est = _run("estimate")
    assert est.exit_code == 0, est.output
    assert "using the store auditplan-out/demo/auditplan.db" in est.stderr
    assert _run("plan", "--budget-gb-day", "5").exit_code == 0
    assert (sub / "plan.json").is_file()  # plan writes beside the store it read
    report = _run("report", "--out", "reports/")
    assert report.exit_code == 0, report.output
    assert "using the plan auditplan-out/demo/plan.json" in report.stderr
    assert (fresh / "reports" / "report.html").is_file()  # a path ending in / is a folder for the default name


def test_an_explicit_store_is_used_silently(fresh: Path) -> None:
    shutil.copy(EVTX, fresh / "s.evtx")
    assert _run("ingest", "s.evtx", "--db", "mine.db").exit_code == 0
    result = _run("estimate", "--db", "mine.db", "--json")
    assert result.exit_code == 0 and "using the store" not in result.stderr
