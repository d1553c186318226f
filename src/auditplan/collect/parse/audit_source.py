"""Where a host's advanced audit policy comes from: a domain GPO, local settings, or Windows' defaults.

It matters because a GPO carrying advanced audit policy clears the computer's audit policy before it
applies its own (Microsoft, "Advanced security auditing FAQ"), while settings from several GPOs merge
per subcategory (same FAQ, "How are audit settings merged by Group Policy?"). So a wave GPO may carry
the union of its hosts' settings where no GPO manages audit policy yet, but must carry only Process
Creation where a domain GPO already does. docs/audit-policy-source.md gives the sources.

Two files are read (docs/audit-policy-source.md; neither path is in Microsoft's documentation, both are
used as such by saltstack/salt's win_lgpo_auditpol.py, UNVERIFIED here, lab check in
docs/windows-validation.md):
- `%windir%\\security\\audit\\audit.csv`: the advanced audit policy the Group Policy client applied,
  from every GPO including the local one;
- `%windir%\\System32\\GroupPolicy\\Machine\\Microsoft\\Windows NT\\Audit\\audit.csv`: the local GPO's.

Classification (audit_policy_source):
- `gpo`: the applied file has a subcategory row the local GPO's file does not have with the same value;
- `local`: the applied or local GPO file has rows (all from the local GPO), or no file has rows and the
  effective table (auditpol /backup) differs from Windows' documented default for the OS;
- `default`: no file has rows and the effective table equals the documented default;
- None: a file could not be read (access denied, not probed) or the effective table is unknown.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from auditplan.records import AuditSetting, ProductType, SubcategorySetting

SOURCE_GPO = "gpo"
SOURCE_LOCAL = "local"
SOURCE_DEFAULT = "default"
AUDIT_POLICY_SOURCES = (SOURCE_GPO, SOURCE_LOCAL, SOURCE_DEFAULT)

_GUID = re.compile(r"^\{[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\}$")
_ACCESS_DENIED = re.compile(r"(?i)access is denied|zugriff verweigert|acc[eè]s refus[ée]|acceso denegado")
WIN32_ACCESS_DENIED = 5
# Setting Value of an audit.csv row: auditpol /backup writes 0-3 (windows-tool-outputs.md §1.2), GPMC
# 1-4 with 4 = No Auditing (MS-GPAC 2.2.1.3.1; gpo-backup-format.md §B8).
_SETTING_VALUES = {"0": AuditSetting.NONE, "1": AuditSetting.SUCCESS, "2": AuditSetting.FAILURE,
                   "3": AuditSetting.SUCCESS_AND_FAILURE, "4": AuditSetting.NONE}


@dataclass(frozen=True)
class AuditCsvFile:
    """One audit.csv on the host: whether it exists, and its subcategory rows (GUID -> setting)."""

    present: bool
    settings: Mapping[str, AuditSetting]


ABSENT = AuditCsvFile(present=False, settings={})


def parse_audit_csv_file(text: str, exit_code: int | None) -> AuditCsvFile | None:
    """`type <audit.csv>` output: the file's rows, ABSENT when the file does not exist, None when it
    could not be read (access denied). `type` of a missing file prints a localised "cannot find" text
    and exits 1 (cmd.exe), so any failure without rows and without an access-denied sign is absence."""
    head = text[:4096]
    if exit_code == WIN32_ACCESS_DENIED or _ACCESS_DENIED.search(head):
        return None
    settings: dict[str, AuditSetting] = {}
    lines = [ln for ln in text.replace("\x00", "").replace("\ufeff", "").splitlines() if ln.strip()]
    try:
        rows = list(csv.reader(lines, strict=False))
    except csv.Error:
        rows = []
    for row in rows:
        if len(row) < 7:
            continue
        guid = row[3].strip().lower()
        value = row[6].strip()
        if _GUID.match(guid) and value in _SETTING_VALUES:
            settings[guid] = _SETTING_VALUES[value]
    if settings:
        return AuditCsvFile(present=True, settings=settings)
    if exit_code not in (0, None):
        return ABSENT
    # A file with only its header (or options): it exists, but sets no subcategory.
    return AuditCsvFile(present=bool(lines), settings={})


# Windows' default advanced audit policy, from Microsoft's "Audit Policy Recommendations" (Windows
# Server docs, identity/ad-ds/plan/security-best-practices; defaults taken from Security Compliance
# Manager): the same table for Windows 7/8/10 and Server 2008-2016 except Logon, Success only on clients
# before Windows 10 1809 (build 17763). Subcategories not listed default to No Auditing. Two captured
# backups agree (windows-tool-outputs.md §1.1: wazuh WIN2019, mondoohq "Test"). Domain controllers get
# more from their own defaults, so a DC classifies as `local` (same treatment as `default` downstream).
_DEFAULT_ON: dict[str, AuditSetting] = {
    "{0cce9235-69ae-11d9-bed3-505054503030}": AuditSetting.SUCCESS,  # User Account Management
    "{0cce9217-69ae-11d9-bed3-505054503030}": AuditSetting.SUCCESS,  # Account Lockout
    "{0cce9216-69ae-11d9-bed3-505054503030}": AuditSetting.SUCCESS,  # Logoff
    "{0cce9215-69ae-11d9-bed3-505054503030}": AuditSetting.SUCCESS_AND_FAILURE,  # Logon (see above)
    "{0cce9243-69ae-11d9-bed3-505054503030}": AuditSetting.SUCCESS_AND_FAILURE,  # Network Policy Server
    "{0cce921b-69ae-11d9-bed3-505054503030}": AuditSetting.SUCCESS,  # Special Logon
    "{0cce922f-69ae-11d9-bed3-505054503030}": AuditSetting.SUCCESS,  # Audit Policy Change
    "{0cce9230-69ae-11d9-bed3-505054503030}": AuditSetting.SUCCESS,  # Authentication Policy Change
    "{0cce9214-69ae-11d9-bed3-505054503030}": AuditSetting.SUCCESS_AND_FAILURE,  # Other System Events
    "{0cce9210-69ae-11d9-bed3-505054503030}": AuditSetting.SUCCESS,  # Security State Change
    "{0cce9212-69ae-11d9-bed3-505054503030}": AuditSetting.SUCCESS_AND_FAILURE,  # System Integrity
}
LOGON_GUID = "{0cce9215-69ae-11d9-bed3-505054503030}"
BUILD_LOGON_FAILURE_DEFAULT = 17763  # Windows 10 1809: Logon Success and Failure by default


def windows_default(build: int | None, product_type: ProductType | None) -> dict[str, AuditSetting]:
    """The subcategories on by default (GUID -> setting) for an OS build and product type."""
    table = dict(_DEFAULT_ON)
    if product_type is ProductType.WORKSTATION and build is not None and build < BUILD_LOGON_FAILURE_DEFAULT:
        table[LOGON_GUID] = AuditSetting.SUCCESS
    return table


def is_windows_default(effective: Iterable[SubcategorySetting], build: int | None,
                       product_type: ProductType | None) -> bool:
    """Whether every subcategory of the host's effective table has its documented default."""
    default = windows_default(build, product_type)
    return all(s.setting is default.get(s.guid.lower(), AuditSetting.NONE) for s in effective)


def audit_policy_source(applied: AuditCsvFile | None, local_gpo: AuditCsvFile | None,
                        effective: tuple[SubcategorySetting, ...] | None, build: int | None,
                        product_type: ProductType | None) -> str | None:
    """`gpo`, `local`, `default`, or None when unknown (see the module docstring)."""
    if applied is None or local_gpo is None:
        return None
    from_domain = {g: s for g, s in applied.settings.items() if local_gpo.settings.get(g) is not s}
    if from_domain:
        return SOURCE_GPO
    if applied.settings or local_gpo.settings:
        return SOURCE_LOCAL
    if not effective:
        return None
    return SOURCE_DEFAULT if is_windows_default(effective, build, product_type) else SOURCE_LOCAL
