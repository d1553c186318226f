r"""Who can read the Security log: the `channelAccess:` SDDL of `wevtutil gl Security` (tool-outputs §3.1).

Anyone the channel's DACL lets read the Security log reads every command line 4688 records, so the
survey reports the principals granted read and flags those beyond Windows' default
`O:BAG:SYD:(A;;0xf0005;;;SY)(A;;0x5;;;BA)(A;;0x1;;;S-1-5-32-573)` (SYSTEM, Administrators, Event Log
Readers; docs/security-log-readers.md gives it per Windows version with its sources). Event log access
rights (winevt.h): 0x1 read, 0x2 write, 0x4 clear; generic all / generic read grant read too.
Holders of "Manage auditing and security log" (SeSecurityPrivilege) read the log whatever its ACL says:
the survey does not read user rights, so they are not listed here.
"""

from __future__ import annotations

import re
from typing import Final

from auditplan.collect.parse.tools import ParseError
from auditplan.records import ChannelAccess, LogReader

SECTION: Final = "channelAccess"
DEFAULT_SECURITY_CHANNEL_ACCESS: Final = "O:BAG:SYD:(A;;0xf0005;;;SY)(A;;0x5;;;BA)(A;;0x1;;;S-1-5-32-573)"
EVT_READ: Final = 0x1
GENERIC_ALL: Final = 0x10000000
GENERIC_READ: Final = 0x80000000
READS: Final = EVT_READ | GENERIC_ALL | GENERIC_READ
MAX_SDDL: Final = 16_384  # far above any real channel ACL; a longer line is not read

# SDDL's two-letter rights (Microsoft, "Ace Strings"); event logs use the low bits as read/write/clear.
RIGHTS: Final = {
    "GA": 0x10000000, "GR": 0x80000000, "GW": 0x40000000, "GX": 0x20000000,
    "RC": 0x20000, "SD": 0x10000, "WD": 0x40000, "WO": 0x80000,
    "RP": 0x10, "WP": 0x20, "CC": 0x1, "DC": 0x2, "LC": 0x4, "SW": 0x8, "LO": 0x80, "DT": 0x40, "CR": 0x100,
    "FA": 0x1F01FF, "FR": 0x120089, "FW": 0x120116, "FX": 0x1200A0,
    "KA": 0xF003F, "KR": 0x20019, "KW": 0x20006, "KX": 0x20019,
}
ALLOW_TYPES: Final = frozenset({"A", "OA", "XA", "ZA"})
DENY_TYPES: Final = frozenset({"D", "OD", "XD"})
AUDIT_TYPES: Final = frozenset({"AU", "AL", "OU", "OL", "ML", "XU", "RA", "SP", "SC"})

