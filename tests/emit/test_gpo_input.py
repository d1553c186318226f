"""Bad plan input and options: clear errors naming the plan file, wave and host; no traceback."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from gpo_helpers import assigned_literal, parse_script, plan_doc, ps_string, syntax_errors, walk, write

from auditplan.cli import main
from auditplan.emit.gpo.backups import validate_domain
from auditplan.records import PlanError, parse_plan

MANIFEST_NS = "http://www.microsoft.com/GroupPolicy/GPOOperations/Manifest"
LOGON = "{0cce9215-69ae-11d9-bed3-505054503030}"


def _one_bad_host(**fields: Any) -> dict[str, Any]:
    return plan_doc([{"host": "dc01"}], [{"host": "web01"}, {"host": "sql01", **fields}])


@pytest.mark.parametrize(
    ("plan", "expected"),
    [
        (_one_bad_host(local_subcategories=[{"guid": LOGON, "setting": ["success"]}]),
         ["plans/plan.json", "wave 1", "hosts[1]", "'sql01'", "local_subcategories[0].setting", "['success']"]),
        (_one_bad_host(local_subcategories=[{"guid": LOGON, "setting": {"a": 1}}]), ["wave 1", "'sql01'", "setting"]),
        (_one_bad_host(local_subcategories=[{"guid": ["x"], "setting": "success"}]), ["wave 1", "'sql01'", "guid"]),
        (_one_bad_host(local_subcategories="Logon"), ["wave 1", "'sql01'", "local_subcategories: expected a list"]),
        (_one_bad_host(recommended_log_max_size_mb=5), ["wave 1", "'sql01'", "recommended_log_max_size_mb", "20..2097151"]),
        (_one_bad_host(recommended_log_max_size_mb=3_000_000), ["wave 1", "'sql01'", "recommended_log_max_size_mb"]),
        (_one_bad_host(recommended_log_max_size_mb="512"), ["wave 1", "'sql01'", "recommended_log_max_size_mb"]),
        (_one_bad_host(recommended_log_max_size_mb=True), ["wave 1", "'sql01'", "recommended_log_max_size_mb"]),
        (_one_bad_host(change="everything"), ["wave 1", "'sql01'", "change"]),
        (plan_doc([{"host": "dc01"}], [{"host": "web01"}, {"host": "DC01"}]),
         ["wave 1", "hosts[1]", "'DC01'", "already in wave 0", "'dc01'"]),
        (plan_doc([{"host": "web01"}, {"host": "web01"}]), ["wave 0", "hosts[1]", "already in wave 0"]),
        (plan_doc([{"host": "x" * 201}]), ["wave 0", "hosts[0].host", "201 characters"]),
    ],
)
def test_bad_plans_name_file_wave_and_host(plan: dict[str, Any], expected: list[str]) -> None:
    with pytest.raises(PlanError) as caught:
        parse_plan(plan, "plans/plan.json")
    for part in expected:
        assert part in str(caught.value), (part, str(caught.value))


def test_good_log_sizes_are_accepted() -> None:
    # docs/plan-json.md: null or a multiple of 64 MB in [64, 4032]; a float of a whole number is fine too.
    for value in (None, 64, 4032.0, 20, 2097151):
        parse_plan(_one_bad_host(recommended_log_max_size_mb=value))


def test_cli_reports_bad_plan_without_traceback(tmp_path: Path) -> None:
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(_one_bad_host(local_subcategories=[{"guid": LOGON, "setting": ["success"]}])),
                         encoding="utf-8")
    result = CliRunner().invoke(main, ["gpo", "--plan", str(plan_file), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.exception is not None and isinstance(result.exception, SystemExit)
    assert str(plan_file) in result.output and "wave 1" in result.output and "'sql01'" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("domain", ["a'b c", "corp..example", "-corp.example", "corp_1.example", "", "corp.example.",
                                    "a" * 64 + ".example", ".".join(["abcdefgh"] * 29), "corp.example\n"])
def test_bad_domains_are_refused(tmp_path: Path, domain: str) -> None:
    with pytest.raises(ValueError, match=r"--domain .*: not a DNS domain name"):
        validate_domain(domain)
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan_doc([{"host": "dc01"}])), encoding="utf-8")
    result = CliRunner().invoke(main, ["gpo", "--plan", str(plan_file), "--out", str(tmp_path / "out"),
                                       "--domain", domain])
    assert result.exit_code == 2 and "Traceback" not in result.output and "--domain" in result.output
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("domain", ["corp", "corp.example.com", "xn--bcher-kva.example", "a-1.b2.example",
                                    "a" * 63 + ".example"])
def test_good_domains_are_accepted_and_quoted_in_the_index(tmp_path: Path, domain: str) -> None:
    assert validate_domain(domain) == domain
    write(tmp_path, plan_doc([{"host": "dc01"}]), domain=domain)
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    dn = "OU=Servers," + ",".join("DC=" + label for label in domain.split("."))  # written by hand from the DNS name
    assert f".\\rollout.ps1 -LinkTarget '{dn}' -WhatIf" in readme


def test_very_long_names(tmp_path: Path) -> None:
    long_host = ("h" * 63 + ".") * 3 + "x" * 8  # 200 characters: the longest host name accepted
    assert len(long_host) == 200
    prefix = "P" * 200
    # "<prefix> - wave 00 (<name>)": 200 + 12 + len(name) + 1 characters; the GPO name limit is 256.
    fits = "n" * 43
    plan = plan_doc([{"host": long_host, "change": "enable_4688"}])
    plan["waves"][0]["name"] = fits
    (o,) = write(tmp_path / "ok", plan, name_prefix=prefix)
    assert len(o.display_name) == 256
    info = ET.parse(o.backup_dir / "bkupInfo.xml").getroot()
    assert info.findtext(f"{{{MANIFEST_NS}}}GPODisplayName") == o.display_name
    for script in ("rollout.ps1", "verify.ps1", "rollback.ps1"):
        root = parse_script(o.script_dir / script)
        assert syntax_errors(root) == [], script
        literals = [ps_string(n.text.decode()) for n in walk(root)
                    if n.type == "verbatim_string_characters" and n.text is not None]
        assert long_host in literals, script
    assert assigned_literal(parse_script(o.script_dir / "rollout.ps1"), "GpoName") == o.display_name
    assert len(o.group_name) <= 64  # sAMAccountName-safe
    plan["waves"][0]["name"] = fits + "n"
    with pytest.raises(PlanError, match=re.escape("wave 0: GPO name") + ".*257 characters.*MS-ADA1"):
        write(tmp_path / "too-long", plan, name_prefix=prefix)
    assert not (tmp_path / "too-long").exists()


def test_cli_refuses_a_plan_edited_by_hand(tmp_path: Path) -> None:
    plan = plan_doc([{"host": "dc01"}], [{"host": "web01"}])
    plan["waves"][1]["hosts"].append({"host": "sql01"})  # added by hand: the plan_id no longer matches
    plan_file = tmp_path / "plan.json"
    plan_file.write_text(json.dumps(plan), encoding="utf-8")
    result = CliRunner().invoke(main, ["gpo", "--plan", str(plan_file), "--out", str(tmp_path / "out")])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert f"{plan_file}: plan_id" in result.output and "does not match its content (edited by hand?)" in result.output
    assert not (tmp_path / "out").exists()


def test_names_lose_controls_bidi_and_zero_width_characters(tmp_path: Path) -> None:
    # auditplan.text.CONTROL: C0/C1 controls, bidi overrides and zero-width characters become a space.
    (o,) = write(tmp_path / "ok", plan_doc([{"host": "web\u202e01\u200b.corp\x85x"}]))
    assert o.hosts == ("web 01 .corp x",)
    assert (o.script_dir / "hosts.txt").read_bytes() == b"web 01 .corp x\r\n"
    # Two names the plan tells apart but the GPO would not: one computer must not be in two waves.
    with pytest.raises(PlanError, match=r"wave 1: hosts\[0\]: host 'web 01' is already in wave 0"):
        write(tmp_path / "twice", plan_doc([{"host": "web\u202e01"}], [{"host": "web\u200b01"}]))
    with pytest.raises(PlanError, match=r"wave 0: hosts\[0\].host: empty"):
        write(tmp_path / "empty", plan_doc([{"host": "\u202e\u200b"}]))
