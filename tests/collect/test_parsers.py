"""Parsers against the real captures quoted in the reference (tests/data/captures, see SOURCES.md).

Expected values were read off the reference text by hand (section named next to each test), not
produced by running the parsers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from auditplan.collect.winrm.interpret import (
    AuditpolBackup,
    AuditpolReport,
    LogConfig,
    LogStatus,
    ParseError,
    SampledEvents,
    ServiceState,
    cmdline_supported,
    parse_auditpol_backup,
    parse_auditpol_report,
    parse_event_time,
    parse_find_counts,
    parse_hostname,
    parse_kb_present,
    parse_product_type,
    parse_reg_values,
    parse_sampled_4688,
    parse_sc_query,
    parse_system_time,
    parse_ver,
    parse_wevtutil_gl,
    parse_wevtutil_gli,
    registry_retention,
    retention_mode,
)
from auditplan.records import PROCESS_CREATION_GUID, AuditSetting, ProductType

CAPTURES = Path(__file__).resolve().parents[1] / "data" / "captures"


def capture(name: str, encoding: str = "utf-8") -> str:
    return (CAPTURES / name).read_bytes().decode(encoding, errors="replace")


# --- auditpol /backup (windows-tool-outputs.md §1.1, gpo-backup-format.md §A1) ----------------------


def test_backup_birdsofpray_process_creation_and_row_count() -> None:
    got = parse_auditpol_backup(capture("auditpol-backup-birdsofpray.csv"))
    assert isinstance(got, AuditpolBackup)
    # §1.1: "BIRDSOFPRAY,System,Process Creation,{0CCE922B-...},Success and Failure,,3"
    assert got.process_creation is AuditSetting.SUCCESS_AND_FAILURE
    # §1.1 lists 59 "System" subcategory rows (66 lines - header - 4 option rows - 2 SACL rows).
    assert len(got.subcategories) == 59
    by_guid = {s.guid: s for s in got.subcategories}
    assert by_guid["{0cce9216-69ae-11d9-bed3-505054503030}"].setting is AuditSetting.SUCCESS  # Logoff ,,1
    assert by_guid["{0cce9234-69ae-11d9-bed3-505054503030}"].setting is AuditSetting.FAILURE  # Other Policy Change ,,2
    assert by_guid["{0cce9213-69ae-11d9-bed3-505054503030}"].setting is AuditSetting.NONE  # IPsec Driver ,,0
    assert by_guid[PROCESS_CREATION_GUID].name == "Process Creation"
    assert all(s.guid == s.guid.lower() and s.guid.startswith("{") for s in got.subcategories)


def test_backup_german_rows_in_ansi_read_by_number_and_guid() -> None:
    # §A1 option 1: "WS2022-DE,System,Prozesserstellung,{0CCE922B-...},Keine Überwachung,,0", written in the
    # ANSI code page; read through a UTF-8 shell the "Ü" byte is invalid, which must not matter.
    text = capture("auditpol-backup-ws2022-de-rows-cp1252.csv")
    assert "\ufffd" in text
    got = parse_auditpol_backup(text)
    assert isinstance(got, AuditpolBackup)
    assert got.process_creation is AuditSetting.NONE
    assert [s.name for s in got.subcategories] == ["Prozesserstellung"]


def test_backup_without_process_creation_row() -> None:
    text = (
        "Machine Name,Policy Target,Subcategory,Subcategory GUID,Inclusion Setting,Exclusion Setting,Setting Value\r\n"
    )
    text += "H,System,Logoff,{0CCE9216-69AE-11D9-BED3-505054503030},Success,,1\r\n"
    got = parse_auditpol_backup(text)
    assert isinstance(got, AuditpolBackup)
    assert got.process_creation is None
    assert len(got.subcategories) == 1


def test_backup_setting_value_out_of_range_is_not_guessed() -> None:
    text = "H,System,Process Creation,{0CCE922B-69AE-11D9-BED3-505054503030},Success,,7\r\n"
    got = parse_auditpol_backup(text)
    assert isinstance(got, ParseError)
    assert "Setting Value" in got.message


@pytest.mark.parametrize("parser", [parse_auditpol_backup, parse_auditpol_report])
def test_auditpol_privilege_error_is_access_denied(parser: object) -> None:
    # §2.4: "Error 0x00000522 occurred:\nA required privilege is not held by the client."
    got = parser(capture("auditpol-error-0x522.txt"))  # type: ignore[operator]
    assert isinstance(got, ParseError)
    assert got.kind == "access_denied"


def test_auditpol_portuguese_error_prefix_still_recognised() -> None:
    # §2.4: Portuguese prefix "Erro 0x00000522:" - the hex code is what counts.
    got = parse_auditpol_backup("Erro 0x00000522:\r\nUm privilégio necessário não é mantido pelo cliente.\r\n")
    assert isinstance(got, ParseError) and got.kind == "access_denied"


# --- auditpol /get /r (windows-tool-outputs.md §2, gpo-backup-format.md §A1) -----------------------


def test_report_category_all_fixture() -> None:
    got = parse_auditpol_report(capture("auditpol-get-category-all-cnquery.csv"))
    assert isinstance(got, AuditpolReport)
    assert len(got.settings) == 58  # §2.3: "The fixture has 58 rows"
    assert got.setting_for(PROCESS_CREATION_GUID) is AuditSetting.NONE  # "Process Creation,...,No Auditing,"
    assert got.setting_for("{0CCE9210-69AE-11D9-BED3-505054503030}") is AuditSetting.SUCCESS  # Security State Change
    assert got.setting_for("{0cce9212-69ae-11d9-bed3-505054503030}") is AuditSetting.SUCCESS_AND_FAILURE
    assert got.unrecognised == ()


def test_report_single_subcategory_with_blank_second_line() -> None:
    got = parse_auditpol_report(capture("auditpol-get-subcategory-ws2025.csv"))
    assert isinstance(got, AuditpolReport)
    assert got.setting_for(PROCESS_CREATION_GUID) is AuditSetting.NONE


def test_report_german_header_and_texts() -> None:
    # §A1: "WS2022-DE,System,Prozesserstellung,{0CCE922B-...},Keine Überwachung," (UTF-8 through cp 65001)
    got = parse_auditpol_report(capture("auditpol-get-ws2022-de.csv"))
    assert isinstance(got, AuditpolReport)
    assert got.setting_for(PROCESS_CREATION_GUID) is AuditSetting.NONE
    assert got.settings[0].name == "Prozesserstellung"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Erfolg und Fehler", AuditSetting.SUCCESS_AND_FAILURE),
        ("Erfolg", AuditSetting.SUCCESS),
        ("Succès", AuditSetting.SUCCESS),
        ("Geslaagd en mislukt", AuditSetting.SUCCESS_AND_FAILURE),
    ],
)
def test_report_localised_inclusion_texts(text: str, expected: AuditSetting) -> None:
    row = f"PC,System,X,{{0CCE922B-69AE-11D9-BED3-505054503030}},{text},\r\n"
    got = parse_auditpol_report(row)
    assert isinstance(got, AuditpolReport)
    assert got.setting_for(PROCESS_CREATION_GUID) is expected


def test_report_unknown_locale_text_is_reported_not_guessed() -> None:
    got = parse_auditpol_report("PC,System,X,{0CCE922B-69AE-11D9-BED3-505054503030},Успех,\r\n")
    assert isinstance(got, AuditpolReport)
    assert got.setting_for(PROCESS_CREATION_GUID) is None
    assert got.unrecognised == ((PROCESS_CREATION_GUID, "Успех"),)


# --- reg query (windows-tool-outputs.md §5) ---------------------------------------------------------


def test_reg_dword_from_transcript() -> None:
    got = parse_reg_values(capture("reg-query-audit-cmdline-dword.txt"), 0)
    assert isinstance(got, dict)
    value = got["ProcessCreationIncludeCmdLine_Enabled"]
    assert (value.type, value.data) == ("REG_DWORD", 1)


def test_reg_sz_raw_shape() -> None:
    got = parse_reg_values(capture("reg-query-currentbuild-7601.txt"), 0)
    assert isinstance(got, dict)
    assert (got["CurrentBuild"].type, got["CurrentBuild"].data) == ("REG_SZ", "7601")


def test_reg_missing_key_or_value_is_none() -> None:
    assert parse_reg_values(capture("reg-query-not-found.txt"), 1) is None


def test_reg_value_shapes_from_jpackage_comment() -> None:
    # §5.1 lists these real value lines; UBR "0x24f1" is lower-case hex.
    text = (
        "\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Test\r\n"
        "    (Default)    REG_SZ    test1\r\n"
        "    string_val_empty    REG_SZ\r\n"
        "    UBR    REG_DWORD    0x24f1\r\n"
        "    qword_val    REG_QWORD    0x2a\r\n"
        "    Display Version Name    REG_SZ    a  b\r\n\r\n"
    )
    got = parse_reg_values(text, 0)
    assert isinstance(got, dict)
    assert got["(Default)"].data == "test1"
    assert got["string_val_empty"].data == ""
    assert got["UBR"].data == 0x24F1 == 9457
    assert got["qword_val"].data == 42
    assert got["Display Version Name"].data == "a  b"


def test_reg_wrong_tool_output_is_an_error() -> None:
    got = parse_reg_values(capture("wevtutil-gl-security.txt"), 0)
    assert isinstance(got, ParseError)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("WinNT", ProductType.WORKSTATION),
        ("ServerNT", ProductType.SERVER),
        ("LanmanNT", ProductType.DOMAIN_CONTROLLER),
        ("servernt", ProductType.SERVER),
        ("Banana", None),
    ],
)
def test_product_type(raw: str, expected: ProductType | None) -> None:
    assert parse_product_type(raw) is expected


@pytest.mark.parametrize(
    ("build", "kb", "expected"),
    [
        (26100, None, True),
        (9600, None, True),
        (9600, False, True),
        (7601, True, True),
        (7601, False, False),
        (7601, None, None),
        (9200, True, True),
        (6002, True, False),
        (None, True, None),
    ],
)
def test_cmdline_support_by_build(build: int | None, kb: bool | None, expected: bool | None) -> None:
    # gpo-backup-format.md §A2: 2012 R2 / 8.1 (9600) natively; 7 / 2008 R2 (and 8 / 2012) need KB3004375.
    assert cmdline_supported(build, kb) is expected


def test_kb_present() -> None:
    assert parse_kb_present("KB3004375  \r\r\n") is True
    assert parse_kb_present("") is False


# --- wevtutil gl / gli (windows-tool-outputs.md §3) -------------------------------------------------


def test_gl_security() -> None:
    got = parse_wevtutil_gl(capture("wevtutil-gl-security.txt"), 0)
    # §3.1: retention: false, autoBackup: false, maxSize: 20971520
    assert got == LogConfig(max_size_bytes=20971520, retention="overwrite", enabled=True)


def test_gl_capi2_archive() -> None:
    got = parse_wevtutil_gl(capture("wevtutil-gl-capi2-operational.txt"), 0)
    # §3.1 older layout: retention: true, autoBackup: true, maxSize: 1052672 -> archive (§A4 AutoBackup)
    assert got == LogConfig(max_size_bytes=1052672, retention="archive", enabled=True)


@pytest.mark.parametrize(
    ("retention", "auto_backup", "expected"),
    [
        (False, False, "overwrite"),
        (False, True, "overwrite"),
        (True, True, "archive"),
        (True, False, "do_not_overwrite"),
        (None, None, None),
    ],
)
def test_retention_modes(retention: bool | None, auto_backup: bool | None, expected: str | None) -> None:
    assert retention_mode(retention, auto_backup) == expected


def test_gli() -> None:
    got = parse_wevtutil_gli(capture("wevtutil-gli-windows-powershell.txt"), 0)
    # §3.3: fileSize: 11603968, numberOfLogRecords: 9496, oldestRecordNumber: 1
    assert got == LogStatus(file_size_bytes=11603968, record_count=9496, oldest_record_number=1)


def test_gli_missing_channel() -> None:
    # §3.4: "Failed to read log status information for log <name>." + the system message, exit 15007
    text = (
        "Failed to read log status information for log Microsoft-Windows-Sysmon/Operational.\r\n"
        "The specified channel could not be found.\r\n"
    )
    got = parse_wevtutil_gli(text, 15007)
    assert isinstance(got, ParseError) and got.kind == "not_found"
    assert isinstance(parse_wevtutil_gli(text, None), ParseError)


def test_gl_access_denied() -> None:
    got = parse_wevtutil_gl("Access is denied.\r\n", 5)
    assert isinstance(got, ParseError) and got.kind == "access_denied"


def test_registry_retention_values() -> None:
    from auditplan.collect.winrm.interpret import RegValue

    def vals(ret: int, backup: int | None) -> dict[str, RegValue]:
        out = {"Retention": RegValue("Retention", "REG_DWORD", ret)}
        if backup is not None:
            out["AutoBackupLogFiles"] = RegValue("AutoBackupLogFiles", "REG_DWORD", backup)
        return out

    # gpo-backup-format.md §A4 (MS-GPSB 3.2.5.5): 0 overwrite, 0xFFFFFFFF never overwrite, N seconds.
    assert registry_retention(vals(0, None)) == "overwrite"
    assert registry_retention(vals(0xFFFFFFFF, None)) == "do_not_overwrite"
    assert registry_retention(vals(0xFFFFFFFF, 1)) == "archive"
    assert registry_retention(vals(604800, None)) == "overwrite"
    assert registry_retention(None) is None


# --- sc query (windows-tool-outputs.md §6) ----------------------------------------------------------


@pytest.mark.parametrize(
    "name", ["sc-query-sysmon64-running.txt", "sc-query-windefend.txt", "sc-query-w32time-winrs.txt"]
)
def test_sc_running(name: str) -> None:
    assert parse_sc_query(capture(name), 0) == ServiceState(present=True, running=True, state="RUNNING")


def test_sc_missing_1060() -> None:
    assert parse_sc_query(capture("sc-query-missing-1060.txt"), 1060) == ServiceState(present=False)
    # Spanish text from §6.2, exit code unknown: the number is enough.
    es = "[SC] EnumQueryServicesStatus:OpenService ERROR 1060:\r\n\r\nEl servicio especificado no existe como servicio instalado.\r\n"
    assert parse_sc_query(es, None) == ServiceState(present=False)


def test_sc_localised_labels_keep_english_state() -> None:
    # §6.1: Russian labels, English state names: "СОСТОЯНИЕ         : 4  RUNNING "
    text = "\r\nИМЯ_СЛУЖБЫ: Sysmon64 \r\n        ТИП                : 10  WIN32_OWN_PROCESS  \r\n        СОСТОЯНИЕ         : 1  STOPPED \r\n"
    assert parse_sc_query(text, 0) == ServiceState(present=True, running=False, state="STOPPED")


def test_sc_wrong_output() -> None:
    assert isinstance(parse_sc_query(capture("wevtutil-gli-windows-powershell.txt"), 0), ParseError)


# --- find /c, ver, hostname (windows-tool-outputs.md §7, §8) ----------------------------------------


def test_find_file_form_and_bare() -> None:
    assert parse_find_counts(capture("find-c-file-form.txt"), 1) == (96,)
    text = "\r\n---------- C:\\USERS\\A B\\TEMP\\APX: 3\r\n\r\n---------- C:\\USERS\\A B\\TEMP\\APX: 0\r\n7\r\n"
    assert parse_find_counts(text, 3) == (3, 0, 7)


def test_find_count_mismatch() -> None:
    got = parse_find_counts("File not found - APX\r\n", 24)
    assert isinstance(got, ParseError)
    assert "expected 24" in got.message


@pytest.mark.parametrize(
    ("text", "build", "ubr"),
    [
        (None, 26200, 9278),
        ("\r\nMicrosoft Windows [Version 10.0.20348.2655]\r\n", 20348, 2655),
        ("Microsoft Windows [Versión 10.0.19045.4291]\r\n", 19045, 4291),
        ("Microsoft Windows [版本 10.0.19045.0]\r\n", 19045, 0),
    ],
)
def test_ver(text: str | None, build: int, ubr: int) -> None:
    got = parse_ver(text if text is not None else capture("ver-win11-26200.txt"))
    assert not isinstance(got, ParseError)
    assert (got.major, got.minor, got.build, got.ubr) == (10, 0, build, ubr)


def test_hostname() -> None:
    assert parse_hostname(capture("hostname-winrs.txt")) == "WIN-HOST"
    assert isinstance(parse_hostname("two\r\nlines\r\n"), ParseError)
    assert isinstance(parse_hostname("<script>\r\n"), ParseError)


# --- event XML (windows-tool-outputs.md §4.1, gpo-backup-format.md §A5) -----------------------------


def test_system_time_seven_digits() -> None:
    assert parse_system_time("2026-08-14T20:10:49.4173297Z") == datetime(2026, 8, 14, 20, 10, 49, 417329, tzinfo=UTC)
    assert parse_system_time("2026-13-14T20:10:49Z") is None
    assert parse_system_time("yesterday") is None


def test_event_time_from_verbatim_4624_capture() -> None:
    # §4.1: first event's TimeCreated SystemTime='2026-08-14T20:10:49.4173297Z'; the text then starts a
    # second event that the quote cuts off.
    got = parse_event_time(capture("wevtutil-qe-security-4624-xml-partial.xml"), 0)
    assert got == datetime(2026, 8, 14, 20, 10, 49, 417329, tzinfo=UTC)


def test_event_time_empty_log() -> None:
    # §4.1: a query with zero matches: exit 0 and 0 bytes.
    assert parse_event_time("", 0) is None


def test_sampled_events_skip_other_ids_and_flag_truncation() -> None:
    got = parse_sampled_4688(capture("wevtutil-qe-security-4624-xml-partial.xml"), 0)
    assert isinstance(got, SampledEvents)
    assert got.events == ()
    kinds = {p.kind for p in got.problems}
    assert "truncated" in kinds
    assert any("4624" in p.message for p in got.problems)


NS = "http://schemas.microsoft.com/win/2004/08/events/event"


def make_4688(version: int, time: str, data: dict[str, str | None]) -> str:
    """A 4688 in wevtutil's /f:xml shape (§4.1: single quotes, one line) with §A5's fields."""
    items = "".join(f"<Data Name='{k}'/>" if v is None else f"<Data Name='{k}'>{v}</Data>" for k, v in data.items())
    return (
        f"<Event xmlns='{NS}'><System><Provider Name='Microsoft-Windows-Security-Auditing' "
        "Guid='{54849625-5478-4994-a5ba-3e3b0328c30d}'/><EventID>4688</EventID>"
        f"<Version>{version}</Version><Level>0</Level><Task>13312</Task><Opcode>0</Opcode>"
        f"<Keywords>0x8020000000000000</Keywords><TimeCreated SystemTime='{time}'/>"
        "<EventRecordID>1001</EventRecordID><Correlation/><Execution ProcessID='4' ThreadID='8'/>"
        "<Channel>Security</Channel><Computer>WS01.corp.example</Computer><Security/></System>"
        f"<EventData>{items}</EventData></Event>"
    )


V2 = make_4688(
    2,
    "2026-11-28T06:59:01.1234567Z",
    {
        "SubjectUserSid": "S-1-5-18",
        "SubjectUserName": "WS01$",
        "NewProcessName": "C:\\Windows\\System32\\net.exe",
        "CommandLine": "net user eve Hunter2Secret /add",
        "ParentProcessName": "C:\\Windows\\System32\\cmd.exe",
    },
)
V1_EMPTY = make_4688(
    1,
    "2026-11-28T06:58:00.0000000Z",
    {"SubjectUserName": "alice", "NewProcessName": "C:\\x.exe", "CommandLine": None},
)
V0 = make_4688(0, "2026-11-28T06:57:00Z", {"SubjectUserName": "bob", "NewProcessName": "C:\\y.exe"})


def test_sampled_4688_fields_versions_and_redaction() -> None:
    text = V2 + V1_EMPTY + V0 + "\r\n"
    got = parse_sampled_4688(text, 0)
    assert isinstance(got, SampledEvents)
    assert got.problems == ()
    v2, v1, v0 = got.events
    assert (v2.version, v2.event_id) == (2, 4688)
    assert v2.time == datetime(2026, 11, 28, 6, 59, 1, 123456, tzinfo=UTC)
    assert v2.new_process_name == "C:\\Windows\\System32\\net.exe"
    assert v2.parent_process_name == "C:\\Windows\\System32\\cmd.exe"
    assert v2.subject_user_name == "WS01$"
    assert v2.command_line is not None and "Hunter2Secret" not in v2.command_line
    assert v2.secrets_found == 1
    assert v2.size_bytes == len(V2.encode("utf-8"))
    assert v1.command_line == ""  # present but empty: policy off (gpo §A2)
    assert v1.parent_process_name is None
    assert v0.command_line is None  # no CommandLine field at all (version 0)


def test_sampled_4688_entity_declarations_refused() -> None:
    bomb = (
        "<?xml version='1.0'?><!DOCTYPE Event [<!ENTITY a 'aaaaaaaaaa'><!ENTITY b '&a;&a;&a;&a;&a;&a;&a;&a;'>]>"
        f"<Event xmlns='{NS}'><System><EventID>4688</EventID></System><EventData><Data Name='CommandLine'>&b;</Data>"
        "</EventData></Event>"
    )
    got = parse_sampled_4688(bomb, 0)
    assert isinstance(got, ParseError)
    assert "declaration" in got.message


def test_sampled_4688_one_bad_event_keeps_the_good_ones() -> None:
    broken = V2.replace("</EventData>", "</EventDta>")
    got = parse_sampled_4688(broken + V1_EMPTY, 0)
    assert isinstance(got, SampledEvents)
    assert len(got.events) == 1
    assert len(got.problems) == 1


def test_sampled_4688_access_denied_and_missing_log() -> None:
    # §4.3: Security as non-admin: exit 5 "Access is denied."; missing channel 15007.
    denied = parse_sampled_4688("Access is denied.\r\n", 5)
    assert isinstance(denied, ParseError) and denied.kind == "access_denied"
    missing = parse_sampled_4688("The specified channel could not be found.\r\nFailed to open event query.\r\n", 15007)
    assert isinstance(missing, ParseError) and missing.kind == "not_found"


def test_sampled_4688_real_events_from_cc0_evtx(evtx_dev_dir: Path) -> None:
    """Real 4688s (CC0-1.0, mdecrevoisier) rendered by the `evtx` package and concatenated as wevtutil
    does. facts.csv (written independently, with the evtx package) gives the truth: 2 events, both at
    2020-07-09T20:09:33.789004Z, CommandLine populated. The rendering differs from wevtutil's (indented,
    double quotes, an <?xml?> header per record) - the parser must not care."""
    from evtx import PyEvtxParser

    path = evtx_dev_dir / "mdec__ID4688-Audit_policy_clear_attempt.evtx"
    parts: list[str] = []
    for rec in PyEvtxParser(str(path)).records():
        assert rec is not None  # evtx's stub types __next__ as Optional; it never yields None
        parts.append(rec["data"])
    xml = "".join(parts)
    got = parse_sampled_4688(xml, 0)
    assert isinstance(got, SampledEvents)
    assert len(got.events) == 2
    assert {e.time for e in got.events} == {datetime(2020, 7, 9, 20, 9, 33, 789004, tzinfo=UTC)}
    assert all(e.command_line for e in got.events)
    assert any("auditpol" in (e.command_line or "").lower() for e in got.events)
    # This filtered export's events (read with the evtx package) carry no ParentProcessName element.
    assert all(e.version == 2 and e.parent_process_name is None for e in got.events)
    assert "C:\\Windows\\System32\\auditpol.exe" in {e.new_process_name for e in got.events}


# --- hostile input -----------------------------------------------------------------------------------

TEXT_PARSERS: list[Callable[[str], object]] = [
    lambda t: parse_auditpol_backup(t),
    lambda t: parse_auditpol_report(t),
    lambda t: parse_reg_values(t, 0),
    lambda t: parse_wevtutil_gl(t, 0),
    lambda t: parse_wevtutil_gli(t, 0),
    lambda t: parse_sc_query(t, 0),
    lambda t: parse_find_counts(t, 24),
    lambda t: parse_ver(t),
    lambda t: parse_hostname(t),
    lambda t: parse_event_time(t, 0),
    lambda t: parse_sampled_4688(t, 0),
]


@pytest.mark.parametrize("parser", TEXT_PARSERS)
def test_ten_megabytes_of_junk(parser: Callable[[str], object]) -> None:
    junk = ("\x00\xff<Event " + "A,{0CCE922B-69AE-11D9-BED3-505054503030}," * 3 + "\r\n") * 80_000
    junk = (junk * 2)[: 10 * 1024 * 1024]
    got = parser(junk)
    assert isinstance(got, ParseError | AuditpolBackup | AuditpolReport | SampledEvents | type(None))


@pytest.mark.parametrize("parser", TEXT_PARSERS)
def test_nul_bytes_and_truncated_xml(parser: Callable[[str], object]) -> None:
    for text in ("\x00" * 1000, V2[: len(V2) // 2], "<Event><System>", "\ufffd\r\n\r\n"):
        parser(text)  # must not raise


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=500))
def test_no_parser_raises_on_arbitrary_text(text: str) -> None:
    for parser in TEXT_PARSERS:
        parser(text)


PATHOLOGICAL = [
    "\r\n" * 1_000_000,
    " " * 2_000_000 + "x",
    "a: " + " " * 1_000_000 + "x",
    "    n" + "    " * 200_000 + "x",
    "<Event " * 200_000,
    "<Event>" + "</Event><Event>" * 100_000,
]


@pytest.mark.parametrize("text", PATHOLOGICAL, ids=range(len(PATHOLOGICAL)))
def test_pathological_input_finishes(text: str) -> None:
    """Backtracking traps (long whitespace runs, many event starts) must stay linear: this test would
    hang, not fail, if a regex went quadratic."""
    for parser in TEXT_PARSERS:
        parser(text)


# --- task T12: the probe's own processes are dropped from the sample --------------------------------

_NS = "http://schemas.microsoft.com/win/2004/08/events/event"


def _own_4688(minute: int, new_pid: str, creator_pid: str, image: str, cmd: str) -> str:
    # Field names and the 0x-hex process ids: the 4688 schema (gpo-backup-format.md §A5).
    return (
        f"<Event xmlns='{_NS}'><System><Provider Name='Microsoft-Windows-Security-Auditing'/>"
        f"<EventID>4688</EventID><Version>2</Version><TimeCreated SystemTime='2026-11-28T06:{minute:02d}:00.0000000Z'/>"
        "<Computer>WIN-HOST</Computer></System><EventData>"
        f"<Data Name='NewProcessId'>{new_pid}</Data><Data Name='NewProcessName'>{image}</Data>"
        f"<Data Name='ProcessId'>{creator_pid}</Data><Data Name='CommandLine'>{cmd}</Data></EventData></Event>"
    )


def test_sample_drops_the_probes_own_process_tree() -> None:
    """Newest first, as /rd:true returns them. The probe's cmd.exe (nonce in its CommandLine, pid 0x100)
    started wevtutil (0x200) and find (0x300); wevtutil started conhost (0x400, a grandchild). An older
    process with creator pid 0x100 (recycled id, before cmd.exe started) and unrelated processes stay."""
    nonce = "c0ffee"
    events = [
        _own_4688(50, "0x400", "0x200", "C:\\Windows\\System32\\conhost.exe", "conhost.exe 0xffffffff"),
        _own_4688(49, "0x300", "0x100", "C:\\Windows\\System32\\find.exe", 'find /c ": 2026"'),
        _own_4688(48, "0x999", "0x555", "C:\\Windows\\System32\\svchost.exe", "svchost.exe -k netsvcs"),
        _own_4688(47, "0x200", "0x100", "C:\\Windows\\System32\\wevtutil.exe", "wevtutil qe Security /c:1"),
        _own_4688(46, "0x100", "0x50", "C:\\Windows\\System32\\cmd.exe", f"cmd /c echo ##AP{nonce}:hostname"),
        _own_4688(10, "0x700", "0x100", "C:\\Windows\\System32\\net.exe", "net use"),  # before cmd.exe: kept
    ]
    parsed = parse_sampled_4688("".join(events), 0, nonce=nonce)
    assert not isinstance(parsed, ParseError)
    assert [e.new_process_name.rsplit("\\", 1)[-1] for e in parsed.events if e.new_process_name] == [
        "svchost.exe", "net.exe"
    ]
    assert parsed.own_dropped == 4 and parsed.problems == ()
    # Without the nonce nothing can be told apart, so nothing is dropped.
    plain = parse_sampled_4688("".join(events), 0)
    assert not isinstance(plain, ParseError) and len(plain.events) == 6 and plain.own_dropped == 0
