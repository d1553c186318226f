"""Rendered descriptions of the non-4688 Security events the simulated logs hold (`/f:text`,
`/f:RenderedXml`): 4672, 4798, 4799 and 5379, laid out as Windows' message templates for them
(Microsoft's "Advanced security auditing" event pages: the description's first line, then labelled
sections of tab-separated fields). The probe and the ingest never read these descriptions (they read
4688 and Sysmon event 1, which eventlog_qe.py renders, or the event XML); the exact tab runs and
5379's trailing sentence are UNVERIFIED (docs/windows-validation.md). 4624, 4625 and 4648 keep the
abridged form (first sentence, then the event's fields).
"""

from __future__ import annotations

from collections.abc import Callable

CRLF = "\r\n"
READ_OPERATIONS = {"%%8100": "Enumerate Credentials", "%%8101": "Read Credential"}  # UNVERIFIED labels


def _subject(d: dict[str, str]) -> list[str]:
    logon_id = d.get("SubjectLogonId", "")
    if logon_id.lower().startswith("0x"):
        logon_id = "0x" + logon_id[2:].upper()
    return [
        "Subject:",
        f"\tSecurity ID:\t\t{d.get('SubjectUserSid', '')}",
        f"\tAccount Name:\t\t{d.get('SubjectUserName', '')}",
        f"\tAccount Domain:\t\t{d.get('SubjectDomainName', '')}",
        f"\tLogon ID:\t\t{logon_id}",
    ]


def _4672(d: dict[str, str]) -> list[str]:
    return ["Special privileges assigned to new logon.", "", *_subject(d), "",
            f"Privileges:\t\t{d.get('PrivilegeList', '')}"]


def _enumerated(first: str, target: str) -> Callable[[dict[str, str]], list[str]]:
    def message(d: dict[str, str]) -> list[str]:
        return [first, "", *_subject(d), "", f"{target}:",
                f"\tSecurity ID:\t\t{d.get('TargetSid', '')}",
                f"\tAccount Name:\t\t{d.get('TargetUserName', '')}",
                f"\tAccount Domain:\t\t{d.get('TargetDomainName', '')}", "",
                "Process Information:",
                f"\tProcess ID:\t\t{d.get('CallerProcessId', '')}",
                f"\tProcess Name:\t\t{d.get('CallerProcessName', '')}"]
    return message


def _5379(d: dict[str, str]) -> list[str]:
    operation = d.get("ReadOperation", "")
    return ["Credential Manager credentials were read.", "", *_subject(d),
            f"\tRead Operation:\t\t{READ_OPERATIONS.get(operation, operation)}", "",
            "This event occurs when a user performs a read operation on stored credentials in Credential Manager."]


MESSAGES: dict[int, Callable[[dict[str, str]], list[str]]] = {
    4672: _4672,
    4798: _enumerated("A user's local group membership was enumerated.", "User"),
    4799: _enumerated("A security-enabled local group membership was enumerated.", "Group"),
    5379: _5379,
}


def security_message(event_id: int, data: dict[str, str]) -> str | None:
    """The description of a Security event, or None where only the abridged form exists."""
    build = MESSAGES.get(event_id)
    return CRLF.join(build(data)) if build else None
