"""The cmd.exe emulator: operators, quoting, escapes, redirection, expansion, echo, find, errors.

Expected bytes come from windows-tool-outputs.md (section named at each test) or from cmd's
documented rules, worked out by hand.
"""

from __future__ import annotations

import pytest

from auditplan.simulator.cmd_files import FileSystem
from auditplan.simulator.cmd_shell import Shell
from auditplan.simulator.host import SimulatedHost
from auditplan.simulator.interface import CommandOutput
from auditplan.simulator.profile import HostProfile
from auditplan.simulator.tools_find import find_tool

TEMP = "C:\\Users\\auditor\\AppData\\Local\\Temp"


def _fail_tool(ctx: object) -> CommandOutput:
    return CommandOutput(b"", b"boom\r\n", 5)


def shell(fs: FileSystem | None = None, codepage: int = 437) -> Shell:
    return Shell(
        env={"TEMP": TEMP, "COMPUTERNAME": "DC01", "SystemRoot": "C:\\Windows"},
        fs=fs or FileSystem(),
        tools={"find": find_tool, "failing": _fail_tool},
        codepage=codepage,
        cwd="C:\\Users\\auditor",
    )


def run(line: str, fs: FileSystem | None = None, codepage: int = 437) -> CommandOutput:
    return shell(fs, codepage).run_line(line)


# --- echo (§9.2) ---------------------------------------------------------------------------------


def test_echo_keeps_the_space_before_ampersand() -> None:
    # §9.2: `echo abc & echo def` prints `abc ` (with the space) + CRLF, `echo abc& echo def` `abc`.
    assert run("echo abc & echo def").stdout == b"abc \r\ndef\r\n"
    assert run("echo abc& echo def").stdout == b"abc\r\ndef\r\n"


def test_echo_byte_counts_measured_on_windows() -> None:
    # §9.2 (otn.hatenablog.jp): `echo ABC` -> 5 bytes; `echo ABC>abc.txt` -> 5 bytes;
    # `(echo ABC&echo DEF)>abc.txt` -> 10 bytes; `(echo ABC&echo DEF)|` passes `ABC \r\nDEF \r\n`
    # (12 bytes); `echo ABC|` adds no space.
    assert run("echo ABC").stdout == b"ABC\r\n"
    fs = FileSystem()
    run("echo ABC>abc.txt", fs)
    assert fs.read("C:\\Users\\auditor\\abc.txt") == b"ABC\r\n"
    run("(echo ABC&echo DEF)>abc2.txt", fs)
    assert len(fs.read("C:\\Users\\auditor\\abc2.txt") or b"") == 10
    assert run('(echo ABC&echo DEF)|find /v "zzz"').stdout == b"ABC \r\nDEF \r\n"
    assert run('echo ABC|find /v "zzz"').stdout == b"ABC\r\n"


def test_echo_dot_and_bare_echo() -> None:
    # §9.2: `echo.` prints an empty line; `echo` alone prints `ECHO is on.`
    assert run("echo.").stdout == b"\r\n"
    assert run("echo").stdout == b"ECHO is on.\r\n"
    assert run("echo.##AP:x").stdout == b"##AP:x\r\n"


def test_echo_keeps_inner_whitespace_and_quotes() -> None:
    assert run('echo "a & b"  c').stdout == b'"a & b"  c\r\n'


# --- operators -----------------------------------------------------------------------------------


def test_ampersand_runs_both_and_reports_the_last() -> None:
    out = run("failing & echo after")
    assert out.stdout == b"after\r\n"
    assert out.stderr == b"boom\r\n"
    # The line's exit code is the last command's own (echo: 0); ERRORLEVEL keeps the 5.
    assert out.exit_code == 0
    assert run("failing & echo x & call echo %^ERRORLEVEL%").stdout == b"x \r\n5\r\n"
    # With && the failing command is the last one executed.
    assert run("failing && echo not-run").exit_code == 5


