"""rollback.ps1 -RevertHosts restores the exact prior state plan.json records (`prior_process_creation`,
`prior_cmdline_registry`), and falls back to `change` for plans written without them.

The script is read with tree-sitter-powershell (gpo_helpers); the auditpol and registry calls are
resolved against one $PriorState entry by following the script's own variables, so the test sees
the arguments the host would get. Expected flags come from auditpol's documented syntax
(`auditpol /set /subcategory:{guid} /success:enable|disable /failure:enable|disable`) and the
registry key/value from gpo-backup-format.md §A2, written out here by hand.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gpo_helpers import assigned_literal, commands, parse_script, plan_doc, ps_string, syntax_errors, text, walk, write
from tree_sitter import Node

from auditplan.records import PlanError, parse_plan

PROCESS_CREATION = "{0cce922b-69ae-11d9-bed3-505054503030}"
AUDIT_KEY = r"HKLM:\Software\Microsoft\Windows\CurrentVersion\Policies\System\Audit"
CMDLINE_VALUE = "ProcessCreationIncludeCmdLine_Enabled"


def _rollback(tmp_path: Path, hosts: list[dict[str, Any]]) -> Node:
    (o,) = write(tmp_path, plan_doc(hosts))
    root = parse_script(o.script_dir / "rollback.ps1")
    assert syntax_errors(root) == []
    return root


def _revert_block(root: Node) -> Node:
    """The script block assigned to $revert (what Invoke-Command runs on each host)."""
    for n in walk(root):
        if n.type == "assignment_expression" and text(n.children[0]).strip() == "$revert":
            return n.children[2]
    raise AssertionError("$revert is not assigned")


def _assignments(block: Node) -> dict[str, str]:
    return {text(n.children[0]).strip(): text(n.children[2]).strip()
            for n in walk(block) if n.type == "assignment_expression"}


def _resolve(arg: str, variables: dict[str, str], state: dict[str, Any]) -> list[Any]:
    """One command argument's value(s) for one $PriorState entry: literals, $State.X, $var, @var, @(...)."""
    arg = arg.strip()
    if arg.startswith("'"):
        return [ps_string(arg)]
    if arg.startswith("@(") and arg.endswith(")"):
        return _resolve(arg[2:-1], variables, state)
    if arg.startswith("$State."):
        value = state[arg[len("$State."):]]
        return list(value) if isinstance(value, list) else [value]
    if arg.startswith("@") and "$" + arg[1:] in variables:  # splatting an array: one argument per item
        return _resolve(variables["$" + arg[1:]], variables, state)
    if arg in variables:
        return _resolve(variables[arg], variables, state)
    raise AssertionError(f"cannot resolve {arg!r}")


def _call(root: Node, name: str, state: dict[str, Any], where: Node) -> tuple[list[Any], Node]:
    """argv of the one `name` command inside `where`, resolved for `state`; and the command node."""
    found = [(n, node) for n, _p, node in commands(root) if n == name
             and where.start_byte <= node.start_byte < where.end_byte]
    assert len(found) == 1, [text(node) for _n, node in found]
    node = found[0][1]
    elements = next(c for c in node.children if c.type == "command_elements")
    variables = _assignments(where)
    argv: list[Any] = []
    for c in elements.children:
        if c.type == "command_argument_sep":
            continue
        if c.type in ("command_parameter", "generic_token"):
            argv.append(text(c))
        else:
            argv += _resolve(text(c), variables, state)
    return argv, node


def _guard(node: Node) -> str:
    parent = node.parent
    while parent is not None and parent.type != "if_statement":
        parent = parent.parent
    assert parent is not None
    return text(parent.children[2])


def _registry_write(argv: list[Any]) -> dict[str, Any]:
    pairs = dict(zip(argv[0::2], argv[1::2], strict=True))
    return {"path": pairs["-Path"], "name": pairs["-Name"], "value": pairs["-Value"], "type": pairs["-Type"]}


