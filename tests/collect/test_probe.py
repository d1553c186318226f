"""winrm/probe.py and winrm/interpret.py on composed output: the command line, the section splitter,
forged markers, and interpret() (test_probe_hosts.py runs the probe through the simulator's cmd.exe)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest

from auditplan.collect.winrm.interpret import interpret
from auditplan.collect.winrm.probe import (
    CMD_LINE_LIMIT,
    SECTION_ORDER,
    ProbeOptions,
    Section,
    build_probe,
    split_sections,
)
from auditplan.records import AuditSetting, ProductType

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"
NOW = datetime(2026, 11, 28, 7, 3, 12, tzinfo=UTC)
NONCE = "abcdef"
M = "##APabcdef:"


def cap(name: str) -> bytes:
    return (CAPTURES / name).read_bytes()


# --- the command line ------------------------------------------------------------------------------


@pytest.mark.parametrize("hours", [1, 6, 24, 36, 48, 72, 167, 168])
def test_command_line_fits_cmd_limit(hours: int) -> None:
    # winrm-protocol.md §3.3: cmd.exe caps a command line at 8191 characters, KB 830473 after %VAR%
    # expansion: with the longest TEMP (MAX_PATH, 260 with its NUL) the expanded line still fits, at
    # every window the CLI accepts, with the longest trace and the widest caps.
    longest_temp = "C:\\" + "t" * 256
    assert len(longest_temp) == 259
    for options in (
        ProbeOptions(window_hours=hours),
        ProbeOptions(window_hours=hours, max_events=10_000_000, sample_events=10_000, trace_seconds=900),
    ):
        line = build_probe(options, NOW).command_line
        assert line.count("%TEMP%") == 1 and line.count("%windir%") == 1
        assert len(line.replace("%TEMP%", longest_temp).replace("%windir%", longest_temp)) <= CMD_LINE_LIMIT


def test_expanded_length_does_not_grow_with_the_window() -> None:
    # Each extra hour in an already-covered day costs 3 characters ("06 ") in each of the two counting
    # loops (Security, Sysmon), not a find command per hour; and still only one %TEMP% to expand.
    lines = [build_probe(ProbeOptions(window_hours=h, nonce=NONCE), NOW).command_line for h in (24, 25)]
    assert len(lines[1]) - len(lines[0]) == 2 * 3
    assert lines[1].count("%TEMP%") == 1


def _hour_loop(log: str, head: str, days: str, hours: str, cap: int, path: str) -> str:
    """One counting loop as issue 15 specifies it, written out by hand (not with the code under test)."""
    day = days if " " not in days else "%d"
    loop = (f'for %h in ({hours}) do @wevtutil qe {log} /q:"*[System[{head} and TimeCreated['
            f"@SystemTime>='{day}T%h:00:00.000Z' and @SystemTime<='{day}T%h:59:59.999Z']]]\" /c:{cap} /rd:true /f:text"
            f'|find "Date: ">{path}&find /c "Date: " {path} 2>&1&find /n "Date: " {path}|find "[{cap}]"')
    return f"(for %d in ({days}) do @{loop})" if " " in days else f"({loop})"


def test_hourly_counts_loop_once_per_utc_day() -> None:
    line = build_probe(ProbeOptions(nonce=NONCE), NOW).command_line
    assert line.startswith('cd /d "%TEMP%" 2>nul&echo ##APabcdef:hostname&')
    # NOW is 2026-11-28 07:03 UTC: the window is 11-27 07:00 .. 11-28 07:00, written by hand here; the
    # default 20,000 events per log spread over 24 hours: 833 per hour's query.
    day1 = " ".join(f"{h:02d}" for h in range(7, 24))
    day2 = "00 01 02 03 04 05 06"
    head = "Provider[@Name='Microsoft-Windows-Security-Auditing'] and EventID=4688"
    assert (
        f"##APabcdef:count_4688&{_hour_loop('Security', head, '2026-11-27', day1, 833, 'apabcdefs')}"
        f"&{_hour_loop('Security', head, '2026-11-28', day2, 833, 'apabcdefs')}&del apabcdefs&"
    ) in line
    sysmon = "Microsoft-Windows-Sysmon/Operational"
    assert f"&{_hour_loop(sysmon, 'EventID=1', '2026-11-27', day1, 833, 'apabcdefy')}&" in line


def test_whole_days_share_one_nested_loop() -> None:
    # 72 h from 11-25 07:00: 11-25 07..23, then 11-26 and 11-27 whole (one nested loop), then 11-28 00..06.
    line = build_probe(ProbeOptions(nonce=NONCE, window_hours=72, max_events=7200), NOW).command_line
    head = "Provider[@Name='Microsoft-Windows-Security-Auditing'] and EventID=4688"
    all_hours = " ".join(f"{h:02d}" for h in range(24))
    assert f"&{_hour_loop('Security', head, '2026-11-26 2026-11-27', all_hours, 100, 'apabcdefs')}&" in line


def test_window_is_whole_utc_hours_before_now() -> None:
    probe = build_probe(ProbeOptions(nonce=NONCE), NOW)
    assert probe.window_end == datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
    assert probe.window_start == datetime(2026, 11, 27, 7, 0, tzinfo=UTC)
    assert probe.hour_starts[0] == probe.window_start
    assert probe.hour_starts[-1] == datetime(2026, 11, 28, 6, 0, tzinfo=UTC)
    assert len(probe.hour_starts) == 24


def test_counting_query_matches_4688_provider_and_absolute_utc_bounds() -> None:
    line = build_probe(ProbeOptions(nonce=NONCE, max_events=5000), NOW).command_line
    assert (
        "wevtutil qe Security /q:\"*[System[Provider[@Name='Microsoft-Windows-Security-Auditing'] and EventID=4688"
        " and TimeCreated[@SystemTime>='2026-11-27T%h:00:00.000Z' and @SystemTime<='2026-11-27T%h:59:59.999Z']]]\""
        " /c:208 /rd:true /f:text" in line
    )
    loops = re.findall(r"for %h in \(([0-9 ]+)\) do @wevtutil qe Security /q:\"[^\"]*'(\d{4}-\d\d-\d\d)T%h:00", line)
    hours = [f"{day}T{hour}" for hour_list, day in loops for hour in hour_list.split()]
    assert hours[0] == "2026-11-27T07" and hours[-1] == "2026-11-28T06" and len(hours) == 24
    # The newest sample_events, as XML, from before the window's end only: the probe's own processes
    # start in the current hour (task point 2).
    assert (
        "wevtutil qe Security /q:\"*[System[Provider[@Name='Microsoft-Windows-Security-Auditing'] and EventID=4688"
        " and TimeCreated[@SystemTime<'2026-11-28T07:00:00.000Z']]]\" /c:12 /rd:true /f:xml" in line
    )


def test_markers_in_order_and_no_space_before_ampersand() -> None:
    probe = build_probe(ProbeOptions(nonce=NONCE), NOW)
    names = re.findall(r"echo ##APabcdef:([a-z0-9_]+)(?:&|$)", probe.command_line)
    assert names == [*probe.sections, "end"]
    assert list(probe.sections) == [s for s in SECTION_ORDER if s != "trace"]  # no trace unless asked
    # windows-tool-outputs.md §9.2: "echo abc & ..." would print "abc " with a trailing space.
    assert not re.search(r"echo [^&|]* [&|]", probe.command_line)


def _outside_quotes(line: str) -> str:
    """The command line with every double-quoted run blanked: what cmd sees as operators."""
    out, quoted = [], False
    for ch in line:
        if ch == '"':
            quoted = not quoted
            out.append('"')
        else:
            out.append(" " if quoted else ch)
    assert not quoted, "unbalanced double quotes"
    return "".join(out)


def test_xpath_operators_are_quoted_from_cmd() -> None:
    """`<`, `>` in XPath would be redirections and `[`/`'` harmless; only our own redirections and
    pipes may appear outside quotes."""
    bare = _outside_quotes(build_probe(ProbeOptions(nonce=NONCE), NOW).command_line)
    # The one `<` is wmic's stdin from NUL: wmic waits on an open stdin under WinRS.
    assert bare.count("<") == 1 and 'HotFixID <nul 2>&1|find' in bare
    redirections = re.findall(r"\S*>\S*", bare)
    # 2>&1 per tool and per hourly find /c, 2>nul after cd and around del, and `find "Date: ">file` in each
    # hour loop (quotes blanked to '"').
    assert set(redirections) == {
        "2>&1", "2>&1|find", "2>nul&auditpol", "2>nul&echo", '">apabcdefs&find', '">apabcdefy&find', "2>&1&find",
    }
    # Pipes: wmic's, and three in each of the 4 hour loops (2 UTC days x 2 logs): wevtutil|find, find /n|find.
    assert bare.count("|") == len(re.findall(r"\|\|", bare)) * 2 + 1 + 4 * 2


def test_nonce_is_random_when_not_given() -> None:
    nonces = {build_probe(ProbeOptions(), NOW).nonce for _ in range(8)}
    assert all(re.fullmatch(r"[0-9a-f]{6}", n) for n in nonces)
    assert len(nonces) > 1  # 8 draws of 24 random bits: all equal has probability 2**-168


@pytest.mark.parametrize(
    "bad", [{"window_hours": 0}, {"window_hours": 169}, {"max_events": 0}, {"sample_events": -1}, {"nonce": "ZZZ"}]
)
def test_bad_options_are_refused(bad: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        ProbeOptions(**bad)  # type: ignore[arg-type]


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError):
        build_probe(ProbeOptions(), datetime(2026, 11, 28, 7, 0))


# --- composed output, as Windows would print it for this command line ------------------------------

NS = "http://schemas.microsoft.com/win/2004/08/events/event"


def event_4688(time: str, cmd: str | None, version: int = 2) -> bytes:
    cmd_xml = "" if cmd is None else f"<Data Name='CommandLine'>{cmd}</Data>"
    return (
        f"<Event xmlns='{NS}'><System><Provider Name='Microsoft-Windows-Security-Auditing' "
        "Guid='{54849625-5478-4994-a5ba-3e3b0328c30d}'/><EventID>4688</EventID>"
        f"<Version>{version}</Version><TimeCreated SystemTime='{time}'/><EventRecordID>9</EventRecordID>"
        "<Channel>Security</Channel><Computer>WIN-HOST</Computer></System><EventData>"
        "<Data Name='SubjectUserName'>alice</Data><Data Name='NewProcessName'>C:\\Windows\\System32\\net.exe</Data>"
        f"{cmd_xml}<Data Name='ParentProcessName'>C:\\Windows\\System32\\cmd.exe</Data></EventData></Event>"
    ).encode()


def finds(counts: list[int], path: str) -> bytes:
    # windows-tool-outputs.md §7: "---------- <PATH IN UPPER CASE>: <n>"
    return b"".join(f"\r\n---------- {path.upper()}: {n}\r\n".encode() for n in counts)


HOURLY = list(range(24))  # 0..23, oldest hour first
OLDEST_4624 = cap("wevtutil-qe-security-4624-xml-partial.xml").split(b"</Event>")[0] + b"</Event>\r\n"
NEWEST = event_4688("2026-11-28T06:59:01.1234567Z", "net user eve Hunter2Secret /add")
TEMP = "C:\\Users\\Admin\\AppData\\Local\\Temp"


def composed_output() -> bytes:
    rc0 = f"{M}rc:0\r\n".encode()
    parts: list[bytes] = [
        f"{M}hostname\r\n".encode(),
        cap("hostname-winrs.txt"),
        f"{M}ver\r\n".encode(),
        cap("ver-win11-26200.txt"),
        f"{M}reg_current_version\r\n".encode(),
        b"\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\r\n"
        b"    ProductName    REG_SZ    Windows Server 2022 Datacenter\r\n"
        b"    CurrentBuild    REG_SZ    20348\r\n"
        b"    UBR    REG_DWORD    0xa4f\r\n"
        b"    DisplayVersion    REG_SZ    21H2\r\n\r\n",
        rc0,
        f"{M}reg_product_type\r\n".encode(),
        b"\r\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\ProductOptions\r\n"
        b"    ProductType    REG_SZ    ServerNT\r\n\r\n",
        rc0,
        f"{M}reg_cmdline\r\n".encode(),
        cap("reg-query-audit-cmdline-dword.txt"),
        rc0,
        f"{M}reg_sce_no_apply_legacy\r\n".encode(),
        cap("reg-query-not-found.txt"),
        f"{M}rc:1\r\n".encode(),
        f"{M}reg_eventlog_security\r\n".encode(),
        b"\r\nHKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Security\r\n"
        b"    MaxSize    REG_DWORD    0x1400000\r\n    Retention    REG_DWORD    0x0\r\n\r\n",
        rc0,
        f"{M}kb3004375\r\n".encode(),
        f"{M}auditpol_backup\r\n".encode(),
        b"The command was successfully executed.\r\n",
        rc0,
        # `type` of a file without a final newline: the rc marker lands on the same line (tool-outputs §1.2).
        f"{M}auditpol_csv\r\n".encode(),
        cap("auditpol-backup-birdsofpray.csv").rstrip(b"\r\n"),
        rc0,
        f"{M}auditpol_get\r\n".encode(),
        b"Machine Name,Policy Target,Subcategory,Subcategory GUID,Inclusion Setting,Exclusion Setting\r\n\r\n"
        b"BIRDSOFPRAY,System,Process Creation,{0CCE922B-69AE-11D9-BED3-505054503030},Success and Failure,\r\n",
        rc0,
        # No GPO delivers advanced audit policy: neither audit.csv exists (cmd's "cannot find", exit 1).
        f"{M}audit_csv_applied\r\n".encode(),
        b"The system cannot find the file specified.\r\n",
        f"{M}rc:1\r\n".encode(),
        f"{M}audit_csv_local_gpo\r\n".encode(),
        b"The system cannot find the file specified.\r\n",
        f"{M}rc:1\r\n".encode(),
        f"{M}wevtutil_gl\r\n".encode(),
        cap("wevtutil-gl-security.txt"),
        rc0,
        f"{M}wevtutil_gli\r\n".encode(),
        cap("wevtutil-gli-windows-powershell.txt"),
        rc0,
        f"{M}sc_sysmon64\r\n".encode(),
        cap("sc-query-sysmon64-running.txt"),
        rc0,
        f"{M}sc_sysmon\r\n".encode(),
        cap("sc-query-missing-1060.txt"),
        f"{M}rc:1060\r\n".encode(),
        f"{M}sysmon_gli\r\n".encode(),
        b"creationTime: 2026-01-01T00:00:00.000Z\r\nfileSize: 69632\r\nattributes: 32\r\n"
        b"numberOfLogRecords: 500\r\noldestRecordNumber: 1\r\n",
        rc0,
        f"{M}count_4688\r\n".encode(),
        finds(HOURLY, TEMP + "\\apabcdefs"),
        f"{M}count_sysmon_eid1\r\n".encode(),
        finds([5] * 24, TEMP + "\\apabcdefy"),
        f"{M}security_oldest\r\n".encode(),
        OLDEST_4624,
        rc0,
        f"{M}security_newest\r\n".encode(),
        NEWEST + b"\r\n",
        rc0,
        f"{M}events_4688\r\n".encode(),
        NEWEST + event_4688("2026-11-28T06:58:00.0000000Z", "", 1) + b"\r\n",
        rc0,
        f"{M}end\r\n".encode(),
    ]
    return b"".join(parts)


def test_split_sections_texts_and_exit_codes() -> None:
    sections = split_sections(composed_output(), 65001)
    assert set(sections) == set(SECTION_ORDER) - {"trace"}
    assert sections["hostname"] == Section("hostname", "WIN-HOST\r\n", None, False)
    assert sections["reg_sce_no_apply_legacy"].exit_code == 1
    assert sections["sc_sysmon"].exit_code == 1060
    csv = sections["auditpol_csv"]
    assert csv.exit_code == 0
    assert csv.text.endswith("BIRDSOFPRAY,,RegistryGlobalSacl,,,,")  # marker found mid-line, text kept whole
    assert "##AP" not in "".join(s.text for s in sections.values())
    assert not any(s.truncated for s in sections.values())


def test_interpret_composed_output() -> None:
    probe = build_probe(ProbeOptions(nonce=NONCE), NOW)
    it = interpret(split_sections(composed_output(), 65001), probe)
    assert it.warnings == ()
    assert not it.unparseable and not it.access_denied
    assert it.computer_name == "WIN-HOST"
    assert it.os is not None
    assert (it.os.product_name, it.os.current_build, it.os.ubr) == ("Windows Server 2022 Datacenter", 20348, 2639)
    assert (it.os.product_type, it.os.display_version, it.os.cmdline_supported) == (ProductType.SERVER, "21H2", True)
    assert it.audit is not None
    assert it.audit.process_creation is AuditSetting.SUCCESS_AND_FAILURE
    assert it.audit.cmdline_enabled is True  # REG_DWORD 0x1
    assert it.audit.sce_no_apply_legacy is False  # value absent
    assert len(it.audit.subcategories) == 59
    # No audit.csv anywhere, and BIRDSOFPRAY audits far more than Windows' documented default
    # (Microsoft "Audit Policy Recommendations": e.g. File System is No Auditing by default).
    assert it.audit_policy_source == "local"
    log = it.security_log
    assert log is not None
    assert (log.max_size_bytes, log.retention, log.file_size_bytes, log.record_count) == (
        20971520,
        "overwrite",
        11603968,
        9496,
    )
    assert log.oldest_time == datetime(2026, 8, 14, 20, 10, 49, 417329, tzinfo=UTC)
    assert log.newest_time == datetime(2026, 11, 28, 6, 59, 1, 123456, tzinfo=UTC)
    assert it.sysmon is not None
    assert (it.sysmon.installed, it.sysmon.service_name, it.sysmon.running) == (True, "Sysmon64", True)
    vol = it.volume
    assert vol is not None
    assert vol.hourly_4688 == tuple(range(24))
    assert vol.hourly_sysmon_eid1 == (5,) * 24
    assert not vol.capped
    # 2026-08-14T20:10:49.417329 .. 2026-11-28T06:59:01.123456 = 106 days - 13:11:48.293873 = 2530.803248 h
    assert vol.security_events_per_hour == pytest.approx(9496 / 2530.803248, rel=1e-6)
    assert len(it.events) == 2
    first, second = it.events
    assert first.command_line is not None and "Hunter2Secret" not in first.command_line
    assert first.secrets_found == 1
    assert second.command_line == "" and second.version == 1


def test_truncated_output_drops_later_sections_with_warnings() -> None:
    data = composed_output()
    cut = data.index(b"\r\n---------- ", data.index(f"{M}count_4688".encode())) + 200
    probe = build_probe(ProbeOptions(nonce=NONCE), NOW)
    sections = split_sections(data[:cut], 65001)
    assert "count_4688" in sections and sections["count_4688"].truncated
    assert "security_oldest" not in sections and "events_4688" not in sections
    it = interpret(sections, probe)
    assert "section events_4688 missing: output truncated" in it.warnings
    assert "section count_4688 truncated: output hit the byte cap" in it.warnings
    assert it.volume is not None and it.volume.hourly_4688 == ()  # a partial count list is not used
    assert it.audit is not None and it.audit.process_creation is AuditSetting.SUCCESS_AND_FAILURE
    assert not it.unparseable


def test_forged_markers_in_event_text_are_ignored() -> None:
    data = composed_output()
    # A command line holding marker-like text: wrong nonce, or the right nonce naming an earlier section.
    forged = event_4688("2026-11-28T06:57:00Z", "x ##APffffff:hostname ##APabcdef:hostname ##APabcdef:rc:7")
    data = data.replace(f"{M}events_4688\r\n".encode(), f"{M}events_4688\r\n".encode() + forged)
    sections = split_sections(data, 65001)
    assert sections["hostname"].text == "WIN-HOST\r\n"
    assert sections["events_4688"].exit_code == 0  # the real rc line is the last one
    assert "##APffffff:hostname" in sections["events_4688"].text


def test_utf8_decoding_replaces_bad_bytes_and_keeps_markers() -> None:
    data = f"{M}hostname\r\nWIN\xff\r\n{M}ver\r\n".encode("latin-1")
    sections = split_sections(data, 65001)
    assert sections["hostname"].text == "WIN\ufffd\r\n"
    assert "ver" in sections and sections["ver"].truncated


def test_oem_codepage_decoding() -> None:
    # "Keine Überwachung" in cp850 (a Western European OEM page, windows-tool-outputs.md §0.1)
    data = f"{M}auditpol_get\r\nKeine Überwachung\r\n{M}end\r\n".encode("cp850")
    assert split_sections(data, 850)["auditpol_get"].text == "Keine Überwachung\r\n"


def test_no_markers_at_all() -> None:
    probe = build_probe(ProbeOptions(nonce=NONCE), NOW)
    sections = split_sections(b"\x00garbage\r\n" * 1000, 65001)
    assert sections == {}
    it = interpret(sections, probe)
    assert it.unparseable
    assert "section hostname missing: output truncated" in it.warnings


def test_wrong_tool_output_in_every_section_is_unparseable_not_a_crash() -> None:
    probe = build_probe(ProbeOptions(nonce=NONCE), NOW)
    junk = "'x' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
    sections = {name: Section(name, junk, 9009) for name in probe.sections}
    it = interpret(sections, probe)
    assert it.unparseable
    assert it.warnings  # each section says what was wrong


# --- task T12: markers only as whole echo lines, never inside an event ------------------------------


def _xml_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _with_events(data: bytes, events: bytes) -> bytes:
    """composed_output() with the events_4688 section's events replaced by `events`."""
    head, _, tail = data.partition(f"{M}events_4688\r\n".encode())
    _, _, rest = tail.partition(f"{M}rc:0\r\n".encode())
    return head + f"{M}events_4688\r\n".encode() + events + f"{M}rc:0\r\n".encode() + rest


