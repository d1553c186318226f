"""rollout.ps1 and rollback.ps1, read with tree-sitter-powershell: the exact cmdlet calls each issues
for a wave. Existing GPOs with audit or command-line settings are listed and one that disables
command-line auditing stops the run without -Force; computers are found by DNS host name or
sAMAccountName (NAME$); members that left the wave are removed; the link gets an explicit order;
rollback.ps1 pins one domain controller.

Parameters are checked against Microsoft's module docs (docset winserver2022-ps: activedirectory
Get-ADComputer, Get-ADGroupMember, Remove-ADGroupMember; grouppolicy New-GPLink, Set-GPLink,
Get-GPRegistryValue, Get-GPInheritance), not against our templates.
"""

from __future__ import annotations

from pathlib import Path

from gpo_helpers import arguments, commands, parse_script, plan_doc, ps_string, syntax_errors, text, walk, write
from tree_sitter import Node

DOCUMENTED = {
    "Get-ADGroupMember": {"Identity", "Server", "Recursive", "Credential", "AuthType", "Partition"},
    "Remove-ADGroupMember": {"Identity", "Members", "Server", "Credential", "AuthType", "Partition", "PassThru",
                             "DisablePermissiveModify", "WhatIf", "Confirm"},
    "Get-GPRegistryValue": {"Guid", "Name", "Key", "ValueName", "Domain", "Server"},
    "Get-ADComputer": {"Filter", "Identity", "LDAPFilter", "Properties", "Server", "SearchBase", "Credential"},
    "New-GPLink": {"Guid", "Name", "Target", "LinkEnabled", "Order", "Domain", "Server", "Enforced", "WhatIf",
                   "Confirm"},
    "Set-GPLink": {"Guid", "Name", "Target", "LinkEnabled", "Order", "Domain", "Server", "Enforced", "WhatIf",
                   "Confirm"},
    "Get-GPInheritance": {"Target", "Domain", "Server"},
    "Get-GPO": {"Guid", "Name", "All", "Domain", "Server"},
}


def _scripts(tmp_path: Path) -> tuple[Node, Node]:
    (o,) = write(tmp_path, plan_doc([{"host": "web01"}, {"host": "verylongservername01.corp.example"}]))
    rollout, rollback = parse_script(o.script_dir / "rollout.ps1"), parse_script(o.script_dir / "rollback.ps1")
    assert syntax_errors(rollout) == [] and syntax_errors(rollback) == []
    return rollout, rollback


def _calls(root: Node, name: str) -> list[Node]:
    return [node for n, _p, node in commands(root) if n == name]


def _enclosing_ifs(node: Node) -> list[str]:
    out, parent = [], node.parent
    while parent is not None:
        if parent.type == "if_statement":
            out.append(text(parent.children[2]))
        parent = parent.parent
    return out


def test_parameters_are_the_documented_ones(tmp_path: Path) -> None:
    for root in _scripts(tmp_path):
        for name, params, _node in commands(root):
            if name in DOCUMENTED:
                assert set(params) <= DOCUMENTED[name], (name, params)


def test_members_that_left_the_wave_are_removed_from_its_group(tmp_path: Path) -> None:
    rollout, _ = _scripts(tmp_path)
    (remove,) = _calls(rollout, "Remove-ADGroupMember")
    named, _other = arguments(remove)
    assert named == {"Identity": "$group", "Members": "$member", "Server": "$dc", "Confirm:": None} or (
        named["Identity"] == "$group" and named["Members"] == "$member" and named["Server"] == "$dc")
    assert "-Confirm:$false" in text(remove)
    # It removes the group's computer members whose DN is not among the wave's accounts ($wanted),
    # each behind ShouldProcess (-WhatIf), and only when every wave host was found.
    loop = remove.parent
    while loop is not None and loop.type != "foreach_statement":
        loop = loop.parent
    assert loop is not None and "$member in $stale" in text(loop)
    (get_members,) = _calls(rollout, "Get-ADGroupMember")
    assert arguments(get_members)[0] == {"Identity": "$group", "Server": "$dc"}
    stale = next(n for n in walk(rollout) if n.type == "assignment_expression" and text(n.children[0]).strip() == "$stale")
    assert "$_.objectClass -eq 'computer'" in text(stale) and "$wanted -notcontains $_.distinguishedName" in text(stale)
    conditions = _enclosing_ifs(remove)
    assert any("ShouldProcess" in c for c in conditions) and any("$unmapped.Count -eq 0" in c for c in conditions)
    # $wanted collects each found account's DN, the same accounts Add-ADGroupMember adds.
    wanted = [n for n in walk(rollout) if n.type == "assignment_expression" and text(n.children[0]).strip() == "$wanted"]
    assert [text(n.children[1]) + text(n.children[2]) for n in wanted][-1].strip().endswith("$account.DistinguishedName")
    (add,) = _calls(rollout, "Add-ADGroupMember")
    assert arguments(add)[0] == {"Identity": "$group", "Members": "$account", "Server": "$dc"}


