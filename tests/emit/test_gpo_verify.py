"""verify.ps1, read with tree-sitter-powershell: auditpol writes to a new file and its failure is
reported, each host gets a code, the GPO must be in the applied list, and a 4688 with a CommandLine
must have been logged since the check began.

`auditpol /backup /file:` refuses a file that exists (the survey's probe deletes first for the same
reason), so `[System.IO.Path]::GetTempFileName()`, which creates the file, must not name it.
"""

from __future__ import annotations

from pathlib import Path

from gpo_helpers import arguments, commands, parse_script, plan_doc, ps_string, syntax_errors, text, walk, write
from tree_sitter import Node

# Get-WinEvent's parameters (learn.microsoft.com/powershell/module/microsoft.powershell.diagnostics/get-winevent)
# plus the common parameters.
GET_WINEVENT = {"LogName", "FilterXPath", "MaxEvents", "ComputerName", "Credential", "Oldest", "Force",
                "ListLog", "ListProvider", "ProviderName", "Path", "FilterXml", "FilterHashtable", "ErrorAction"}


def _verify(tmp_path: Path) -> tuple[Node, str]:
    (o,) = write(tmp_path, plan_doc([{"host": "web01"}, {"host": "db01"}]))
    root = parse_script(o.script_dir / "verify.ps1")
    assert syntax_errors(root) == []
    return root, o.display_name


def _assignments(root: Node, variable: str) -> list[Node]:
    return [n for n in walk(root) if n.type == "assignment_expression"
            and text(n.children[0]).strip().lower() == f"${variable}".lower()]


def test_auditpol_backs_up_into_a_file_that_does_not_exist_and_its_failure_is_reported(tmp_path: Path) -> None:
    root, _ = _verify(tmp_path)
    assert "GetTempFileName" not in text(root)
    (auditpol,) = [node for name, _p, node in commands(root) if name == "auditpol.exe"]
    _named, other = arguments(auditpol)
    assert other == ["/backup", "('/file:' + $file)", "2>&1"]
    # The file name is new: TEMP + a fresh GUID, never created before auditpol runs.
    (file_assignment,) = _assignments(root, "file")
    value = text(file_assignment.children[2])
    assert "Join-Path" in value and "$env:TEMP" in value and "[guid]::NewGuid()" in value
    # Its output is kept (no Out-Null) and its exit code read right after it.
    holder = auditpol.parent
    while holder is not None and holder.type != "assignment_expression":
        holder = holder.parent
    assert holder is not None and text(holder.children[0]).strip() == "$output"
    assert "Out-Null" not in text(holder)
    (rc,) = _assignments(root, "rc")
    assert text(rc.children[2]).strip() == "$LASTEXITCODE" and rc.start_byte > auditpol.end_byte
    error = next(n for n in _assignments(root, "auditpolError") if "exited with" in text(n))
    assert "$rc" in text(error) and "$output" in text(error)
    # The file is removed in a finally, by its literal path.
    (remove,) = [node for name, _p, node in commands(root) if name == "Remove-Item"]
    assert arguments(remove)[0]["LiteralPath"] == "$file"
    assert any(n.type == "finally_clause" and remove.start_byte >= n.start_byte for n in walk(root))


def test_each_host_gets_a_code_and_the_script_exits_with_the_worst(tmp_path: Path) -> None:
    root, display_name = _verify(tmp_path)
    codes = {text(n.children[0]).strip(): text(n.children[2]).strip() for n in walk(root)
             if n.type == "assignment_expression" and text(n.children[0]).strip().startswith("$Code")}
    assert codes == {"$CodeOk": "0", "$CodeGpoNotApplied": "1", "$CodePolicyWrong": "2", "$CodeNo4688": "3",
                     "$CodeCheckFailed": "4"}
    # One result object per host carries its Code; the last statement exits with the worst code.
    objects = [n for n in walk(root) if n.type == "hash_literal_expression" and "Computer = $computer" in text(n)]
    assert len(objects) == 1 and "Code = $code" in text(objects[0])
    loop = objects[0].parent
    while loop is not None and loop.type != "foreach_statement":
        loop = loop.parent
    assert loop is not None and "$computer in $ComputerName" in text(loop)
    assert [n for n in walk(root) if n.type == "flow_control_statement"][-1].text == b"exit $worst"
    # A remoting failure is a code 4 with its message, not a silent false.
    catch = next(n for n in walk(loop) if n.type == "catch_clause")
    assert "$CodeCheckFailed" in text(catch) and "$_.Exception.Message" in text(catch)
    # The GPO to look for is this wave's, by display name, in the Group Policy client's applied list.
    gpo_default = next(n for n in walk(root) if n.type == "script_parameter" and "$GpoName" in text(n))
    literal = next(n for n in walk(gpo_default) if n.type == "verbatim_string_characters")
    assert ps_string(text(literal)) == display_name
    (list_key,) = _assignments(root, "listKey")
    assert ps_string(text(list_key.children[2]).strip()) == (
        r"HKLM:\Software\Microsoft\Windows\CurrentVersion\Group Policy\State\Machine\GPO-List")
    assert "@($state.Applied) -contains $GpoName" in text(root)


def test_a_4688_with_a_command_line_since_the_check_began_is_required(tmp_path: Path) -> None:
    root, _ = _verify(tmp_path)
    (get_winevent,) = [node for name, _p, node in commands(root) if name == "Get-WinEvent"]
    named, _ = arguments(get_winevent)
    assert set(named) <= GET_WINEVENT and ps_string(named["LogName"] or "") == "Security"
    assert named["FilterXPath"] == "$xpath"
    (xpath,) = _assignments(root, "xpath")
    assert "EventID=4688" in text(xpath) and "TimeCreated[@SystemTime>=" in text(xpath) and "$since" in text(xpath)
    # SystemTime is UTC: the bound is formatted in UTC with a Z.
    (since,) = _assignments(root, "since")
    assert "$SinceUtc.ToString('yyyy-MM-ddTHH:mm:ss.fffZ')" == text(since.children[2]).strip()
    defaults = [text(n.children[2]).strip() for n in _assignments(root, "SinceUtc")]
    assert "$started.AddSeconds(-1)" in defaults and "$Since.Value.ToUniversalTime()" in defaults
    # Counted only when the event's CommandLine data is not empty.
    assert any("$_.Name -eq 'CommandLine'" in text(n) for n in walk(root) if n.type == "script_block_expression")
    assert "$CodeNo4688" in text(root).split("With4688CommandLine -eq 0", 1)[1].split("}", 1)[0]
