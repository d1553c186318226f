"""`auditpol` as it answers on en-US, de-DE and fr-FR hosts (windows-tool-outputs.md §1-2, gpo-backup-format.md
§A1; the French texts and their sources are in simulator/auditpol_fr.py).

Sources for the tables below:
- Subcategory GUIDs, English names and the `/get` order: §2.3 (cnquery fixture) plus Credential
  Validation at the end of Account Logon, where the real German capture puts it.
- English `/backup` row order, option and SACL rows: §1.1 (VERBATIM capture, machine BIRDSOFPRAY).
- German names, inclusion texts, header, `/backup` row order: the real WS2022 German captures that
  §A1 cites (mondoohq/mql testdata auditpol-backup-ws2022-de.csv and auditpol-get-ws2022-de.csv,
  commit 8a8772d9). That backup has no FileGlobalSacl/RegistryGlobalSacl rows, and it spells
  "Plug &amp; Play-Ereignisse" with a literal `&amp;`; both are kept.
- {0CCE924B-...} "Access Rights" / "Zugriffsrechte": in every Server 2022 and 2025 capture (mondoohq/mql
  testdata auditpol-backup-ws2022-cis.csv, auditpol-backup-ws2025.csv, auditpol-get-ws2022-cis.csv, and
  the German pair above, commit 8a8772d9), in none of the older ones (BIRDSOFPRAY, §2.3): present from
  build 20348 on. The English Server 2022/2025 `/backup` order is those captures' (it also orders the
  DS Access rows differently from BIRDSOFPRAY's); older builds keep BIRDSOFPRAY's. German hosts use the
  WS2022 German order on every build, without 924B before 20348 (no older German capture: UNVERIFIED).
- Usage text: a bad parameter prints the usage on stdout and the 0x57 error on stderr (the Chef capture
  in §2.4, jpboyce/cb_cis_windows_2016#9, an unknown subcategory name); the usage lines are that
  capture's, with its relative indentation. German and French hosts print the same English usage (no
  German or French capture found: UNVERIFIED, docs/windows-validation.md).
- Default settings (what a host has before any policy): the §2.3 fixture's values, Credential
  Validation = Success from the German capture. An assumption for every role.

UNVERIFIED, chosen as the most likely shape: `/backup` line endings (CRLF, as MS-GPAC mandates for
the same format), its stdout text, the error for an existing file; the stream (stderr here) and
exit code (the Win32 code here: 1314, 87) of auditpol errors; the plain-text `/get` layout
(setting column at 42) and all German texts of it; the German 0x522 message.
"""

from __future__ import annotations

from dataclasses import dataclass

from auditplan.records import AuditSetting
from auditplan.simulator import auditpol_fr as fr
from auditplan.simulator.audit_source import documented_default
from auditplan.simulator.cmd_shell import CRLF, ToolContext, codec_for
from auditplan.simulator.interface import CommandOutput
from auditplan.simulator.profile import HostProfile

GUID_SUFFIX = "-69AE-11D9-BED3-505054503030}"


def _g(prefix: str) -> str:
    return "{" + prefix + GUID_SUFFIX


PROCESS_CREATION = _g("0CCE922B")

CATEGORIES: dict[str, tuple[str, str]] = {
    # key: (English, German - UNVERIFIED)
    "system": ("System", "System"),
    "logon": ("Logon/Logoff", "An-/Abmelden"),
    "object": ("Object Access", "Objektzugriff"),
    "privilege": ("Privilege Use", "Berechtigungen"),
    "tracking": ("Detailed Tracking", "Detaillierte Nachverfolgung"),
    "policy": ("Policy Change", "Richtlinienänderung"),
    "account": ("Account Management", "Kontenverwaltung"),
    "ds": ("DS Access", "DS-Zugriff"),
    "logon_acct": ("Account Logon", "Kontoanmeldung"),
}


@dataclass(frozen=True)
class Subcategory:
    guid: str  # upper case with braces, as auditpol prints it
    category: str
    en: str
    de: str
    default: AuditSetting


def _sub(prefix: str, category: str, en: str, de: str, default: AuditSetting) -> Subcategory:
    return Subcategory(_g(prefix), category, en, de, default)


_N, _S, _F, _SF = AuditSetting.NONE, AuditSetting.SUCCESS, AuditSetting.FAILURE, AuditSetting.SUCCESS_AND_FAILURE

