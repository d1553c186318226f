"""Hostile command lines for redact(): each once made (or could make) a rule rescan to the end of
the line. Shared by tests/collect/test_redact.py (the output is right) and bench/redaction.py (the
cost is linear: a ratio against a benign line of the same length, never a timed assert)."""

from __future__ import annotations

# 32767 characters: the longest command line CreateProcess accepts, so the longest a 4688 can carry.
MAX_LINE = 32_767
# Units repeated to MAX_LINE; each once made (or could make) a rule rescan to the end of the line.
# "head^unit|tail": the line is head, then unit repeated, then tail ("pw={ |}" ends in one "}").
HOSTILE_UNITS = [
    "pw={ ",  # the braced Name={value} branch retried for every `{` (2.0 s before the fix)
    "7z pass:{.{",  # the same through `pass:` (0.9 s before the fix)
    "pw={ |}",  # ... with a `}` at the end the first braced value takes the rest of the line
    "pw={(|}",  # a braced value that is exempt must still be skipped over
    "powershell -c ^pw={(",
    "powershell -c ^pw={(|}",  # ... an exempt `(...)` braced value where PowerShell reads it
    "-p ",
    "net user ",
    "net use /a ",
    "ConvertTo-SecureString -AsPlainText ",
    "a=",
    "password=",
    "a:b",
    '-password "',
    '-password \\"',
    'pw=\\"',
    "-u x -p ",
    "Get-X -Pa sqlcmd ",
    "pwsh -nop ",
    "a.",
    "setx /m /s ",  # setx's switch loop backtracked to the end for every `setx` (40x before the fix)
    'Set-ItemProperty `"',  # a closed-only quote reader rescans an unclosed `"` for every cmdlet
    "-Name pw -Value ",  # name/value pairs in either order: every switch is a candidate
]
# A busy but ordinary line: every rule family finds work in it, each value once.
BASELINE_UNIT = (
    '"C:\\Program Files\\App\\app.exe" --password=Pw1 -u a -p B "Server=db;Pwd={x};" net user bob Pw2 /add & '
)


def fill(spec: str) -> str:
    head, _, rest = spec.rpartition("^")
    unit, _, tail = rest.partition("|")
    body = MAX_LINE - len(head) - len(tail)
    return head + (unit * (body // len(unit) + 1))[:body] + tail
