"""The Security channel's access (fleet TOML `security_channel_access`): Windows' default, and the shape
check Windows makes before it accepts an SDDL (`wevtutil sl Security /ca:...` refuses a malformed one).

The simulator's own check, written apart from collect's parser: the two meet only in the survey.
"""

from __future__ import annotations

import re
from typing import Final

# Windows Vista and later (reference windows-tool-outputs.md §3.1, docs/security-log-readers.md).
DEFAULT_SECURITY_CHANNEL_ACCESS: Final = "O:BAG:SYD:(A;;0xf0005;;;SY)(A;;0x5;;;BA)(A;;0x1;;;S-1-5-32-573)"

_SID = r"(?:[A-Z]{2}|S-1-[0-9]+(?:-[0-9]+)+)"
_RIGHTS = r"(?:0x[0-9A-Fa-f]{1,8}|[0-9]{1,10}|(?:[A-Z]{2})+)"
_ACE = rf"\((?:A|D|OA|OD|XA|XD|AU|AL|ML);[A-Z]*;{_RIGHTS};[0-9A-Fa-f-]*;[0-9A-Fa-f-]*;{_SID}\)"
_SDDL = re.compile(rf"^(?:O:{_SID})?(?:G:{_SID})?(?:D:(?:P|AI|AR|NO_ACCESS_CONTROL)*(?:{_ACE})*)?"
                   rf"(?:S:(?:P|AI|AR|NO_ACCESS_CONTROL)*(?:{_ACE})*)?$")


def sddl_problem(text: str) -> str | None:
    """Why `text` is not an SDDL Windows would take for a channel (None: it is)."""
    if not text.strip():
        return "empty SDDL"
    if len(text) > 16_384:
        return "SDDL longer than 16,384 characters"
    if not _SDDL.match(text.strip()):
        return f"not an SDDL security descriptor: {text[:80]!r} (expected O:..G:..D:(A;;0x1;;;SID)...)"
    return None