# SDDL SID aliases and well-known SIDs (Microsoft, "SID Strings" and "Well-known SIDs"): SID, Windows
# name, and whether most accounts are members (a grant to it makes the log readable to nearly anyone).
WELL_KNOWN: Final[dict[str, tuple[str, str, bool]]] = {
    "SY": ("S-1-5-18", "NT AUTHORITY\\SYSTEM", False),
    "BA": ("S-1-5-32-544", "BUILTIN\\Administrators", False),
    "ER": ("S-1-5-32-573", "BUILTIN\\Event Log Readers", False),
    "WD": ("S-1-1-0", "Everyone", True),
    "AU": ("S-1-5-11", "NT AUTHORITY\\Authenticated Users", True),
    "BU": ("S-1-5-32-545", "BUILTIN\\Users", True),
    "BG": ("S-1-5-32-546", "BUILTIN\\Guests", True),
    "IU": ("S-1-5-4", "NT AUTHORITY\\INTERACTIVE", True),
    "NU": ("S-1-5-2", "NT AUTHORITY\\NETWORK", True),
    "AN": ("S-1-5-7", "NT AUTHORITY\\ANONYMOUS LOGON", True),
    "SU": ("S-1-5-6", "NT AUTHORITY\\SERVICE", False),
    "LS": ("S-1-5-19", "NT AUTHORITY\\LOCAL SERVICE", False),
    "NS": ("S-1-5-20", "NT AUTHORITY\\NETWORK SERVICE", False),
    "BO": ("S-1-5-32-551", "BUILTIN\\Backup Operators", False),
    "SO": ("S-1-5-32-549", "BUILTIN\\Server Operators", False),
    "PU": ("S-1-5-32-547", "BUILTIN\\Power Users", False),
    "AO": ("S-1-5-32-548", "BUILTIN\\Account Operators", False),
    "PO": ("S-1-5-32-550", "BUILTIN\\Print Operators", False),
    "RE": ("S-1-5-32-552", "BUILTIN\\Replicator", False),
    "RU": ("S-1-5-32-554", "BUILTIN\\Pre-Windows 2000 Compatible Access", True),
    "RD": ("S-1-5-32-555", "BUILTIN\\Remote Desktop Users", False),
    "NO": ("S-1-5-32-556", "BUILTIN\\Network Configuration Operators", False),
    "MU": ("S-1-5-32-558", "BUILTIN\\Performance Monitor Users", False),
    "LU": ("S-1-5-32-559", "BUILTIN\\Performance Log Users", False),
    "IS": ("S-1-5-32-568", "BUILTIN\\IIS_IUSRS", False),
    "CY": ("S-1-5-32-569", "BUILTIN\\Cryptographic Operators", False),
    "RM": ("S-1-5-32-580", "BUILTIN\\Remote Management Users", False),
    "ED": ("S-1-5-9", "NT AUTHORITY\\ENTERPRISE DOMAIN CONTROLLERS", False),
    "PS": ("S-1-5-10", "NT AUTHORITY\\SELF", False),
    "RC": ("S-1-5-12", "NT AUTHORITY\\RESTRICTED", False),
    "CO": ("S-1-3-0", "CREATOR OWNER", False),
    "CG": ("S-1-3-1", "CREATOR GROUP", False),
    "OW": ("S-1-3-4", "OWNER RIGHTS", False),
}
# Domain-relative aliases: the SDDL names the domain's group without the domain SID (RID, name, broad).
DOMAIN_ALIASES: Final[dict[str, tuple[int, str, bool]]] = {
    "DU": (513, "Domain Users", True), "DC": (515, "Domain Computers", True), "DG": (514, "Domain Guests", True),
    "DA": (512, "Domain Admins", False), "DD": (516, "Domain Controllers", False), "LA": (500, "Administrator", False),
    "LG": (501, "Guest", True), "CA": (517, "Cert Publishers", False), "SA": (518, "Schema Admins", False),
    "EA": (519, "Enterprise Admins", False), "PA": (520, "Group Policy Creator Owners", False),
    "RS": (553, "RAS and IAS Servers", False),
}
BY_SID: Final = {sid: (name, broad) for sid, name, broad in WELL_KNOWN.values()}
DEFAULT_READERS: Final = frozenset({"S-1-5-18", "S-1-5-32-544", "S-1-5-32-573"})

_SID = r"(?:[A-Z]{2}|S-1-\d{1,20}(?:-\d{1,20}){1,15})"
_HEAD = re.compile(rf"^(?:O:(?P<owner>{_SID}))?(?:G:(?P<group>{_SID}))?")
_FLAGS = re.compile(r"(?:P|AI|AR|NO_ACCESS_CONTROL)*")
_SID_FULL = re.compile(rf"^{_SID}$")
_DOMAIN_RID = re.compile(r"^S-1-5-21-\d+-\d+-\d+-(\d+)$")
_LINE = re.compile(r"(?im)^[ \t]*channelAccess:[ \t]*(.*?)[ \t\r]*$")


class SddlError(ValueError):
    """A security descriptor that is not SDDL; the message says where it stops making sense."""


def _rights(text: str) -> int:
    text = text.strip()
    if re.fullmatch(r"0[xX][0-9A-Fa-f]{1,8}", text):
        return int(text, 16)
    if re.fullmatch(r"\d{1,10}", text):
        return int(text)
    if len(text) % 2 or not text:
        raise SddlError(f"access rights {text!r} are not a number or SDDL rights letters")
    mask = 0
    for i in range(0, len(text), 2):
        code = text[i : i + 2].upper()
        if code not in RIGHTS:
            raise SddlError(f"access right {code!r} is not an SDDL right")
        mask |= RIGHTS[code]
    return mask


def _aces(text: str) -> list[list[str]]:
    """The ACE strings of a DACL/SACL body "(..)(..)", each split at ';' (a conditional ACE's
    parenthesised condition kept whole)."""
    aces: list[list[str]] = []
    i = 0
    while i < len(text):
        if text[i] != "(":
            raise SddlError(f"expected '(' at {text[i:i + 20]!r}")
        depth, j = 0, i
        while j < len(text):
            depth += {"(": 1, ")": -1}.get(text[j], 0)
            if depth == 0:
                break
            j += 1
        if depth:
            raise SddlError(f"unclosed ACE {text[i:i + 40]!r}")
        parts = text[i + 1 : j].split(";", 6)
        if len(parts) < 6:
            raise SddlError(f"ACE {text[i:j + 1]!r} has {len(parts)} fields, not 6")
        aces.append(parts)
        i = j + 1
    return aces


