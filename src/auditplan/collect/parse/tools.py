"""Pure parsers for the text of built-in tools: auditpol, reg query, wevtutil gl/gli, sc query, ver,
hostname, find /c. Each takes one section's text and returns a record or a ParseError; none raises.

Shapes come from /work/shared/reference/windows-tool-outputs.md ("tool-outputs §n") and
/work/shared/reference/gpo-backup-format.md ("gpo §An"). Labels and texts are localised on non-English
hosts (tool-outputs §0.3): parsers key on GUIDs, numbers, value names and exit-code numbers wherever
the reference says those stay fixed.
"""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass

from auditplan.records import PROCESS_CREATION_GUID, AuditSetting, ProductType, SubcategorySetting
from auditplan.text import excerpt

MAX_SECTION_CHARS = 2_000_000  # config sections are a few KB; anything bigger is not what we asked for


@dataclass(frozen=True)
class ParseError:
    """Why a section could not be read. `kind` is machine-readable, `message` one human line."""

    section: str
    message: str
    kind: str = "malformed"  # malformed | access_denied | not_found | empty | too_large

    def __str__(self) -> str:
        return f"{self.section}: {self.message}"


def _too_large(section: str, text: str) -> ParseError | None:
    if len(text) > MAX_SECTION_CHARS:
        return ParseError(section, f"output is {len(text)} characters, more than {MAX_SECTION_CHARS}", "too_large")
    return None


# --- access-denied and error texts ----------------------------------------------------------------

# auditpol without elevation: "Error 0x00000522 occurred:" (tool-outputs §2.4); localised prefix
# ("Fehler", "Erro"), but the hex code is not.
_AUDITPOL_ERROR = re.compile(r"\b0x([0-9A-Fa-f]{8})\b")
AUDITPOL_PRIVILEGE_NOT_HELD = 0x522
WIN32_ACCESS_DENIED = 5
ERROR_EVT_CHANNEL_NOT_FOUND = 15007  # tool-outputs §3.4, §4.3
ERROR_SERVICE_DOES_NOT_EXIST = 1060  # tool-outputs §6.2
REG_NOT_FOUND_EXIT = 1  # tool-outputs §5.2
CMD_NOT_RECOGNIZED_EXIT = 9009  # tool-outputs §9.1
_ACCESS_DENIED_TEXT = re.compile(r"(?i)access is denied|zugriff verweigert|acc[eè]s refus[ée]|acceso denegado")


def looks_access_denied(text: str, exit_code: int | None) -> bool:
    if exit_code == WIN32_ACCESS_DENIED:
        return True
    return bool(_ACCESS_DENIED_TEXT.search(text[:4096]))


# --- auditpol ---------------------------------------------------------------------------------------

_GUID = re.compile(r"^\{[0-9A-Fa-f]{8}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{4}-[0-9A-Fa-f]{12}\}$")


def _auditpol_error(section: str, text: str) -> ParseError | None:
    head = text[:2048]
    m = _AUDITPOL_ERROR.search(head)
    if m and ("," not in head.split("\n", 1)[0]):
        code = int(m.group(1), 16)
        if code == AUDITPOL_PRIVILEGE_NOT_HELD:
            return ParseError(section, "access denied (0x00000522: a required privilege is not held)", "access_denied")
        return ParseError(section, f"auditpol error 0x{code:08X}: {excerpt(head)}")
    if looks_access_denied(head, None):
        return ParseError(section, "access denied", "access_denied")
    return None


def _csv_rows(text: str) -> list[list[str]]:
    lines = [ln for ln in text.replace("\x00", "").splitlines() if ln.strip()]
    try:
        return list(csv.reader(lines, strict=False))
    except csv.Error:
        return []


@dataclass(frozen=True)
class AuditpolBackup:
    subcategories: tuple[SubcategorySetting, ...]
    process_creation: AuditSetting | None


def _auditpol_subcategory_rows(section: str, text: str, columns: int) -> list[list[str]] | ParseError:
    """The CSV rows with at least `columns` columns and a GUID in column 4, or the error auditpol printed."""
    if err := _too_large(section, text):
        return err
    if not text.strip():
        return ParseError(section, "empty output", "empty")
    if err := _auditpol_error(section, text):
        return err
    return [row for row in _csv_rows(text) if len(row) >= columns and _GUID.match(row[3].strip())]


