"""Tool emulations against the reference captures (windows-tool-outputs.md, gpo-backup-format.md §A).

Each expected text is quoted from the reference with its section; comparisons are on bytes,
CRLF and padding included.
"""

from __future__ import annotations

from datetime import UTC, datetime

from auditplan.records import AuditSetting, ProductType
from auditplan.simulator.cmd_files import FileSystem
from auditplan.simulator.cmd_shell import CRLF, Shell
from auditplan.simulator.host import SimulatedHost
from auditplan.simulator.interface import CommandOutput
from auditplan.simulator.profile import (
    AuditProfile,
    HostProfile,
    OSProfile,
    SecurityLogProfile,
    SysmonProfile,
)
from auditplan.simulator.tools_find import find_tool
from auditplan.simulator.tools_wevtutil import Wevtutil

NOW = datetime(2026, 11, 28, 7, 0, tzinfo=UTC)
PC_GUID = "{0CCE922B-69AE-11D9-BED3-505054503030}"

# windows-tool-outputs.md §1.1 (VERBATIM, dsccommunity/AuditPolicyDsc Tests/Unit/audit.csv).
BIRDSOFPRAY_BACKUP = """\
Machine Name,Policy Target,Subcategory,Subcategory GUID,Inclusion Setting,Exclusion Setting,Setting Value
BIRDSOFPRAY,System,IPsec Driver,{0CCE9213-69AE-11D9-BED3-505054503030},No Auditing,,0
BIRDSOFPRAY,System,System Integrity,{0CCE9212-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Security System Extension,{0CCE9211-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Security State Change,{0CCE9210-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Other System Events,{0CCE9214-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Group Membership,{0CCE9249-69AE-11D9-BED3-505054503030},No Auditing,,0
BIRDSOFPRAY,System,User / Device Claims,{0CCE9247-69AE-11D9-BED3-505054503030},No Auditing,,0
BIRDSOFPRAY,System,Network Policy Server,{0CCE9243-69AE-11D9-BED3-505054503030},No Auditing,,0
BIRDSOFPRAY,System,Other Logon/Logoff Events,{0CCE921C-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Special Logon,{0CCE921B-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,IPsec Extended Mode,{0CCE921A-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,IPsec Quick Mode,{0CCE9219-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,IPsec Main Mode,{0CCE9218-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Account Lockout,{0CCE9217-69AE-11D9-BED3-505054503030},No Auditing,,0
BIRDSOFPRAY,System,Logoff,{0CCE9216-69AE-11D9-BED3-505054503030},Success,,1
BIRDSOFPRAY,System,Logon,{0CCE9215-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Handle Manipulation,{0CCE9223-69AE-11D9-BED3-505054503030},No Auditing,,0
BIRDSOFPRAY,System,Central Policy Staging,{0CCE9246-69AE-11D9-BED3-505054503030},No Auditing,,0
BIRDSOFPRAY,System,Removable Storage,{0CCE9245-69AE-11D9-BED3-505054503030},No Auditing,,0
BIRDSOFPRAY,System,Detailed File Share,{0CCE9244-69AE-11D9-BED3-505054503030},No Auditing,,0
BIRDSOFPRAY,System,Other Object Access Events,{0CCE9227-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Filtering Platform Connection,{0CCE9226-69AE-11D9-BED3-505054503030},No Auditing,,0
BIRDSOFPRAY,System,Filtering Platform Packet Drop,{0CCE9225-69AE-11D9-BED3-505054503030},No Auditing,,0
BIRDSOFPRAY,System,File Share,{0CCE9224-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Application Generated,{0CCE9222-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Certification Services,{0CCE9221-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,SAM,{0CCE9220-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Kernel Object,{0CCE921F-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Registry,{0CCE921E-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,File System,{0CCE921D-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Other Privilege Use Events,{0CCE922A-69AE-11D9-BED3-505054503030},No Auditing,,0
BIRDSOFPRAY,System,Non Sensitive Privilege Use,{0CCE9229-69AE-11D9-BED3-505054503030},No Auditing,,0
BIRDSOFPRAY,System,Sensitive Privilege Use,{0CCE9228-69AE-11D9-BED3-505054503030},Success,,1
BIRDSOFPRAY,System,RPC Events,{0CCE922E-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Token Right Adjusted Events,{0CCE924A-69AE-11D9-BED3-505054503030},No Auditing,,0
BIRDSOFPRAY,System,Process Creation,{0CCE922B-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Process Termination,{0CCE922C-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Plug and Play Events,{0CCE9248-69AE-11D9-BED3-505054503030},No Auditing,,0
BIRDSOFPRAY,System,DPAPI Activity,{0CCE922D-69AE-11D9-BED3-505054503030},No Auditing,,0
BIRDSOFPRAY,System,Other Policy Change Events,{0CCE9234-69AE-11D9-BED3-505054503030},Failure,,2
BIRDSOFPRAY,System,Authentication Policy Change,{0CCE9230-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Audit Policy Change,{0CCE922F-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Filtering Platform Policy Change,{0CCE9233-69AE-11D9-BED3-505054503030},No Auditing,,0
BIRDSOFPRAY,System,Authorization Policy Change,{0CCE9231-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,MPSSVC Rule-Level Policy Change,{0CCE9232-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Other Account Management Events,{0CCE923A-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Application Group Management,{0CCE9239-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Distribution Group Management,{0CCE9238-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Security Group Management,{0CCE9237-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Computer Account Management,{0CCE9236-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,User Account Management,{0CCE9235-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Directory Service Replication,{0CCE923D-69AE-11D9-BED3-505054503030},No Auditing,,0
BIRDSOFPRAY,System,Directory Service Access,{0CCE923B-69AE-11D9-BED3-505054503030},No Auditing,,0
BIRDSOFPRAY,System,Detailed Directory Service Replication,{0CCE923E-69AE-11D9-BED3-505054503030},No Auditing,,0
BIRDSOFPRAY,System,Directory Service Changes,{0CCE923C-69AE-11D9-BED3-505054503030},No Auditing,,0
BIRDSOFPRAY,System,Other Account Logon Events,{0CCE9241-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Kerberos Service Ticket Operations,{0CCE9240-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Credential Validation,{0CCE923F-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,System,Kerberos Authentication Service,{0CCE9242-69AE-11D9-BED3-505054503030},Success and Failure,,3
BIRDSOFPRAY,,Option:CrashOnAuditFail,,Disabled,,0
BIRDSOFPRAY,,Option:FullPrivilegeAuditing,,Disabled,,0
BIRDSOFPRAY,,Option:AuditBaseObjects,,Disabled,,0
BIRDSOFPRAY,,Option:AuditBaseDirectories,,Disabled,,0
BIRDSOFPRAY,,FileGlobalSacl,,,,
BIRDSOFPRAY,,RegistryGlobalSacl,,,,
"""

