"""The wave scripts, read with tree-sitter-powershell: re-runnable rollout, per-host rollback, IP hosts.

Cmdlet parameters are checked against Microsoft's GroupPolicy / ActiveDirectory module docs
(learn.microsoft.com/powershell/module/grouppolicy/..., MicrosoftDocs/windows-powershell-docs
docset/winserver2022-ps), not against our templates.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from gpo_helpers import (
    arguments,
    assigned_literal,
    commands,
    hash_keys,
    parse_script,
    plan_doc,
    syntax_errors,
    text,
    walk,
    write,
)
from tree_sitter import Node

from auditplan.emit.gpo.backups import is_ip_address

LOGON = "{0cce9215-69ae-11d9-bed3-505054503030}"
ACCOUNT_LOCKOUT = "{0cce9217-69ae-11d9-bed3-505054503030}"
PROCESS_CREATION = "{0cce922b-69ae-11d9-bed3-505054503030}"

# Parameter names and aliases per the module docs ("Syntax" and "Aliases" of each page).
DOCUMENTED_PARAMETERS: dict[str, set[str]] = {
    "Get-GPInheritance": {"Target", "Domain", "Server"},
    "New-GPLink": {"Guid", "Name", "Target", "LinkEnabled", "Order", "Domain", "Server", "Enforced", "WhatIf",
                   "Confirm"},
    "Set-GPLink": {"Guid", "Name", "Target", "LinkEnabled", "Order", "Domain", "Server", "Enforced", "WhatIf",
                   "Confirm"},
    "Import-GPO": {"BackupId", "BackupGpoName", "Path", "TargetGuid", "TargetName", "MigrationTable",
                   "CreateIfNeeded", "Domain", "DomainName", "Server", "WhatIf", "Confirm"},
    "Set-GPPermission": {"Guid", "Name", "PermissionLevel", "TargetName", "TargetType", "DomainName", "Domain",
                         "Server", "All", "Replace", "WhatIf", "Confirm"},
    "Get-GPO": {"Guid", "Name", "All", "Domain", "Server"},
    "Get-ADGroup": {"Filter", "Identity", "LDAPFilter", "Properties", "Server", "SearchBase", "Credential"},
    "Get-ADComputer": {"Filter", "Identity", "LDAPFilter", "Properties", "Server", "SearchBase", "Credential"},
    "Add-ADGroupMember": {"Identity", "Members", "Server", "Credential", "PassThru", "WhatIf", "Confirm"},
    "Invoke-Command": {"ComputerName", "ScriptBlock", "ArgumentList", "Credential"},
    # docset/winserver2022-ps/activedirectory/Get-ADDomain.md and New-ADGroup.md
    "Get-ADDomain": {"AuthType", "Credential", "Current", "Identity", "Server"},
    "New-ADGroup": {"WhatIf", "Confirm", "AuthType", "Credential", "Description", "DisplayName", "GroupCategory",
                    "GroupScope", "HomePage", "Instance", "ManagedBy", "Name", "OtherAttributes", "PassThru", "Path",
                    "SamAccountName", "Server"},
}
# Members of the Microsoft.GroupPolicy.GpoStatus enumeration (learn.microsoft.com, "GpoStatus Enumeration").
GPO_STATUS = {"AllSettingsDisabled", "AllSettingsEnabled", "ComputerSettingsDisabled", "UserSettingsDisabled"}
# Cmdlets of the ActiveDirectory and GroupPolicy modules that rollout.ps1 must send to one DC.
DIRECTORY_CMDLETS = {"Get-ADGroup", "Get-ADComputer", "Add-ADGroupMember", "Import-GPO", "Set-GPPermission", "Get-GPO",
                     "Get-GPInheritance", "Set-GPLink", "New-GPLink"}


def _wave(tmp_path: Path, hosts: list[dict[str, Any]], **options: Any) -> Path:
    (o,) = write(tmp_path, plan_doc(hosts), **options)
    return o.script_dir


def _inside(node: Node, kind: str) -> Node | None:
    parent = node.parent
    while parent is not None and parent.type != kind:
        parent = parent.parent
    return parent


def _if_conditions(node: Node) -> list[str]:
    """The conditions of every if statement around node, innermost first."""
    found = []
    parent = _inside(node, "if_statement")
    while parent is not None:
        found.append(text(parent.children[2]))
        parent = _inside(parent, "if_statement")
    return found


def test_rollout_reuses_an_existing_link_instead_of_failing(tmp_path: Path) -> None:
    root = parse_script(_wave(tmp_path, [{"host": "web01"}]) / "rollout.ps1")
    assert syntax_errors(root) == []
    found = {name: node for name, _params, node in commands(root)}
    assert {"Get-GPInheritance", "Set-GPLink", "New-GPLink", "Import-GPO"} <= set(found)
    # New-GPLink and Set-GPLink are the two branches of one if: the link exists -> enable it, else create it.
    new_if = _inside(found["New-GPLink"], "if_statement")
    set_if = _inside(found["Set-GPLink"], "if_statement")
    outer = [n for n in walk(root) if n.type == "if_statement" and new_if is not None and set_if is not None
             and n.start_byte <= min(new_if.start_byte, set_if.start_byte) and n.end_byte >= new_if.end_byte
             and any(c.type == "else_clause" for c in n.children)]
    assert outer, "New-GPLink and Set-GPLink are not the branches of one if/else"
    guard = min(outer, key=lambda n: n.end_byte - n.start_byte)
    else_clause = next(c for c in guard.children if c.type == "else_clause")
    assert else_clause.start_byte <= found["New-GPLink"].start_byte < else_clause.end_byte
    assert not else_clause.start_byte <= found["Set-GPLink"].start_byte < else_clause.end_byte
    # Its condition reads the links found by Get-GPInheritance ... .GpoLinks at the same target.
    condition = text(guard.children[2])
    assigned = [n for n in walk(root) if n.type == "assignment_expression"
                and text(n.children[0]).strip() in condition and "Get-GPInheritance" in text(n.children[2])]
    assert assigned and ".GpoLinks" in text(assigned[0].children[2])
    assert "$LinkTarget" in text(found["Get-GPInheritance"])
    set_params = dict(zip(*[iter([c for c in found["Set-GPLink"].children[1].children
                                  if c.type in ("command_parameter", "generic_token")])] * 2, strict=False))
    assert {text(k): text(v) for k, v in set_params.items()}.get("-LinkEnabled") == "Yes"
    # The GPO itself is created only when missing; the group only when Get-ADGroup found none.
    assert "-CreateIfNeeded" in text(found["Import-GPO"])
    assert "-not $group" in _if_conditions(found["New-ADGroup"])
    # New-GPLink, like every change, also waits for ShouldProcess (-WhatIf).
    assert any("ShouldProcess" in c for c in _if_conditions(found["New-GPLink"]))


def test_scripts_use_only_documented_cmdlet_parameters(tmp_path: Path) -> None:
    script_dir = _wave(tmp_path, [{"host": "web01", "change": "enable_4688"}, {"host": "10.0.0.7"}])
    seen: set[str] = set()
    for script in ("rollout.ps1", "verify.ps1", "rollback.ps1"):
        for name, params, _node in commands(parse_script(script_dir / script)):
            if name in DOCUMENTED_PARAMETERS:
                seen.add(name)
                assert set(params) <= DOCUMENTED_PARAMETERS[name], (script, name, params)
    assert {"Get-GPInheritance", "New-GPLink", "Set-GPLink", "Import-GPO", "Set-GPPermission", "Get-ADDomain",
            "Get-GPO", "Add-ADGroupMember", "Invoke-Command"} <= seen
    # New-ADGroup takes its parameters from a splatted hash table.
    rollout = parse_script(script_dir / "rollout.ps1")
    (new_group,) = [node for name, _p, node in commands(rollout) if name == "New-ADGroup"]
    assert arguments(new_group)[1] == ["@newGroup"]
    keys = hash_keys(rollout, "newGroup")
    assert {"Name", "GroupScope", "Server", "PassThru"} <= keys <= DOCUMENTED_PARAMETERS["New-ADGroup"]


def test_rollout_sends_every_directory_call_to_one_domain_controller(tmp_path: Path) -> None:
    root = parse_script(_wave(tmp_path, [{"host": "web01"}, {"host": "10.0.0.7"}]) / "rollout.ps1")
    assert syntax_errors(root) == []
    found = commands(root)
    names = {name for name, _p, _n in found}
    assert DIRECTORY_CMDLETS <= names
    for name, _params, node in found:
        if name in DIRECTORY_CMDLETS:
            assert arguments(node)[0].get("Server") == "$dc", (name, text(node))
    assert "Server" in hash_keys(root, "newGroup")
    assert any(text(n) == "Server = $dc" for n in walk(root) if n.type == "hash_entry")
    # $dc is the -Server given, else the PDC emulator of the domain (Get-ADDomain ... .PDCEmulator).
    dc = [n for n in walk(root) if n.type == "assignment_expression" and text(n.children[0]).strip() == "$dc"]
    assert sorted(text(n.children[2]) for n in dc) == sorted(
        ["$Server", "(Get-ADDomain -Identity $Domain -Server $Domain).PDCEmulator"])
    # The member is added to the group object found or created, not looked up by name again.
    (add,) = [node for name, _p, node in commands(root) if name == "Add-ADGroupMember"]
    assert arguments(add)[0]["Identity"] == "$group"
    new_group = next(node for name, _p, node in commands(root) if name == "New-ADGroup")
    created = _inside(new_group, "assignment_expression")
    assert created is not None and text(created.children[0]).strip() == "$group"
    assert "PassThru" in hash_keys(root, "newGroup")


def test_rollout_enables_the_settings_rollback_disabled(tmp_path: Path) -> None:
    script_dir = _wave(tmp_path, [{"host": "web01"}])
    rollout = parse_script(script_dir / "rollout.ps1")
    rollback = parse_script(script_dir / "rollback.ps1")
    assert syntax_errors(rollout) == [] and syntax_errors(rollback) == []

    def status_assignments(root: Node) -> list[tuple[str, Node]]:
        return [(text(n.children[2]).strip(), n) for n in walk(root) if n.type == "assignment_expression"
                and text(n.children[0]).strip().endswith(".GpoStatus")]

    # rollback.ps1 -DisableGpo disables all settings; rollout.ps1 sets them enabled again.
    assert [v for v, _n in status_assignments(rollback)] == ["'AllSettingsDisabled'"]
    ((value, node),) = status_assignments(rollout)
    assert value == "'AllSettingsEnabled'"
    assert {v.strip("'") for v, _n in status_assignments(rollout) + status_assignments(rollback)} <= GPO_STATUS
    conditions = _if_conditions(node)
    assert any("ShouldProcess" in c for c in conditions)
    # Only when the GPO's status is not already AllSettingsEnabled, read from Get-GPO for this GPO.
    assert any(".GpoStatus -ne 'AllSettingsEnabled'" in c for c in conditions)
    (get_gpo,) = [n for name, _p, n in commands(rollout) if name == "Get-GPO"]
    assert arguments(get_gpo)[0]["Name"] == "$GpoName"
    holder = _inside(get_gpo, "assignment_expression")
    assert holder is not None and text(holder.children[0]).strip() == text(node.children[0]).split(".")[0]
    # After Import-GPO (which creates the GPO on a first run), not before.
    (import_gpo,) = [n for name, _p, n in commands(rollout) if name == "Import-GPO"]
    assert import_gpo.start_byte < get_gpo.start_byte < node.start_byte


def test_rollback_reverts_hosts_with_an_optional_credential(tmp_path: Path) -> None:
    root = parse_script(_wave(tmp_path, [{"host": "web01", "change": "enable_4688"}]) / "rollback.ps1")
    assert syntax_errors(root) == []
    params = next(n for n in walk(root) if n.type == "param_block")
    assert "[System.Management.Automation.PSCredential] $Credential" in " ".join(text(params).split())
    (invoke,) = [n for name, _p, n in commands(root) if name == "Invoke-Command"]
    named, other = arguments(invoke)
    assert named["ComputerName"] == "$state.Computer" and other == ["@remoting"]
    assert hash_keys(root, "remoting") == {"Credential"}
    # The credential goes in only when one was given.
    setter = next(n for n in walk(root) if n.type == "assignment_expression"
                  and text(n.children[0]).strip() == "$remoting['Credential']")
    assert text(setter.children[2]).strip() == "$Credential"
    assert "$Credential" in _if_conditions(setter)


def test_rollback_restores_each_hosts_prior_state(tmp_path: Path) -> None:
    hosts: list[dict[str, Any]] = [
        # Process Creation was already on, only the command line was missing (docs/plan-json.md `change`).
        {"host": "dc01", "change": "cmdline_only"},
        {"host": "web01", "change": "enable_4688", "local_subcategories": [
            {"guid": LOGON, "setting": "success_and_failure", "name": "Logon"},
            {"guid": ACCOUNT_LOCKOUT.upper(), "setting": "failure", "name": "Account Lockout"}]},
        {"host": "old01"},  # a plan without `change`: the prior state is unknown
    ]
    root = parse_script(_wave(tmp_path, hosts) / "rollback.ps1")
    assert syntax_errors(root) == []
    prior = {p["Computer"]: p for p in assigned_literal(root, "PriorState")}
    assert prior["dc01"]["ProcessCreation"] == ["/success:enable"]  # not turned off: it was on before
    assert prior["dc01"]["CommandLine"] == 0 and prior["dc01"]["Subcategories"] == []
    assert prior["web01"]["ProcessCreation"] == ["/success:disable", "/failure:disable"]
    assert prior["web01"]["CommandLine"] == 0
    assert prior["web01"]["Subcategories"] == [
        {"Guid": LOGON, "Success": "enable", "Failure": "enable"},
        {"Guid": ACCOUNT_LOCKOUT, "Success": "disable", "Failure": "enable"},
    ]
    assert prior["old01"]["ProcessCreation"] == [] and prior["old01"]["CommandLine"] == -1
    # No auditpol call carries a fixed "/success:disable" any more: the flags come from the host's state.
    for name, _params, node in commands(root):
        if name == "auditpol.exe":
            assert "disable" not in text(node) and "enable" not in text(node), text(node)
    # -RevertHosts sends each host its own state.
    invoke = next(node for name, _p, node in commands(root) if name == "Invoke-Command")
    loop = _inside(invoke, "foreach_statement")
    assert loop is not None and "$PriorState" in text(loop).split(")")[0]
    assert "-ArgumentList $state" in text(invoke)


def test_ip_hosts_are_resolved_through_dns_and_named_when_they_cannot_be(tmp_path: Path) -> None:
    hosts = [{"host": "10.1.2.3"}, {"host": "fe80::1"}, {"host": "web01.corp.example"}, {"host": "10"}]
    script_dir = _wave(tmp_path, hosts)
    root = parse_script(script_dir / "rollout.ps1")
    assert syntax_errors(root) == []
    assert assigned_literal(root, "IpAddresses") == ["10.1.2.3", "fe80::1"]
    assert assigned_literal(root, "Computers") == ["10.1.2.3", "fe80::1", "web01.corp.example", "10"]
    lookup = [n for n in walk(root) if n.type == "invokation_expression" and "GetHostEntry" in text(n)] or \
        [n for n in walk(root) if "[System.Net.Dns]::GetHostEntry($computer)" == text(n)]
    assert lookup, "no [System.Net.Dns]::GetHostEntry call"
    # The lookup sits in a try whose catch records the host and the reason instead of stopping the run.
    try_node = _inside(lookup[0], "try_statement")
    assert try_node is not None
    catch = next(c for c in walk(try_node) if c.type == "catch_clauses")
    assert "$computer" in text(catch) and "reverse lookup failed" in text(catch) and "$_.Exception.Message" in text(catch)
    # Unmapped hosts end in a warning naming each one.
    warnings = [node for name, _p, node in commands(root) if name == "Write-Warning"]
    assert any("$line" in text(w) and "$unmapped" in text(_inside(w, "foreach_statement") or w) for w in warnings)
    readme = (tmp_path / "README.md").read_text(encoding="utf-8")
    assert "- wave 0: 10.1.2.3" in readme and "- wave 0: fe80::1" in readme and "- wave 0: 10\n" not in readme


@pytest.mark.parametrize(
    ("host", "expected"),
    [("10.1.2.3", True), ("fe80::1", True), ("[2001:db8::1]", True), ("fe80::1%eth0", True),
     ("10", False), ("10.1", False), ("web01", False), ("1.2.3.4.example.com", False)],
)
def test_ip_address_detection(host: str, expected: bool) -> None:
    # Python's parser is strict, unlike .NET's IPAddress.TryParse ("10" -> 0.0.0.10), hence decided here.
    assert is_ip_address(host) is expected