def parse_auditpol_backup(text: str, section: str = "auditpol_csv") -> AuditpolBackup | ParseError:
    """`auditpol /backup` CSV (tool-outputs §1, gpo §A1 option 1): 7 columns, the last the numeric
    Setting Value 0-3. Header and names are localised, so rows are picked by the GUID in column 4 and
    Policy Target "System" (not localised, gpo §A1); per-user (SID) rows are skipped.
    """
    rows = _auditpol_subcategory_rows(section, text, 7)
    if isinstance(rows, ParseError):
        return rows
    settings: list[SubcategorySetting] = []
    bad = 0
    for row in rows:
        if row[1].strip() != "System":
            continue
        value = row[6].strip()
        if value not in ("0", "1", "2", "3"):
            bad += 1
            continue
        settings.append(
            SubcategorySetting(
                guid=row[3].strip().lower(),
                name=excerpt(row[2], 200),
                setting=AuditSetting.from_setting_value(int(value)),
            )
        )
    if not settings:
        extra = f" ({bad} rows with a bad Setting Value)" if bad else ""
        return ParseError(section, f"no subcategory rows with a GUID{extra}: {excerpt(text)}")
    pc = next((s.setting for s in settings if s.guid == PROCESS_CREATION_GUID), None)
    return AuditpolBackup(subcategories=tuple(settings), process_creation=pc)


# Inclusion Setting texts of `auditpol /get /r` by UI language (gpo §A1, tool-outputs §2.2). Only texts
# the reference quotes are listed; anything else maps to None (unknown), never to a guess.
INCLUSION_TEXTS: dict[str, AuditSetting] = {
    "no auditing": AuditSetting.NONE,
    "success": AuditSetting.SUCCESS,
    "failure": AuditSetting.FAILURE,
    "success and failure": AuditSetting.SUCCESS_AND_FAILURE,
    "keine überwachung": AuditSetting.NONE,  # de
    "erfolg": AuditSetting.SUCCESS,
    "fehler": AuditSetting.FAILURE,
    "erfolg und fehler": AuditSetting.SUCCESS_AND_FAILURE,
    "aciertos": AuditSetting.SUCCESS,  # es
    "errores": AuditSetting.FAILURE,
    "geslaagd": AuditSetting.SUCCESS,  # nl
    "mislukt": AuditSetting.FAILURE,
    "geslaagd en mislukt": AuditSetting.SUCCESS_AND_FAILURE,
    "operazione riuscita": AuditSetting.SUCCESS,  # it
    "errore": AuditSetting.FAILURE,
    "esito positivo e negativo": AuditSetting.SUCCESS_AND_FAILURE,
    "succès": AuditSetting.SUCCESS,  # fr
    "échec": AuditSetting.FAILURE,
    "succès et échec": AuditSetting.SUCCESS_AND_FAILURE,
    "aucun audit": AuditSetting.NONE,  # fr, UNVERIFIED (docs/localised-tool-output.md "auditpol")
}


@dataclass(frozen=True)
class AuditpolReport:
    """`auditpol /get ... /r` rows: settings whose (localised) text was recognised, and the rest."""

    settings: tuple[SubcategorySetting, ...]
    unrecognised: tuple[tuple[str, str], ...]  # (guid, inclusion text) not in INCLUSION_TEXTS

    def setting_for(self, guid: str) -> AuditSetting | None:
        return next((s.setting for s in self.settings if s.guid == guid.lower()), None)