# In `/get` order (§2.3).
SUBCATEGORIES: tuple[Subcategory, ...] = (
    _sub("0CCE9211", "system", "Security System Extension", "Sicherheitssystemerweiterung", _N),
    _sub("0CCE9212", "system", "System Integrity", "Systemintegrität", _SF),
    _sub("0CCE9213", "system", "IPsec Driver", "IPSEC-Treiber", _N),
    _sub("0CCE9214", "system", "Other System Events", "Andere Systemereignisse", _SF),
    _sub("0CCE9210", "system", "Security State Change", "Sicherheitsstatusänderung", _S),
    _sub("0CCE9215", "logon", "Logon", "Anmelden", _SF),
    _sub("0CCE9216", "logon", "Logoff", "Abmelden", _S),
    _sub("0CCE9217", "logon", "Account Lockout", "Kontosperrung", _S),
    _sub("0CCE9218", "logon", "IPsec Main Mode", "IPsec-Hauptmodus", _N),
    _sub("0CCE9219", "logon", "IPsec Quick Mode", "IPsec-Schnellmodus", _N),
    _sub("0CCE921A", "logon", "IPsec Extended Mode", "IPsec-Erweiterungsmodus", _N),
    _sub("0CCE921B", "logon", "Special Logon", "Spezielle Anmeldung", _S),
    _sub("0CCE921C", "logon", "Other Logon/Logoff Events", "Andere Anmelde-/Abmeldeereignisse", _N),
    _sub("0CCE9243", "logon", "Network Policy Server", "Netzwerkrichtlinienserver", _SF),
    _sub("0CCE9247", "logon", "User / Device Claims", "Benutzer-/Geräteansprüche", _N),
    _sub("0CCE9249", "logon", "Group Membership", "Gruppenmitgliedschaft", _N),
    _sub("0CCE924B", "logon", "Access Rights", "Zugriffsrechte", _N),
    _sub("0CCE921D", "object", "File System", "Dateisystem", _N),
    _sub("0CCE921E", "object", "Registry", "Registrierung", _N),
    _sub("0CCE921F", "object", "Kernel Object", "Kernelobjekt", _N),
    _sub("0CCE9220", "object", "SAM", "SAM", _N),
    _sub("0CCE9221", "object", "Certification Services", "Zertifizierungsdienste", _N),
    _sub("0CCE9222", "object", "Application Generated", "Anwendung wurde generiert.", _N),
    _sub("0CCE9223", "object", "Handle Manipulation", "Handleänderung", _N),
    _sub("0CCE9224", "object", "File Share", "Dateifreigabe", _N),
    _sub("0CCE9225", "object", "Filtering Platform Packet Drop", "Filterplattform: Verworfene Pakete", _N),
    _sub("0CCE9226", "object", "Filtering Platform Connection", "Filterplattformverbindung", _N),
    _sub("0CCE9227", "object", "Other Object Access Events", "Andere Objektzugriffsereignisse", _N),
    _sub("0CCE9244", "object", "Detailed File Share", "Detaillierte Dateifreigabe", _N),
    _sub("0CCE9245", "object", "Removable Storage", "Wechselmedien", _N),
    _sub("0CCE9246", "object", "Central Policy Staging", "Staging zentraler Richtlinien", _N),
    _sub("0CCE9229", "privilege", "Non Sensitive Privilege Use", "Nicht sensible Verwendung von Rechten", _N),
    _sub("0CCE922A", "privilege", "Other Privilege Use Events", "Andere Rechteverwendungsereignisse", _N),
    _sub("0CCE9228", "privilege", "Sensitive Privilege Use", "Sensible Verwendung von Rechten", _N),
    _sub("0CCE922B", "tracking", "Process Creation", "Prozesserstellung", _N),
    _sub("0CCE922C", "tracking", "Process Termination", "Prozessbeendigung", _N),
    _sub("0CCE922D", "tracking", "DPAPI Activity", "DPAPI-Aktivität", _N),
    _sub("0CCE922E", "tracking", "RPC Events", "RPC-Ereignisse", _N),
    _sub("0CCE9248", "tracking", "Plug and Play Events", "Plug &amp; Play-Ereignisse", _N),
    _sub("0CCE924A", "tracking", "Token Right Adjusted Events", "Ereignisse zu angepassten Tokenrechten", _N),
    _sub("0CCE922F", "policy", "Audit Policy Change", "Richtlinienänderungen überwachen", _S),
    _sub("0CCE9230", "policy", "Authentication Policy Change", "Authentifizierungsrichtlinienänderung", _S),
    _sub("0CCE9231", "policy", "Authorization Policy Change", "Autorisierungsrichtlinienänderung", _N),
    _sub("0CCE9232", "policy", "MPSSVC Rule-Level Policy Change", "MPSSVC-Richtlinienänderung auf Regelebene", _N),
    _sub("0CCE9233", "policy", "Filtering Platform Policy Change", "Filterplattform-Richtlinienänderung", _N),
    _sub("0CCE9234", "policy", "Other Policy Change Events", "Andere Richtlinienänderungsereignisse", _N),
    _sub("0CCE9236", "account", "Computer Account Management", "Computerkontoverwaltung", _S),
    _sub("0CCE9237", "account", "Security Group Management", "Sicherheitsgruppenverwaltung", _S),
    _sub("0CCE9238", "account", "Distribution Group Management", "Verteilergruppenverwaltung", _N),
    _sub("0CCE9239", "account", "Application Group Management", "Anwendungsgruppenverwaltung", _N),
    _sub("0CCE923A", "account", "Other Account Management Events", "Andere Kontoverwaltungsereignisse", _N),
    _sub("0CCE9235", "account", "User Account Management", "Benutzerkontenverwaltung", _S),
    _sub("0CCE923B", "ds", "Directory Service Access", "Verzeichnisdienstzugriff", _S),
    _sub("0CCE923C", "ds", "Directory Service Changes", "Verzeichnisdienständerungen", _N),
    _sub("0CCE923D", "ds", "Directory Service Replication", "Verzeichnisdienstreplikation", _N),
    _sub("0CCE923E", "ds", "Detailed Directory Service Replication", "Detaillierte Verzeichnisdienstreplikation", _N),
    _sub("0CCE9240", "logon_acct", "Kerberos Service Ticket Operations", "Ticketvorgänge des Kerberos-Diensts", _S),
    _sub("0CCE9241", "logon_acct", "Other Account Logon Events", "Andere Kontoanmeldungsereignisse", _N),
    _sub("0CCE9242", "logon_acct", "Kerberos Authentication Service", "Kerberos-Authentifizierungsdienst", _S),
    _sub("0CCE923F", "logon_acct", "Credential Validation", "Überprüfung der Anmeldeinformationen", _S),
)
BY_GUID = {s.guid: s for s in SUBCATEGORIES}

