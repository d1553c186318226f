"""Wave GPOs never lower a host's effective audit policy (emit/gpo/audit_union.py), read back with
Samba's audit.csv parser: the union GPO for hosts whose policy is local, default or unknown, a
Process-Creation-only GPO for hosts whose policy a domain GPO delivers, and --process-creation-only.

A GPO with advanced audit policy clears the host's own policy first; GPOs merge per subcategory
(Microsoft, "Advanced security auditing FAQ"; docs/audit-policy-source.md)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from click.testing import CliRunner
from gpo_helpers import plan_doc, stamped, write
from samba_gpo import audit_settings

from auditplan.cli import main

PC = "{0cce922b-69ae-11d9-bed3-505054503030}"
LOGON = "{0cce9215-69ae-11d9-bed3-505054503030}"
LOCKOUT = "{0cce9217-69ae-11d9-bed3-505054503030}"
SHARE = "{0cce9224-69ae-11d9-bed3-505054503030}"
BITS = {"success": 1, "failure": 2, "success_and_failure": 3}


def _sub(guid: str, setting: str, name: str) -> dict[str, str]:
    return {"guid": guid, "setting": setting, "name": name}


HOSTS: list[dict[str, Any]] = [
    {"host": "tuned01", "audit_policy_source": "local", "prior_process_creation": "success_and_failure",
     "local_subcategories": [_sub(LOGON, "success_and_failure", "Logon"), _sub(SHARE, "success", "File Share")]},
    {"host": "plain01", "audit_policy_source": "default",
     "local_subcategories": [_sub(LOGON, "success", "Logon"), _sub(LOCKOUT, "success", "Account Lockout")]},
    {"host": "old01"},  # a plan from before audit_policy_source: unknown, treated as local
    {"host": "managed01", "audit_policy_source": "gpo", "prior_process_creation": "failure",
     "local_subcategories": [_sub(LOGON, "failure", "Logon")]},
]


def test_union_for_local_and_default_hosts_process_creation_only_for_gpo_hosts(tmp_path: Path) -> None:
    outputs = write(tmp_path, plan_doc(HOSTS))
    union, managed = outputs
    assert (union.kind, managed.kind) == ("", "gpo-managed")
    assert union.hosts == ("tuned01", "plain01", "old01") and managed.hosts == ("managed01",)
    got = audit_settings(union.backup_dir)
    # Every subcategory any of them has on, at the union of the flags; Process Creation at least as
    # high as on tuned01 (Success and Failure), never brought down to the wave's Success.
    assert got == {PC: 3, LOGON: 3, SHARE: 1, LOCKOUT: 1}
    for host in HOSTS[:2]:
        for sub in host["local_subcategories"]:
            assert got[sub["guid"]] & BITS[sub["setting"]] == BITS[sub["setting"]], (host["host"], sub)
    # The domain-GPO host: Process Creation only (its Failure flag kept), nothing else overridden.
    assert audit_settings(managed.backup_dir) == {PC: 3}
    assert managed.display_name.endswith(" - GPO-managed audit") and managed.group_name.endswith("-gpo")
    assert managed.script_dir.name == "wave-00-gpo" and union.script_dir.name == "wave-00"
    assert (managed.script_dir / "hosts.txt").read_bytes() == b"managed01\r\n"
    # Who gains what, named per host; nobody loses anything.
    assert dict(union.gains) == {
        "plain01": ("Logon (Failure added)", "File Share (Success added)"),
        "old01": ("Logon (Success and Failure added)", "Account Lockout (Success added)", "File Share (Success added)"),
        "tuned01": ("Account Lockout (Success added)",),
    }
    assert union.losses == () and union.unknown_source == ("old01",)
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "## Hosts whose audit policy already comes from a domain GPO" in readme
    assert "- wave 0: managed01" in readme and "- wave 0: plain01: Logon (Failure added), File Share (Success added)" in readme
    assert "- wave 0 (source unknown): old01" in readme.split("## Hosts whose audit policy source is unknown", 1)[1]


def test_process_creation_only_is_the_old_gpo_and_names_what_it_switches_off(tmp_path: Path) -> None:
    (only,) = write(tmp_path, plan_doc(HOSTS), process_creation_only=True)
    assert audit_settings(only.backup_dir) == {PC: 1}
    assert only.hosts == ("tuned01", "plain01", "old01", "managed01")
    # The domain-GPO host keeps its subcategories (GPOs merge per subcategory); the others lose theirs.
    assert dict(only.losses) == {"tuned01": ("File Share", "Logon"), "plain01": ("Account Lockout", "Logon")}
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "- wave 0: tuned01: File Share, Logon" in readme


def test_cli_prints_per_host_what_process_creation_only_switches_off(tmp_path: Path) -> None:
    import json

    plan = tmp_path / "plan.json"
    plan.write_text(json.dumps(stamped(plan_doc(HOSTS))), encoding="utf-8")
    only = CliRunner().invoke(main, ["gpo", "--plan", str(plan), "--out", str(tmp_path / "a"),
                                     "--process-creation-only"])
    assert only.exit_code == 0, only.output
    assert "  tuned01: switches off File Share, Logon" in only.output
    assert "  plain01: switches off Account Lockout, Logon" in only.output
    union = CliRunner().invoke(main, ["gpo", "--plan", str(plan), "--out", str(tmp_path / "b")])
    assert union.exit_code == 0, union.output
    assert "switches off" not in union.output and "3 host(s) gain subcategories" in union.output
    assert "GPO-managed audit" in union.output
    both = CliRunner().invoke(main, ["gpo", "--plan", str(plan), "--out", str(tmp_path / "c"),
                                     "--process-creation-only", "--preserve-local"])
    assert both.exit_code == 2 and "contradict" in both.output