def parse_auditpol_report(text: str, section: str = "auditpol_get") -> AuditpolReport | ParseError:
    """`auditpol /get /subcategory:{GUID} /r` or `/category:* /r` (tool-outputs §2, gpo §A1): 6 columns,
    header and blank second line; rows picked by GUID (column 4), the localised Inclusion Setting
    (column 5) mapped through INCLUSION_TEXTS. There is no numeric column in this form.
    """
    rows = _auditpol_subcategory_rows(section, text, 5)
    if isinstance(rows, ParseError):
        return rows
    settings: list[SubcategorySetting] = []
    unknown: list[tuple[str, str]] = []
    for row in rows:
        guid = row[3].strip().lower()
        inclusion = row[4].strip()
        setting = INCLUSION_TEXTS.get(inclusion.casefold())
        if setting is None:
            unknown.append((guid, excerpt(inclusion, 60)))
        else:
            settings.append(SubcategorySetting(guid=guid, name=excerpt(row[2], 200), setting=setting))
    if not settings and not unknown:
        return ParseError(section, f"no subcategory rows with a GUID: {excerpt(text)}")
    return AuditpolReport(settings=tuple(settings), unrecognised=tuple(unknown))


# --- reg query --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RegValue:
    name: str
    type: str  # REG_SZ, REG_DWORD, ...
    data: str | int  # int for REG_DWORD / REG_QWORD, the printed text otherwise


# Value line: 4 spaces, name, 4 spaces, type, [4 spaces, data] (tool-outputs §5.1).
_REG_LINE = re.compile(r"^ {4}(?P<name>.+?) {4}(?P<type>REG_[A-Z_]+)(?: {4}(?P<data>.*))?$")
# reg's "not found" message (one text for a missing key and a missing value, tool-outputs §5.2) in the
# languages a capture is cited for (docs/localised-tool-output.md "reg"): en, de, fr, zh-CN. Compared after
# _fold (case, typographic apostrophe), so "ERREUR : le système n’a pas…" and "Erreur : … n'a pas…" match.
REG_NOT_FOUND_TEXTS = (
    "unable to find the specified registry key or value",  # en
    "der angegebene registrierungsschlüssel bzw. wert wurde nicht gefunden",  # de
    "n'a pas trouvé la clé ou la valeur de registre spécifiée",  # fr
    "系统找不到指定的注册表项或值",  # zh-CN
)
# reg prints every error as one line "<localised ERROR>: <message>" ("ERROR:", "FEHLER:", "ERREUR :",
# "错误:"); usage errors add a second line ("Type "REG QUERY /?" for usage.").
_REG_ERROR_LINE = re.compile(r"^[^\W\d_]{2,24} ?[:：] ?\S")


def _fold(text: str) -> str:
    return text.replace("\u2019", "'").casefold()


def parse_reg_values(
    text: str, exit_code: int | None = None, section: str = "reg"
) -> dict[str, RegValue] | ParseError | None:
    """`reg query KEY [/v NAME]` -> {name: RegValue}. A missing key or value returns None; access denied,
    other errors and junk return ParseError. Value names are matched case-insensitively by callers
    through `reg_value`.

    reg's messages are localised, so "missing" is decided by the output's structure first: no key line,
    no value line, exactly one "<word>: <message>" line and exit code 1 (tool-outputs §5.2) is reg
    reporting an error, and for the probe's fixed, well-formed queries of world-readable keys that error
    is "not found". The text confirms it where its language is known (REG_NOT_FOUND_TEXTS) and decides
    alone when the probe has no exit code. Access denied is told apart by its (system-message) text,
    checked first; an access-denied text in a language _ACCESS_DENIED_TEXT lacks would read as missing.
    """
    if err := _too_large(section, text):
        return err
    values: dict[str, RegValue] = {}
    for raw in text.replace("\x00", "").splitlines():
        m = _REG_LINE.match(raw.rstrip("\r"))
        if not m:
            continue
        rtype = m.group("type")
        data_text = (m.group("data") or "").rstrip()
        data: str | int = data_text
        if rtype in ("REG_DWORD", "REG_QWORD", "REG_DWORD_BIG_ENDIAN"):
            try:
                data = int(data_text, 16) if data_text.lower().startswith("0x") else int(data_text)
            except ValueError:
                return ParseError(
                    section, f"{m.group('name')}: {rtype} data is not a number: {excerpt(data_text)}"
                )
        values[m.group("name").strip()] = RegValue(m.group("name").strip(), rtype, data)
    if values:
        return values
    head = text[:4096]
    if looks_access_denied(head, exit_code):
        return ParseError(section, "access denied", "access_denied")
    folded = _fold(head)
    if any(t in folded for t in REG_NOT_FOUND_TEXTS) and exit_code in (REG_NOT_FOUND_EXIT, None):
        return None
    lines = [ln.strip() for ln in head.replace("\x00", "").splitlines() if ln.strip()]
    if not lines:
        return ParseError(section, "empty output", "empty")
    has_key_line = any(ln.upper().startswith("HKEY_") for ln in lines)
    if not has_key_line and exit_code == REG_NOT_FOUND_EXIT and len(lines) == 1 and _REG_ERROR_LINE.match(lines[0]):
        return None  # one reg error line in a language without a cited text: see the docstring
    if has_key_line and exit_code in (0, None):
        return {}  # the key exists but holds no values (only subkeys)
    return ParseError(section, f"not reg query output: {excerpt(text)}")


