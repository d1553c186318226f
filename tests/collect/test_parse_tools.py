"""collect/parse/tools.py against the real captures quoted in the reference (tests/data/captures, see
SOURCES.md): auditpol, reg query, wevtutil gl/gli, sc query, find /c, ver, hostname.

Expected values were read off the reference text by hand (section named next to each test), not
produced by running the parsers.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from auditplan.collect.parse.tools import (
    AuditpolBackup,
    AuditpolReport,
    LogConfig,
    LogStatus,
    ParseError,
    ServiceState,
    cmdline_supported,
    parse_auditpol_backup,
    parse_auditpol_report,
    parse_find_counts,
    parse_hostname,
    parse_kb_present,
    parse_product_type,
    parse_reg_values,
    parse_sc_query,
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


def test_reg_missing_value_on_a_german_host_is_none() -> None:
    # SOURCES.md: reg's German "not found" line (exit 1, like §5.2's English one).
    assert parse_reg_values(capture("reg-query-not-found-de.txt"), 1) is None


def test_reg_missing_value_on_a_french_host_is_none() -> None:
    # SOURCES.md: "ERREUR : ... n’a pas trouvé ..." (typographic apostrophe, space before the colon).
    assert parse_reg_values(capture("reg-query-not-found-fr.txt"), 1) is None


@pytest.mark.parametrize("name", ["reg-query-not-found.txt", "reg-query-not-found-de.txt", "reg-query-not-found-fr.txt"])
def test_reg_known_not_found_text_decides_without_an_exit_code(name: str) -> None:
    # The probe's rc line can be missing (no `call`); the cited text alone still says "not found".
    assert parse_reg_values(capture(name), None) is None


def test_reg_not_found_text_with_a_french_ascii_apostrophe_and_other_case() -> None:
    assert parse_reg_values("Erreur : Le système n'a pas trouvé la clé ou la valeur de Registre spécifiée.\r\n", 1) is None


def test_reg_one_error_line_in_an_unknown_language_with_exit_1_is_missing() -> None:
    # Structure decides: no key line, no value line, one "<word>: <message>" line, exit 1. The Italian
    # wording here is made up on purpose: the parser must not need to know it.
    assert parse_reg_values("ERRORE: messaggio sconosciuto.\r\n", 1) is None


def test_reg_unknown_error_line_without_an_exit_code_is_a_parse_error() -> None:
    got = parse_reg_values("ERRORE: messaggio sconosciuto.\r\n", None)
    assert isinstance(got, ParseError) and got.kind == "malformed"


def test_reg_usage_error_is_not_read_as_missing() -> None:
    # §5.2: "ERROR: Invalid key name." + the usage line: two lines, so not a "not found".
    got = parse_reg_values('ERROR: Invalid key name.\r\nType "REG QUERY /?" for usage.\r\n', 1)
    assert isinstance(got, ParseError)


@pytest.mark.parametrize("text", ["ERROR: Access is denied.\r\n", "FEHLER: Zugriff verweigert\r\n", "ERREUR : Accès refusé.\r\n"])
def test_reg_access_denied_is_not_read_as_missing(text: str) -> None:
    # Same shape and exit code as "not found": the (system-message) text tells them apart.
    got = parse_reg_values(text, 1)
    assert isinstance(got, ParseError) and got.kind == "access_denied"


def test_reg_not_found_text_with_exit_0_is_not_missing() -> None:
    got = parse_reg_values(capture("reg-query-not-found-de.txt"), 0)
    assert isinstance(got, ParseError)


def test_reg_key_without_values_is_empty_dict() -> None:
    assert parse_reg_values("\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Empty\r\n\r\n", 0) == {}


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
    from auditplan.collect.parse.tools import RegValue

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


# --- localised hosts (docs/localised-tool-output.md) -------------------------------------------------


@pytest.mark.parametrize("name", ["sc-query-missing-1060-de.txt", "sc-query-missing-1060-fr.txt"])
@pytest.mark.parametrize("exit_code", [1060, None])
def test_sc_missing_service_in_german_and_french(name: str, exit_code: int | None) -> None:
    # French writes "1060 :" with a space: the number alone must still say "not installed".
    assert parse_sc_query(capture(name), exit_code) == ServiceState(present=False)


@pytest.mark.parametrize("message", ["Der angegebene Kanal wurde nicht gefunden.", "Le canal spécifié est introuvable."])
def test_wevtutil_missing_channel_in_german_and_french_without_an_exit_code(message: str) -> None:
    got = parse_wevtutil_gli("x\r\n" + message + "\r\n", None)
    assert isinstance(got, ParseError) and got.kind == "not_found"


def test_wevtutil_access_denied_in_french() -> None:
    got = parse_wevtutil_gl("Accès refusé.\r\nx\r\n", 5)
    assert isinstance(got, ParseError) and got.kind == "access_denied"
