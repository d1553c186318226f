"""`auditplan report` and `auditplan detections`: option parsing, one emit.api call, printing (issue 13)."""

from __future__ import annotations

import ast
import importlib.util
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditplan.cli import main
from auditplan.store import Store

CLI = Path(__file__).resolve().parents[2] / "src" / "auditplan" / "cli"


def _api_calls(module: Path) -> dict[str, list[str]]:
    """Click command function -> the emit.api functions it calls (names imported from emit.api)."""
    tree = ast.parse(module.read_text(encoding="utf-8"))
    api_names: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("auditplan.emit"):
            assert node.module == "auditplan.emit.api", f"{module.name} imports {node.module}"
            api_names.update({a.asname or a.name: a.name for a in node.names})
    commands: dict[str, list[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and any(
                isinstance(d, ast.Call) and isinstance(d.func, ast.Attribute) and d.func.attr == "command"
                for d in node.decorator_list):
            commands[node.name] = [api_names[c.func.id] for c in ast.walk(node) if isinstance(c, ast.Call)
                                   and isinstance(c.func, ast.Name) and c.func.id in api_names
                                   and api_names[c.func.id][0].islower()]
    return commands


def test_each_command_calls_one_front_door_function() -> None:
    assert _api_calls(CLI / "report.py") == {"report": ["write_report"]}
    assert _api_calls(CLI / "detections.py") == {"list_rules": ["detection_rules"],
                                                 "evaluate_rules": ["evaluate_detections"],
                                                 "export_rules": ["export_rules"]}


@pytest.fixture
def empty_store(tmp_path: Path) -> Path:
    db = tmp_path / "auditplan.db"
    with Store(db):
        pass
    return db


@pytest.mark.parametrize(("args", "message"), [
    (["--gpo-dir", "."], "--gpo-dir needs --plan"),
    (["--siem", "nosuch"], "unknown SIEM profile 'nosuch'"),
])
def test_report_usage_errors(empty_store: Path, tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "r.html"
    result = CliRunner().invoke(main, ["report", "--db", str(empty_store), "--out", str(out), *args])
    assert result.exit_code == 2 and message in result.output, result.output
    assert "Traceback" not in result.output and not out.exists()


def test_report_bad_config_names_the_file(empty_store: Path, tmp_path: Path) -> None:
    config = tmp_path / "mine.toml"
    config.write_text("[priors\n", encoding="utf-8")
    result = CliRunner().invoke(main, ["report", "--db", str(empty_store), "--config", str(config),
                                       "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and f"{config}: " in result.output and "Traceback" not in result.output


def test_report_store_without_estimates_says_what_to_run(empty_store: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["report", "--db", str(empty_store), "--out", str(tmp_path / "r.html")])
    assert result.exit_code == 2 and "auditplan estimate" in result.output and "Traceback" not in result.output


@pytest.mark.skipif(importlib.util.find_spec("sigma.backends.kusto") is not None, reason="the kusto backend is here")
def test_export_without_its_backend_says_what_to_install(tmp_path: Path) -> None:
    out = tmp_path / "q.kql"
    result = CliRunner().invoke(main, ["detections", "export", "--format", "kusto", "--out", str(out)])
    assert result.exit_code == 2 and "pip install pysigma-backend-kusto" in result.output
    assert not out.exists()