# windows-tool-outputs.md §2.3 (FIXTURE, mondoohq/cnquery auditpol.toml; machine anonymised as
# "Test", no blank line, no Credential Validation row).
CNQUERY_GET_ALL = """\
Machine Name,Policy Target,Subcategory,Subcategory GUID,Inclusion Setting,Exclusion Setting
Test,System,Security System Extension,{0CCE9211-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,System Integrity,{0CCE9212-69AE-11D9-BED3-505054503030},Success and Failure,
Test,System,IPsec Driver,{0CCE9213-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Other System Events,{0CCE9214-69AE-11D9-BED3-505054503030},Success and Failure,
Test,System,Security State Change,{0CCE9210-69AE-11D9-BED3-505054503030},Success,
Test,System,Logon,{0CCE9215-69AE-11D9-BED3-505054503030},Success and Failure,
Test,System,Logoff,{0CCE9216-69AE-11D9-BED3-505054503030},Success,
Test,System,Account Lockout,{0CCE9217-69AE-11D9-BED3-505054503030},Success,
Test,System,IPsec Main Mode,{0CCE9218-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,IPsec Quick Mode,{0CCE9219-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,IPsec Extended Mode,{0CCE921A-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Special Logon,{0CCE921B-69AE-11D9-BED3-505054503030},Success,
Test,System,Other Logon/Logoff Events,{0CCE921C-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Network Policy Server,{0CCE9243-69AE-11D9-BED3-505054503030},Success and Failure,
Test,System,User / Device Claims,{0CCE9247-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Group Membership,{0CCE9249-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,File System,{0CCE921D-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Registry,{0CCE921E-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Kernel Object,{0CCE921F-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,SAM,{0CCE9220-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Certification Services,{0CCE9221-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Application Generated,{0CCE9222-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Handle Manipulation,{0CCE9223-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,File Share,{0CCE9224-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Filtering Platform Packet Drop,{0CCE9225-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Filtering Platform Connection,{0CCE9226-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Other Object Access Events,{0CCE9227-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Detailed File Share,{0CCE9244-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Removable Storage,{0CCE9245-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Central Policy Staging,{0CCE9246-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Non Sensitive Privilege Use,{0CCE9229-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Other Privilege Use Events,{0CCE922A-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Sensitive Privilege Use,{0CCE9228-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Process Creation,{0CCE922B-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Process Termination,{0CCE922C-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,DPAPI Activity,{0CCE922D-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,RPC Events,{0CCE922E-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Plug and Play Events,{0CCE9248-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Token Right Adjusted Events,{0CCE924A-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Audit Policy Change,{0CCE922F-69AE-11D9-BED3-505054503030},Success,
Test,System,Authentication Policy Change,{0CCE9230-69AE-11D9-BED3-505054503030},Success,
Test,System,Authorization Policy Change,{0CCE9231-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,MPSSVC Rule-Level Policy Change,{0CCE9232-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Filtering Platform Policy Change,{0CCE9233-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Other Policy Change Events,{0CCE9234-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Computer Account Management,{0CCE9236-69AE-11D9-BED3-505054503030},Success,
Test,System,Security Group Management,{0CCE9237-69AE-11D9-BED3-505054503030},Success,
Test,System,Distribution Group Management,{0CCE9238-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Application Group Management,{0CCE9239-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Other Account Management Events,{0CCE923A-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,User Account Management,{0CCE9235-69AE-11D9-BED3-505054503030},Success,
Test,System,Directory Service Access,{0CCE923B-69AE-11D9-BED3-505054503030},Success,
Test,System,Directory Service Changes,{0CCE923C-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Directory Service Replication,{0CCE923D-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Detailed Directory Service Replication,{0CCE923E-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Kerberos Service Ticket Operations,{0CCE9240-69AE-11D9-BED3-505054503030},Success,
Test,System,Other Account Logon Events,{0CCE9241-69AE-11D9-BED3-505054503030},No Auditing,
Test,System,Kerberos Authentication Service,{0CCE9242-69AE-11D9-BED3-505054503030},Success,
"""