def test_failure_flag_and_command_line_value_are_restored_exactly(tmp_path: Path) -> None:
    hosts = [
        # Process Creation had Failure only (so the plan turns Success on), the command line value was 1.
        {"host": "web01", "change": "enable_4688", "prior_process_creation": "failure", "prior_cmdline_registry": 1},
        # Success and Failure on, command line not 1.
        {"host": "app01", "change": "cmdline_only", "prior_process_creation": "success_and_failure",
         "prior_cmdline_registry": 0},
        # Nothing on, command line 1 already (Process Creation off, so it had no effect yet).
        {"host": "db01", "change": "enable_4688", "prior_process_creation": "none", "prior_cmdline_registry": 1},
    ]
    root = _rollback(tmp_path, hosts)
    prior = {p["Computer"]: p for p in assigned_literal(root, "PriorState")}
    assert prior["web01"]["ProcessCreation"] == ["/success:disable", "/failure:enable"]
    assert prior["web01"]["CommandLine"] == 1
    assert prior["app01"]["ProcessCreation"] == ["/success:enable", "/failure:enable"]
    assert prior["app01"]["CommandLine"] == 0
    assert prior["db01"]["ProcessCreation"] == ["/success:disable", "/failure:disable"]
    assert prior["db01"]["CommandLine"] == 1
    for p in prior.values():
        assert p["ProcessCreationFrom"] == p["CommandLineFrom"] == "survey"

    revert = _revert_block(root)
    assert "param($State)" in text(revert)
    expected = {
        "web01": (["/success:disable", "/failure:enable"], 1),
        "app01": (["/success:enable", "/failure:enable"], 0),
        "db01": (["/success:disable", "/failure:disable"], 1),
    }
    for host, (flags, value) in expected.items():
        argv, auditpol = _process_creation_call(root, prior[host], revert)
        assert argv == ["/set", f"/subcategory:{PROCESS_CREATION}", *flags], host
        assert "$flags.Count -gt 0" in _guard(auditpol)
        reg_argv, reg = _call(root, "Set-ItemProperty", prior[host], revert)
        assert _registry_write(reg_argv) == {"path": AUDIT_KEY, "name": CMDLINE_VALUE, "value": value, "type": "DWord"}
        assert "$State.CommandLine -ge 0" in _guard(reg)


def _process_creation_call(root: Node, state: dict[str, Any], revert: Node) -> tuple[list[Any], Node]:
    """The auditpol call for Process Creation (the other one loops over local subcategories)."""
    calls = [node for n, _p, node in commands(root) if n == "auditpol.exe"
             and revert.start_byte <= node.start_byte < revert.end_byte and "foreach" not in _ancestors(node)]
    assert len(calls) == 1
    elements = next(c for c in calls[0].children if c.type == "command_elements")
    variables = _assignments(revert)
    argv: list[Any] = []
    for c in elements.children:
        if c.type == "generic_token":
            argv.append(text(c))
        elif c.type != "command_argument_sep":
            argv += _resolve(text(c), variables, state)
    return argv, calls[0]


def _ancestors(node: Node) -> str:
    kinds = []
    parent = node.parent
    while parent is not None:
        kinds.append(parent.type)
        parent = parent.parent
    return " ".join(kinds)


def test_old_plan_without_prior_fields_still_renders_with_the_fallback(tmp_path: Path) -> None:
    root = _rollback(tmp_path, [{"host": "web01", "change": "enable_4688"}, {"host": "dc01", "change": "cmdline_only"},
                                {"host": "old01"}])
    prior = {p["Computer"]: p for p in assigned_literal(root, "PriorState")}
    # What rollback did before the prior_* fields existed (docs/plan-json.md, `change`).
    assert prior["web01"]["ProcessCreation"] == ["/success:disable", "/failure:disable"]
    assert prior["web01"]["CommandLine"] == 0
    assert prior["dc01"]["ProcessCreation"] == ["/success:enable"]
    assert prior["dc01"]["CommandLine"] == 0
    assert prior["web01"]["ProcessCreationFrom"] == prior["web01"]["CommandLineFrom"] == "change"
    assert prior["old01"]["ProcessCreation"] == [] and prior["old01"]["CommandLine"] == -1
    assert prior["old01"]["ProcessCreationFrom"] == prior["old01"]["CommandLineFrom"] == "none"
    argv, _node = _process_creation_call(root, prior["web01"], _revert_block(root))
    assert argv == ["/set", f"/subcategory:{PROCESS_CREATION}", "/success:disable", "/failure:disable"]
    # The script says how it falls back, in a comment.
    comments = " ".join(text(n) for n in walk(root) if n.type == "comment")
    assert "fallback" in comments and "prior_" in comments


def test_one_prior_field_alone_is_used_and_the_other_falls_back(tmp_path: Path) -> None:
    root = _rollback(tmp_path, [{"host": "web01", "change": "cmdline_only", "prior_cmdline_registry": None,
                                 "prior_process_creation": "success_and_failure"},
                                {"host": "app01", "change": "enable_4688", "prior_cmdline_registry": 1}])
    prior = {p["Computer"]: p for p in assigned_literal(root, "PriorState")}
    assert prior["web01"]["ProcessCreation"] == ["/success:enable", "/failure:enable"]
    assert (prior["web01"]["CommandLine"], prior["web01"]["CommandLineFrom"]) == (0, "change")
    assert prior["app01"]["ProcessCreation"] == ["/success:disable", "/failure:disable"]
    assert (prior["app01"]["CommandLine"], prior["app01"]["CommandLineFrom"]) == (1, "survey")


