"""How a command line is read: the grammar of a value (quoted, escaped, braced, bare), the values
every rule leaves alone, and `Line`, the facts about one line (where PowerShell reads it, where a
SQL tool is named) that several rules ask about. The package docstring has the decisions."""

from __future__ import annotations

import re

Span = tuple[int, int]

# ------------------------------------------------------------------ values

DQ = r""""(?P<dq>(?:[^"\\`]|[\\`](?:[\s\S]|\Z)|"")*)(?:"|\Z)"""
_DQ_CLOSED = r'''"(?P<dq>(?:[^"\\`]|[\\`][\s\S]|"")*)"'''
SQ = r"""'(?P<sq>(?:[^']|'')*)(?:'|\Z)"""
_SQ_CLOSED = r"""'(?P<sq>(?:[^']|'')*)'"""
# cmd's \"...\" inside an outer "..." (`powershell -Command "... -Password \"x y\""`): the string
# PowerShell sees is "x y". It ends at the next \" or, unclosed, where the outer string ends.
EQ = r"""\\"(?P<eq>(?:[^"\\]|\\(?!"))*)(?:\\"|(?="|\Z))"""
_EQ_CLOSED = r'\\"(?P<eq>(?:[^"\\]|\\(?!"))*)\\"'
_BARE = r"""(?P<bare>[^\s"'][^\s"]*)"""
# A switch value: \"escaped\", "quoted", 'quoted', or a bare token.
VALUE = f"(?:{EQ}|{DQ}|{SQ}|{_BARE})"
# `Name=value` in a string: braced (ODBC), quoted, or bare up to ; & | or a quote. The braced branch is
# tried only where a `}` follows (see engine._rule_spans): otherwise it would scan to the end for every `{`.
_BRACE = r"""\{(?P<brace>(?:[^}]|\}\})*)\}"""
_KV_REST = rf"""{_EQ_CLOSED}|{_DQ_CLOSED}|{_SQ_CLOSED}|(?P<bare>(?!\\")[^\s;&"'|]+)"""

V = re.compile(VALUE)
V_KV = re.compile(f"(?:{_BRACE}|{_KV_REST})")
V_KV_NO_BRACE = re.compile(f"(?:{_KV_REST})")
V_QUOTED = re.compile(f"(?:{_EQ_CLOSED}|{_DQ_CLOSED}|{_SQ_CLOSED})")

_BLANK = r"|\*|%[A-Za-z_][\w()]*%"
_PS_REF = r"\$[A-Za-z_{][\w:{}.]*|\$?\(.*|@\(.*"
_DASH = r"-.*"
_SLASH = r"/.*"
_PORT = r"\d+(?::\d+)*"


def _exempt(*parts: str) -> re.Pattern[str]:
    return re.compile("^(?:" + "|".join(parts) + ")$", re.DOTALL)


EX_BASE = _exempt(_BLANK)
EX_SWITCH = _exempt(_BLANK, _DASH)
EX_SWITCH_SLASH = _exempt(_BLANK, _DASH, _SLASH)
EX_PORT = _exempt(_BLANK, _DASH, _PORT)
# Exempt only where PowerShell reads the value (see _ps_start): it expands these before a child starts.
EX_PS_REF = _exempt(_PS_REF)
# Openssl's password sources other than pass: (openssl-passphrase-options: env:, file:, fd:, stdin).
PASS_SOURCE = re.compile(r"(?i)^(?:pass|env|file|fd):|^stdin$")


def value_span(m: re.Match[str]) -> Span | None:
    for group in ("eq", "dq", "sq", "brace", "bare"):
        try:
            start = m.start(group)
        except IndexError:
            continue
        if start >= 0:
            return start, m.end(group)
    return None


# ------------------------------------------------------------------ where PowerShell reads the line