TEXT_TO_SETTING = {
    "No Auditing": AuditSetting.NONE,
    "Success": AuditSetting.SUCCESS,
    "Failure": AuditSetting.FAILURE,
    "Success and Failure": AuditSetting.SUCCESS_AND_FAILURE,
}


def profile_from_capture(text: str, guid_column: int, setting_column: int, **kw: object) -> HostProfile:
    """A profile whose subcategory settings are the ones a capture shows."""
    overrides = []
    for line in text.splitlines()[1:]:
        cols = line.split(",")
        if len(cols) > setting_column and cols[guid_column].startswith("{"):
            overrides.append((cols[guid_column], TEXT_TO_SETTING[cols[setting_column]]))
    pc = dict(overrides).get(PC_GUID, AuditSetting.NONE)
    audit = AuditProfile(process_creation=pc, subcategories=tuple(overrides))
    return HostProfile(address="127.0.0.11", audit=audit, **kw)  # type: ignore[arg-type]


def host(profile: HostProfile) -> SimulatedHost:
    return SimulatedHost(profile, now=NOW)


def crlf(text: str) -> bytes:
    return text.replace("\n", "\r\n").encode("ascii")


# --- auditpol /backup (§1.1, §1.2) ---------------------------------------------------------------


def test_auditpol_backup_file_is_the_captured_file_byte_for_byte() -> None:
    # BIRDSOFPRAY predates Server 2022's Access Rights subcategory (tools_auditpol.py): an older build.
    profile = profile_from_capture(
        BIRDSOFPRAY_BACKUP, 3, 4, name="birdsofpray", computer_name="BIRDSOFPRAY", os=OSProfile(build=17763)
    )
    h = host(profile)
    out = h.run("auditpol /backup /file:%TEMP%\\ap.csv")
    assert out.exit_code == 0
    assert out.stdout == b"The command was successfully executed.\r\n"  # UNVERIFIED text (§1.2)
    data = h.fs.read("C:\\Users\\auditor\\AppData\\Local\\Temp\\ap.csv")
    # Same rows, order, GUID case and Setting Value column as the capture; CRLF per MS-GPAC.
    assert data == crlf(BIRDSOFPRAY_BACKUP)
    # `type` passes the bytes unchanged (§1.2).
    assert h.run("type %TEMP%\\ap.csv").stdout == data


def test_auditpol_backup_refuses_an_existing_file() -> None:
    h = host(HostProfile(name="h", address="127.0.0.11"))
    assert h.run("auditpol /backup /file:C:\\x.csv").exit_code == 0
    again = h.run("auditpol /backup /file:C:\\x.csv")
    assert again.exit_code != 0  # §1.2: auditpol does not write into an existing file
    assert h.run("del C:\\x.csv& auditpol /backup /file:C:\\x.csv").exit_code == 0


def test_german_backup_rows_match_the_real_german_capture() -> None:
    # gpo-backup-format.md §A1, real German WS2022 capture:
    #   WS2022-DE,System,Prozesserstellung,{0CCE922B-69AE-11D9-BED3-505054503030},Keine Überwachung,,0
    #   WS2022-DE,,Option:CrashOnAuditFail,,Deaktiviert,,0
    # The file is in the ANSI code page (cp1252 on German Windows), so 'Ü' is the byte 0xDC.
    h = host(HostProfile(name="ws2022-de", address="127.0.0.11", locale="de-DE", computer_name="WS2022-DE"))
    h.run("auditpol /backup /file:C:\\b.csv")
    data = h.fs.read("C:\\b.csv") or b""
    lines = data.split(b"\r\n")
    assert lines[-1] == b""  # CRLF after the last row
    assert (
        "WS2022-DE,System,Prozesserstellung,{0CCE922B-69AE-11D9-BED3-505054503030},Keine Überwachung,,0".encode(
            "cp1252"
        )
        in lines
    )
    assert b"WS2022-DE,,Option:CrashOnAuditFail,,Deaktiviert,,0" in lines
    assert lines[0].endswith(b",Einstellungswert")
    # Locale changes texts, never the numeric column or the GUIDs.
    english = host(HostProfile(name="ws2022-de", address="127.0.0.11", computer_name="WS2022-DE"))
    english.run("auditpol /backup /file:C:\\b.csv")
    en_lines = (english.fs.read("C:\\b.csv") or b"").split(b"\r\n")

    def guid_value(rows: list[bytes]) -> set[tuple[bytes, bytes]]:
        return {(r.split(b",")[3], r.split(b",")[6]) for r in rows[1:] if r.count(b",") == 6 and b"{" in r}

    assert guid_value(lines) == guid_value(en_lines)
    assert len(guid_value(lines)) == 60  # Server 2022: 59 + Access Rights