FORGED_CMD = f"cmd /c echo {M}end&echo {M}rc:0"  # the probe's own cmd.exe, as command-line auditing logs it


@pytest.mark.parametrize("layout", ["one_line", "line_per_event", "crlf_inside_commandline"])
def test_markers_inside_sampled_events_do_not_split(layout: str) -> None:
    """An event whose CommandLine holds `##AP<nonce>:end` and `##AP<nonce>:rc:0` (the survey's own cmd.exe)
    must stay inside events_4688: all 3 events read, the real rc (0) kept, the real end seen."""
    cmd = FORGED_CMD if layout != "crlf_inside_commandline" else f"x\r\n{M}rc:5\r\n{M}end\r\ny"
    evs = [
        event_4688("2026-11-28T06:59:00.0000000Z", "net use"),
        event_4688("2026-11-28T06:58:00.0000000Z", _xml_escape(cmd)),
        event_4688("2026-11-28T06:57:00.0000000Z", "whoami"),
    ]
    sep = b"\r\n" if layout == "line_per_event" else b""
    data = _with_events(composed_output(), sep.join(evs) + b"\r\n")
    sections = split_sections(data, 65001)
    events = sections["events_4688"]
    assert not events.truncated and events.exit_code == 0
    assert events.text.count("</Event>") == 3
    probe = build_probe(ProbeOptions(nonce=NONCE), NOW)
    it = interpret(sections, probe)
    # The forged event carries the nonce, so it is the probe's own and the sample filter drops it.
    assert [e.time.minute for e in it.events] == [59, 57] and it.own_events_dropped == 1
    assert it.warnings == ()


