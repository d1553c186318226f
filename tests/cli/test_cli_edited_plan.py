"""plan.json's plan_id verified by every command that reads a plan (issue 20): a plan edited by hand
is refused (exit 2, one line naming the file) unless --accept-edited-plan, which first says what the
edit changed against the copy `auditplan plan` saved in the store."""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result

from auditplan.cli import main
from auditplan.model.api import ESTIMATE_RUN
from auditplan.records import plan_id_of
from auditplan.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "emit"))
import report_fixtures as rf  # the report tests' hand-built fleet (tests/emit, put on sys.path above)


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with auditplan.db (estimates, and the plan saved in it) and plan.json beside it."""
    folder = tmp_path_factory.mktemp("edited")
    db = folder / "auditplan.db"
    with Store(db) as store:
        store.save_estimates(ESTIMATE_RUN, rf.fleet()[0])
    result = CliRunner().invoke(main, ["plan", "--db", str(db), "--budget-gb-day", "0.5", "--out", str(folder)])
    assert result.exit_code == 0, result.output
    return folder


def _doc(folder: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((folder / "plan.json").read_text(encoding="utf-8"))
    assert len(doc["waves"]) >= 2 and len(doc["waves"][1]["hosts"]) >= 2  # the edits below need them
    return doc


def _moved(doc: dict[str, Any]) -> tuple[dict[str, Any], str]:
    """`doc` with the first host of wave 1 swapped for a host that is not in the plan (what an admin
    might do to pilot another machine), its figures kept, so every sum still adds up."""
    edited = json.loads(json.dumps(doc))
    host = edited["waves"][1]["hosts"][0]
    old = host["host"]
    host["host"] = "ws-added01"
    return edited, old


def _copy(planned: Path, tmp_path: Path, doc: dict[str, Any], *, with_store: bool = True) -> Path:
    """The plan folder copied with `doc` as its plan.json (the store too, unless `with_store` is off)."""
    folder = tmp_path / "plan"
    folder.mkdir()
    if with_store:
        shutil.copy(planned / "auditplan.db", folder / "auditplan.db")
    (folder / "plan.json").write_text(json.dumps(doc), encoding="utf-8")
    return folder


def _run(command: str, folder: Path, *extra: str) -> Result:
    plan, db = str(folder / "plan.json"), str(folder / "auditplan.db")
    args = {
        "gpo": ["gpo", "--plan", plan, "--out", str(folder / "gpo")],
        "report": ["report", "--db", db, "--plan", plan, "--out", str(folder / "r.html")],
        "scom": ["detections", "export", "--format", "scom", "--plan", plan, "--out", str(folder / "mp.xml")],
        "evaluate": ["detections", "evaluate", "--db", db, "--plan", plan],
        "noise": ["noise", "--db", db, "--plan", plan],
        "forwarding": ["forwarding", "--plan", plan, "--out", str(folder / "fwd"), "--no-filters"],
    }[command]
    return CliRunner().invoke(main, [*args, *extra])


def _output(result: Result) -> str:
    return result.output  # stdout and stderr, interleaved (click 8.2)


COMMANDS = ["gpo", "report", "scom", "evaluate", "noise", "forwarding"]
# The report fixtures' store holds estimates only (no sampled 4688 for `noise`) and a host named like
# HTML (no DNS name for `forwarding`): those two stop after reading the plan, with these errors.
GET_PAST_THE_PLAN_ONLY = {"noise": "no sampled 4688 events to rank", "forwarding": "is not a DNS name"}


@pytest.mark.parametrize("command", COMMANDS)
def test_every_plan_reader_refuses_an_edited_plan(command: str, planned: Path, tmp_path: Path) -> None:
    edited, _ = _moved(_doc(planned))
    folder = _copy(planned, tmp_path, edited)
    result = _run(command, folder)
    output = _output(result)
    assert result.exit_code == 2, output
    assert "Traceback" not in output
    (line,) = [x for x in output.splitlines() if "does not match its content" in x]
    assert str(folder / "plan.json") in line and "--accept-edited-plan" in line
    assert not any((folder / name).exists() for name in ("gpo", "r.html", "mp.xml", "fwd"))


@pytest.mark.parametrize("command", COMMANDS)
def test_accept_edited_plan_says_what_changed_then_uses_it(command: str, planned: Path, tmp_path: Path) -> None:
    doc = _doc(planned)
    edited, old = _moved(doc)
    folder = _copy(planned, tmp_path, edited)
    result = _run(command, folder, "--accept-edited-plan")
    output = _output(result)
    if command in GET_PAST_THE_PLAN_ONLY:
        # The plan is accepted; what stops the command later is the fixture store's own content.
        assert result.exit_code == 2 and GET_PAST_THE_PLAN_ONLY[command] in output, output
        assert "does not match its content" not in output
    else:
        assert result.exit_code == 0, output
    warning = [x for x in output.splitlines() if "was edited after `auditplan plan` wrote it" in x]
    assert len(warning) == 1 and f"plan_id {doc['plan_id']}, its content now {plan_id_of(edited)}" in warning[0]
    assert f"against plan {doc['plan_id']} as `auditplan plan` saved it in" in warning[0]
    assert f"  host {old!r}: removed (was in wave 1)" in output
    assert "  host 'ws-added01': added to wave 1 (not in the plan as written)" in output
    if command == "scom":  # the edited plan is what is used: the added host's wave 1 is not rolled out
        assert "ws-added01" not in (folder / "mp.xml").read_text(encoding="utf-8")
    if command == "report":  # the report itself says so, not only the terminal
        html = " ".join((folder / "r.html").read_text(encoding="utf-8").split())
        assert f"edited by hand after `auditplan plan` wrote plan {doc['plan_id']}" in html
        assert "the waves shown are the edited ones" in html
    if command == "gpo":
        written = "".join(p.read_text(encoding="utf-8", errors="replace") for p in (folder / "gpo").rglob("*.ps1"))
        assert "ws-added01" in written and old not in written


def test_changed_figures_and_moves_are_listed(planned: Path, tmp_path: Path) -> None:
    doc = _doc(planned)
    edited = json.loads(json.dumps(doc))
    mover = edited["waves"][1]["hosts"].pop(0)
    edited["waves"][0]["hosts"].append(mover)  # moved into the pilot: the pilot's sums no longer add up
    edited["budget"]["value"] = 5.0
    folder = _copy(planned, tmp_path, edited)
    refused = _run("gpo", folder)
    assert refused.exit_code == 2 and "--accept-edited-plan" in _output(refused)
    result = _run("gpo", folder, "--accept-edited-plan")
    output = _output(result)
    assert result.exit_code == 0, output
    assert f"  host {mover['host']!r}: moved from wave 1 to wave 0" in output
    assert "  budget.value 0.5 -> 5.0" in output
    assert "  figures as edited, not as planned: wave 0: load.gb_day_p50 " in output  # the pilot's stale sum


def test_recomputed_plan_id_with_figures_that_do_not_add_up(planned: Path, tmp_path: Path) -> None:
    edited = json.loads(json.dumps(_doc(planned)))
    edited["waves"][0]["load"]["gb_day_p50"] = 987654
    edited["plan_id"] = plan_id_of(edited)  # the id recomputed: only the figures tell
    folder = _copy(planned, tmp_path, edited)
    refused = _run("report", folder)
    line = [x for x in _output(refused).splitlines() if "987654" in x]
    assert refused.exit_code == 2 and len(line) == 1 and "is not the sum of its" in line[0]
    result = _run("report", folder, "--accept-edited-plan")
    output = _output(result)
    assert result.exit_code == 0, output
    assert f"plan_id {edited['plan_id']}, recomputed by whoever edited it" in output
    assert "NOT the original" in output  # the store holds no plan under the recomputed id
    assert "  wave 0: load.gb_day_p50 " in output and "-> 987654" in output


def test_without_a_store_it_says_what_it_cannot_show(planned: Path, tmp_path: Path) -> None:
    edited, _ = _moved(_doc(planned))
    folder = _copy(planned, tmp_path, edited, with_store=False)
    result = _run("gpo", folder, "--accept-edited-plan")
    output = _output(result)
    assert result.exit_code == 0, output
    assert "what changed cannot be shown: no store beside it holds a plan to compare with" in output


def test_what_no_flag_accepts_a_plan_with_negative_figures(planned: Path, tmp_path: Path) -> None:
    edited = json.loads(json.dumps(_doc(planned)))
    edited["waves"][0]["hosts"][0]["gb_day_p90"] = -5
    folder = _copy(planned, tmp_path, edited)
    result = _run("gpo", folder, "--accept-edited-plan")
    assert result.exit_code == 2 and "gb_day_p90: expected a number >= 0 or null, got -5" in _output(result)
