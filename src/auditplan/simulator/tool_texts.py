"""The localised texts of reg, sc, wevtutil and cmd.exe, per simulated UI language (en-US, de-DE, fr-FR).

Every text says where it comes from: a capture cited in tests/data/SOURCES.md and docs/localised-tool-output.md,
or UNVERIFIED (then also listed in docs/windows-validation.md). English texts are the reference's
(/work/shared/reference/windows-tool-outputs.md, "tool-outputs §n"). Numbers, GUIDs, exit codes, value names,
`sc query`'s labels and state names and the field names of `wevtutil /f:text` are the same in every language
(tool-outputs §0.3, §4.2; SOURCES.md "sc de"); auditpol's texts live in simulator/tools_auditpol.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

CRLF = "\r\n"

# cmd.exe's own messages, in English as simulator/cmd_shell.py and cmd_files.py print them; each
# language maps them to its text (the `{name}` placeholder is kept).
CMD_UNKNOWN = "'{name}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
CMD_SYNTAX = "The syntax of the command is incorrect.\r\n"
CMD_FILE_NOT_FOUND = "The system cannot find the file specified.\r\n"
CMD_PATH_NOT_FOUND = "The system cannot find the path specified.\r\n"
CMD_ACCESS_DENIED = "Access is denied.\r\n"


@dataclass(frozen=True)
class ToolTexts:
    reg_not_found: str  # reg query: missing key or value, exit 1 (tool-outputs §5.2)
    reg_access_denied: str  # reg query: key not readable, exit 1
    sc_missing: str  # `sc query NAME` of a service that does not exist: stdout, exit 1060 (§6.2)
    access_denied: str  # the system message for error 5, as wevtutil prints it (§3.4, §4.3)
    channel_not_found: str  # the system message for error 15007 (current builds' short form, §3.4)
    wevtutil_gl_failed: str  # wevtutil's own first line, `{log}` = the name as typed (§3.4)
    wevtutil_gli_failed: str
    wevtutil_qe_failed: str
    # `wevtutil qe /f:text` values (the field names stay English, §4.2): Level, Opcode, Keyword and Task.
    level_information: str
    opcode_info: str
    keyword_success: str
    keyword_failure: str
    tasks: Mapping[str, str] = field(default_factory=dict)  # English task name -> this language's
    cmd: Mapping[str, str] = field(default_factory=dict)  # CMD_* English text -> this language's
    ver_word: str = "Version"  # `ver`'s banner, "Microsoft Windows [Version 10.0...]" (tool-outputs §8)

    def task(self, english: str) -> str:
        return self.tasks.get(english, english)


EN = ToolTexts(
    reg_not_found="ERROR: The system was unable to find the specified registry key or value." + CRLF,  # §5.2
    reg_access_denied="ERROR: Access is denied." + CRLF,  # UNVERIFIED wording (tool-outputs has none for reg)
    sc_missing=(  # §6.2, Node execFile raw stdout
        "[SC] EnumQueryServicesStatus:OpenService FAILED 1060:\r\n\r\n"
        "The specified service does not exist as an installed service.\r\n\r\n"
    ),
    access_denied="Access is denied.",  # §3.4, §4.3
    channel_not_found="The specified channel could not be found.",  # §3.4
    wevtutil_gl_failed="Failed to read configuration for log {log}.",  # §3.4
    wevtutil_gli_failed="Failed to read log status information for log {log}.",  # §3.4 (measured)
    wevtutil_qe_failed="Failed to open event query.",  # §4.3
    level_information="Information",  # §4.2
    opcode_info="Info",
    keyword_success="Audit Success",
    keyword_failure="Audit Failure",
)

DE = ToolTexts(
    # SOURCES.md "reg de": Microsoft/ATADocs.de-de configure-proxy.md, a cygwin note's REG QUERY transcript,
    # a Node test fixture of reg.exe's German stderr; SecretLUL/WinMedic captured one (CP850, Windows 11).
    reg_not_found="FEHLER: Der angegebene Registrierungsschlüssel bzw. Wert wurde nicht gefunden." + CRLF,
    # UNVERIFIED: reg's German prefix with the German system message for error 5 (below).
    reg_access_denied="FEHLER: Zugriff verweigert" + CRLF,
    # SOURCES.md "sc de": a German console transcript (`sc query w32tm`) and Rust/JS test fixtures; the blank
    # lines as in the English capture (the transcript dropped them: UNVERIFIED).
    sc_missing=(
        "[SC] EnumQueryServicesStatus:OpenService FEHLER 1060:\r\n\r\n"
        "Der angegebene Dienst ist kein installierter Dienst.\r\n\r\n"
    ),
    # System messages 5 and 15007: Microsoft's de-DE Win32 error-code pages; 5 also in SecretLUL/WinMedic's
    # captures ("Zugriff verweigert"); 15007's short (current-build) form as Python/Rust tests quote it.
    access_denied="Zugriff verweigert",
    channel_not_found="Der angegebene Kanal wurde nicht gefunden.",
    # UNVERIFIED: wevtutil's own German lines (no capture found).
    wevtutil_gl_failed="Fehler beim Lesen der Konfiguration für das Protokoll {log}.",
    wevtutil_gli_failed="Fehler beim Lesen der Statusinformationen für das Protokoll {log}.",
    wevtutil_qe_failed="Fehler beim Öffnen der Ereignisabfrage.",
    # UNVERIFIED (no German wevtutil /f:text capture found): Event Viewer's German labels.
    level_information="Informationen",
    opcode_info="Info",
    keyword_success="Überwachung erfolgreich",
    keyword_failure="Überwachung gescheitert",
    # The task names are the subcategory names (as in English); the German names are the WS2022 German
    # auditpol capture's (simulator/tools_auditpol.py). That the task shows them: UNVERIFIED.
    tasks={
        "Process Creation": "Prozesserstellung",
        "Logon": "Anmelden",
        "Special Logon": "Spezielle Anmeldung",
        "User Account Management": "Benutzerkontenverwaltung",
        "Security Group Management": "Sicherheitsgruppenverwaltung",
    },
    cmd={
        # SOURCES.md "cmd de": SCons' test suite expects this exact pair of lines on German Windows.
        CMD_UNKNOWN: 'Der Befehl "{name}" ist entweder falsch geschrieben oder\r\nkonnte nicht gefunden werden.\r\n',
        CMD_SYNTAX: "Die Syntax des Befehls ist falsch.\r\n",  # UNVERIFIED (as two cmd emulators print it)
        # System messages 2, 3 and 5 (Microsoft's de-DE error-code pages; quoted in many German error reports).
        CMD_FILE_NOT_FOUND: "Das System kann die angegebene Datei nicht finden.\r\n",
        CMD_PATH_NOT_FOUND: "Das System kann den angegebenen Pfad nicht finden.\r\n",
        CMD_ACCESS_DENIED: "Zugriff verweigert\r\n",
    },
)

FR = ToolTexts(
    # SOURCES.md "reg fr": the message as ModelioOpenSource/Modelio quotes French `reg QUERY` output, the
    # "ERREUR :" prefix (space before the colon, French typography) from Microsoft's fr-FR Defender docs.
    reg_not_found="ERREUR : le système n’a pas trouvé la clé ou la valeur de Registre spécifiée." + CRLF,
    reg_access_denied="ERREUR : Accès refusé." + CRLF,  # UNVERIFIED: the prefix with system message 5
    # SOURCES.md "sc fr": a French console run (`sc query SerialPortPoolService`) in a project's docs;
    # the blank lines as in English (UNVERIFIED).
    sc_missing=(
        "[SC] EnumQueryServicesStatus:OpenService échec(s) 1060 :\r\n\r\n"
        "Le service spécifié n'existe pas en tant que service installé.\r\n\r\n"
    ),
    # System messages 5 and 15007: Microsoft's fr-FR Win32 error-code pages (15007's long form there ends
    # "Vérifiez la configuration du canal."; the short form of current builds is assumed, as in English).
    access_denied="Accès refusé.",
    channel_not_found="Le canal spécifié est introuvable.",
    # UNVERIFIED: wevtutil's own French lines (no capture found).
    wevtutil_gl_failed="Échec de la lecture de la configuration du journal {log}.",
    wevtutil_gli_failed="Échec de la lecture des informations d’état du journal {log}.",
    wevtutil_qe_failed="Échec de l’ouverture de la requête d’événements.",
    # UNVERIFIED: Event Viewer's French labels. An ASCII apostrophe: the simulated log renders in the OEM
    # code page (850), which has no U+2019.
    level_information="Information",
    opcode_info="Info",
    keyword_success="Succès de l'audit",
    keyword_failure="Échec de l'audit",
    # The French subcategory names of Croko-fr/Evtx2Sigma's `auditpol /list /subcategory:* /v /r` capture
    # (simulator/auditpol_fr.py); that the task shows them: UNVERIFIED.
    tasks={
        "Process Creation": "Création du processus",
        "Logon": "Ouvrir la session",
        "Special Logon": "Ouverture de session spéciale",
        "User Account Management": "Gestion des comptes d’utilisateur",
        "Security Group Management": "Gestion des groupes de sécurité",
    },
    cmd={
        # SOURCES.md "cmd fr": a Java test reading cmd.exe's French OEM bytes (`'echooo' n'est pas reconnu ...`).
        CMD_UNKNOWN: (
            "'{name}' n'est pas reconnu en tant que commande interne\r\n"
            "ou externe, un programme exécutable ou un fichier de commandes.\r\n"
        ),
        CMD_SYNTAX: "La syntaxe de la commande n'est pas correcte.\r\n",  # quoted by French Maven users
        # System messages 2, 3 and 5 (Python's WinError texts on French Windows, Microsoft's fr-FR pages).
        CMD_FILE_NOT_FOUND: "Le fichier spécifié est introuvable.\r\n",
        CMD_PATH_NOT_FOUND: "Le chemin d’accès spécifié est introuvable.\r\n",
        CMD_ACCESS_DENIED: "Accès refusé.\r\n",
    },
    ver_word="version",  # UNVERIFIED: French banners are quoted with a lower-case "version"
)

TEXTS: dict[str, ToolTexts] = {"en-US": EN, "de-DE": DE, "fr-FR": FR}


def texts_for(locale: str) -> ToolTexts:
    return TEXTS.get(locale, EN)