# --- auditpol /get (§2, gpo-backup-format.md §A1) -------------------------------------------------


def test_get_subcategory_by_guid_r_header_blank_line_row() -> None:
    # §A1: header, a blank line, then
    #   WS2025,System,Process Creation,{0CCE922B-69AE-11D9-BED3-505054503030},No Auditing,
    h = host(HostProfile(name="ws2025", address="127.0.0.11", computer_name="WS2025"))
    out = h.run("auditpol /get /subcategory:{0CCE922B-69AE-11D9-BED3-505054503030} /r")
    assert out.stdout == (
        b"Machine Name,Policy Target,Subcategory,Subcategory GUID,Inclusion Setting,Exclusion Setting\r\n"
        b"\r\n"
        b"WS2025,System,Process Creation,{0CCE922B-69AE-11D9-BED3-505054503030},No Auditing,\r\n"
    )
    assert out.exit_code == 0
    # Lower-case GUIDs are accepted too.
    lower = h.run("auditpol /get /subcategory:{0cce922b-69ae-11d9-bed3-505054503030} /r")
    assert lower.stdout == out.stdout


def test_get_category_all_r_rows_follow_the_get_order() -> None:
    profile = profile_from_capture(CNQUERY_GET_ALL, 3, 4, name="test", computer_name="Test")
    out = host(profile).run("auditpol /get /category:* /r")
    lines = out.stdout.decode("ascii").split("\r\n")
    captured = CNQUERY_GET_ALL.splitlines()
    assert lines[0] == captured[0]
    assert lines[1] == ""  # the blank second line (§2.1)
    rows = [r for r in lines[2:] if r]
    # The fixture lacks Credential Validation (a full list has it, §2.3) and Server 2022's Access
    # Rights, and anonymised the machine name; everything else must be identical, in order.
    ours = [r.split(",", 1)[1] for r in rows if "Credential Validation" not in r and "Access Rights" not in r]
    assert ours == [r.split(",", 1)[1] for r in captured[1:]]
    assert rows[0].startswith("TEST,System,")
    assert len(rows) == 60


def test_german_get_r_texts_and_code_page() -> None:
    # gpo-backup-format.md §A1, real German WS2022 capture:
    #   Computername,Richtlinienziel,Unterkategorie,Unterkategorie-GUID,Aufnahmeeinstellung,Ausschlusseinstellung
    #   WS2022-DE,System,Prozesserstellung,{0CCE922B-69AE-11D9-BED3-505054503030},Keine Überwachung,
    h = host(HostProfile(name="ws2022-de", address="127.0.0.11", locale="de-DE", computer_name="WS2022-DE"))
    expected = (
        "Computername,Richtlinienziel,Unterkategorie,Unterkategorie-GUID,Aufnahmeeinstellung,Ausschlusseinstellung\r\n"
        "\r\n"
        "WS2022-DE,System,Prozesserstellung,{0CCE922B-69AE-11D9-BED3-505054503030},Keine Überwachung,\r\n"
    )
    # The OEM console of a German host is cp850 ('Ü' = 0x9A); a UTF-8 WinRS shell gets UTF-8.
    assert h.run(f"auditpol /get /subcategory:{PC_GUID} /r").stdout == expected.encode("cp850")
    assert h.run(f"auditpol /get /subcategory:{PC_GUID} /r", codepage=65001).stdout == expected.encode("utf-8")
    # German inclusion texts (§2.2): Erfolg / Fehler / Erfolg und Fehler.
    on = host(
        HostProfile(
            name="de2",
            address="127.0.0.12",
            locale="de-DE",
            audit=AuditProfile(process_creation=AuditSetting.SUCCESS_AND_FAILURE),
        )
    )
    assert ",Erfolg und Fehler,\r\n".encode("cp850") in on.run(f"auditpol /get /subcategory:{PC_GUID} /r").stdout
    # Names are accepted in the host's language only (ansible#67962).
    assert on.run('auditpol /get /subcategory:"Prozesserstellung" /r').exit_code == 0
    assert on.run('auditpol /get /subcategory:"Process Creation" /r').exit_code != 0


def test_get_category_text_layout() -> None:
    h = host(HostProfile(name="h", address="127.0.0.11", audit=AuditProfile(process_creation=AuditSetting.SUCCESS)))
    lines = h.run("auditpol /get /category:*").stdout.decode("ascii").split("\r\n")
    assert lines[0] == "System audit policy"
    assert lines[1].startswith("Category/Subcategory") and lines[1].endswith("Setting")
    assert "  Process Creation                        Success" in lines
    assert "Detailed Tracking" in lines


