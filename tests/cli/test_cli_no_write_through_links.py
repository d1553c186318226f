"""No command writes through a link planted at its output path (issue 20 item 1): each refuses with
exit 2 and a one-line message naming the path, and the file the link points to is left as it was.

The store these commands read is made by the real pipeline: `ingest` of a shipped Security.evtx,
`estimate`, `plan`.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from auditplan.cli import main

DATA = Path(__file__).resolve().parents[1] / "data"
EVTX = DATA / "dfirmuseum__APTSimulatorVM_EventLogs_Server2022__Security.evtx"
VICTIM_TEXT = "the victim's own content\n"


def _run(args: list[str]) -> Result:
    return CliRunner().invoke(main, args)


@pytest.fixture(scope="module")
def planned(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(store, plan.json) from ingest -> estimate -> plan."""
    root = tmp_path_factory.mktemp("pipeline")
    db = root / "auditplan.db"
    for args in (["ingest", str(EVTX), "--db", str(db), "--host", "web01", "--role", "member_server"],
                 ["estimate", "--db", str(db)],
                 ["plan", "--db", str(db), "--budget-gb-day", "100", "--out", str(root / "plan")]):
        result = _run(args)
        assert result.exit_code == 0, (args, result.output)
    return db, root / "plan" / "plan.json"


def _plant(link: Path, tmp_path: Path) -> Path:
    """A symbolic link at `link` to a victim file; returns the victim."""
    victim = tmp_path / "victim.txt"
    victim.write_text(VICTIM_TEXT, encoding="utf-8")
    link.parent.mkdir(parents=True, exist_ok=True)
    link.symlink_to(victim)
    return victim


def _refused(result: Result, link: Path, victim: Path) -> None:
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code == 2, output
    assert "Traceback" not in output
    assert "symbolic link" in output and link.name in output, output
    assert victim.read_text(encoding="utf-8") == VICTIM_TEXT
    assert link.is_symlink()


def test_plan_refuses_a_link_at_plan_json(planned: tuple[Path, Path], tmp_path: Path) -> None:
    db, _ = planned
    out = tmp_path / "out"
    victim = _plant(out / "plan.json", tmp_path)
    _refused(_run(["plan", "--db", str(db), "--budget-gb-day", "100", "--out", str(out)]), out / "plan.json", victim)


@pytest.mark.parametrize("name", ["r.html", "r-hosts.csv"])
def test_report_refuses_a_link_at_the_html_or_its_csv(planned: tuple[Path, Path], tmp_path: Path, name: str) -> None:
    db, plan = planned
    victim = _plant(tmp_path / name, tmp_path)
    result = _run(["report", "--db", str(db), "--plan", str(plan), "--out", str(tmp_path / "r.html")])
    _refused(result, tmp_path / name, victim)


def test_sigma_export_refuses_a_link_at_a_rule_file(tmp_path: Path) -> None:
    from auditplan.emit.api import detection_rules

    out = tmp_path / "sigma"
    first = sorted(Path(r.path).name for r in detection_rules().rules)[0]
    victim = _plant(out / first, tmp_path)
    _refused(_run(["detections", "export", "--out", str(out)]), out / first, victim)


def test_query_export_refuses_a_link(tmp_path: Path) -> None:
    pytest.importorskip("sigma.backends.splunk")
    victim = _plant(tmp_path / "q.spl", tmp_path)
    result = _run(["detections", "export", "--format", "splunk", "--out", str(tmp_path / "q.spl")])
    _refused(result, tmp_path / "q.spl", victim)


def test_scom_export_refuses_a_link(planned: tuple[Path, Path], tmp_path: Path) -> None:
    _, plan = planned
    victim = _plant(tmp_path / "mp.xml", tmp_path)
    result = _run(["detections", "export", "--format", "scom", "--plan", str(plan), "--through-wave", "0",
                   "--out", str(tmp_path / "mp.xml")])
    _refused(result, tmp_path / "mp.xml", victim)


def test_gpo_refuses_a_link(planned: tuple[Path, Path], tmp_path: Path) -> None:
    _, plan = planned
    out = tmp_path / "gpo"
    victim = _plant(out / "README.md", tmp_path)
    result = _run(["gpo", "--plan", str(plan), "--out", str(out)])
    assert result.exit_code == 2 and "Traceback" not in result.output, result.output
    assert victim.read_text(encoding="utf-8") == VICTIM_TEXT and (out / "README.md").is_symlink()


def test_demo_refuses_a_link_in_its_folder(tmp_path: Path) -> None:
    out = tmp_path / "demo"
    victim = _plant(out / "demo-config.toml", tmp_path)
    _refused(_run(["demo", "--out", str(out)]), out / "demo-config.toml", victim)


@pytest.mark.parametrize("option", ["--hosts-out", "--credentials-out"])
def test_simulate_refuses_a_link_at_its_files(tmp_path: Path, option: str) -> None:
    fleet = tmp_path / "fleet.toml"
    fleet.write_text('[[hosts]]\nname = "srv01"\n', encoding="utf-8")
    files = {"--hosts-out": tmp_path / "hosts.csv", "--credentials-out": tmp_path / "creds.json"}
    victim = _plant(files[option], tmp_path)
    args = [sys.executable, "-m", "auditplan", "simulate", "--fleet", str(fleet), "--transport", "basic", "--http",
            "--work-dir", str(tmp_path / "work")]
    for name, path in files.items():
        args += [name, str(path)]
    # A subprocess: if the link were followed, simulate would serve until killed (the timeout ends it).
    run = subprocess.run(args, capture_output=True, text=True, timeout=120, check=False)
    assert run.returncode == 2, run.stderr
    assert "symbolic link" in run.stderr and "Traceback" not in run.stderr
    assert victim.read_text(encoding="utf-8") == VICTIM_TEXT and files[option].is_symlink()
