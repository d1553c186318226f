"""Where a simulated host's advanced audit policy comes from (fleet TOML `audit.source`).

- absent: the built-in table of tools_auditpol.py plus the profile's `subcategories` (the fleet's
  behaviour before `source` existed), and no audit.csv file;
- "default": nothing set: Windows' documented default for the host's OS (below), no audit.csv file;
- "local": set with auditpol: the built-in table plus the profile's `subcategories`, no audit.csv file;
- "local_gpo": set in the local GPO (secpol.msc): as "local", and the local GPO's audit.csv and the
  Group Policy client's applied audit.csv both hold the profile's `subcategories`;
- "gpo": a domain GPO delivers advanced audit policy: the computer's policy was cleared before the
  GPO's was applied (Microsoft, "Advanced security auditing FAQ"), so only the profile's
  `subcategories` (and Process Creation) are on; the applied audit.csv holds them.

File locations (saltstack/salt win_lgpo_auditpol.py; not in Microsoft's documentation, UNVERIFIED):
the applied policy `%windir%\\security\\audit\\audit.csv`, the local GPO's
`%windir%\\System32\\GroupPolicy\\Machine\\Microsoft\\Windows NT\\Audit\\audit.csv`. Their rows use the
GPMC audit.csv columns (gpo-backup-format.md §B8) with an empty Machine Name.

The default table is Microsoft's "Audit Policy Recommendations" (Windows Server docs), column
"Windows Default": the same for clients and servers except Logon (Success only on clients before
Windows 10 1809, build 17763). Kept here apart from the survey's copy (collect/parse/audit_source.py)
so a test compares two readings of the document, not one table with itself.
"""

from __future__ import annotations

from auditplan.records import AuditSetting, ProductType

SOURCES = ("default", "local", "local_gpo", "gpo")
APPLIED_AUDIT_CSV = "C:\\Windows\\security\\audit\\audit.csv"
LOCAL_GPO_AUDIT_CSV = "C:\\Windows\\System32\\GroupPolicy\\Machine\\Microsoft\\Windows NT\\Audit\\audit.csv"

_S, _F, _SF = AuditSetting.SUCCESS, AuditSetting.FAILURE, AuditSetting.SUCCESS_AND_FAILURE
# Upper-case braced GUIDs, as tools_auditpol.py keys them: (English name, default setting).
_DOCUMENTED_DEFAULT: dict[str, tuple[str, AuditSetting]] = {
    "{0CCE9212-69AE-11D9-BED3-505054503030}": ("System Integrity", _SF),
    "{0CCE9214-69AE-11D9-BED3-505054503030}": ("Other System Events", _SF),
    "{0CCE9210-69AE-11D9-BED3-505054503030}": ("Security State Change", _S),
    "{0CCE9215-69AE-11D9-BED3-505054503030}": ("Logon", _SF),
    "{0CCE9216-69AE-11D9-BED3-505054503030}": ("Logoff", _S),
    "{0CCE9217-69AE-11D9-BED3-505054503030}": ("Account Lockout", _S),
    "{0CCE921B-69AE-11D9-BED3-505054503030}": ("Special Logon", _S),
    "{0CCE9243-69AE-11D9-BED3-505054503030}": ("Network Policy Server", _SF),
    "{0CCE922F-69AE-11D9-BED3-505054503030}": ("Audit Policy Change", _S),
    "{0CCE9230-69AE-11D9-BED3-505054503030}": ("Authentication Policy Change", _S),
    "{0CCE9235-69AE-11D9-BED3-505054503030}": ("User Account Management", _S),
}
_LOGON = "{0CCE9215-69AE-11D9-BED3-505054503030}"


def documented_default(build: int, product_type: ProductType) -> dict[str, AuditSetting]:
    """GUID -> setting of every subcategory on by default; the rest are No Auditing."""
    table = {guid: setting for guid, (_name, setting) in _DOCUMENTED_DEFAULT.items()}
    if product_type is ProductType.WORKSTATION and build < 17763:
        table[_LOGON] = _S
    return table


def audit_csv(rows: list[tuple[str, str, AuditSetting]]) -> bytes:
    """An audit.csv as GPMC writes one (UTF-8, CRLF, empty Machine Name): (name, GUID, setting) rows."""
    values = {_S: 1, _F: 2, _SF: 3, AuditSetting.NONE: 4}
    texts = {_S: "Success", _F: "Failure", _SF: "Success and Failure", AuditSetting.NONE: "No Auditing"}
    lines = ["Machine Name,Policy Target,Subcategory,Subcategory GUID,Inclusion Setting,Exclusion Setting,"
             "Setting Value"]
    lines += [f",System,Audit {name},{guid.lower()},{texts[s]},,{values[s]}" for name, guid, s in rows]
    return ("\r\n".join(lines) + "\r\n").encode("utf-8")


def audit_files(source: str | None, rows: list[tuple[str, str, AuditSetting]]) -> dict[str, bytes]:
    """The audit.csv files a host with this source has, by path: `rows` are the (English name, GUID,
    setting) rows its GPO sets."""
    if source == "gpo":
        return {APPLIED_AUDIT_CSV: audit_csv(rows)}
    if source == "local_gpo":
        return {APPLIED_AUDIT_CSV: audit_csv(rows), LOCAL_GPO_AUDIT_CSV: audit_csv(rows)}
    return {}