# `/backup` row order per locale, by GUID prefix (see the module docstring for the captures).
_BACKUP_ORDER_EN = (
    "9213 9212 9211 9210 9214 9249 9247 9243 921C 921B 921A 9219 9218 9217 9216 9215 9223 9246 9245 9244 "
    "9227 9226 9225 9224 9222 9221 9220 921F 921E 921D 922A 9229 9228 922E 924A 922B 922C 9248 922D 9234 "
    "9230 922F 9233 9231 9232 923A 9239 9238 9237 9236 9235 923D 923B 923E 923C 9241 9240 923F 9242"
)
_BACKUP_ORDER_EN_20348 = (
    "9213 9212 9211 9210 9214 924B 9249 9247 9243 921C 921B 921A 9219 9218 9217 9216 9215 9223 9246 9245 "
    "9244 9227 9226 9225 9224 9222 9221 9220 921F 921E 921D 922A 9229 9228 922E 924A 922B 922C 9248 922D "
    "9234 9230 922F 9233 9231 9232 923A 9239 9238 9237 9236 9235 923E 923C 923B 923D 9241 9240 923F 9242"
)
_BACKUP_ORDER_DE = (
    "9214 9211 9212 9213 9210 921A 921B 921C 9219 9247 9249 924B 9218 9217 9216 9243 9215 9220 921F 921E 921D "
    "9222 9223 9224 9225 9246 9245 9244 9227 9226 9221 922A 9229 9228 922B 924A 9248 922E 922D 922C 9230 "
    "9234 9233 9232 922F 9231 9236 9235 9239 923A 9237 9238 923C 923D 923E 923B 9241 9240 9242 923F"
)


def _order(spec: str) -> tuple[Subcategory, ...]:
    return tuple(BY_GUID[_g("0CCE" + p)] for p in spec.split())


@dataclass(frozen=True)
class AuditpolTexts:
    header_r: str
    header_backup: str
    settings: dict[AuditSetting, str]
    option_disabled: str
    option_enabled: str
    backup_order: tuple[Subcategory, ...]  # before build 20348 (see subcategories_for)
    backup_sacl_rows: bool
    title: str
    column_left: str
    column_right: str
    success: str
    error_prefix: str  # "Error 0x{code:08X} occurred:\r\n{msg}" vs the German one-line form
    msg_param: str
    msg_privilege: str
    msg_file_exists: str