def test_and_and_or_or_follow_each_command_result() -> None:
    assert run("echo a && echo b").stdout == b"a \r\nb\r\n"
    assert run("failing && echo not-run").stdout == b""
    assert run("failing || echo ran").stdout == b"ran\r\n"
    assert run("echo ok || echo not-run").stdout == b"ok \r\n"
    assert run("failing && echo x || echo fallback").stdout == b"fallback\r\n"


def test_pipe_feeds_stdout_into_the_next_command() -> None:
    out = run('echo hello|find /c "hel"')
    assert out.stdout == b"1\r\n"
    assert out.exit_code == 0
    out = run('echo hello|find /c "zzz"')
    assert out.stdout == b"0\r\n"
    assert out.exit_code == 1  # find: 1 = not found (find doc, §7)


def test_double_quotes_protect_operators() -> None:
    assert run('echo "x|y>z&w"').stdout == b'"x|y>z&w"\r\n'


def test_caret_escapes_operators_and_is_removed() -> None:
    assert run("echo a ^& b ^| c ^> d").stdout == b"a & b | c > d\r\n"
    assert run("echo ^^").stdout == b"^\r\n"
    # Inside quotes the caret is literal.
    assert run('echo "^&"').stdout == b'"^&"\r\n'


def test_parenthesised_group_with_redirect() -> None:
    fs = FileSystem()
    run("(echo one& echo two) > out.txt", fs)
    assert fs.read("C:\\Users\\auditor\\out.txt") == b"one\r\ntwo\r\n"


# --- redirection ---------------------------------------------------------------------------------


def test_redirect_truncate_and_append() -> None:
    fs = FileSystem()
    run(f"echo first>{TEMP}\\r.txt& echo second>>{TEMP}\\r.txt", fs)
    assert fs.read(f"{TEMP}\\r.txt") == b"first\r\nsecond\r\n"
    run(f"echo third>{TEMP}\\r.txt", fs)
    assert fs.read(f"{TEMP}\\r.txt") == b"third\r\n"


def test_stderr_redirects() -> None:
    assert run("failing 2>nul").stderr == b""
    merged = run("failing 2>&1")
    assert merged.stdout == b"boom\r\n"
    assert merged.stderr == b""
    fs = FileSystem()
    run("failing 2>err.txt", fs)
    assert fs.read("C:\\Users\\auditor\\err.txt") == b"boom\r\n"
    assert run("echo quiet>nul").stdout == b""


def test_redirect_order_matters() -> None:
    fs = FileSystem()
    # `>f 2>&1`: both into f. `2>&1 >g`: stderr to the old stdout, stdout into g.
    out = run("failing >f.txt 2>&1", fs)
    assert (out.stdout, fs.read("C:\\Users\\auditor\\f.txt")) == (b"", b"boom\r\n")
    out = run("failing 2>&1 >g.txt", fs)
    assert (out.stdout, fs.read("C:\\Users\\auditor\\g.txt")) == (b"boom\r\n", b"")


def test_input_redirect() -> None:
    fs = FileSystem()
    fs.write("C:\\Users\\auditor\\in.txt", b"alpha\r\nbeta\r\n")
    assert run('find /c "a" < in.txt', fs).stdout == b"2\r\n"


# --- variables and ERRORLEVEL --------------------------------------------------------------------


def test_percent_expansion_and_undefined_variables_stay() -> None:
    assert run("echo %COMPUTERNAME% %computername%").stdout == b"DC01 DC01\r\n"
    assert run("echo %NOT_SET%").stdout == b"%NOT_SET%\r\n"
    assert run("echo %TEMP%\\x").stdout == (TEMP + "\\x\r\n").encode()
    assert run("echo 100%").stdout == b"100%\r\n"


def test_errorlevel_expands_when_the_line_is_read() -> None:
    # %ERRORLEVEL% is expanded for the whole line before any command runs: it shows 0 here.
    out = run("nosuchtool & echo rc=%ERRORLEVEL%")
    assert out.stdout == b"rc=0\r\n"
    # `call` expands once more at run time; `%^ERRORLEVEL%` survives the first pass.
    assert run("nosuchtool & call echo rc=%^ERRORLEVEL%").stdout == b"rc=9009\r\n"
    # Delayed expansion in a nested cmd.
    assert run('cmd /v:on /c "nosuchtool & echo rc=!ERRORLEVEL!"').stdout == b"rc=9009\r\n"


