"""Byte-exact payload files of a GPO backup: audit.csv, registry.pol, GptTmpl.inf.

Formats from ../shared/reference/gpo-backup-format.md: §B8 (audit.csv, MS-GPAC 2.2),
§B9 (registry.pol, MS-GPREG 2.2.1 PReg), §B10 (GptTmpl.inf, MS-GPSB 2.2), §B2 (encodings).
"""

from __future__ import annotations

import csv
import io
import struct
from dataclasses import dataclass
from typing import Final

# §B8: the header is fixed by MS-GPAC 2.2; GPMC writes UTF-8 without BOM and CRLF after every line.
AUDIT_CSV_HEADER: Final = (
    "Machine Name",
    "Policy Target",
    "Subcategory",
    "Subcategory GUID",
    "Inclusion Setting",
    "Exclusion Setting",
    "Setting Value",
)
PROCESS_CREATION_GUID: Final = "{0cce922b-69ae-11d9-bed3-505054503030}"
PROCESS_CREATION_NAME: Final = "Audit Process Creation"

# MS-GPAC 2.2.1.3.1 SettingValue: 1 success, 2 failure, 3 both, 4 none ("0" = unchanged is never emitted).
INCLUSION_TEXT: Final = {1: "Success", 2: "Failure", 3: "Success and Failure", 4: "No Auditing"}

# §B9: PReg header, then "[" key NUL ";" value NUL ";" type ";" size ";" data "]" in UTF-16LE.
PREG_SIGNATURE: Final = b"PReg"
PREG_VERSION: Final = 1
REG_SZ: Final = 1
REG_DWORD: Final = 4

CMDLINE_KEY: Final = r"Software\Microsoft\Windows\CurrentVersion\Policies\System\Audit"
CMDLINE_VALUE: Final = "ProcessCreationIncludeCmdLine_Enabled"
# §A4: EventLog.admx, Security log MaxSize in KB, 20480..2147483647 for the Security log.
EVENTLOG_SECURITY_POLICY_KEY: Final = r"Software\Policies\Microsoft\Windows\EventLog\Security"
SECURITY_LOG_MAX_SIZE_KB_MIN: Final = 20480
SECURITY_LOG_MAX_SIZE_KB_MAX: Final = 2147483647

# §B10 / §A3: "force subcategory settings" as a security-template registry value (type 4 = REG_DWORD).
SCE_NO_APPLY_LEGACY: Final = r"MACHINE\System\CurrentControlSet\Control\Lsa\SCENoApplyLegacyAuditPolicy"


@dataclass(frozen=True)
class AuditRow:
    subcategory: str  # display name, for readability only (MS-GPAC: ignored by the CSE)
    guid: str  # lower-case with braces, as GPMC writes it
    setting_value: int  # 1 success, 2 failure, 3 both, 4 none


@dataclass(frozen=True)
class RegistryEntry:
    key: str
    value_name: str
    value_type: int
    data: int | str


def audit_csv(rows: list[AuditRow]) -> bytes:
    """audit.csv as GPMC writes it: empty machine name, `System`, English inclusion text, CRLF."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(AUDIT_CSV_HEADER)
    for row in rows:
        if row.setting_value not in INCLUSION_TEXT:
            raise ValueError(f"audit.csv: setting value {row.setting_value} for {row.guid} is not 1-4")
        writer.writerow(
            ("", "System", row.subcategory, row.guid.lower(), INCLUSION_TEXT[row.setting_value], "", row.setting_value)
        )
    return buffer.getvalue().encode("utf-8")


def _utf16z(text: str) -> bytes:
    return (text + "\0").encode("utf-16-le")


def _preg_entry(entry: RegistryEntry) -> bytes:
    if entry.value_type == REG_DWORD:
        if not isinstance(entry.data, int) or not 0 <= entry.data <= 0xFFFFFFFF:
            raise ValueError(f"registry.pol: {entry.value_name} needs a DWORD, got {entry.data!r}")
        data = struct.pack("<I", entry.data)
    elif entry.value_type == REG_SZ:
        data = _utf16z(str(entry.data))
    else:
        raise ValueError(f"registry.pol: unsupported value type {entry.value_type}")
    sep = ";".encode("utf-16-le")
    return b"".join(
        (
            "[".encode("utf-16-le"),
            _utf16z(entry.key),
            sep,
            _utf16z(entry.value_name),
            sep,
            struct.pack("<I", entry.value_type),
            sep,
            struct.pack("<I", len(data)),
            sep,
            data,
            "]".encode("utf-16-le"),
        )
    )


def _key_sort(entry: RegistryEntry) -> tuple[tuple[str, ...], str]:
    # GPMC orders keys case-insensitively by path component (§B9: `Windows\WinRM` before `Windows NT\...`).
    return tuple(part.lower() for part in entry.key.split("\\")), entry.value_name.lower()


def registry_pol(entries: list[RegistryEntry]) -> bytes:
    """A PReg v1 file with the entries sorted as GPMC sorts keys, so output is deterministic."""
    header = PREG_SIGNATURE + struct.pack("<I", PREG_VERSION)
    return header + b"".join(_preg_entry(e) for e in sorted(entries, key=_key_sort))


def gpt_tmpl_inf() -> bytes:
    """GptTmpl.inf with only SCENoApplyLegacyAuditPolicy=4,1: UTF-16LE with BOM, CRLF (MS-GPSB 2.2)."""
    lines = [
        "[Unicode]",
        "Unicode=yes",
        "[Version]",
        'signature="$CHICAGO$"',
        "Revision=1",
        "[Registry Values]",
        f"{SCE_NO_APPLY_LEGACY}=4,1",
    ]
    return b"\xff\xfe" + ("\r\n".join(lines) + "\r\n").encode("utf-16-le")


def wave_registry_entries(log_max_size_kb: int | None) -> list[RegistryEntry]:
    entries = [RegistryEntry(CMDLINE_KEY, CMDLINE_VALUE, REG_DWORD, 1)]
    if log_max_size_kb is not None:
        if not SECURITY_LOG_MAX_SIZE_KB_MIN <= log_max_size_kb <= SECURITY_LOG_MAX_SIZE_KB_MAX:
            raise ValueError(
                f"Security log MaxSize {log_max_size_kb} KB is outside "
                f"{SECURITY_LOG_MAX_SIZE_KB_MIN}..{SECURITY_LOG_MAX_SIZE_KB_MAX} KB (EventLog.admx)"
            )
        entries.append(RegistryEntry(EVENTLOG_SECURITY_POLICY_KEY, "MaxSize", REG_DWORD, log_max_size_kb))
    return entries
