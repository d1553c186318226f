"""The hostile-input corpus (tests/data/hostile/, see its README) through every command that reads
each kind of file: the documented exit code for bad input, a one-line error naming the file, never a
traceback. One parametrised test per command."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from auditplan.cli import main

HOSTILE = Path(__file__).resolve().parent / "data" / "hostile"
CAPTURE = Path(__file__).resolve().parent / "data" / "mdec__ID4688-Clear_event_log_attempt_native.evtx"


def _files(kind: str) -> list[Path]:
    return sorted((HOSTILE / kind).iterdir())


def _ids(paths: list[Path]) -> list[str]:
    return [p.name for p in paths]


def _output(result: Result) -> str:
    return result.output + (result.stderr if result.stderr_bytes is not None else "")


def _clean(result: Result, codes: tuple[int, ...]) -> str:
    output = _output(result)
    assert result.exit_code in codes, output
    assert "Traceback" not in output, output
    if result.exception is not None:
        assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "\x1b" not in output  # hostile text is shown escaped, never raw
    return output


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store with one ingested and estimated host: the commands get as far as reading their input."""
    db = tmp_path_factory.mktemp("hostile") / "auditplan.db"
    for args in (["ingest", str(CAPTURE), "--db", str(db), "--host", "fs02", "--role", "file_server"],
                 ["estimate", "--db", str(db)]):
        result = CliRunner().invoke(main, args)
        assert result.exit_code == 0, result.output
    return db


@pytest.mark.parametrize("hosts", _files("hosts"), ids=_ids(_files("hosts")))
def test_survey_reads_hostile_hosts_files(hosts: Path, tmp_path: Path) -> None:
    # A credentials file that does not exist stops the survey right after the hosts file is read,
    # so nothing is contacted: what is tested is the reading.
    result = CliRunner().invoke(main, ["survey", str(hosts), "--db", str(tmp_path / "a.db"), "--no-progress",
                                       "--credentials", str(tmp_path / "none.json")])
    output = _clean(result, (2,))
    assert str(hosts) in output or str(tmp_path / "none.json") in output


@pytest.mark.parametrize("plan", _files("plans"), ids=_ids(_files("plans")))
@pytest.mark.parametrize("command", ["gpo", "report", "scom"])
def test_commands_refuse_hostile_plans(plan: Path, command: str, store: Path, tmp_path: Path) -> None:
    args = {
        "gpo": ["gpo", "--plan", str(plan), "--out", str(tmp_path / "gpo")],
        "report": ["report", "--db", str(store), "--plan", str(plan), "--out", str(tmp_path / "r.html")],
        "scom": ["detections", "export", "--format", "scom", "--plan", str(plan), "--out", str(tmp_path / "mp.xml")],
    }[command]
    output = _clean(CliRunner().invoke(main, args), (2,))
    assert str(plan) in output
    assert not (tmp_path / "r.html").exists() and not (tmp_path / "mp.xml").exists()


@pytest.mark.parametrize("config", _files("configs"), ids=_ids(_files("configs")))
@pytest.mark.parametrize("command", ["estimate", "project", "plan"])
def test_commands_refuse_hostile_configs(config: Path, command: str, store: Path, tmp_path: Path) -> None:
    extra = ["--budget-gb-day", "5", "--out", str(tmp_path / "plan")] if command == "plan" else []
    result = CliRunner().invoke(main, [command, "--db", str(store), "--config", str(config), *extra])
    output = _clean(result, (2,))
    assert str(config) in output


@pytest.mark.parametrize("fleet", _files("fleets"), ids=_ids(_files("fleets")))
def test_simulate_refuses_hostile_fleets(fleet: Path, tmp_path: Path) -> None:
    # In a thread: a fleet wrongly accepted would serve until stopped; the join's bound ends the test.
    box: list[Result] = []
    worker = threading.Thread(target=lambda: box.append(CliRunner().invoke(
        main, ["simulate", "--fleet", str(fleet), "--transport", "basic", "--http", "--work-dir", str(tmp_path)])),
        daemon=True)
    worker.start()
    worker.join(120)
    assert box, f"simulate accepted {fleet.name} and started serving"
    output = _clean(box[0], (2,))
    assert str(fleet) in output


@pytest.mark.parametrize("credentials", _files("credentials"), ids=_ids(_files("credentials")))
def test_survey_refuses_hostile_credentials(credentials: Path, tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("127.0.1.98\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["survey", str(hosts), "--credentials", str(credentials), "--db",
                                       str(tmp_path / "a.db"), "--no-progress"])
    output = _clean(result, (2,))
    assert str(credentials) in output