def test_internal_commands_set_errorlevel_like_cmd() -> None:
    fs = FileSystem()
    fs.write(f"{TEMP}\\f.txt", b"x\r\n")
    # type clears ERRORLEVEL on success; echo keeps it; a missing file gives 1.
    level = "& call echo %^ERRORLEVEL%"
    assert run(f"failing & type {TEMP}\\f.txt>nul {level}", fs).stdout == b"0\r\n"
    assert run(f"failing & echo x>nul {level}", fs).stdout == b"5\r\n"
    assert run(f"failing & del {TEMP}\\nope.txt 2>nul {level}", fs).stdout == b"0\r\n"
    missing = run(f"type {TEMP}\\missing.txt")
    assert (missing.stderr, missing.exit_code) == (b"The system cannot find the file specified.\r\n", 1)


def test_exit_b_sets_the_code_and_stops_the_line() -> None:
    out = run("echo before& exit /b 3& echo after")
    assert out.stdout == b"before\r\n"
    assert out.exit_code == 3


# --- unknown command (§9.1) ----------------------------------------------------------------------


def test_unknown_command_text_stream_and_exit_code() -> None:
    # §9.1 (puppetlabs spec, VERBATIM): for `cmd.exe /c foo.exe` stderr is exactly this, exit 9009.
    out = run("foo.exe")
    assert (
        out.stderr
        == b"'foo.exe' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
    )
    assert out.stdout == b""
    assert out.exit_code == 9009


# --- type / del ----------------------------------------------------------------------------------


def test_type_returns_bytes_unchanged_and_del_removes() -> None:
    fs = FileSystem()
    raw = b"caf\xe9,\xfc\r\nno-final-newline"
    fs.write(f"{TEMP}\\raw.bin", raw)
    assert run("type %TEMP%\\raw.bin", fs).stdout == raw
    out = run("del %TEMP%\\raw.bin& type %TEMP%\\raw.bin", fs)
    assert out.exit_code == 1
    gone = run("del %TEMP%\\raw.bin", fs)
    assert gone.stderr == f"Could Not Find {TEMP}\\raw.bin\r\n".encode()
    assert gone.exit_code == 0  # DEL clears ERRORLEVEL even when it fails


# --- find (§7) -----------------------------------------------------------------------------------


def test_find_file_form_prints_dashes_and_upper_case_path() -> None:
    # §7 (VERBATIM): `---------- C:\USERS\IT_USER\APPDATA\LOCAL\TEMP\VITAL_SPEC.RESULT: 96`
    fs = FileSystem()
    path = "C:\\Users\\it_user\\AppData\\Local\\Temp\\vital_spec.result"
    fs.write(path, b"a[.]b\r\nnothing\r\n[.]\r\n")
    out = run(f'find /c "[.]" {path}', fs)
    assert out.stdout == b"\r\n---------- C:\\USERS\\IT_USER\\APPDATA\\LOCAL\\TEMP\\VITAL_SPEC.RESULT: 2\r\n"
    assert out.exit_code == 0


def test_find_counts_lines_not_occurrences() -> None:
    fs = FileSystem()
    fs.write("C:\\x.xml", b"<Event a/><Event b/><Event c/>\r\n")
    assert run('type C:\\x.xml | find /c "<Event "', fs).stdout == b"1\r\n"


def test_find_without_c_prints_matching_lines() -> None:
    fs = FileSystem()
    fs.write("C:\\t.txt", b"one\r\ntwo\r\nthree\r\n")
    assert run('type C:\\t.txt|find "t"', fs).stdout == b"two\r\nthree\r\n"
    assert run('type C:\\t.txt|find /v /i "T"', fs).stdout == b"one\r\n"


def test_find_errors() -> None:
    missing = run('find /c "x" C:\\nope.txt')
    assert missing.exit_code == 2
    assert b"File not found" in missing.stderr
    bad = run("find /c x")
    assert (bad.stderr, bad.exit_code) == (b"FIND: Parameter format not correct\r\n", 2)