def test_probe_own_cmd_event_as_newest_security_event() -> None:
    """With command-line auditing on, the newest Security event can be the probe's own cmd.exe 4688,
    whose CommandLine is the whole probe line: every marker of every later section, in order."""
    probe = build_probe(ProbeOptions(nonce=NONCE), NOW)
    own = event_4688("2026-11-28T07:03:12.0000000Z", _xml_escape(f'cmd.exe /c "{probe.command_line}"'))
    data = composed_output().replace(NEWEST + b"\r\n", own + b"\r\n", 1)
    sections = split_sections(data, 65001)
    assert set(sections) == set(SECTION_ORDER) - {"trace"}
    assert sections["security_newest"].exit_code == 0
    assert sections["events_4688"].text.count("</Event>") == 2
    it = interpret(sections, probe)
    assert it.security_log is not None
    assert it.security_log.newest_time == datetime(2026, 11, 28, 7, 3, 12, tzinfo=UTC)
    assert len(it.events) == 2 and it.warnings == ()


def test_marker_must_end_its_line() -> None:
    # Marker text followed by more text on the same line is not our echo (echo prints marker + CRLF).
    data = f"{M}hostname\r\nWIN {M}ver tail\r\n{M}ver\r\nMicrosoft Windows\r\n{M}end\r\n".encode()
    sections = split_sections(data, 65001)
    assert sections["hostname"].text == f"WIN {M}ver tail\r\n"
    assert sections["ver"].text == "Microsoft Windows\r\n" and not sections["ver"].truncated


