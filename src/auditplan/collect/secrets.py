"""Redaction of credentials in command lines (4688 CommandLine, Sysmon CommandLine).

`redact(command_line)` replaces each secret VALUE (not the switch naming it) with REDACTED and returns
how many it replaced. Spans found by all rules are merged first, so a secret two rules agree on counts
once and a replacement is never re-matched.

Decisions on near-misses (documented because they trade recall against false alarms):
- `-p VALUE` is a password only when the same command line also names a user (`-u`, `-U`, `/u`, `-user`,
  `--user`, `-l`): PsExec/mysql style. Alone, `-p` is usually a port (`ssh -p 22`, `docker run -p 8080:80`)
  or "parents" (`mkdir -p dir`). A purely numeric value or `N:N` is never redacted for `-p`. The attached
  form `-pVALUE` counts only for mysql/mysqldump/mysqladmin.
- `/p:Name=Value` is an MSBuild property: redacted only when Name looks like a secret (pass, pwd, secret,
  token, key). `/p:VALUE` without `=` is a password switch (`/p:` of schtasks-like tools).
- A value that is a variable or an expression (`$pw`, `(Get-Secret)`, `%PW%`) is not a secret itself.
- `-P` (upper case) is sqlcmd/osql/bcp's password switch; it counts when one of those tools is named or
  `-U` is present.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

REDACTED = "********"

# A switch value: "quoted", 'quoted', or a bare token.
_VALUE = r"""(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s"']+))"""

_USER_SWITCH = re.compile(r"""(?:^|\s)(?:-u|-U|/u|/user|-user|--user|-l|-UserName|-Username)(?:[\s:=]|$)""")
_SQL_TOOL = re.compile(r"(?i)\b(?:sqlcmd|osql|bcp|isql)(?:\.exe)?\b")

_RULES_ALWAYS: tuple[re.Pattern[str], ...] = (
    # net user NAME PASS [/add]   (PASS not a switch and not "*", which prompts)
    re.compile(r"""(?i)\bnet1?(?:\.exe)?\s+user\s+(?:"[^"]*"|[^\s/"]+)\s+""" + r"""(?!/|\*(?:\s|$))""" + _VALUE),
    # net use \\server\share PASS /user:X
    re.compile(r"""(?i)\bnet1?(?:\.exe)?\s+use\s+(?:[A-Z]:\s+)?\\\\\S+\s+(?!/|\*(?:\s|$))""" + _VALUE),
    # -pw (plink/pscp), --password, -Password, /password:, /pass:, /pw:, -passwd
    re.compile(
        r"""(?i)(?:^|\s)(?:-pw|--password|-password|/password|/pass|/pw|-passwd|--passwd|-pass)(?:[:=]|\s+)""" + _VALUE
    ),
    # ConvertTo-SecureString [-String] "..." ... -AsPlainText
    re.compile(r"""(?i)ConvertTo-SecureString\s+(?:-String\s+)?""" + _VALUE + r"""(?=[^|;]*-AsPlainText)"""),
    # Connection strings and generic key=value secrets: Password=...; pwd=...; apikey=...; token=...
    re.compile(
        r"""(?i)(?<![\w-])(?:password|passwd|pwd|api[_-]?key|apikey|access[_-]?token|auth[_-]?token|token"""
        r"""|client[_-]?secret|secret|aws_secret_access_key|x-api-key)\s*[=:]\s*"""
        r"""(?:"(?P<dq>[^"]*)"|'(?P<sq>[^']*)'|(?P<bare>[^\s;&"'|,]+))"""
    ),
    # curl -u user:pass / --user user:pass (the part after the first colon)
    re.compile(r"""(?:^|\s)(?:-u|--user)\s+["']?[^\s:"']+:(?P<bare>[^\s"']+)"""),
    # scheme://user:pass@host
    re.compile(r"""(?i)\b[a-z][a-z0-9+.-]{0,30}://[^\s/:@"']{1,256}:(?P<bare>[^\s/@"']{1,1024})@"""),
    # Authorization: Bearer xxx / Basic xxx (HTTP header given on the command line)
    re.compile(r"""(?i)\bAuthorization\s*:\s*(?:Bearer|Basic|Token|Digest)\s+(?P<bare>[^\s"']+)"""),
    # Well-known token shapes wherever they appear.
    re.compile(r"""\b(?P<bare>(?:AKIA|ASIA)[0-9A-Z]{16})\b"""),
    re.compile(r"""\b(?P<bare>gh[pousr]_[A-Za-z0-9]{36,255})\b"""),
    re.compile(r"""\b(?P<bare>github_pat_[A-Za-z0-9_]{22,255})\b"""),
    re.compile(r"""\b(?P<bare>xox[abprs]-[A-Za-z0-9-]{10,})\b"""),
)

# -p VALUE (lower case) when a user switch is present; numeric/port values excluded below.
_RULE_P = re.compile(r"""(?:^|\s)-p\s+""" + _VALUE)
# mysql's attached form -pVALUE, only when mysql/mysqldump is the tool.
_MYSQL = re.compile(r"(?i)\bmysql(?:dump|admin)?(?:\.exe)?\b")
_RULE_MYSQL_P = re.compile(r"""(?:^|\s)-p(?=[^\s-])""" + _VALUE)
# -P VALUE (sqlcmd family) when a SQL tool or -U is named.
_RULE_SQL_P = re.compile(r"""(?:^|\s)-P(?:\s+|(?=\S))""" + _VALUE)
# MSBuild-style /p:Name=Value
_RULE_SLASH_P = re.compile(r"""(?i)(?:^|\s)/p:(?P<name>[^\s=;"']+)=""" + _VALUE)
_RULE_SLASH_P_PLAIN = re.compile(r"""(?i)(?:^|\s)/p(?::|\s+)(?![^\s"']*=)""" + _VALUE)
_SECRET_NAME = re.compile(r"(?i)pass|pwd|secret|token|key")
_NOT_A_SECRET = re.compile(r"""^(?:\$\S*|\(.*|%[^%]+%|\d+(?::\d+)*|\*|-.*|)$""")


def _value_span(m: re.Match[str]) -> tuple[int, int] | None:
    for group in ("dq", "sq", "bare"):
        try:
            start = m.start(group)
        except IndexError:
            continue
        if start >= 0:
            return start, m.end(group)
    return None


def _spans(command_line: str) -> Iterator[tuple[int, int]]:
    def keep(m: re.Match[str]) -> Iterator[tuple[int, int]]:
        span = _value_span(m)
        if span is not None and not _NOT_A_SECRET.match(command_line[span[0] : span[1]]):
            yield span

    for rule in _RULES_ALWAYS:
        for m in rule.finditer(command_line):
            yield from keep(m)
    if _USER_SWITCH.search(command_line):
        for m in _RULE_P.finditer(command_line):
            yield from keep(m)
    if _MYSQL.search(command_line):
        for m in _RULE_MYSQL_P.finditer(command_line):
            yield from keep(m)
    if _SQL_TOOL.search(command_line) or re.search(r"(?:^|\s)-U(?:\s|$)", command_line):
        for m in _RULE_SQL_P.finditer(command_line):
            yield from keep(m)
    for m in _RULE_SLASH_P.finditer(command_line):
        if _SECRET_NAME.search(m.group("name")):
            yield from keep(m)
    for m in _RULE_SLASH_P_PLAIN.finditer(command_line):
        yield from keep(m)


def redact(command_line: str) -> tuple[str, int]:
    """Return the command line with each credential value replaced by REDACTED, and how many."""
    spans = sorted(s for s in _spans(command_line) if s[1] > s[0])
    merged: list[list[int]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    out: list[str] = []
    pos = 0
    for start, end in merged:
        out.append(command_line[pos:start])
        out.append(REDACTED)
        pos = end
    out.append(command_line[pos:])
    return "".join(out), len(merged)