TEXTS: dict[str, AuditpolTexts] = {
    "en-US": AuditpolTexts(
        header_r="Machine Name,Policy Target,Subcategory,Subcategory GUID,Inclusion Setting,Exclusion Setting",
        header_backup="Machine Name,Policy Target,Subcategory,Subcategory GUID,Inclusion Setting,"
        "Exclusion Setting,Setting Value",
        settings={_N: "No Auditing", _S: "Success", _F: "Failure", _SF: "Success and Failure"},
        option_disabled="Disabled",
        option_enabled="Enabled",
        backup_order=_order(_BACKUP_ORDER_EN),
        backup_sacl_rows=True,
        title="System audit policy",
        column_left="Category/Subcategory",
        column_right="Setting",
        success="The command was successfully executed.",
        error_prefix="Error 0x{code:08x} occurred:\r\n{msg}\r\n",
        msg_param="The parameter is incorrect.",
        msg_privilege="A required privilege is not held by the client.",
        msg_file_exists="The file exists.",
    ),
    "de-DE": AuditpolTexts(
        header_r="Computername,Richtlinienziel,Unterkategorie,Unterkategorie-GUID,Aufnahmeeinstellung,"
        "Ausschlusseinstellung",
        header_backup="Computername,Richtlinienziel,Unterkategorie,Unterkategorie-GUID,Aufnahmeeinstellung,"
        "Ausschlusseinstellung,Einstellungswert",
        settings={_N: "Keine Überwachung", _S: "Erfolg", _F: "Fehler", _SF: "Erfolg und Fehler"},
        option_disabled="Deaktiviert",
        option_enabled="Aktiviert",
        backup_order=_order(_BACKUP_ORDER_DE),
        backup_sacl_rows=False,
        title="Systemüberwachungsrichtlinie",
        column_left="Kategorie/Unterkategorie",
        column_right="Einstellung",
        success="Der Befehl wurde erfolgreich ausgeführt.",
        error_prefix="Fehler 0x{code:08x}: {msg}\r\n",
        msg_param="Falscher Parameter",
        msg_privilege="Dem Client fehlt ein erforderliches Recht.",
        msg_file_exists="Die Datei ist vorhanden.",
    ),
    "fr-FR": AuditpolTexts(
        header_r=fr.HEADER_R,
        header_backup=fr.HEADER_BACKUP,
        settings={_N: fr.SETTING_NONE, _S: fr.SETTING_SUCCESS, _F: fr.SETTING_FAILURE, _SF: fr.SETTING_BOTH},
        option_disabled=fr.OPTION_DISABLED,
        option_enabled=fr.OPTION_ENABLED,
        backup_order=_order(_BACKUP_ORDER_EN),  # no French /backup capture: the English order (UNVERIFIED)
        backup_sacl_rows=True,
        title=fr.TITLE,
        column_left=fr.COLUMN_LEFT,
        column_right=fr.COLUMN_RIGHT,
        success=fr.SUCCESS,
        error_prefix=fr.ERROR_PREFIX,
        msg_param=fr.MSG_PARAM,
        msg_privilege=fr.MSG_PRIVILEGE,
        msg_file_exists=fr.MSG_FILE_EXISTS,
    ),
}

ERROR_INVALID_PARAMETER = 0x57
ERROR_PRIVILEGE_NOT_HELD = 0x522
ERROR_FILE_EXISTS = 0x50
OPTIONS = ("CrashOnAuditFail", "FullPrivilegeAuditing", "AuditBaseObjects", "AuditBaseDirectories")
SETTING_COLUMN = 42

# The lines of the Chef capture (§2.4, jpboyce/cb_cis_windows_2016#9), its relative indentation kept;
# leading spaces and blank lines Chef's log may have dropped are UNVERIFIED.
USAGE = (
    "Usage: AuditPol command [<sub-command><options>]\r\n"
    "Commands (only one command permitted per execution)\r\n"
    "  /?               Help (context-sensitive)\r\n"
    "  /get             Displays the current audit policy.\r\n"
    "  /set             Sets the audit policy.\r\n"
    "  /list            Displays selectable policy elements.\r\n"
    "  /backup          Saves the audit policy to a file.\r\n"
    "  /restore         Restores the audit policy from a file.\r\n"
    "  /clear           Clears the audit policy.\r\n"
    "  /remove          Removes the per-user audit policy for a user account.\r\n"
    "  /resourceSACL    Configure global resource SACLs\r\n"
    "Use AuditPol <command> /? for details on each command\r\n"
)
ACCESS_RIGHTS = _g("0CCE924B")
ACCESS_RIGHTS_SINCE_BUILD = 20348  # see the module docstring


