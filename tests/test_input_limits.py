"""Every JSON/TOML file a user hands auditplan is read bounded (size, nesting) and validated (finite
numbers, ranges): a hostile file gives exit 2 and one line naming the file, never a traceback
(issue 20 items 3 and 5). The parsers themselves are Python's json and tomllib."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from auditplan.cli import main
from auditplan.config import Config, ConfigError
from auditplan.records import PlanError, read_plan
from auditplan.records.input_limits import (
    HOSTS_MAX_BYTES,
    InputLimitError,
    json_depth,
    load_json,
    loads_json,
    loads_toml,
)
from auditplan.simulator.fleet import FleetError, parse_fleet

DEEP = "[" * 100_000 + "]" * 100_000  # far past the parsers' recursion limit


def _one_line_exit_2(result: Result) -> str:
    output = result.output + (result.stderr if result.stderr_bytes is not None else "")
    assert result.exit_code == 2, output
    assert "Traceback" not in output and "RecursionError" not in output, output
    errors = [line for line in output.splitlines() if line.startswith("Error:") or ": " in line]
    assert errors, output
    return output


def test_json_depth_counts_containers_not_brackets_in_strings() -> None:
    assert json_depth('{"a": [1, {"b": "[[[[{{{{"}]}') == 3
    assert json_depth("5") == 0
    assert json_depth(DEEP) == 100_000
    # Independent check: json itself agrees on what is a string (an escaped quote does not end it).
    text = '{"x": "\\"[[[", "y": [[1]]}'
    assert json.loads(text)["x"] == '"[[[' and json_depth(text) == 3


@pytest.mark.parametrize(("text", "message"), [
    (DEEP, "nested 100000 levels deep; the limit is 32"),
    ('{"a": NaN}', "NaN or Infinity"),
    ('{"a": -Infinity}', "NaN or Infinity"),
    ('{"a": ' + "9" * 5000 + "}", "not JSON auditplan accepts"),
    ('{"a": ', "not JSON: line 1 column 7"),
])
def test_loads_json_refuses_with_one_line(text: str, message: str) -> None:
    with pytest.raises(InputLimitError, match=message) as caught:
        loads_json(text, "f.json")
    assert str(caught.value).startswith("f.json: ") and "\n" not in str(caught.value)


def test_load_json_refuses_what_is_not_a_regular_file_or_too_large(tmp_path: Path) -> None:
    with pytest.raises(InputLimitError, match="not a regular file"):
        load_json(Path("/dev/zero"))
    big = tmp_path / "big.json"
    big.write_text('["' + "x" * 2000 + '"]', encoding="utf-8")
    with pytest.raises(InputLimitError, match=r"2004 bytes is over the 1000 bytes limit"):
        load_json(big, max_bytes=1000)
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    with pytest.raises(InputLimitError, match="not a regular file"):
        load_json(fifo)  # opened without waiting for a writer, then refused


@pytest.mark.parametrize(("text", "message"), [
    ("a = nan\n", "a: nan is not a finite number"),
    ("[t]\nb = [1.0, -inf]\n", r"t\.b\[1\]: -inf is not a finite number"),
    ("a = " + "[" * 5000 + "]" * 5000 + "\n", "nested"),
    ("a = {" * 40 + "}" * 40 + "\n", "nested over 32 levels deep"),
])
def test_loads_toml_refuses_with_one_line(text: str, message: str) -> None:
    with pytest.raises(InputLimitError, match=message) as caught:
        loads_toml(text, "c.toml")
    assert str(caught.value).startswith("c.toml: ") and "\n" not in str(caught.value)


def test_plan_json_nested_deeply_is_a_plan_error(tmp_path: Path) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(DEEP, encoding="utf-8")
    with pytest.raises(PlanError, match="nested 100000 levels deep"):
        read_plan(plan)


@pytest.mark.parametrize("command", [
    ["gpo", "--plan", "{plan}", "--out", "{tmp}/gpo"],
    ["report", "--db", "{tmp}/none.db", "--plan", "{plan}", "--out", "{tmp}/r.html"],
    ["detections", "export", "--format", "scom", "--plan", "{plan}", "--out", "{tmp}/mp.xml"],
])
def test_commands_reading_plan_json_refuse_deep_nesting(tmp_path: Path, command: list[str]) -> None:
    plan = tmp_path / "plan.json"
    plan.write_text(DEEP, encoding="utf-8")
    args = [a.format(plan=plan, tmp=tmp_path) for a in command]
    if command[0] == "report":
        from auditplan.store import Store

        with Store(tmp_path / "none.db"):
            pass
    output = _one_line_exit_2(CliRunner().invoke(main, args))
    assert "nested" in output and str(plan) in output


def test_survey_credentials_nested_deeply_exits_2(tmp_path: Path) -> None:
    creds = tmp_path / "creds.json"
    creds.write_text('{"username": ' + DEEP + "}", encoding="utf-8")
    os.chmod(creds, 0o600)
    hosts = tmp_path / "hosts.txt"
    hosts.write_text("web01\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["survey", str(hosts), "--credentials", str(creds), "--db",
                                       str(tmp_path / "a.db"), "--no-progress"])
    output = _one_line_exit_2(result)
    assert "nested" in output and str(creds) in output


@pytest.mark.parametrize(("text", "message"), [
    ("[plan]\ndraws = nan\n", "nan is not a finite number"),
    ("[siem.splunk-xml]\nprice_per_gb = inf\n", "inf is not a finite number"),
    ("x = " + "[" * 5000 + "]" * 5000 + "\n", "nested"),
])
def test_config_toml_refuses_non_finite_and_deep(tmp_path: Path, text: str, message: str) -> None:
    config = tmp_path / "my.toml"
    config.write_text(text, encoding="utf-8")
    with pytest.raises(ConfigError, match=message):
        Config.load(config)
    output = _one_line_exit_2(CliRunner().invoke(main, ["estimate", "--db", str(tmp_path / "x.db"),
                                                        "--config", str(config)]))
    assert str(config) in output


@pytest.mark.parametrize(("host", "message"), [
    ("port = 70000", "port: must be <= 65535, got 70000"),
    ("port = -1", "port: must be >= 0"),
    ("rates = { process_starts_per_day = nan }", "nan is not a finite number"),
    ("faults = { latency_ms = inf }", "inf is not a finite number"),
    ("rates = { process_starts_per_day = 1e300 }", r"must be <= 1e\+12"),
    ("count = 100000000", "count: must be <= 65536"),
])
def test_fleet_toml_refuses_at_load_what_the_simulator_would_crash_on(host: str, message: str) -> None:
    with pytest.raises(FleetError, match=message):
        parse_fleet(f'[[hosts]]\nname = "srv01"\n{host}\n', "fleet.toml")


def test_simulate_refuses_a_bad_fleet_with_exit_2(tmp_path: Path) -> None:
    fleet = tmp_path / "fleet.toml"
    fleet.write_text('[[hosts]]\nname = "srv01"\nport = 70000\n', encoding="utf-8")
    output = _one_line_exit_2(CliRunner().invoke(main, ["simulate", "--fleet", str(fleet)]))
    assert "70000" in output and "OverflowError" not in output


def test_survey_refuses_dev_zero(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["survey", "/dev/zero", "--db", str(tmp_path / "a.db"), "--no-progress",
                                       "--password-env", "AP_PW"], env={"AP_PW": "x"})
    output = _one_line_exit_2(result)
    assert "/dev/zero" in output and "device" in output


def test_survey_refuses_a_hosts_file_over_the_limit(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.txt"
    with hosts.open("wb") as out:  # sparse: no 64 MB written
        out.write(b"web01\n")
        out.truncate(HOSTS_MAX_BYTES + 1)
    result = CliRunner().invoke(main, ["survey", str(hosts), "--db", str(tmp_path / "a.db"), "--no-progress",
                                       "--password-env", "AP_PW"], env={"AP_PW": "x"})
    output = _one_line_exit_2(result)
    assert "over the 64 MB limit for a hosts file" in output and str(hosts) in output