def test_marker_directly_after_event_close_is_recognised() -> None:
    # Where wevtutil's final CRLF falls after XML events is UNVERIFIED (tool-outputs §4.1): without it,
    # our rc and section markers follow `</Event>` on the same line.
    data = _with_events(composed_output(), NEWEST)
    sections = split_sections(data, 65001)
    assert sections["events_4688"].exit_code == 0 and not sections["events_4688"].truncated


# --- boot-only and the trace, on composed output ---------------------------------------------------


def test_boot_only_not_set_for_ordinary_processes() -> None:
    probe = build_probe(ProbeOptions(nonce=NONCE), NOW)
    it = interpret(split_sections(composed_output(), 65001), probe)
    assert it.volume is not None and not it.volume.boot_only  # net.exe is no boot process


def test_trace_section_is_built_and_read() -> None:
    from auditplan.records import ProcessTrace

    probe = build_probe(ProbeOptions(nonce=NONCE, trace_seconds=30), NOW)
    assert probe.sections[-2:] == ("trace", "events_4688")
    assert f"echo {M}trace&powershell.exe " in probe.command_line
    assert len(probe.command_line) <= CMD_LINE_LIMIT
    trace_out = (
        f"{M}trace\r\nauditplan-trace seconds=30.0 starts=42 started=2026-11-28T07:03:14Z\r\n{M}rc:0\r\n"
    ).encode()
    data = composed_output().replace(f"{M}events_4688\r\n".encode(), trace_out + f"{M}events_4688\r\n".encode())
    it = interpret(split_sections(data, 65001), probe)
    assert it.trace == ProcessTrace(seconds=30.0, process_starts=42,
                                    started_at=datetime(2026, 11, 28, 7, 3, 14, tzinfo=UTC))
    assert it.warnings == ()
    # Without the section (e.g. output cut) the trace is absent and the gap is named.
    it2 = interpret(split_sections(composed_output(), 65001), probe)
    assert it2.trace is None and "section trace missing: marker not found" in it2.warnings