# --- code page (§0.1) ----------------------------------------------------------------------------


def test_output_is_encoded_in_the_console_code_page() -> None:
    # cp850 'Ü' is 0x9A, cp437 has it at 0x9A too, UTF-8 (65001) writes C3 9C.
    assert run("echo Überwachung", codepage=850).stdout == b"\x9aberwachung\r\n"
    assert run("echo Überwachung", codepage=65001).stdout == "Überwachung\r\n".encode()
    assert run("chcp 65001& echo Ü").stdout == b"Active code page: 65001\r\n\xc3\x9c\r\n"


# --- the WinRS entry point -----------------------------------------------------------------------


def test_simulated_host_joins_command_and_arguments() -> None:
    host = SimulatedHost(HostProfile(name="h1", address="127.0.0.11", computer_name="H1.corp.example"))
    out = host.run("cmd.exe", ("/c", "echo", "%COMPUTERNAME%&", "hostname"))
    assert out.stdout == b"H1\r\nH1\r\n"
    assert host.run("echo %TEMP%").stdout == (TEMP + "\r\n").encode()


def test_files_persist_between_commands_of_one_host() -> None:
    host = SimulatedHost(HostProfile(name="h1", address="127.0.0.11"))
    host.run("echo kept>%TEMP%\\k.txt")
    assert host.run("type %TEMP%\\k.txt").stdout == b"kept\r\n"


@pytest.mark.parametrize("line", ["echo (", "echo )", "echo a(b)"])
def test_parentheses_inside_text_are_literal(line: str) -> None:
    assert run(line).stdout == (line[5:] + "\r\n").encode()


def test_nested_cmd_exit_ends_only_the_child() -> None:
    out = run('cmd /c "exit /b 4" & call echo after %^ERRORLEVEL%')
    assert out.stdout == b"after 4\r\n"
    assert run('cmd /c "exit /b 4"').exit_code == 4
    assert run('cmd /d /c "echo a& echo b"').stdout == b"a\r\nb\r\n"


def test_percent_pairs_match_like_the_command_line_parser() -> None:
    # cmd's documented command-line behaviour: with b=a and no variable "a ", `echo %a %b% c%`
    # prints `%a a c%` (the unmatched text is kept, scanning resumes at its closing %).
    sh = shell()
    sh.set_var("b", "a")
    assert sh.run_line("echo %a %b% c%").stdout == b"%a a c%\r\n"


# --- the 8191 limit before and after %VAR% expansion (winrm §1.5, KB 830473) ----------------------


def test_the_limit_holds_for_the_line_as_typed() -> None:
    fits = "echo " + "x" * (8191 - 5)
    assert run(fits).stdout == b"x" * 8186 + b"\r\n"
    # winrm-protocol.md §1.5: stderr "The command line is too long." and exit code 1; nothing runs.
    over = run("echo " + "x" * (8192 - 5))
    assert (over.stdout, over.stderr, over.exit_code) == (b"", b"The command line is too long.\r\n", 1)


def test_the_limit_holds_again_after_expansion() -> None:
    # KB 830473: the limit covers "all environment variable expansions". TEMP is 35 characters, so
    # each %TEMP% (6 typed) grows the line by 29: 8000 typed + 7 x 29 = 8203 > 8191.
    assert len(TEMP) == 35
    line = "echo " + "%TEMP%" * 7 + "x" * (8000 - 5 - 42)
    assert len(line) == 8000
    fs = FileSystem()
    out = run(line + ">%TEMP%\\never.txt", fs)
    assert (out.stdout, out.stderr, out.exit_code) == (b"", b"The input line is too long.\r\n", 1)
    assert fs.paths() == []  # refused before anything ran
    shorter = "echo " + "%TEMP%" * 6 + "x" * (8000 - 5 - 36)  # 8000 + 6 x 29 = 8174: fits
    assert run(shorter).stdout == (TEMP * 6 + "x" * 7959 + "\r\n").encode()


# --- FOR (command-line mode: %X) -------------------------------------------------------------------