def test_computers_are_found_by_dns_host_name_or_sam_account_name(tmp_path: Path) -> None:
    rollout, _ = _scripts(tmp_path)
    filters = []
    for call in _calls(rollout, "Get-ADComputer"):
        named, _ = arguments(call)
        assert named["Server"] == "$dc"
        filters.append(ps_string(named["Filter"] or ""))
    assert filters == ["DNSHostName -eq $Name", "sAMAccountName -eq $sam", "DNSHostName -like $prefix"]
    assignments = {text(n.children[0]).strip(): text(n.children[2]).strip() for n in walk(rollout)
                   if n.type == "assignment_expression" and text(n.children[0]).strip() in ("$sam", "$prefix")}
    assert assignments == {"$sam": "$label + '$'", "$prefix": "$label + '.*'"}
    # sAMAccountName holds at most 15 characters before the $: longer names go by their DNS host name.
    sam_call = _calls(rollout, "Get-ADComputer")[1]
    assert any("$label.Length -le 15" in c for c in _enclosing_ifs(sam_call))
    # No lookup by CN any more (it fails past 15 characters).
    assert "Name -eq $name" not in text(rollout)


def test_existing_gpos_are_listed_and_a_cmdline_disabling_one_stops_the_run(tmp_path: Path) -> None:
    rollout, _ = _scripts(tmp_path)
    inheritance = _calls(rollout, "Get-GPInheritance")
    assert all(arguments(c)[0]["Server"] == "$dc" for c in inheritance)
    (value,) = _calls(rollout, "Get-GPRegistryValue")
    named, _ = arguments(value)
    assert named == {"Guid": "$link.GpoId", "Key": "$CmdLineKey", "ValueName": "$CmdLineValue", "Domain": "$Domain",
                     "Server": "$dc"}
    constants = {text(n.children[0]).strip(): ps_string(text(n.children[2]).strip()) for n in walk(rollout)
                 if n.type == "assignment_expression" and text(n.children[0]).strip() in ("$CmdLineKey", "$CmdLineValue")}
    # AuditSettings.admx: the value behind "Include command line in process creation events" (gpo-backup-format.md §A2).
    assert constants == {"$CmdLineKey": r"HKLM\Software\Microsoft\Windows\CurrentVersion\Policies\System\Audit",
                         "$CmdLineValue": "ProcessCreationIncludeCmdLine_Enabled"}
    assert "InheritedGpoLinks" in text(rollout)
    # The refusal: a throw guarded by "some GPO disables it and not -Force", before any change.
    throws = [n for n in walk(rollout) if n.type == "flow_control_statement" and text(n).startswith("throw ('Not linked")]
    assert len(throws) == 1
    assert any("$disablesCmdLine.Count -gt 0 -and -not $Force" in c for c in _enclosing_ifs(throws[0]))
    (import_gpo,) = _calls(rollout, "Import-GPO")
    first_change = min(n.start_byte for name in ("New-ADGroup", "Add-ADGroupMember", "Import-GPO", "New-GPLink")
                       for n in _calls(rollout, name))
    assert throws[0].start_byte < first_change <= import_gpo.start_byte
    params = next(n for n in walk(rollout) if n.type == "param_block")
    assert "[switch] $Force" in text(params)


def test_the_link_order_is_explicit(tmp_path: Path) -> None:
    rollout, _ = _scripts(tmp_path)
    for name in ("New-GPLink", "Set-GPLink"):
        (call,) = _calls(rollout, name)
        assert arguments(call)[0]["Order"] == "$LinkOrder", name
    params = next(n for n in walk(rollout) if n.type == "param_block")
    assert "[int] $LinkOrder = 1" in " ".join(text(params).split())


def test_rollback_pins_one_domain_controller(tmp_path: Path) -> None:
    _, rollback = _scripts(tmp_path)
    for name in ("Get-GPInheritance", "Set-GPLink", "Get-GPO"):
        for call in _calls(rollback, name):
            assert arguments(call)[0].get("Server") == "$dc", name
    dc = sorted(text(n.children[2]).strip() for n in walk(rollback)
                if n.type == "assignment_expression" and text(n.children[0]).strip() == "$dc")
    assert dc == ["$Server", "[System.DirectoryServices.ActiveDirectory.Domain]::GetDomain($context).PdcRoleOwner.Name"]