def subcategories_for(profile: HostProfile) -> tuple[Subcategory, ...]:
    """The subcategories the host's build knows, in `/get` order."""
    if profile.os.build >= ACCESS_RIGHTS_SINCE_BUILD:
        return SUBCATEGORIES
    return tuple(s for s in SUBCATEGORIES if s.guid != ACCESS_RIGHTS)


def backup_order(profile: HostProfile) -> tuple[Subcategory, ...]:
    """`/backup` row order for the host's UI language and build."""
    if profile.locale != "de-DE" and profile.os.build >= ACCESS_RIGHTS_SINCE_BUILD:
        return _order(_BACKUP_ORDER_EN_20348)
    known = set(subcategories_for(profile))
    return tuple(s for s in TEXTS.get(profile.locale, TEXTS["en-US"]).backup_order if s in known)


def effective_settings(profile: HostProfile) -> dict[str, AuditSetting]:
    """Every subcategory's setting on the host: defaults, local overrides, then Process Creation.
    The defaults depend on `audit.source` (simulator/audit_source.py): the built-in table, Windows'
    documented default ("default"), or nothing at all ("gpo": the GPO's policy replaced the host's)."""
    source = profile.audit.source
    known = subcategories_for(profile)
    if source == "default":
        documented = documented_default(profile.os.build, profile.os.product_type)
        settings = {s.guid: documented.get(s.guid, AuditSetting.NONE) for s in known}
    elif source == "gpo":
        settings = dict.fromkeys((s.guid for s in known), AuditSetting.NONE)
    else:
        settings = {s.guid: s.default for s in known}
    for guid, value in profile.audit.subcategories:
        key = guid.upper()
        if key in settings:
            settings[key] = value
    settings[PROCESS_CREATION] = profile.audit.process_creation
    return settings


def _locale_index(locale: str) -> int:
    """Which of a name pair (English, German) the host's UI language shows."""
    return 1 if locale == "de-DE" else 0


def _subcategory_name(sub: Subcategory, locale: str) -> str:
    if locale == "fr-FR":
        return fr.NAMES[sub.guid[5:9]]
    return sub.de if _locale_index(locale) else sub.en


def _category_name(key: str, locale: str) -> str:
    return fr.CATEGORIES[key] if locale == "fr-FR" else CATEGORIES[key][_locale_index(locale)]


def _subcategory_row(machine: str, sub: Subcategory, locale: str, setting_text: str) -> str:
    """The columns `/backup` and `/get /r` rows share (§2.1): machine, target, name, GUID, inclusion."""
    return f"{machine},System,{_subcategory_name(sub, locale)},{sub.guid},{setting_text}"


def backup_csv(profile: HostProfile) -> bytes:
    """The file `auditpol /backup` writes: ANSI code page, CRLF (see module docstring)."""
    texts = TEXTS.get(profile.locale, TEXTS["en-US"])
    machine = profile.netbios_name
    settings = effective_settings(profile)
    rows = [texts.header_backup]
    for sub in backup_order(profile):
        value = settings[sub.guid]
        rows.append(_subcategory_row(machine, sub, profile.locale, texts.settings[value]) + f",,{value.setting_value}")
    rows.extend(f"{machine},,Option:{opt},,{texts.option_disabled},,0" for opt in OPTIONS)
    if texts.backup_sacl_rows:
        rows.append(f"{machine},,FileGlobalSacl,,,,")
        rows.append(f"{machine},,RegistryGlobalSacl,,,,")
    return (CRLF.join(rows) + CRLF).encode(codec_for(profile.ansi_codepage), errors="replace")