def test_auditpol_not_admin_and_bad_arguments() -> None:
    denied = host(HostProfile(name="h", address="127.0.0.11", admin=False)).run(
        f"auditpol /get /subcategory:{PC_GUID} /r"
    )
    # §2.4 (VERBATIM text; stream and exit code UNVERIFIED).
    assert b"Error 0x00000522 occurred:\r\nA required privilege is not held by the client.\r\n" in denied.stderr
    assert denied.stdout == b""
    assert denied.exit_code != 0
    bad = host(HostProfile(name="h", address="127.0.0.11")).run("auditpol /frobnicate")
    # §2.4 (Chef run): usage on stdout, `Error 0x00000057 occurred:` / `The parameter is incorrect.` on stderr.
    assert bad.stdout.startswith(b"Usage: AuditPol command [<sub-command><options>]\r\n")
    assert bad.stderr == b"Error 0x00000057 occurred:\r\nThe parameter is incorrect.\r\n"
    unknown = host(HostProfile(name="h", address="127.0.0.11")).run(
        "auditpol /get /subcategory:{00000000-0000-0000-0000-000000000000} /r"
    )
    assert unknown.exit_code != 0
    assert host(HostProfile(name="h", address="127.0.0.11")).run("auditpol").stdout.split(b"\r\n")[0] == (
        b"Usage: AuditPol command [<sub-command><options>]"
    )


# --- reg query (§5) ------------------------------------------------------------------------------


def test_reg_value_query_layout_from_the_fixture() -> None:
    # §5.1 FIXTURE raw bytes for `reg query "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion" /v CurrentBuild`
    h = host(HostProfile(name="h", address="127.0.0.11", os=OSProfile(build=7601, ubr=0, display_version=None)))
    out = h.run('reg query "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion" /v CurrentBuild')
    assert out.stdout == (
        b"\r\nHKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\r\n"
        b"    CurrentBuild    REG_SZ    7601\r\n\r\n"
    )
    assert out.exit_code == 0


def test_reg_echoes_the_path_as_typed_and_formats_dwords() -> None:
    # §5.1 (VERBATIM transcript): lower-case path stays lower-case, DWORD 0x1.
    h = host(HostProfile(name="h", address="127.0.0.11", audit=AuditProfile(cmdline_enabled=True)))
    out = h.run('reg query "hklm\\software\\microsoft\\windows\\currentversion\\policies\\system\\audit"')
    assert out.stdout == (
        b"\r\nHKEY_LOCAL_MACHINE\\software\\microsoft\\windows\\currentversion\\policies\\system\\audit\r\n"
        b"    ProcessCreationIncludeCmdLine_Enabled    REG_DWORD    0x1\r\n\r\n"
    )
    # §5.1: `0x24f1` for UBR (lower-case hex, no padding).
    ubr = host(HostProfile(name="h", address="127.0.0.11", os=OSProfile(ubr=0x24F1)))
    line = ubr.run('reg query "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion" /v UBR').stdout
    assert b"    UBR    REG_DWORD    0x24f1\r\n" in line


def test_reg_missing_key_or_value() -> None:
    # §5.2 (VERBATIM): stderr, exit 1, same text for a missing key and a missing value.
    expected = b"ERROR: The system was unable to find the specified registry key or value.\r\n"
    h = host(HostProfile(name="h", address="127.0.0.11"))
    for line in (
        'reg query "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System\\Audit"',
        "reg query HKLM\\SYSTEM\\CurrentControlSet\\Control\\Lsa /v SCENoApplyLegacyAuditPolicy",
        "reg query HKLM\\SOFTWARE\\Nope",
    ):
        out = h.run(line)
        assert (out.stdout, out.stderr, out.exit_code) == (b"", expected, 1), line
    bad_root = h.run("reg query HKXX\\Software")
    assert bad_root.stderr == b'ERROR: Invalid key name.\r\nType "REG QUERY /?" for usage.\r\n'


def test_reg_values_reflect_the_profile() -> None:
    p = HostProfile(
        name="h",
        address="127.0.0.11",
        os=OSProfile(product_type=ProductType.DOMAIN_CONTROLLER),
        audit=AuditProfile(force_subcategory=True),
        security_log=SecurityLogProfile(max_size_bytes=4194304, retention="archive"),
    )
    h = host(p)
    assert (
        b"    ProductType    REG_SZ    LanmanNT\r\n"
        in h.run("reg query HKLM\\SYSTEM\\CurrentControlSet\\Control\\ProductOptions /v ProductType").stdout
    )
    assert (
        b"    SCENoApplyLegacyAuditPolicy    REG_DWORD    0x1\r\n"
        in h.run("reg query HKLM\\SYSTEM\\CurrentControlSet\\Control\\Lsa /v SCENoApplyLegacyAuditPolicy").stdout
    )
    evt = h.run("reg query HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Security").stdout
    assert b"    MaxSize    REG_DWORD    0x400000\r\n" in evt
    assert b"    Retention    REG_DWORD    0xffffffff\r\n" in evt
    assert b"    AutoBackupLogFiles    REG_DWORD    0x1\r\n" in evt
    assert (
        host(HostProfile(name="u", address="127.0.0.11", admin=False))
        .run("reg query HKLM\\SYSTEM\\CurrentControlSet\\Services\\EventLog\\Security")
        .exit_code
        == 1
    )


