"""The emit commands on bad input (issue 13 review): where --out cannot be written, bad GPO options and
a rules folder used as --out give one line naming the path and exit 2, never a traceback."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from auditplan.cli import main
from auditplan.emit.api import (
    EmitError,
    GpoOptionError,
    GpoOptions,
    OutputError,
    export_rules,
    validate_domain,
    write_gpo,
    write_report,
)
from auditplan.model.api import ESTIMATE_RUN, ModelError
from auditplan.store import Store

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "emit"))
import gpo_helpers  # the GPO tests' plan documents (tests/emit, put on sys.path above)
import report_fixtures as rf  # the report tests' hand-built fleet

HAS_SPLUNK = importlib.util.find_spec("sigma.backends.splunk") is not None
RULE = ("title: Mine\nid: 31111111-2222-4333-8444-555555555555\nlevel: medium\n"
        "logsource: {category: process_creation, product: windows}\n"
        "detection:\n  sel: {CommandLine|contains: zzmine}\n  condition: sel\n")


@pytest.fixture
def store(tmp_path: Path) -> Path:
    db = tmp_path / "auditplan.db"
    with Store(db) as opened:
        opened.save_estimates(ESTIMATE_RUN, rf.fleet()[0])
    return db


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    """A plain file where a command's --out wants a folder."""
    path = tmp_path / "afile"
    path.write_text("not a folder\n", encoding="utf-8")
    return path


def _refused(result: Result, *expected: str) -> None:
    """Exit 2, no traceback, and every `expected` text in the one error line."""
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and isinstance(result.exception, SystemExit)
    errors = [line for line in result.output.splitlines() if all(e in line for e in expected)]
    assert len(errors) == 1, result.output


def test_report_out_under_a_file(store: Path, a_file: Path) -> None:
    out = a_file / "r.html"
    result = CliRunner().invoke(main, ["report", "--db", str(store), "--out", str(out)])
    _refused(result, f"{out}: cannot write: {a_file} is a file, not a folder")


def test_report_csv_beside_it_is_a_folder(store: Path, tmp_path: Path) -> None:
    (tmp_path / "s-hosts.csv").mkdir()
    result = CliRunner().invoke(main, ["report", "--db", str(store), "--out", str(tmp_path / "s.html")])
    _refused(result, f"{tmp_path / 's-hosts.csv'}: cannot write: a folder is in the way")


def test_report_library_errors(store: Path, tmp_path: Path, a_file: Path) -> None:
    with pytest.raises(OutputError, match="is a file, not a folder"):
        write_report(store, a_file / "r.html")
    (tmp_path / "r.html").mkdir()  # the CLI's --out refuses a folder; the library names it
    with pytest.raises(OutputError, match=r"r\.html: cannot write: a folder is in the way"):
        write_report(store, tmp_path / "r.html")
    empty = tmp_path / "empty.db"
    with Store(empty):
        pass
    assert write_report.__doc__ is not None and "ModelError" in write_report.__doc__
    with pytest.raises(ModelError, match="auditplan estimate"):
        write_report(empty, tmp_path / "r.html")


@pytest.mark.parametrize("fmt", ["sigma", "scom", pytest.param("splunk", marks=pytest.mark.skipif(
    not HAS_SPLUNK, reason="pysigma-backend-splunk is not installed"))])
def test_export_out_under_a_file(a_file: Path, fmt: str) -> None:
    out = a_file / ("x.xml" if fmt == "scom" else "x")
    result = CliRunner().invoke(main, ["detections", "export", "--format", fmt, "--out", str(out)])
    _refused(result, f"{out}: cannot write: {a_file} is a file, not a folder")
    with pytest.raises(OutputError, match=f"{a_file} is a file, not a folder"):
        export_rules(fmt, out)


def test_export_sigma_out_is_a_file(a_file: Path) -> None:
    result = CliRunner().invoke(main, ["detections", "export", "--out", str(a_file)])
    _refused(result, f"{a_file}: cannot write: {a_file} is a file, not a folder")


@pytest.mark.skipif(not HAS_SPLUNK, reason="pysigma-backend-splunk is not installed")
def test_export_queries_out_is_a_folder(tmp_path: Path) -> None:
    # A single-file output given a folder writes its default name inside it (issue 19); a folder at that
    # name is still refused.
    result = CliRunner().invoke(main, ["detections", "export", "--format", "splunk", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "detections.spl").is_file()
    (tmp_path / "inner" / "detections.spl").mkdir(parents=True)
    result = CliRunner().invoke(main, ["detections", "export", "--format", "splunk", "--out", str(tmp_path / "inner")])
    _refused(result, f"{tmp_path / 'inner' / 'detections.spl'}: cannot write: a folder is in the way")


def test_export_sigma_into_the_rules_folder_keeps_the_rules(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "mine.yml").write_text(RULE, encoding="utf-8")
    result = CliRunner().invoke(main, ["detections", "export", "--rules", str(rules), "--out", str(rules)])
    assert result.exit_code == 0, result.output
    assert "Wrote 6 Sigma rule(s)" in result.output
    assert (rules / "mine.yml").read_text(encoding="utf-8") == RULE and len(list(rules.glob("*.yml"))) == 6


def test_rule_paths_that_cannot_be_read_are_problems_not_errors(tmp_path: Path) -> None:
    from auditplan.emit.api import detection_rules

    too_long = tmp_path / ("x" * 300)  # stat() fails with ENAMETOOLONG, not "no such file"
    ruleset = detection_rules([too_long])
    assert len(ruleset.rules) == 5
    assert [p.split(": ", 1)[1] for p in ruleset.problems] == ["cannot read: File name too long"]


def _plan(tmp_path: Path) -> Path:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(gpo_helpers.plan_doc([{"host": "dc01"}])), encoding="utf-8")
    return path


def test_gpo_out_under_a_file(tmp_path: Path, a_file: Path) -> None:
    out = a_file / "gpo"
    result = CliRunner().invoke(main, ["gpo", "--plan", str(_plan(tmp_path)), "--out", str(out)])
    _refused(result, f"auditplan gpo: {out}: cannot write: {a_file} is a file, not a folder")
    # The CLI's --out refuses a file; the library names it.
    with pytest.raises(OutputError, match=f"{a_file}: cannot write: {a_file} is a file, not a folder"):
        write_gpo(_plan(tmp_path), a_file)


@pytest.mark.parametrize(("options", "message"), [
    (GpoOptions(domain="corp..example"), "--domain 'corp..example': not a DNS domain name"),
    (GpoOptions(name_prefix="\x1b\x07 "), "--name-prefix: empty"),
    (GpoOptions(log_max_size_mb=1), "--log-max-size-mb 1: expected a whole number of MB in 20..2097151"),
])
def test_gpo_option_errors_are_emits(tmp_path: Path, options: GpoOptions, message: str) -> None:
    with pytest.raises(GpoOptionError) as caught:
        write_gpo(_plan(tmp_path), tmp_path / "out", options)
    assert str(caught.value).startswith(message) and isinstance(caught.value, EmitError)
    assert not (tmp_path / "out").exists()
    with pytest.raises(GpoOptionError):
        validate_domain("-corp")


def test_gpo_cli_names_a_bad_prefix(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["gpo", "--plan", str(_plan(tmp_path)), "--out", str(tmp_path / "out"),
                                       "--name-prefix", "\x07"])
    _refused(result, "auditplan gpo: --name-prefix: empty")