class Auditpol:
    """The tool bound to one host's profile."""

    def __init__(self, profile: HostProfile) -> None:
        self.profile = profile
        self.texts = TEXTS.get(profile.locale, TEXTS["en-US"])

    def _name(self, sub: Subcategory) -> str:
        return _subcategory_name(sub, self.profile.locale)

    def _error(self, ctx: ToolContext, code: int, msg: str) -> CommandOutput:
        """The error on stderr; a bad parameter also prints the usage on stdout (§2.4 Chef capture)."""
        text = self.texts.error_prefix.format(code=code, msg=msg)
        return ctx.err(text, exit_code=code, stdout=USAGE if code == ERROR_INVALID_PARAMETER else "")

    def __call__(self, ctx: ToolContext) -> CommandOutput:
        args = list(ctx.argv)
        if not args:
            return ctx.out(USAGE)
        command = args[0].lower()
        if command in ("/?", "-?"):
            return ctx.out(USAGE)
        if command not in ("/get", "/backup", "/list"):
            return self._error(ctx, ERROR_INVALID_PARAMETER, self.texts.msg_param)
        if not self.profile.admin:
            return self._error(ctx, ERROR_PRIVILEGE_NOT_HELD, self.texts.msg_privilege)
        options: dict[str, str] = {}
        for arg in args[1:]:
            key, _, value = arg.partition(":")
            key = key.lower()
            if not key.startswith("/") or key in options:
                return self._error(ctx, ERROR_INVALID_PARAMETER, self.texts.msg_param)
            options[key] = value
        if command == "/backup":
            return self._backup(ctx, options)
        if command == "/get":
            return self._get(ctx, options)
        return self._error(ctx, ERROR_INVALID_PARAMETER, self.texts.msg_param)

    def _backup(self, ctx: ToolContext, options: dict[str, str]) -> CommandOutput:
        path = options.get("/file", "")
        if set(options) != {"/file"} or not path:
            return self._error(ctx, ERROR_INVALID_PARAMETER, self.texts.msg_param)
        full = ctx.shell.resolve(path)
        # auditpol does not write into an existing file (§1.2); the error text is UNVERIFIED.
        if not ctx.shell.fs.create_new(full, backup_csv(self.profile)):
            return self._error(ctx, ERROR_FILE_EXISTS, self.texts.msg_file_exists)
        return ctx.out(self.texts.success + CRLF)

    def _select(self, options: dict[str, str]) -> list[Subcategory] | None:
        if "/subcategory" in options:
            wanted: list[Subcategory] = []
            for item in options["/subcategory"].split(","):
                sub = self._lookup_sub(item.strip())
                if sub is None:
                    return None
                wanted.append(sub)
            return wanted
        if "/category" in options:
            wanted = []
            for item in options["/category"].split(","):
                item = item.strip()
                if item == "*":
                    return list(subcategories_for(self.profile))
                cat = self._lookup_category(item)
                if cat is None:
                    return None
                wanted.extend(s for s in subcategories_for(self.profile) if s.category == cat)
            return wanted
        return None

    def _lookup_sub(self, item: str) -> Subcategory | None:
        known = subcategories_for(self.profile)
        if item.startswith("{"):
            sub = BY_GUID.get(item.upper())
            return sub if sub in known else None
        # Names are accepted only in the host's UI language (gpo-backup-format.md §A1).
        for sub in known:
            if self._name(sub).lower() == item.lower():
                return sub
        return None

    def _lookup_category(self, item: str) -> str | None:
        for key in CATEGORIES:
            if _category_name(key, self.profile.locale).lower() == item.lower():
                return key
        return None

    def _get(self, ctx: ToolContext, options: dict[str, str]) -> CommandOutput:
        report = "/r" in options
        allowed = {"/subcategory", "/category", "/r"}
        if not set(options) <= allowed or ("/subcategory" in options) == ("/category" in options):
            return self._error(ctx, ERROR_INVALID_PARAMETER, self.texts.msg_param)
        selected = self._select(options)
        if selected is None:
            return self._error(ctx, ERROR_INVALID_PARAMETER, self.texts.msg_param)
        settings = effective_settings(self.profile)
        if report:
            # Header, an empty line, then one row per subcategory ending in "," (§2.1, §2.2).
            machine = self.profile.netbios_name
            rows = [self.texts.header_r, ""]
            locale = self.profile.locale
            rows.extend(
                _subcategory_row(machine, s, locale, self.texts.settings[settings[s.guid]]) + "," for s in selected
            )
            return ctx.out(CRLF.join(rows) + CRLF)
        lines = [self.texts.title, self.texts.column_left.ljust(SETTING_COLUMN) + self.texts.column_right]
        current = None
        for sub in selected:
            if sub.category != current:
                current = sub.category
                lines.append(_category_name(current, self.profile.locale))
            label = ("  " + self._name(sub)).ljust(SETTING_COLUMN - 1) + " "
            lines.append(label + self.texts.settings[settings[sub.guid]])
        return ctx.out(CRLF.join(lines) + CRLF)