def _split(sddl: str) -> tuple[str, str]:
    """(DACL flags and ACEs, SACL part) after the owner and group."""
    head = _HEAD.match(sddl)
    rest = sddl[head.end():] if head else sddl
    if not rest:
        return "", ""
    if not rest.startswith(("D:", "S:")):
        raise SddlError(f"expected O:, G:, D: or S: at {rest[:20]!r}")
    dacl, sacl = "", ""
    if rest.startswith("D:"):
        rest = rest[2:]
        depth, cut = 0, len(rest)
        for k, ch in enumerate(rest):
            depth += {"(": 1, ")": -1}.get(ch, 0)
            if depth == 0 and rest.startswith("S:", k):
                cut = k
                break
        dacl, sacl = rest[:cut], rest[cut:]
    else:
        sacl = rest
    return dacl, sacl


def _principal(sid: str) -> tuple[str, str | None, bool]:
    """(SID, Windows name or None, broad) of an SDDL SID field."""
    if sid in WELL_KNOWN:
        return WELL_KNOWN[sid]
    if sid in DOMAIN_ALIASES:
        _rid, name, broad = DOMAIN_ALIASES[sid]
        return sid, name, broad
    if not sid.startswith("S-1-"):
        raise SddlError(f"SID {sid!r} is neither an SDDL alias nor S-1-...")
    if sid in BY_SID:
        name, broad = BY_SID[sid]
        return sid, name, broad
    if m := _DOMAIN_RID.match(sid):
        rid = int(m.group(1))
        for known_rid, name, broad in DOMAIN_ALIASES.values():
            if rid == known_rid:
                return sid, name, broad
    return sid, None, False  # a custom group or account: beyond the default, name unknown here


def parse_sddl(sddl: str) -> ChannelAccess:
    """The principals an SDDL's DACL lets read an event log; SddlError when it is not SDDL."""
    text = sddl.strip()
    if len(text) > MAX_SDDL:
        raise SddlError(f"{len(text)} characters, longer than any channel ACL ({MAX_SDDL})")
    if not text:
        raise SddlError("empty")
    dacl, sacl = _split(text)
    flags = _FLAGS.match(dacl)
    body = dacl[flags.end():] if flags else dacl
    allowed: dict[str, int] = {}
    denied: dict[str, int] = {}
    for ace_type, _flags, rights, _guid, _inherit_guid, sid, *_rest in _aces(body):
        ace_type, sid = ace_type.strip().upper(), sid.strip()
        if not _SID_FULL.match(sid):
            raise SddlError(f"SID {sid!r} is neither an SDDL alias nor S-1-...")
        mask = _rights(rights)
        resolved = _principal(sid)[0]
        if ace_type in ALLOW_TYPES:
            allowed[resolved] = allowed.get(resolved, 0) | mask
        elif ace_type in DENY_TYPES:
            denied[resolved] = denied.get(resolved, 0) | mask
        elif ace_type not in AUDIT_TYPES:
            raise SddlError(f"ACE type {ace_type!r} is not an SDDL ACE type")
    if sacl:
        flags = _FLAGS.match(sacl[2:])
        _aces(sacl[2 + (flags.end() if flags else 0):])  # checked for shape only: audit ACEs grant nothing
    if "D:" not in text or (flags and "NO_ACCESS_CONTROL" in flags.group()):
        # No DACL (or a NULL one): Windows lets everyone do everything.
        allowed = {"S-1-1-0": GENERIC_ALL}
    readers: list[LogReader] = []
    for sid, mask in allowed.items():
        if not mask & READS or denied.get(sid, 0) & READS:
            continue
        _sid, name, broad = _principal(sid)
        readers.append(LogReader(sid=sid, name=name, access_mask=mask, default=sid in DEFAULT_READERS, broad=broad))
    return ChannelAccess(sddl=text, readers=tuple(readers))


def parse_channel_access(text: str, section: str = "wevtutil_gl") -> ChannelAccess | ParseError | None:
    """The `channelAccess:` line of `wevtutil gl Security` as readers; None when the output has no such line
    (an error the gl parser reports already), a ParseError naming the section when it is not SDDL."""
    m = _LINE.search(text[: MAX_SDDL * 2])
    if not m:
        return None
    try:
        return parse_sddl(m.group(1))
    except SddlError as exc:
        return ParseError(section, f"{SECTION}: malformed SDDL ({exc})")