def test_for_runs_its_body_once_per_item() -> None:
    assert run("for %h in (07 08 09) do @echo x%h").stdout == b"x07\r\nx08\r\nx09\r\n"
    # Items split on blanks, commas, semicolons and `=`; quoted items keep their quotes.
    assert run('for %a in (a,b;c=d "e f") do @echo %a').stdout == b'a\r\nb\r\nc\r\nd\r\n"e f"\r\n'
    # The variable is case-sensitive: %H is not %h.
    assert run("for %h in (1) do @echo %h%H").stdout == b"1%H\r\n"


def test_for_body_runs_to_the_end_of_the_line_unless_parenthesised() -> None:
    # cmd's FOR grammar: the body is the rest of the statement, `&` included.
    assert run("for %h in (1 2) do @echo a%h& echo b").stdout == b"a1\r\nb\r\na2\r\nb\r\n"
    assert run("(for %h in (1 2) do @echo a%h)& echo b").stdout == b"a1\r\na2\r\nb\r\n"


def test_for_l_counts() -> None:
    assert run("for /l %i in (1,1,3) do @echo %i").stdout == b"1\r\n2\r\n3\r\n"
    assert run("for /L %i in (5,-2,1) do @echo %i").stdout == b"5\r\n3\r\n1\r\n"
    assert run("for /l %i in (3,1,1) do @echo %i").stdout == b""


def test_for_without_at_echoes_each_iteration_after_the_prompt() -> None:
    # cmd /c runs with echo on: every iteration's command is shown after a blank line and the prompt
    # (documented behaviour; the exact layout is UNVERIFIED, see Shell._run_for). The probe uses `@`.
    out = run("for %h in (1 2) do echo %h").stdout
    assert out == b"\r\nC:\\Users\\auditor>echo 1\r\n1\r\n\r\nC:\\Users\\auditor>echo 2\r\n2\r\n"


def test_for_substitutes_after_the_percent_pass() -> None:
    # The line's %-pass finds no variable "h in (1) do @echo " and leaves %h for FOR; an item is
    # substituted into the parsed command, so `&` inside a quoted item does not split it.
    assert run('for %h in ("a&b") do @echo %h').stdout == b'"a&b"\r\n'
    assert run("for %h in (TEMP) do @echo %h %TEMP%").stdout == f"TEMP {TEMP}\r\n".encode()


def test_for_counts_per_hour_like_the_probe() -> None:
    fs = FileSystem()
    fs.write(
        f"{TEMP}\\d.txt",
        b"  Date: 2026-11-27T23:10:00.000Z\r\n  Date: 2026-11-28T00:01:00.000Z\r\n  Date: 2026-11-28T00:59:00.000Z\r\n",
    )
    out = run(
        'cd /d "%TEMP%"&(for %h in (22 23) do @find /c ": 2026-11-27T%h" d.txt)'
        '&(for %h in (00 01) do @find /c ": 2026-11-28T%h" d.txt)',
        fs,
    )
    # §7 file form, the name as given in upper case: one count per hour, in order.
    assert out.stdout == b"".join(f"\r\n---------- D.TXT: {n}\r\n".encode() for n in (0, 1, 2, 0))


def test_for_batch_syntax_and_unsupported_switches_are_errors() -> None:
    out = run("for %%h in (1) do echo %%h")
    assert (out.stderr, out.exit_code) == (b"%%h was unexpected at this time.\r\n", 255)
    assert run('for /f "tokens=1" %h in (x) do echo %h').exit_code == 255


def test_for_over_wildcards_lists_matching_files() -> None:
    fs = FileSystem()
    run("echo a>b.txt& echo c>a.txt& echo d>c.log", fs)
    assert run("for %f in (*.txt) do @echo %f", fs).stdout == b"a.txt\r\nb.txt\r\n"


# --- cd ---------------------------------------------------------------------------------------------


def test_cd_changes_the_folder_relative_names_use() -> None:
    fs = FileSystem()
    out = run('cd /d "%TEMP%" 2>nul&echo x>rel.txt&cd', fs)
    assert out.stdout == f"{TEMP}\r\n".encode()
    assert fs.read(f"{TEMP}\\rel.txt") == b"x\r\n"
    assert run("cd ..& cd", fs).stdout == b"C:\\Users\r\n"