def reg_value(values: dict[str, RegValue] | None, name: str) -> RegValue | None:
    if not values:
        return None
    lowered = name.lower()
    return next((v for k, v in values.items() if k.lower() == lowered), None)


PRODUCT_TYPES = {
    "winnt": ProductType.WORKSTATION,
    "servernt": ProductType.SERVER,
    "lanmannt": ProductType.DOMAIN_CONTROLLER,
}


def parse_product_type(value: str) -> ProductType | None:
    """ProductOptions ProductType: WinNT / ServerNT / LanmanNT (case-insensitive); else None."""
    return PRODUCT_TYPES.get(value.strip().lower())


# Build numbers of the releases gpo §A2 names: 7601 = Windows 7 / 2008 R2 SP1, 9200 = 8 / 2012,
# 9600 = 8.1 / 2012 R2 (first with the "Include command line" policy, SUPPORTED_Windows_6_3).
BUILD_WIN7_SP1 = 7601
BUILD_WIN8 = 9200
BUILD_WIN81 = 9600


def cmdline_supported(build: int | None, kb3004375: bool | None) -> bool | None:
    """Whether 4688 can carry CommandLine (gpo §A2): build >= 9600 natively; 7601 (and 9200, which the
    same KB exists for per §A2's DISM evidence - UNVERIFIED on Microsoft's KB page) only with KB3004375;
    older builds never. None when the build, or the KB on 7601/9200, is unknown.
    """
    if build is None:
        return None
    if build >= BUILD_WIN81:
        return True
    if build in (BUILD_WIN7_SP1, BUILD_WIN8):
        return kb3004375
    return False


def parse_kb_present(text: str, kb: str = "KB3004375") -> bool:
    """`wmic qfe get HotFixID | find "KB..."`: the KB id printed means installed. Absent (or wmic
    missing) reads as not installed; callers only consult this on 7601/9200 hosts, which have wmic.
    """
    return kb.upper() in text.upper()


# --- ver, hostname ----------------------------------------------------------------------------------

# "Microsoft Windows [Version 10.0.20348.2655]"; the word "Version" is localised (tool-outputs §8).
_VER = re.compile(r"\[[^\]\r\n]{0,40}?(\d+)\.(\d+)\.(\d+)(?:\.(\d+))?\]")


@dataclass(frozen=True)
class WindowsVersion:
    major: int
    minor: int
    build: int
    ubr: int | None


def parse_ver(text: str, section: str = "ver") -> WindowsVersion | ParseError:
    m = _VER.search(text[:4096])
    if not m:
        return ParseError(section, f"no version banner: {excerpt(text)}")
    return WindowsVersion(int(m.group(1)), int(m.group(2)), int(m.group(3)), int(m.group(4)) if m.group(4) else None)


_HOSTNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$")


def parse_hostname(text: str, section: str = "hostname") -> str | ParseError:
    """`hostname`: the name and CRLF, nothing else (tool-outputs §8)."""
    lines = [ln.strip() for ln in text[:4096].splitlines() if ln.strip()]
    if len(lines) != 1 or not _HOSTNAME.match(lines[0]):
        return ParseError(section, f"not a host name: {excerpt(text)}")
    return lines[0]


# --- wevtutil gl / gli ------------------------------------------------------------------------------