def test_2008r2_has_no_ubr_and_kb3004375_is_found_in_cbs_packages() -> None:
    old = OSProfile(product_name="Windows Server 2008 R2 Enterprise", build=7601, ubr=0, display_version=None)
    h = host(HostProfile(name="h", address="127.0.0.11", os=old))
    assert h.run('reg query "HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion" /v UBR').exit_code == 1
    search = 'reg query "HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Component Based Servicing\\Packages" /k /f KB3004375'
    none = h.run(search)
    assert none.stdout.endswith(b"End of search: 0 match(es) found.\r\n")
    patched = host(HostProfile(name="h", address="127.0.0.11", os=OSProfile(build=7601, ubr=0, kb3004375=True)))
    found = patched.run(search)
    assert b"\\Package_for_KB3004375~31bf3856ad364e35~amd64~~6.1.1.5\r\n" in found.stdout
    assert found.stdout.endswith(b"End of search: 1 match(es) found.\r\n")
    assert h.run("ver").stdout == b"\r\nMicrosoft Windows [Version 6.1.7601]\r\n"


# --- sc query (§6) -------------------------------------------------------------------------------


def test_sc_query_missing_service() -> None:
    # §6.2 raw bytes (Node execFile capture): code 1060, text on stdout.
    out = host(HostProfile(name="h", address="127.0.0.11")).run("sc query Sysmon64")
    assert out.stdout == (
        b"[SC] EnumQueryServicesStatus:OpenService FAILED 1060:\r\n\r\n"
        b"The specified service does not exist as an installed service.\r\n\r\n"
    )
    assert (out.stderr, out.exit_code) == (b"", 1060)


def test_sc_query_running_and_stopped() -> None:
    # §6.1 fixture shapes ("real Turkish Windows output"): trailing spaces after SERVICE_NAME,
    # two after TYPE, one after STATE, 32-space controls line.
    running = host(HostProfile(name="h", address="127.0.0.11", sysmon=SysmonProfile(installed=True)))
    out = running.run("sc query Sysmon64")
    assert out.stdout.startswith(
        b"\r\nSERVICE_NAME: Sysmon64 \r\n"
        b"        TYPE               : 10  WIN32_OWN_PROCESS  \r\n"
        b"        STATE              : 4  RUNNING \r\n"
        b"                                (STOPPABLE, NOT_PAUSABLE, IGNORES_SHUTDOWN)\r\n"
        b"        WIN32_EXIT_CODE    : 0  (0x0)\r\n"
        b"        SERVICE_EXIT_CODE  : 0  (0x0)\r\n"
        b"        CHECKPOINT         : 0x0\r\n"
        b"        WAIT_HINT          : 0x0\r\n"
    )
    assert out.exit_code == 0
    assert running.run("sc query Sysmon").exit_code == 1060
    stopped = host(
        HostProfile(
            name="h", address="127.0.0.11", sysmon=SysmonProfile(installed=True, service_name="Sysmon", running=False)
        )
    ).run("sc query Sysmon")
    assert b"        STATE              : 1  STOPPED \r\n" in stopped.stdout
    assert b"        WIN32_EXIT_CODE    : 1077  (0x435)\r\n" in stopped.stdout


# --- hostname, ver (§8) --------------------------------------------------------------------------


def test_hostname_and_ver() -> None:
    # §8: `hostname` -> name + CRLF; Server 2022 `ver` -> blank line + `Microsoft Windows [Version 10.0.20348.2655]`.
    h = host(
        HostProfile(
            name="dc01",
            address="127.0.0.11",
            computer_name="WIN-HOST.corp.example",
            os=OSProfile(build=20348, ubr=2655),
        )
    )
    assert h.run("hostname").stdout == b"WIN-HOST\r\n"
    assert h.run("ver").stdout == b"\r\nMicrosoft Windows [Version 10.0.20348.2655]\r\n"


# --- wevtutil (§3, §4.3) -------------------------------------------------------------------------

# §3.1 (VERBATIM, several captures). Markdown cannot show a trailing space after
# "owningPublisher:"; the emulator prints one (the 410-byte measurement of `gl System`, §3.1).
GL_SECURITY = """\
name: Security
enabled: true
type: Admin
owningPublisher:
isolation: Custom
channelAccess: O:BAG:SYD:(A;;0xf0005;;;SY)(A;;0x5;;;BA)(A;;0x1;;;S-1-5-32-573)
logging:
  logFileName: %SystemRoot%\\System32\\Winevt\\Logs\\Security.evtx
  retention: false
  autoBackup: false
  maxSize: 20971520
publishing:
  fileMax: 1
"""

