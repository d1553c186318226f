"""`reg query` over a registry built from the host profile (windows-tool-outputs.md §5).

Layout (§5.1): an empty line, the key (root expanded, the rest echoed as typed), one line per value
`    Name    TYPE    data`, an empty line; REG_DWORD as lower-case hex `0x..` without padding. Missing
key or value: `ERROR: The system was unable to find the specified registry key or value.` on stderr,
exit 1 (§5.2), in the host's UI language (simulator/tool_texts.py); a bad root:
`ERROR: Invalid key name.` + usage hint, exit 1.

Which values exist follows gpo-backup-format.md §A2-§A4: ProcessCreationIncludeCmdLine_Enabled is
present (0x1) only when the policy is on; SCENoApplyLegacyAuditPolicy only when the profile sets it;
the Security EventLog key holds MaxSize (bytes), Retention (0 = overwrite, 0xffffffff = keep) and
AutoBackupLogFiles (only for "archive"). UBR exists from Windows 10 / 2016 on (2008 R2 has none).

KB3004375 on 7601/9200 hosts (gpo-backup-format.md §A2) is modelled as a Component Based Servicing
package subkey, so `reg query "HKLM\\...\\Component Based Servicing\\Packages" /k /f KB3004375`
finds it. The `/f` output (matching key lines, then `End of search: N match(es) found.`) and its
exit code 1 for no match are UNVERIFIED. Reading the Security EventLog key without admin rights
answers `ERROR: Access is denied.` (exit 1): UNVERIFIED text, the key's ACL is admin-only.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditplan.records import ProductType
from auditplan.simulator.cmd_shell import CRLF, ToolContext
from auditplan.simulator.interface import CommandOutput
from auditplan.simulator.profile import HostProfile
from auditplan.simulator.tool_texts import texts_for

INVALID_KEY = 'ERROR: Invalid key name.\r\nType "REG QUERY /?" for usage.\r\n'
INVALID_SYNTAX = 'ERROR: Invalid syntax.\r\nType "REG QUERY /?" for usage.\r\n'
REG_EXIT_ERROR = 1

ROOTS = {
    "HKLM": "HKEY_LOCAL_MACHINE",
    "HKEY_LOCAL_MACHINE": "HKEY_LOCAL_MACHINE",
    "HKCU": "HKEY_CURRENT_USER",
    "HKEY_CURRENT_USER": "HKEY_CURRENT_USER",
    "HKCR": "HKEY_CLASSES_ROOT",
    "HKEY_CLASSES_ROOT": "HKEY_CLASSES_ROOT",
    "HKU": "HKEY_USERS",
    "HKEY_USERS": "HKEY_USERS",
    "HKCC": "HKEY_CURRENT_CONFIG",
    "HKEY_CURRENT_CONFIG": "HKEY_CURRENT_CONFIG",
}

KEY_CURRENT_VERSION = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion"
KEY_PRODUCT_OPTIONS = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\ProductOptions"
KEY_AUDIT_POLICY = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System\Audit"
KEY_POLICIES_SYSTEM = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System"
KEY_LSA = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Lsa"
KEY_EVENTLOG_SECURITY = r"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Services\EventLog\Security"
KEY_CBS_PACKAGES = r"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Component Based Servicing\Packages"
ADMIN_ONLY_KEYS = (KEY_EVENTLOG_SECURITY.upper(),)

PRODUCT_TYPE_VALUES = {
    ProductType.WORKSTATION: "WinNT",
    ProductType.SERVER: "ServerNT",
    ProductType.DOMAIN_CONTROLLER: "LanmanNT",
}
RETENTION_KEEP = 0xFFFFFFFF


@dataclass(frozen=True)
class RegValue:
    name: str
    type: str  # REG_SZ, REG_DWORD, REG_EXPAND_SZ, REG_MULTI_SZ, REG_BINARY, REG_QWORD
    data: str | int | tuple[str, ...]

    def render_data(self) -> str:
        if self.type in ("REG_DWORD", "REG_QWORD"):
            assert isinstance(self.data, int)
            return f"0x{self.data:x}"
        if self.type == "REG_MULTI_SZ":
            assert isinstance(self.data, tuple)
            return "\\0".join(self.data)
        return str(self.data)

    def render(self) -> str:
        data = self.render_data()
        line = f"    {self.name}    {self.type}"
        return line + (f"    {data}" if data != "" else "")


def build_registry(profile: HostProfile) -> dict[str, tuple[str, list[RegValue]]]:
    """Key (upper case) -> (canonical key name, values in order)."""
    os_ = profile.os
    cv: list[RegValue] = [
        RegValue("SystemRoot", "REG_SZ", "C:\\Windows"),
        RegValue("CurrentVersion", "REG_SZ", "6.3" if os_.build >= 9600 else os_.version),
        RegValue("CurrentBuild", "REG_SZ", str(os_.build)),
        RegValue("CurrentBuildNumber", "REG_SZ", str(os_.build)),
        RegValue("EditionID", "REG_SZ", os_.edition_id),
        RegValue("InstallationType", "REG_SZ", os_.installation_type),
        RegValue("ProductName", "REG_SZ", os_.product_name),
        RegValue("RegisteredOrganization", "REG_SZ", ""),
    ]
    if os_.build >= 10240:
        cv.insert(2, RegValue("CurrentMajorVersionNumber", "REG_DWORD", 10))
        cv.insert(3, RegValue("CurrentMinorVersionNumber", "REG_DWORD", 0))
        cv.append(RegValue("UBR", "REG_DWORD", os_.ubr))
    if os_.display_version:
        cv.append(RegValue("DisplayVersion", "REG_SZ", os_.display_version))
    product = [
        RegValue("ProductType", "REG_SZ", PRODUCT_TYPE_VALUES[os_.product_type]),
        RegValue("ProductSuite", "REG_MULTI_SZ", ("Terminal Server",) if profile.role == "rds" else ()),
    ]
    audit = profile.audit
    lsa = [
        RegValue("auditbasedirectories", "REG_DWORD", 0),
        RegValue("auditbaseobjects", "REG_DWORD", 0),
        RegValue("crashonauditfail", "REG_DWORD", 0),
        RegValue("LimitBlankPasswordUse", "REG_DWORD", 1),
        RegValue("NoLmHash", "REG_DWORD", 1),
    ]
    if audit.force_subcategory is not None:
        lsa.append(RegValue("SCENoApplyLegacyAuditPolicy", "REG_DWORD", int(audit.force_subcategory)))
    log = profile.security_log
    eventlog = [
        RegValue("File", "REG_EXPAND_SZ", "%SystemRoot%\\System32\\Winevt\\Logs\\Security.evtx"),
        RegValue("MaxSize", "REG_DWORD", log.max_size_bytes),
        RegValue("Retention", "REG_DWORD", 0 if log.retention == "overwrite" else RETENTION_KEEP),
        RegValue("DisplayNameFile", "REG_EXPAND_SZ", "%SystemRoot%\\system32\\wevtapi.dll"),
        RegValue("DisplayNameID", "REG_DWORD", 0x103),
        RegValue("PrimaryModule", "REG_SZ", "Security"),
    ]
    if log.retention == "archive":
        eventlog.append(RegValue("AutoBackupLogFiles", "REG_DWORD", 1))
    keys: dict[str, tuple[str, list[RegValue]]] = {
        KEY_CURRENT_VERSION.upper(): (KEY_CURRENT_VERSION, cv),
        KEY_PRODUCT_OPTIONS.upper(): (KEY_PRODUCT_OPTIONS, product),
        KEY_POLICIES_SYSTEM.upper(): (KEY_POLICIES_SYSTEM, [RegValue("EnableLUA", "REG_DWORD", 1)]),
        KEY_LSA.upper(): (KEY_LSA, lsa),
        KEY_EVENTLOG_SECURITY.upper(): (KEY_EVENTLOG_SECURITY, eventlog),
        KEY_CBS_PACKAGES.upper(): (KEY_CBS_PACKAGES, []),
    }
    if audit.cmdline_enabled:
        keys[KEY_AUDIT_POLICY.upper()] = (
            KEY_AUDIT_POLICY,
            [RegValue("ProcessCreationIncludeCmdLine_Enabled", "REG_DWORD", 1)],
        )
    if os_.kb3004375 and os_.build < 9600:
        arch_version = "6.1.1.5" if os_.build < 9200 else "6.2.1.5"
        name = f"{KEY_CBS_PACKAGES}\\Package_for_KB3004375~31bf3856ad364e35~amd64~~{arch_version}"
        keys[name.upper()] = (name, [RegValue("CurrentState", "REG_DWORD", 0x70)])
    return keys


class Reg:
    """`reg query KEY [/v NAME | /ve] [/f TEXT /k]` bound to one host."""

    def __init__(self, profile: HostProfile) -> None:
        self.profile = profile
        self.keys = build_registry(profile)
        self.texts = texts_for(profile.locale)

    def __call__(self, ctx: ToolContext) -> CommandOutput:
        args = list(ctx.argv)
        if len(args) < 2 or args[0].lower() != "query":
            return ctx.err(INVALID_SYNTAX, exit_code=REG_EXIT_ERROR)
        typed_key = args[1].rstrip("\\")
        root, _, rest = typed_key.partition("\\")
        canonical_root = ROOTS.get(root.upper())
        if canonical_root is None:
            return ctx.err(INVALID_KEY, exit_code=REG_EXIT_ERROR)
        shown_key = canonical_root + ("\\" + rest if rest else "")
        value_name: str | None = None
        search: str | None = None
        keys_only = False
        i = 2
        while i < len(args):
            opt = args[i].lower()
            if opt == "/v" and i + 1 < len(args) and value_name is None:
                value_name = args[i + 1]
                i += 2
            elif opt == "/ve" and value_name is None:
                value_name = ""
                i += 1
            elif opt == "/f" and i + 1 < len(args):
                search = args[i + 1]
                i += 2
            elif opt == "/k":
                keys_only = True
                i += 1
            else:
                return ctx.err(INVALID_SYNTAX, exit_code=REG_EXIT_ERROR)
        lookup = shown_key.upper()
        if lookup in ADMIN_ONLY_KEYS and not self.profile.admin:
            return ctx.err(self.texts.reg_access_denied, exit_code=REG_EXIT_ERROR)
        entry = self.keys.get(lookup)
        if entry is None:
            return ctx.err(self.texts.reg_not_found, exit_code=REG_EXIT_ERROR)
        _, values = entry
        if search is not None:
            return self._search(ctx, lookup, search, keys_only)
        if value_name is not None:
            match = [v for v in values if v.name.lower() == value_name.lower()] if value_name else []
            if not match:
                return ctx.err(self.texts.reg_not_found, exit_code=REG_EXIT_ERROR)
            return ctx.out(CRLF + shown_key + CRLF + match[0].render() + CRLF + CRLF)
        lines = [shown_key, *(v.render() for v in values)]
        text = CRLF + CRLF.join(lines) + CRLF + CRLF
        subkeys = self._subkeys(lookup)
        if subkeys:
            text += "".join(shown_key + "\\" + name + CRLF for name in subkeys)
        return ctx.out(text)

    def _subkeys(self, lookup: str) -> list[str]:
        prefix = lookup + "\\"
        names = []
        for key, (canonical, _) in self.keys.items():
            if key.startswith(prefix) and "\\" not in key[len(prefix) :]:
                names.append(canonical[len(prefix) :])
        return sorted(names, key=str.upper)

    def _search(self, ctx: ToolContext, lookup: str, text: str, keys_only: bool) -> CommandOutput:
        found = []
        for key, (canonical, values) in sorted(self.keys.items()):
            if not key.startswith(lookup + "\\"):
                continue
            leaf = canonical.rsplit("\\", 1)[-1]
            hit = text.lower() in leaf.lower()
            if not keys_only:
                hit = hit or any(text.lower() in v.name.lower() for v in values)
            if hit:
                found.append(canonical)
        body = "".join(CRLF + k + CRLF for k in found)
        body += f"End of search: {len(found)} match(es) found.{CRLF}"
        return ctx.out(body, exit_code=0 if found else 1)