# The host as a command word, or by its path with .exe (a bare `\PowerShell` is a registry key or folder).
_PS_HOST = re.compile(
    r"""(?i)(?:(?<![^\s"'(&|;])|(?<=[\\/])(?=\w+\.exe))(?P<host>powershell|pwsh)(?:_ise)?(?:\.exe)?(?=[\s"']|$)"""
)
_HOST_TOKEN = re.compile(r"""\s*(?P<tok>"[^"]*"?|[^\s"]+)""")
_HOST_MAX_TOKENS = 16
# powershell.exe / pwsh.exe parameters (about_PowerShell_exe, about_Pwsh): each accepts any prefix.
_HOST_VALUE_PARAMS = (
    "executionpolicy", "ep", "windowstyle", "version", "inputformat", "outputformat", "configurationname",
    "workingdirectory", "wd", "settingsfile", "psconsolefile", "custompipename",
)  # fmt: skip


def _host_param(token: str) -> str:
    """'command', 'file', 'value' (takes the next token) or 'switch' for a powershell.exe parameter."""
    name = token.lstrip("-").split(":", 1)[0].lower()
    if not name:
        return "switch"
    if "command".startswith(name) or "encodedcommand".startswith(name) or name in ("ec", "e"):
        return "command"
    if "file".startswith(name):
        return "file"
    if any(p.startswith(name) for p in _HOST_VALUE_PARAMS) and name not in ("e", "c", "f"):
        return "value"
    return "switch"


def _ps_start(line: str) -> int:
    """Where PowerShell starts reading the line as script (len(line) + 1 if nowhere).

    PowerShell expands `$x` and `(...)` before it starts a child, so such a value in a child's own
    4688 is literal text (maybe the secret) and is left alone only after this point. Arguments after
    `-File script` are passed as literal strings, and pwsh's first bare argument is a -File.
    """
    for host in _PS_HOST.finditer(line):
        pos, skip = host.end(), False
        for _ in range(_HOST_MAX_TOKENS):
            t = _HOST_TOKEN.match(line, pos)
            if t is None:
                return pos
            token = t.group("tok")
            if skip:
                skip, pos = False, t.end()
                continue
            if not token.startswith("-"):
                if host.group("host").lower() == "pwsh":
                    break
                return t.start("tok")
            kind = _host_param(token)
            if kind == "command":
                return t.end()
            if kind == "file":
                break
            skip, pos = kind == "value" and ":" not in token, t.end()
        else:
            return pos
    return len(line) + 1


# A cmdlet-shaped word (Verb-Noun) also marks PowerShell text when the host process is not on the line.
_CMDLET = re.compile(r"(?<![\w-])[A-Z][a-z]+-[A-Z][A-Za-z]+(?![\w-])")
SQL_TOOL = re.compile(r"(?i)(?<![\w-])(?:sqlcmd|osql|bcp|isql)(?:\.exe)?\b")


class Line:
    """Facts about one command line that several rules ask about, each found once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lower = text.lower()
        # The braced Name={value} branch is tried only before the last `}`.
        self.last_close = text.rfind("}")
        self._ps_start: int | None = None
        self._sql_tool: int | None = None
        self._ps_shaped: bool | None = None

    @property
    def ps_start(self) -> int:
        # Found when first asked: most lines meet no rule that asks (bench/ingest.py).
        if self._ps_start is None:
            self._ps_start = _ps_start(self.text)
        return self._ps_start

    def in_powershell(self, pos: int) -> bool:
        return pos >= self.ps_start

    @property
    def ps_shaped(self) -> bool:
        if self._ps_shaped is None:
            self._ps_shaped = self.ps_start <= len(self.text) or _CMDLET.search(self.text) is not None
        return self._ps_shaped

    @property
    def sql_tool(self) -> int:
        """Where the first native sqlcmd/osql/bcp/isql is named (len + 1 if nowhere)."""
        if self._sql_tool is None:
            m = SQL_TOOL.search(self.text)
            self._sql_tool = m.start() if m is not None else len(self.text) + 1
        return self._sql_tool