# §3.2 (VERBATIM, System log); §3.2 says Security uses the same layout with its own name,
# isolation and channelAccess, which the test substitutes.
GL_SYSTEM_XML = """\
<?xml version="1.0" encoding="UTF-8"?>
<channel name="System" enabled="true" type="Admin" owningPublisher="" isolation="System" channelAccess="O:BAG:SYD:(A;;0xf0007;;;SY)(A;;0x7;;;BA)(A;;0x3;;;BO)(A;;0x5;;;SO)(A;;0x1;;;IU)(A;;0x3;;;SU)(A;;0x1;;;S-1-5-3)(A;;0x2;;;S-1-5-33)(A;;0x1;;;S-1-5-32-573)" xmlns="http://schemas.microsoft.com/win/2004/08/events">
  <logging>
    <logFileName>%SystemRoot%\\System32\\Winevt\\Logs\\System.evtx</logFileName>
    <retention>false</retention>
    <autoBackup>false</autoBackup>
    <maxSize>20971520</maxSize>
  </logging>
  <publishing>
    <fileMax>1</fileMax>
  </publishing>
</channel>
"""


def test_wevtutil_gl_security_text() -> None:
    out = host(HostProfile(name="h", address="127.0.0.11")).run("wevtutil gl Security")
    assert out.exit_code == 0
    lines = out.stdout.split(b"\r\n")
    assert lines[-1] == b""
    assert [line.rstrip() for line in lines[:-1]] == [line.encode() for line in GL_SECURITY.splitlines()]
    assert b"\r\nowningPublisher: \r\n" in out.stdout
    # The name echoes the argument as typed (§3.1).
    lower = host(HostProfile(name="h", address="127.0.0.11")).run("wevtutil gl security").stdout
    assert lower.startswith(b"name: security\r\n")
    assert b"  logFileName: %SystemRoot%\\System32\\Winevt\\Logs\\security.evtx\r\n" in lower


def test_wevtutil_gl_security_xml() -> None:
    expected = (
        GL_SYSTEM_XML.replace('name="System"', 'name="Security"')
        .replace('isolation="System"', 'isolation="Custom"')
        .replace(
            "O:BAG:SYD:(A;;0xf0007;;;SY)(A;;0x7;;;BA)(A;;0x3;;;BO)(A;;0x5;;;SO)(A;;0x1;;;IU)(A;;0x3;;;SU)"
            "(A;;0x1;;;S-1-5-3)(A;;0x2;;;S-1-5-33)(A;;0x1;;;S-1-5-32-573)",
            "O:BAG:SYD:(A;;0xf0005;;;SY)(A;;0x5;;;BA)(A;;0x1;;;S-1-5-32-573)",
        )
        .replace("Logs\\System.evtx", "Logs\\Security.evtx")
        .replace("20971520", "1073741824")
        .replace("<retention>false", "<retention>true")
    )
    p = HostProfile(
        name="h",
        address="127.0.0.11",
        security_log=SecurityLogProfile(max_size_bytes=1073741824, retention="do_not_overwrite"),
    )
    out = host(p).run("wevtutil gl Security /f:xml")
    assert out.stdout == crlf(expected)


def test_wevtutil_missing_sysmon_channel() -> None:
    h = host(HostProfile(name="h", address="127.0.0.11"))
    name = "Microsoft-Windows-Sysmon/Operational"
    # §3.4 (VERBATIM two-line form) and exit 15007; §4.3 for qe.
    gl = h.run(f"wevtutil gl {name}")
    assert (gl.stderr, gl.exit_code) == (
        f"Failed to read configuration for log {name}.\r\nThe specified channel could not be found.\r\n".encode(),
        15007,
    )
    gli = h.run(f"wevtutil gli {name}")
    assert gli.stderr.startswith(f"Failed to read log status information for log {name}.\r\n".encode())
    assert gli.exit_code == 15007
    qe = h.run(f"wevtutil qe {name} /c:1 /f:text")
    assert (qe.stderr, qe.exit_code) == (
        b"The specified channel could not be found.\r\nFailed to open event query.\r\n",
        15007,
    )


class FakeLog:
    """A stand-in EventLogView, to see what wevtutil hands to the log."""

    log_name = "Security"
    record_count = 9496
    oldest_record_number = 1
    file_size_bytes = 11603968
    max_size_bytes = 20971520
    newest_time = datetime(2022, 10, 26, 19, 5, 21, 533000, tzinfo=UTC)

    def __init__(self) -> None:
        self.calls: list[tuple[str, ...]] = []

    def query(self, arguments: tuple[str, ...]) -> CommandOutput:
        self.calls.append(arguments)
        return CommandOutput(b"<Event/>\r\n", b"", 0)


def _wevtutil_shell(log: FakeLog, admin: bool = True) -> Shell:
    profile = HostProfile(name="h", address="127.0.0.11", admin=admin)
    tool = Wevtutil(profile, lambda name: log, lambda: NOW)  # type: ignore[arg-type,return-value]
    return Shell(env={}, fs=FileSystem(), tools={"wevtutil": tool, "find": find_tool}, codepage=65001)


def test_wevtutil_gli_layout() -> None:
    # §3.3 (VERBATIM): seven keys in this order, times with milliseconds and Z.
    out = _wevtutil_shell(FakeLog()).run_line("wevtutil gli Security").stdout.decode()
    keys = [line.split(": ")[0] for line in out.split(CRLF)[:-1]]
    assert keys == [
        "creationTime",
        "lastAccessTime",
        "lastWriteTime",
        "fileSize",
        "attributes",
        "numberOfLogRecords",
        "oldestRecordNumber",
    ]
    assert "lastWriteTime: 2022-10-26T19:05:21.533Z\r\n" in out
    assert "fileSize: 11603968\r\nattributes: 32\r\nnumberOfLogRecords: 9496\r\noldestRecordNumber: 1\r\n" in out


