"""The localised texts of reg, sc, wevtutil, find and cmd.exe, per simulated UI language.

Every text names where it comes from: a capture cited in tests/data/SOURCES.md and docs/localised-tool-output.md,
or UNVERIFIED (then also listed in docs/windows-validation.md). English texts are the reference's
(/work/shared/reference/windows-tool-outputs.md, "tool-outputs §n"). Only numbers, GUIDs, exit codes and
the English field names of `wevtutil /f:text` stay the same in every language (tool-outputs §0.3, §4.2).
"""

from __future__ import annotations

from dataclasses import dataclass

CRLF = "\r\n"


@dataclass(frozen=True)
class ToolTexts:
    reg_not_found: str  # reg query: missing key or value, exit 1 (tool-outputs §5.2)
    reg_access_denied: str  # reg query: key not readable, exit 1


EN = ToolTexts(
    reg_not_found="ERROR: The system was unable to find the specified registry key or value." + CRLF,  # §5.2
    reg_access_denied="ERROR: Access is denied." + CRLF,  # UNVERIFIED wording (tool-outputs has none for reg)
)

DE = ToolTexts(
    # SOURCES.md "reg de": Microsoft/ATADocs.de-de ATPDocs/configure-proxy.md, a cygwin note's transcript and
    # a Node test fixture quote the same line.
    reg_not_found="FEHLER: Der angegebene Registrierungsschlüssel bzw. Wert wurde nicht gefunden." + CRLF,
    # UNVERIFIED: reg's German prefix with the German system message for error 5 ("Zugriff verweigert").
    reg_access_denied="FEHLER: Zugriff verweigert" + CRLF,
)

TEXTS: dict[str, ToolTexts] = {"en-US": EN, "de-DE": DE}


def texts_for(locale: str) -> ToolTexts:
    return TEXTS.get(locale, EN)