def test_cd_to_a_missing_folder_fails_and_stays() -> None:
    out = run("cd /d C:\\nowhere& cd")
    assert out.stderr == b"The system cannot find the path specified.\r\n"
    assert out.stdout == b"C:\\Users\\auditor\r\n"
    assert run("cd C:\\nowhere || echo failed").stdout == b"failed\r\n"


def test_cd_without_d_does_not_switch_drives() -> None:
    assert run("cd D:\\& cd").stdout == b"C:\\Users\\auditor\r\n"
    assert run("cd /d D:\\& cd").stdout == b"D:\\\r\n"


def test_cd_to_a_unc_path_is_refused() -> None:
    # cmd's message for a \\server\share current folder (not in the reference captures: UNVERIFIED).
    out = run("cd /d \\\\srv\\share& cd")
    assert out.stderr == b"CMD does not support UNC paths as current directories.\r\n"
    assert out.stdout == b"C:\\Users\\auditor\r\n"
    assert run("cd \\\\srv\\share || echo refused").stdout == b"refused\r\n"


# --- echo state, @( ), %~X -------------------------------------------------------------------------


def test_echo_off_stops_for_from_echoing_its_iterations() -> None:
    # `echo off` runs before the FOR on the same line, so no iteration is shown after the prompt.
    assert run("echo off&for %h in (1 2) do echo %h").stdout == b"1\r\n2\r\n"
    # Bare echo reports the state (tool-outputs §9.2: "ECHO is on." / "ECHO is off.").
    assert run("echo off&echo&echo on&echo").stdout == b"ECHO is off.\r\nECHO is on.\r\n"
    assert run("echo off&echo on&for %h in (1) do echo %h").stdout == b"\r\nC:\\Users\\auditor>echo 1\r\n1\r\n"


def test_cmd_q_starts_with_echo_off() -> None:
    assert run("cmd /q /c for %h in (1 2) do echo %h").stdout == b"1\r\n2\r\n"
    assert run("cmd /c for %h in (1) do echo %h").stdout == b"\r\nC:\\Users\\auditor>echo 1\r\n1\r\n"


def test_at_sign_before_a_block_runs_the_block() -> None:
    assert run("for %h in (1 2) do @(echo %h)").stdout == b"1\r\n2\r\n"
    out = run("@(echo x)")
    assert (out.stdout, out.stderr, out.exit_code) == (b"x\r\n", b"", 0)
    assert run("@ (echo a&echo b)&echo c").stdout == b"a\r\nb\r\nc\r\n"


def test_tilde_strips_the_quotes_of_a_for_item() -> None:
    assert run('for %h in ("a b" c) do @echo [%~h] %h').stdout == b'[a b] "a b"\r\n[c] c\r\n'


# --- folders that are missing or not writable (probe fallbacks) -----------------------------------


def test_removed_and_write_denied_folders_refuse_redirections() -> None:
    fs = FileSystem()
    fs.remove_dir(TEMP)
    sh = shell(fs)  # the shell would normally create TEMP: a removed folder stays missing
    out = sh.run_line('cd /d "%TEMP%"& echo x>rel.txt& cd')
    assert out.stderr == b"The system cannot find the path specified.\r\n"
    assert fs.read("C:\\Users\\auditor\\rel.txt") == b"x\r\n"  # the start folder took the file
    assert shell(fs).run_line(f"echo y>{TEMP}\\f.txt").stderr == b"The system cannot find the path specified.\r\n"
    fs.deny_writes("C:\\Users\\auditor")
    denied = shell(fs).run_line("echo z>other.txt|| echo refused")
    assert (denied.stdout, denied.stderr) == (b"refused\r\n", b"Access is denied.\r\n")
    assert fs.read("C:\\Users\\auditor\\other.txt") is None
    # find on the file that was never written: its stderr, brought to stdout by 2>&1.
    found = shell(fs).run_line("find /c \"x\" apxs 2>&1")
    assert found.stdout == b"File not found - APXS\r\n" and found.exit_code == 2