def test_prior_fields_do_not_change_the_gpo(tmp_path: Path) -> None:
    bare = [{"host": "web01", "change": "enable_4688"}]
    # "success" adds no flag to the wave's Process Creation (a prior Failure flag would be kept in the GPO:
    # the wave GPO never lowers a host's setting, tests/emit/test_gpo_union.py).
    full = [{**bare[0], "prior_process_creation": "success", "prior_cmdline_registry": 1}]
    (a,) = write(tmp_path / "a", plan_doc(bare))
    (b,) = write(tmp_path / "b", plan_doc(full))
    assert (a.backup_guid, a.gpo_guid) == (b.backup_guid, b.gpo_guid)
    for f in sorted(p for p in a.backup_dir.rglob("*") if p.is_file()):
        assert f.read_bytes() == (b.backup_dir / f.relative_to(a.backup_dir)).read_bytes(), f
    for script in ("rollout.ps1", "verify.ps1"):
        assert (a.script_dir / script).read_bytes() == (b.script_dir / script).read_bytes()
    assert (a.script_dir / "rollback.ps1").read_bytes() != (b.script_dir / "rollback.ps1").read_bytes()


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"prior_process_creation": "on"}, "prior_process_creation"),
        ({"prior_process_creation": ["failure"]}, "prior_process_creation"),
        ({"prior_cmdline_registry": 2}, "prior_cmdline_registry: expected 0, 1 or null"),
        ({"prior_cmdline_registry": True}, "prior_cmdline_registry"),
        ({"prior_cmdline_registry": "1"}, "prior_cmdline_registry"),
    ],
)
def test_bad_prior_fields_are_named(fields: dict[str, Any], expected: str) -> None:
    with pytest.raises(PlanError) as err:
        parse_plan(plan_doc([{"host": "sql01", **fields}]), "plan.json")
    assert "plan.json" in str(err.value) and "'sql01'" in str(err.value) and expected in str(err.value)


def test_survey_to_rollback_end_to_end(tmp_path: Path) -> None:
    """A host surveyed with Process Creation = Failure and the command line value 1: `plan` records it,
    `gpo` carries it into rollback.ps1, and the revert calls use it."""
    from datetime import UTC, datetime

    from click.testing import CliRunner

    from auditplan.cli import main
    from auditplan.records import (
        AuditPolicy,
        AuditSetting,
        EstimateSource,
        Host,
        HostEstimate,
        HostResult,
        HostStatus,
        Range,
    )
    from auditplan.store import Store

    db = tmp_path / "ap.db"
    audit = AuditPolicy(process_creation=AuditSetting.FAILURE, cmdline_enabled=True, sce_no_apply_legacy=True)
    with Store(db) as store:
        store.save_result(HostResult(host=Host(name="web01", address="web01", role="web", site="lon"),
                                     status=HostStatus.OK, reason="", collected_at=datetime(2026, 1, 5, tzinfo=UTC),
                                     audit=audit))
        store.save_estimates("latest", [HostEstimate(
            host="web01", role="web", site="lon", os_family="2022", events_per_day=Range(1e4, 1e4, 1e4),
            source=EstimateSource.MEASURED_4688, peak_hour_factor=1.0, hourly_shape=(), bytes_per_event_xml=1500.0,
            bytes_per_event_xml_no_cmdline=1400.0, cmdline_length_p50=80.0, bytes_source="sampled",
            already_on=False, cmdline_already_on=True, cmdline_supported=True)])
    runner = CliRunner()
    planned = runner.invoke(main, ["plan", "--db", str(db), "--budget-gb-day", "10", "--out", str(tmp_path / "plan")])
    assert planned.exit_code == 0, planned.output
    emitted = runner.invoke(main, ["gpo", "--plan", str(tmp_path / "plan" / "plan.json"), "--out", str(tmp_path / "gpo")])
    assert emitted.exit_code == 0, emitted.output
    root = parse_script(tmp_path / "gpo" / "wave-00" / "rollback.ps1")
    assert syntax_errors(root) == []
    (state,) = assigned_literal(root, "PriorState")
    argv, _node = _process_creation_call(root, state, _revert_block(root))
    assert argv == ["/set", f"/subcategory:{PROCESS_CREATION}", "/success:disable", "/failure:enable"]
    reg_argv, _reg = _call(root, "Set-ItemProperty", state, _revert_block(root))
    assert _registry_write(reg_argv)["value"] == 1