_KV = re.compile(r"^[ \t]*([A-Za-z][A-Za-z0-9]{0,63}):(.*)$")


def _key_values(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in text.replace("\x00", "").splitlines():
        m = _KV.match(line)
        if m and m.group(1) not in out:
            out[m.group(1)] = m.group(2).strip()
    return out


# System message 15007 (en, de, fr: docs/localised-tool-output.md "wevtutil"); the exit code decides first.
_CHANNEL_NOT_FOUND_TEXT = re.compile(
    r"(?i)channel could not be found|kanal wurde nicht gefunden|canal spécifié est introuvable"
)


def _wevtutil_error(section: str, text: str, exit_code: int | None) -> ParseError | None:
    if exit_code == ERROR_EVT_CHANNEL_NOT_FOUND or _CHANNEL_NOT_FOUND_TEXT.search(text[:4096]):
        return ParseError(section, "log not found (15007)", "not_found")
    if looks_access_denied(text, exit_code):
        return ParseError(section, "access denied", "access_denied")
    return None


def _wevtutil_key_values(section: str, text: str, exit_code: int | None) -> dict[str, str] | ParseError:
    """The `key: value` lines of `wevtutil gl`/`gli`, or the error the output or exit code shows."""
    if err := _too_large(section, text):
        return err
    if err := _wevtutil_error(section, text, exit_code):
        return err
    return _key_values(text)


@dataclass(frozen=True)
class LogConfig:
    max_size_bytes: int | None
    retention: str | None  # "overwrite" | "archive" | "do_not_overwrite"
    enabled: bool | None


def retention_mode(retention: bool | None, auto_backup: bool | None) -> str | None:
    """wevtutil's retention/autoBackup pair to one word (gpo §A4: LogMode Circular | AutoBackup | Retain):
    retention false -> overwrite as needed; true with autoBackup -> archive when full; true alone ->
    do not overwrite.
    """
    if retention is None:
        return None
    if not retention:
        return "overwrite"
    if auto_backup:
        return "archive"
    return "do_not_overwrite" if auto_backup is not None else None


def _bool(value: str | None) -> bool | None:
    if value is None:
        return None
    return {"true": True, "false": False}.get(value.strip().lower())


def _int(value: str | None) -> int | None:
    if value is None or not value.strip().isdigit() or len(value.strip()) > 20:
        return None
    return int(value.strip())


def parse_wevtutil_gl(text: str, exit_code: int | None = None, section: str = "wevtutil_gl") -> LogConfig | ParseError:
    """`wevtutil gl <log>` (tool-outputs §3.1): `name:`, `enabled:`, `logging:` { `retention:`,
    `autoBackup:`, `maxSize:` bytes }."""
    kv = _wevtutil_key_values(section, text, exit_code)
    if isinstance(kv, ParseError):
        return kv
    if "maxSize" not in kv and "retention" not in kv:
        return ParseError(section, f"no maxSize/retention lines: {excerpt(text)}")
    return LogConfig(
        max_size_bytes=_int(kv.get("maxSize")),
        retention=retention_mode(_bool(kv.get("retention")), _bool(kv.get("autoBackup"))),
        enabled=_bool(kv.get("enabled")),
    )


@dataclass(frozen=True)
class LogStatus:
    file_size_bytes: int | None
    record_count: int | None
    oldest_record_number: int | None


def parse_wevtutil_gli(
    text: str, exit_code: int | None = None, section: str = "wevtutil_gli"
) -> LogStatus | ParseError:
    """`wevtutil gli <log>` (tool-outputs §3.3): fileSize, numberOfLogRecords, oldestRecordNumber."""
    kv = _wevtutil_key_values(section, text, exit_code)
    if isinstance(kv, ParseError):
        return kv
    if "numberOfLogRecords" not in kv and "fileSize" not in kv:
        return ParseError(section, f"no numberOfLogRecords/fileSize lines: {excerpt(text)}")
    return LogStatus(
        file_size_bytes=_int(kv.get("fileSize")),
        record_count=_int(kv.get("numberOfLogRecords")),
        oldest_record_number=_int(kv.get("oldestRecordNumber")),
    )


def registry_retention(values: dict[str, RegValue] | None) -> str | None:
    """Services\\EventLog\\Security Retention/AutoBackupLogFiles (gpo §A4, MS-GPSB 3.2.5.5): Retention 0
    overwrite as needed, 0xFFFFFFFF never overwrite (archive when AutoBackupLogFiles is 1), any other
    value overwrites events older than that many seconds (reported as "overwrite")."""
    ret = reg_value(values, "Retention")
    if ret is None or not isinstance(ret.data, int):
        return None
    backup = reg_value(values, "AutoBackupLogFiles")
    if ret.data in (0xFFFFFFFF, -1):
        return "archive" if backup is not None and backup.data in (1, "1") else "do_not_overwrite"
    return "overwrite"


# --- sc query ---------------------------------------------------------------------------------------

# "STATE              : 4  RUNNING" - label may be localised, state names are not (tool-outputs §6.1).
_SC_STATE = re.compile(
    r"^[ \t]+\S+[ \t]*:[ \t]*(\d+)[ \t]+"
    r"(STOPPED|START_PENDING|STOP_PENDING|RUNNING|CONTINUE_PENDING|PAUSE_PENDING|PAUSED)\b",
    re.MULTILINE,
)
# French puts a space before the colon ("échec(s) 1060 :", docs/localised-tool-output.md "sc").
_SC_MISSING = re.compile(r"\b1060 ?:")


@dataclass(frozen=True)
class ServiceState:
    present: bool
    running: bool | None = None
    state: str | None = None


def parse_sc_query(text: str, exit_code: int | None = None, section: str = "sc") -> ServiceState | ParseError:
    """`sc query NAME` (tool-outputs §6): a STATE line -> present; FAILED 1060 (text on stdout,
    exit 1060, localised words around the number) -> not present."""
    if err := _too_large(section, text):
        return err
    m = _SC_STATE.search(text)
    if m:
        return ServiceState(present=True, running=m.group(2) == "RUNNING", state=m.group(2))
    if exit_code == ERROR_SERVICE_DOES_NOT_EXIST or _SC_MISSING.search(text):
        return ServiceState(present=False)
    if looks_access_denied(text, exit_code):
        return ParseError(section, "access denied", "access_denied")
    return ParseError(section, f"not sc query output: {excerpt(text)}")


# --- find /c ----------------------------------------------------------------------------------------

# File form "---------- C:\PATH\FILE: 96" (tool-outputs §7, VERBATIM) or a bare number (pipe form).
_FIND_FILE = re.compile(r"^-{10} .*: (\d{1,12})\s*$")
_FIND_BARE = re.compile(r"^\s*(\d{1,12})\s*$")
# find.exe on a missing file: "File not found - <NAME as given, upper-cased>" (stderr; the probe adds
# 2>&1). The text is find's usual message, UNVERIFIED in the reference (tool-outputs §7 has only the exit
# code 2, "file not found"); localised builds word it differently and fall back to the plain excerpt.
_FIND_FILE_NOT_FOUND = re.compile(r"File not found - [^\r\n]*")


def parse_find_counts(text: str, expected: int, section: str = "count") -> tuple[int, ...] | ParseError:
    """The counts printed by `expected` consecutive `find /c` runs, in order."""
    if err := _too_large(section, text):
        return err
    counts: list[int] = []
    for line in text.splitlines():
        m = _FIND_FILE.match(line) or _FIND_BARE.match(line)
        if m:
            counts.append(int(m.group(1)))
    if len(counts) != expected:
        return ParseError(section, f"expected {expected} find /c counts, found {len(counts)}: {_find_failure(text)}")
    return tuple(counts)


def _find_failure(text: str) -> str:
    """What the counts' text says went wrong, for the message."""
    missing = _FIND_FILE_NOT_FOUND.search(text)
    if missing is not None:
        return (
            f"find could not read the temp file ({excerpt(missing.group(0))}): the query's output "
            "was not written; check that %TEMP% or WinRS's start folder (the user's profile) is writable"
        )
    if not text.strip():
        return "no output (the temp file of event dates was not written or find did not run)"
    return excerpt(text)