def test_wevtutil_qe_is_delegated_with_unquoted_arguments() -> None:
    log = FakeLog()
    sh = _wevtutil_shell(log)
    out = sh.run_line('wevtutil qe Security /q:"*[System[(EventID=4688)]]" /c:5 /rd:true /f:xml | find /c "<Event"')
    assert out.stdout == b"1\r\n"
    assert log.calls == [("/q:*[System[(EventID=4688)]]", "/c:5", "/rd:true", "/f:xml")]


def test_wevtutil_security_needs_admin() -> None:
    log = FakeLog()
    out = _wevtutil_shell(log, admin=False).run_line("wevtutil qe Security /c:1 /rd:true /f:text")
    # §4.3: exit 5, `Access is denied.` then `Failed to open event query.`
    assert (out.stderr, out.exit_code) == (b"Access is denied.\r\nFailed to open event query.\r\n", 5)
    assert log.calls == []
    assert _wevtutil_shell(log, admin=False).run_line("wevtutil gl Security").exit_code == 0


def test_wevtutil_on_a_real_simulated_log() -> None:
    p = HostProfile(name="h", address="127.0.0.11", audit=AuditProfile(process_creation=AuditSetting.SUCCESS))
    h = host(p)
    gli = h.run("wevtutil gli Security")
    assert gli.exit_code == 0
    fields = dict(line.split(": ", 1) for line in gli.stdout.decode().split(CRLF) if line)
    log = h.event_log("Security")
    assert log is not None
    assert int(fields["numberOfLogRecords"]) == log.record_count
    assert int(fields["fileSize"]) == log.file_size_bytes


# --- wmic qfe (the probe's KB3004375 check) ------------------------------------------------------


def test_wmic_qfe_lists_kb3004375_only_when_installed() -> None:
    line = 'wmic qfe get HotFixID 2>&1|find "KB3004375"'
    patched = host(HostProfile(name="h", address="127.0.0.11", os=OSProfile(build=7601, ubr=0, kb3004375=True)))
    out = patched.run(line)
    assert out.exit_code == 0 and out.stdout.startswith(b"KB3004375")
    plain = host(HostProfile(name="h", address="127.0.0.11", os=OSProfile(build=7601, ubr=0)))
    assert plain.run(line).exit_code == 1
    # wmic is gone from build 26100 on: the unknown-command text goes through the pipe, find drops it.
    new = host(HostProfile(name="h", address="127.0.0.11", os=OSProfile(build=26100, ubr=1)))
    gone = new.run(line)
    assert (gone.stdout, gone.exit_code) == (b"", 1)
    assert new.run("wmic qfe get HotFixID").exit_code == 9009


def test_one_host_serves_concurrent_command_lines() -> None:
    from concurrent.futures import ThreadPoolExecutor

    h = host(HostProfile(name="h", address="127.0.0.11"))

    def probe(i: int) -> bytes:
        f = f"%TEMP%\\ap{i}.csv"
        return h.run(f"auditpol /backup /file:{f}& type {f}& del {f}").stdout

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(probe, range(32)))
    assert len(set(results)) == 1
    assert results[0].count(b"\r\n") == 1 + 1 + 60 + 4 + 2  # success line, header, rows (Server 2022), options, SACLs
    assert h.fs.paths() == []


def test_wevtutil_sysmon_channel_when_installed() -> None:
    h = host(HostProfile(name="h", address="127.0.0.11", sysmon=SysmonProfile(installed=True)))
    out = h.run("wevtutil gl Microsoft-Windows-Sysmon/Operational")
    assert out.exit_code == 0
    lines = out.stdout.decode("ascii").split(CRLF)
    assert lines[0] == "name: Microsoft-Windows-Sysmon/Operational"
    assert lines[2] == "type: Operational"
    assert lines[3] == "owningPublisher: Microsoft-Windows-Sysmon"
    # '/' becomes %4 in the file name, as in the CAPI2/Operational example of §3.1.
    assert "  logFileName: %SystemRoot%\\System32\\Winevt\\Logs\\Microsoft-Windows-Sysmon%4Operational.evtx" in lines
    gli = h.run("wevtutil gli Microsoft-Windows-Sysmon/Operational")
    assert gli.exit_code == 0 and gli.stdout.startswith(b"creationTime: ")


def test_wevtutil_qe_transcodes_from_the_log_code_page_to_the_console() -> None:
    class OemLog(FakeLog):
        codepage = 850

        def query(self, arguments: tuple[str, ...]) -> CommandOutput:
            return CommandOutput("<Data>Überwachung</Data>".encode("cp850"), b"", 0)

    utf8 = _wevtutil_shell(OemLog()).run_line("wevtutil qe Security /c:1 /f:xml")
    assert utf8.stdout == "<Data>Überwachung</Data>".encode()
