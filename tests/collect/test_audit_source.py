"""Where a host's audit policy comes from (collect/parse/audit_source.py), from the text `type` prints
for the two audit.csv files and the effective table.

Expected defaults are read off Microsoft's "Audit Policy Recommendations" table (Windows Default
column), written out here by hand, not taken from the module under test.
"""

from __future__ import annotations

from auditplan.collect.parse.audit_source import (
    ABSENT,
    audit_policy_source,
    is_windows_default,
    parse_audit_csv_file,
)
from auditplan.records import AuditSetting, ProductType, SubcategorySetting

HEADER = "Machine Name,Policy Target,Subcategory,Subcategory GUID,Inclusion Setting,Exclusion Setting,Setting Value\r\n"
LOGON = "{0cce9215-69ae-11d9-bed3-505054503030}"
FILE_SYSTEM = "{0cce921d-69ae-11d9-bed3-505054503030}"
N, S, F, SF = AuditSetting.NONE, AuditSetting.SUCCESS, AuditSetting.FAILURE, AuditSetting.SUCCESS_AND_FAILURE

# Microsoft's table, "Windows Default" column, for Server 2016 and earlier and Windows 10 1809+.
DOCUMENTED = {
    "{0cce923f-69ae-11d9-bed3-505054503030}": N,  # Credential Validation: No | No
    "{0cce9235-69ae-11d9-bed3-505054503030}": S,  # User Account Management: Yes | No
    "{0cce9217-69ae-11d9-bed3-505054503030}": S,  # Account Lockout
    "{0cce9216-69ae-11d9-bed3-505054503030}": S,  # Logoff
    LOGON: SF,  # Logon: Yes | Yes
    "{0cce9243-69ae-11d9-bed3-505054503030}": SF,  # Network Policy Server
    "{0cce921b-69ae-11d9-bed3-505054503030}": S,  # Special Logon
    "{0cce922f-69ae-11d9-bed3-505054503030}": S,  # Audit Policy Change
    "{0cce9230-69ae-11d9-bed3-505054503030}": S,  # Authentication Policy Change
    "{0cce9214-69ae-11d9-bed3-505054503030}": SF,  # Other System Events
    "{0cce9210-69ae-11d9-bed3-505054503030}": S,  # Security State Change
    "{0cce9212-69ae-11d9-bed3-505054503030}": SF,  # System Integrity
    "{0cce922b-69ae-11d9-bed3-505054503030}": N,  # Process Creation: blank
    FILE_SYSTEM: N,
}


def _table(values: dict[str, AuditSetting]) -> tuple[SubcategorySetting, ...]:
    return tuple(SubcategorySetting(g, g, s) for g, s in values.items())


def test_audit_csv_text_present_absent_header_only_and_denied() -> None:
    gpmc = HEADER + f",System,Audit Logon,{LOGON},Success and Failure,,3\r\n" \
        f",System,Audit File System,{FILE_SYSTEM.upper()},No Auditing,,4\r\n"
    parsed = parse_audit_csv_file(gpmc, 0)
    assert parsed is not None and parsed.present and dict(parsed.settings) == {LOGON: SF, FILE_SYSTEM: N}
    assert parse_audit_csv_file("The system cannot find the file specified.\r\n", 1) == ABSENT
    assert parse_audit_csv_file("Das System kann die angegebene Datei nicht finden.\r\n", 1) == ABSENT
    header_only = parse_audit_csv_file(HEADER, 0)
    assert header_only is not None and header_only.present and not header_only.settings
    assert parse_audit_csv_file("Access is denied.\r\n", 1) is None
    assert parse_audit_csv_file("", 5) is None


def test_windows_default_is_the_documented_table() -> None:
    assert is_windows_default(_table(DOCUMENTED), 20348, ProductType.SERVER)
    assert is_windows_default(_table(DOCUMENTED), 22631, ProductType.WORKSTATION)
    # Before Windows 10 1809 a client audits Logon success only ("In previous versions of Windows,
    # only Success is enabled by default").
    assert not is_windows_default(_table(DOCUMENTED), 17134, ProductType.WORKSTATION)
    assert is_windows_default(_table({**DOCUMENTED, LOGON: S}), 17134, ProductType.WORKSTATION)
    assert not is_windows_default(_table({**DOCUMENTED, FILE_SYSTEM: F}), 20348, ProductType.SERVER)


def test_source_gpo_local_default_and_unknown() -> None:
    domain = parse_audit_csv_file(HEADER + f",System,Audit Logon,{LOGON},Success and Failure,,3\r\n", 0)
    local_same = parse_audit_csv_file(HEADER + f",System,Audit Logon,{LOGON},Success and Failure,,3\r\n", 0)
    local_other = parse_audit_csv_file(HEADER + f",System,Audit Logon,{LOGON},Success,,1\r\n", 0)
    effective = _table(DOCUMENTED)
    changed = _table({**DOCUMENTED, FILE_SYSTEM: F})
    # A row the local GPO does not set (or sets otherwise) came from a domain GPO.
    assert audit_policy_source(domain, ABSENT, effective, 20348, ProductType.SERVER) == "gpo"
    assert audit_policy_source(domain, local_other, effective, 20348, ProductType.SERVER) == "gpo"
    # Every applied row is the local GPO's: local.
    assert audit_policy_source(domain, local_same, effective, 20348, ProductType.SERVER) == "local"
    # No file: the effective table decides.
    assert audit_policy_source(ABSENT, ABSENT, effective, 20348, ProductType.SERVER) == "default"
    assert audit_policy_source(ABSENT, ABSENT, changed, 20348, ProductType.SERVER) == "local"
    # Unknown: a file not readable, or no effective table.
    assert audit_policy_source(None, ABSENT, effective, 20348, ProductType.SERVER) is None
    assert audit_policy_source(ABSENT, None, effective, 20348, ProductType.SERVER) is None
    assert audit_policy_source(ABSENT, ABSENT, None, 20348, ProductType.SERVER) is None
