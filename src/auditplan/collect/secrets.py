"""Redaction of credentials in command lines (4688 CommandLine, Sysmon CommandLine).

`redact(command_line)` replaces each secret VALUE (not the switch naming it) with REDACTED and returns
how many it replaced. Spans found by all rules are merged first, so a secret two rules agree on counts
once and a replacement is never re-matched. The rest of the line is kept, so detections still see it.

How a value is read: \\"cmd-escaped\\" (inside `powershell -Command "..."`: PowerShell sees "x"),
"double quoted" (\\" `" and "" escape a quote; an unclosed quote runs to the end), 'single quoted'
('' escapes a quote, PowerShell), {braced} after `Name=` (ODBC, }} escapes), or a bare token. A value is
consumed only when it is redacted (a {braced} one always), so in `--verbose --password X` the second
switch is still seen. Linear time on hostile lines: each rule reads each consumed value once, an
unconsumed value ends at the next space or quote, and the braced branch is tried only before the
line's last `}` (found once), so `pw={ pw={ ...` does not rescan to the end for every `{`.

Which values a rule leaves alone (each rule names its own set; a too-wide set leaks secrets):
- everywhere: nothing given, `*` (the tool prompts for it), `%VAR%` (cmd expands it, so the secret
  shows, if anywhere, in the child's own 4688, which is redacted on its own);
- where PowerShell reads the value: `$var`, `$env:X`, `(expression)`, a reference, not the secret.
  That is after a powershell.exe/pwsh.exe on the line (its -Command text, or its first bare argument
  for powershell.exe; not the literal arguments after -File, nor pwsh's script path), and in
  PowerShell-only syntax (ConvertTo-SecureString, `$x = '...'`, NetworkCredential, -Name/-Value).
  Elsewhere `$` is literal (cmd, and PowerShell has already expanded variables before it starts a
  child), so `net user bob $ecret`, `psexec -u a -p $Passw0rd`, `curl -u bob:$ecret` ARE redacted;
- space-separated switch values that start with `-` (the next switch, not a value);
- only `-p` (lower case, with a user switch): numbers and `N:N`, which are ports or PIDs there
  (`ssh -l u -p 22`, `docker run -u 1000 -p 8080:80`), and a Windows path with a backslash and an
  extension (`-p C:\\certs\\app.pem`, a payload path). Everywhere else a number is a password
  (`net user bob 12345678 /add`);
- only a switch named exactly `pass`: one digit, an encoder's pass number (`ffmpeg -pass 1`).

Decisions on near-misses (recall traded against false alarms):
- `-p VALUE` is a password only when the line also names a user (`-u`, `-U`, `/u`, `-user`, `--user`,
  `-l`, followed by a value: `diff -u -p` is "unified"): PsExec/docker style; alone it is a port or
  "parents" (`mkdir -p`); not for mysql, where `-p VALUE` means "prompt, then database VALUE".
  Attached `-pVALUE` counts for mysql and the archivers (7z, rar: also `-hp`).
- `-P` is the password of sqlcmd/osql/bcp/isql (or any line with `-U`) and of zip/unzip; never on a mysql
  line (port there). On PowerShell lines attached `-P` + a letter is a parameter (`-Path`, `-PacketSize`
  of Invoke-Sqlcmd) unless a native sqlcmd/osql/bcp/isql comes before it.
- `/p:Name=Value` is an MSBuild property, redacted when Name names a secret; `/p:VALUE` is a password;
  `/p VALUE` only with `/u`, `/user` or `/ru` (tasklist, schtasks) or for signtool (`msiexec /p` is a patch).
- A switch names a secret when its last word is password/passwd/passphrase/pwd/pw/pass/secret/token,
  or `<api|access|secret|account|storage|...> key`, split at `-`, `_` and camelCase (`-AdminPassword`,
  `--client-secret`, `-SafeModeAdministratorPassword`, `-DSRMPassword`); `--password-stdin`,
  `-PasswordNeverExpires`, `/uniquepw:` do not. Openssl's `-passin env:X`/`file:`/`fd:`/`stdin` name a
  source, not a secret; `pass:X` is the secret X.
- AWS: key ids (AKIA/ASIA...), `aws configure set aws_secret_access_key K`, and on a line that
  mentions AWS any 40-character [A-Za-z0-9/+] run holding upper case, lower case and a digit (a git or
  SHA-1 hash is one case of hex, so it is not taken).
- Also taken: `reg add ... /v DefaultPassword /d X` and `Set-ItemProperty -Name DefaultPassword -Value X`
  (AutoAdminLogon), `$password = 'X'`, `NetworkCredential('u', 'X')`, impacket-style `dom/user:X@host`,
  smbclient `-U user%X`, winrs `-p:X`, netdom `/PasswordD:X` `/PasswordO:X` (`/pd:` `/po:`), redis-cli
  `-a`, sshpass `-p`, ldapsearch `-w`.
- curl's `-u user:pass` is not read from `-u http://...` (az login's app URL), nor from `-user:bob`,
  `-username:bob`, `-userid:bob` (wbadmin, agents): there `ser...:` is the switch name, and the account
  must stay readable for detections.
- A name that runs into `pwd` names a secret (SQL Server setup's `SAPWD=`, `DBPWD=`), except `OLDPWD`.
- Name and value given apart: `-Name/--name/-n SECRETNAME` and `-Value/--value V` in either order within
  one command (up to ; & | or a newline), Set-ItemProperty's positions (Path, Name, Value), and
  `[Environment]::SetEnvironmentVariable('NAME', 'V', ...)`. `az keyvault secret set --value V` always.
- Fixed positions: ldifde/csvde `-b user domain PASSWORD`, bitsadmin `/setcredentials job target scheme
  user PASSWORD`, Sysinternals `autologon user domain PASSWORD` and `pspasswd [\\computer] user
  PASSWORD`, `vault login TOKEN`, `nuget setapikey KEY`.
- Tool-scoped switches: netsh `key=` only with `hostednetwork` (`show profile key=clear` is a mode) and
  `keyMaterial=`; vaultcmd `/authenticator:` (certbot's `--authenticator` is a plugin name); manage-bde
  `-rp` (-RecoveryPassword; alone it makes a new one); `setx /M NAME VALUE` with setx's switches first.
- runas takes no password on its command line: nothing to find there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from auditplan.records import REDACTED

Span = tuple[int, int]

# ------------------------------------------------------------------ values

_DQ = r""""(?P<dq>(?:[^"\\`]|[\\`](?:[\s\S]|\Z)|"")*)(?:"|\Z)"""
_DQ_CLOSED = r'''"(?P<dq>(?:[^"\\`]|[\\`][\s\S]|"")*)"'''
_SQ = r"""'(?P<sq>(?:[^']|'')*)(?:'|\Z)"""
_SQ_CLOSED = r"""'(?P<sq>(?:[^']|'')*)'"""
# cmd's \"...\" inside an outer "..." (`powershell -Command "... -Password \"x y\""`): the string
# PowerShell sees is "x y". It ends at the next \" or, unclosed, where the outer string ends.
_EQ = r"""\\"(?P<eq>(?:[^"\\]|\\(?!"))*)(?:\\"|(?="|\Z))"""
_EQ_CLOSED = r'\\"(?P<eq>(?:[^"\\]|\\(?!"))*)\\"'
_BARE = r"""(?P<bare>[^\s"'][^\s"]*)"""
# A switch value: \"escaped\", "quoted", 'quoted', or a bare token.
_VALUE = f"(?:{_EQ}|{_DQ}|{_SQ}|{_BARE})"
# `Name=value` in a string: braced (ODBC), quoted, or bare up to ; & | or a quote. The braced branch is
# tried only where a `}` follows (see _rule_spans): otherwise it would scan to the end for every `{`.
_BRACE = r"""\{(?P<brace>(?:[^}]|\}\})*)\}"""
_KV_REST = rf"""{_EQ_CLOSED}|{_DQ_CLOSED}|{_SQ_CLOSED}|(?P<bare>(?!\\")[^\s;&"'|]+)"""

_V = re.compile(_VALUE)
_V_KV = re.compile(f"(?:{_BRACE}|{_KV_REST})")
_V_KV_NO_BRACE = re.compile(f"(?:{_KV_REST})")
_V_QUOTED = re.compile(f"(?:{_EQ_CLOSED}|{_DQ_CLOSED}|{_SQ_CLOSED})")

_BLANK = r"|\*|%[A-Za-z_][\w()]*%"
_PS_REF = r"\$[A-Za-z_{][\w:{}.]*|\$?\(.*|@\(.*"
_DASH = r"-.*"
_SLASH = r"/.*"
_PORT = r"\d+(?::\d+)*"


def _exempt(*parts: str) -> re.Pattern[str]:
    return re.compile("^(?:" + "|".join(parts) + ")$", re.DOTALL)


_EX_BASE = _exempt(_BLANK)
_EX_SWITCH = _exempt(_BLANK, _DASH)
_EX_SWITCH_SLASH = _exempt(_BLANK, _DASH, _SLASH)
_EX_PORT = _exempt(_BLANK, _DASH, _PORT)
# Exempt only where PowerShell reads the value (see _ps_start): it expands these before a child starts.
_EX_PS_REF = _exempt(_PS_REF)
# Openssl's password sources other than pass: (openssl-passphrase-options: env:, file:, fd:, stdin).
_PASS_SOURCE = re.compile(r"(?i)^(?:pass|env|file|fd):|^stdin$")


def _value_span(m: re.Match[str]) -> Span | None:
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
_SQL_TOOL = re.compile(r"(?i)(?<![\w-])(?:sqlcmd|osql|bcp|isql)(?:\.exe)?\b")


class _Line:
    """Facts about one command line that several rules ask about, each found once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lower = text.lower()
        self.ps_start = _ps_start(text)
        # The braced Name={value} branch is tried only before the last `}`.
        self.last_close = text.rfind("}")
        self._sql_tool: int | None = None
        self._ps_shaped: bool | None = None

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
            m = _SQL_TOOL.search(self.text)
            self._sql_tool = m.start() if m is not None else len(self.text) + 1
        return self._sql_tool


# ------------------------------------------------------------------ names that mean "secret"

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
_SECRET_LAST = frozenset(
    # the words, PowerShell's unambiguous prefixes of -Password, and pass-the-hash material
    # (mimikatz /ntlm: /rc4: /aes256:, impacket -hashes)
    "password passwd passphrase pwd pw pass secret token apikey secretkey accesskey accountkey clientsecret"
    " passw passwo passwor ntlm hashes rc4 aes128 aes256".split()
)
_KEY_PREFIX = frozenset(
    {"api", "access", "secret", "account", "storage", "subscription", "sas", "shared", "master", "auth", "client"}
)
# Run together without a separator (`adminpassword`, `dbtoken`, keytool's `-storepass`, SQL Server
# setup's `SAPWD`); short words
# (pw, pass) are left out so `/uniquepw:5` and `--bypass` are not taken.
_LONG_WORDS = tuple("password passwd passphrase pwd secret token apikey secretkey accesskey storepass keypass".split())
# Run-together names that end in one of _LONG_WORDS but hold no secret (the shell's previous directory).
_NOT_SECRET = frozenset({"oldpwd"})
# Names read as secrets only in `Name=value` (SAS signatures in URLs, Azure connection strings).
_KV_ONLY = frozenset({"sig", "sharedaccesssignature"})


def _names_secret(name: str, *, kv: bool = False) -> bool:
    parts = [p.lower() for p in re.split(r"[-_.]", _CAMEL.sub("-", name)) if p]
    if not parts or parts[0] == "no" or "".join(parts) in _NOT_SECRET:
        return False
    last = parts[-1]
    if last in _SECRET_LAST or (kv and "".join(parts) in _KV_ONLY):
        return True
    if last == "key" and len(parts) > 1 and parts[-2] in _KEY_PREFIX:
        return True
    return any(last.endswith(w) for w in _LONG_WORDS)


# ------------------------------------------------------------------ regex rules


@dataclass(frozen=True)
class _Rule:
    pattern: re.Pattern[str]
    exempt: re.Pattern[str]
    when: re.Pattern[str] | None = None  # only on lines this matches
    unless: re.Pattern[str] | None = None  # never on lines this matches
    accept: Callable[[re.Match[str], _Line], bool] | None = None  # checked before the value is read
    value: re.Pattern[str] | None = None  # the value, read where `pattern` ends
    pass_sources: bool = False  # leave openssl-style sources (env:X, file:X, stdin) alone
    keep: Callable[[re.Match[str], str], bool] | None = None  # this value is not a secret here
    ps_syntax: bool = False  # PowerShell-only syntax: `$x` and `(...)` are references wherever it is
    hints: tuple[str, ...] = ()  # run only on lines holding one of these (lower case): most lines skip most rules


_MYSQL = re.compile(r"(?i)\bmysql(?:dump|admin)?(?:\.exe)?\b")
# sqlcmd-style -P applies after a SQL tool, or after an upper-case -U (case-sensitive: rsync/scp -u is
# not a user switch, and their -P is not a password).
_SQL_TOOL_OR_U = re.compile(_SQL_TOOL.pattern + r"|(?-i:(?:^|\s)-U(?:\s|$))")
_ZIP_TOOL = re.compile(r"(?i)(?<![\w-])(?:un)?zip(?:\.exe)?(?:\s|\"|$)")
# ... with a value after it: in `diff -u -p a b`, -u means "unified".
_USER_SWITCH = re.compile(
    r"""(?:^|\s)(?:-u|-U|/u|/user|-user|--user|--username|-l|-UserName|-Username)(?:[:=]\S|\s+[^\s-])"""
)
_SLASH_USER = re.compile(r"(?i)(?:^|\s)/(?:u|user|ru)(?:[\s:]|$)")
_SIGNTOOL = re.compile(r"(?i)\bsigntool(?:\.exe)?\b")
_ARCHIVER = re.compile(r"(?i)\b(?:7z[arg]?|7zz|rar|winrar|unrar)(?:\.exe)?\b")
_OPENSSL = re.compile(r"(?i)\bopenssl(?:\.exe)?\b")
_CERTUTIL = re.compile(r"(?i)\bcertutil(?:\.exe)?\b")
_REDIS = re.compile(r"(?i)\bredis-cli(?:\.exe)?\b")
_SSHPASS = re.compile(r"(?i)\bsshpass(?:\.exe)?\b")
_LDAP = re.compile(r"(?i)\bldap(?:search|modify|add|delete|passwd|whoami|compare|modrdn)(?:\.exe)?\b")
_NETDOM = re.compile(r"(?i)\bnetdom(?:\.exe)?\b")
_AWS = re.compile(r"(?i)\baws|\bAKIA|\bASIA")
_NETSH = re.compile(r"(?i)\bnetsh(?:\.exe)?\b")
_HOSTED_NETWORK = re.compile(r"(?i)\bhostednetwork\b")
_LDIFDE = re.compile(r"(?i)\b(?:ldifde|csvde)(?:\.exe)?\b")
_VAULTCMD = re.compile(r"(?i)\bvaultcmd(?:\.exe)?\b")
_MANAGE_BDE = re.compile(r"(?i)\bmanage-bde(?:\.exe)?\b")
_KEYVAULT_SET = re.compile(r"(?i)\bkeyvault\s+secret\s+set\b")
# One argument of a fixed-position syntax: "quoted" or a bare token.
_ARG = r"""(?:"[^"]*"|[^\s"]+)"""
# vault login's flags that take a separate value (`-method userpass`): that value is not the token.
_VAULT_VALUE_FLAGS = (
    "method|path|field|format|address|namespace|header|mfa|wrap-ttl|ca-cert|ca-path|client-cert|client-key"
    "|tls-server-name"
)
_START = r"(?:^|(?<=[\s(\"']))"


def _secret_switch(m: re.Match[str], _: _Line) -> bool:
    return _names_secret(m.group("name"))


def _secret_kv(m: re.Match[str], _: _Line) -> bool:
    return _names_secret(m.group("name"), kv=True)


def _names_kv(_: re.Match[str], value: str) -> bool:
    """`vault login -method=userpass username=bob`: K=V pairs, not a token."""
    return "=" in value


def _pass_number(m: re.Match[str], value: str) -> bool:
    """`ffmpeg -pass 1`, `x264 --pass 2`: an encoder's pass number (a one-digit password is no password)."""
    return m.group("name").lower() == "pass" and len(value) == 1 and value.isdigit()


# A Windows file path: drive, UNC, .\ or %VAR%\ start, a backslash, and an extension.
_WIN_PATH = re.compile(r"""(?i)^(?:[a-z]:|\\\\[^\\\s]+|\.{1,2}|%\w+%)\\(?:[^\\\s]+\\)*[^\\\s.]+\.[a-z0-9]{1,8}$""")


def _file_path(_: re.Match[str], value: str) -> bool:
    """`-p C:\\Windows\\system32\\calc.exe` (a payload, a certificate): a path, not a password."""
    return _WIN_PATH.match(value) is not None


def _sql_attached(m: re.Match[str], line: _Line) -> bool:
    """sqlcmd `-PVALUE`; on PowerShell lines `-P` + a letter is a parameter (-Path, -PacketSize)
    unless a native sqlcmd/osql/bcp/isql comes before it."""
    nxt = line.text[m.end() : m.end() + 1]
    return not nxt.isalpha() or not line.ps_shaped or line.sql_tool < m.start()


# Every name _names_secret accepts holds one of these.
_SECRET_HINTS = ("pass", "pw", "secret", "token", "key", "ntlm", "hash", "rc4", "aes")
_KV_HINTS = (*_SECRET_HINTS, "sig")


_RULES: tuple[_Rule, ...] = (
    # A switch naming a secret, attached (`--password=X`, `/pass:X`, `-Password:X`): any value.
    _Rule(
        re.compile(_START + r"(?:--?|/)(?P<name>[A-Za-z][\w-]{0,63})[:=]"),
        _EX_BASE,
        accept=_secret_switch,
        value=_V,
        pass_sources=True,
        keep=_pass_number,
        hints=_SECRET_HINTS,
    ),
    # ... or separated by spaces: a value starting with '-' is the next switch.
    _Rule(
        re.compile(_START + r"(?:--?|/)(?P<name>[A-Za-z][\w-]{0,63})\s+"),
        _EX_SWITCH,
        accept=_secret_switch,
        value=_V,
        pass_sources=True,
        keep=_pass_number,
        hints=_SECRET_HINTS,
    ),
    # Name=value and Name: value in connection strings, query strings, headers, JSON, env vars, sc.exe.
    _Rule(
        re.compile(r"""(?<![\w.$])(?P<name>[A-Za-z_][\w.-]{0,63})["']?(?:\s*=\s*|\s*:[ \t]*)"""),
        _EX_BASE,
        accept=_secret_kv,
        value=_V_KV,
        keep=_pass_number,
        hints=_KV_HINTS,
    ),
    # PowerShell $password = 'literal' (a quoted literal only: anything else is a command or expression).
    _Rule(
        re.compile(r"""\$(?P<name>[A-Za-z_][\w]{0,63})\s*=\s*"""),
        _EX_BASE,
        accept=_secret_kv,
        value=_V_QUOTED,
        ps_syntax=True,
        hints=_SECRET_HINTS,
    ),
    # [Net.NetworkCredential]::new('user', 'password') / New-Object ...NetworkCredential('user', 'password').
    _Rule(
        re.compile(r"""(?i)NetworkCredential(?:\]::new)?\s*\(\s*(?:"[^"]*"|'[^']*'|[^,()\s]+)\s*,\s*"""),
        _EX_BASE,
        value=_V_QUOTED,
        ps_syntax=True,
        hints=("networkcredential",),
    ),
    # reg add ... /v DefaultPassword [/t REG_SZ] /d VALUE; Set-/New-ItemProperty -Name X -Value VALUE.
    _Rule(
        re.compile(r"""(?i)(?:^|(?<=\s))/v\s+"?(?P<name>[\w.-]{1,64})"?(?:\s+/t\s+\S+)?\s+/d\s+"""),
        _EX_BASE,
        accept=_secret_kv,
        value=_V,
        hints=_SECRET_HINTS,
    ),
    _Rule(
        re.compile(
            r"""(?i)(?:^|(?<=\s))-Name\s+["']?(?P<name>[\w.-]{1,64})["']?(?:\s+-(?:Path|PropertyType|Type)"""
            r"""\s+\S+)*\s+-Value\s+"""
        ),
        _EX_BASE,
        accept=_secret_kv,
        value=_V,
        ps_syntax=True,
        hints=_SECRET_HINTS,
    ),
    # Authorization: Bearer X; @{Authorization="Basic X"} (curl -H, Invoke-RestMethod -Headers), also with
    # cmd's \" quotes inside powershell -Command "..." (the \ before the closing quote is not the value).
    _Rule(
        re.compile(
            r"""(?i)\bAuthorization(?:\\?["'])?\s*[:=]\s*(?:\\?["'])?\s*(?:Bearer|Basic|Token|Digest|NTLM|Negotiate)"""
            r"""\s+(?P<bare>(?:[^\s"'\\]|\\(?!"))+)"""
        ),
        _EX_BASE,
        hints=("authorization",),
    ),
    # curl -u user:pass, -uuser:pass, --user=user:pass, --proxy-user, -U (the part after the first colon).
    # `-user:bob`, `-username:bob`, `-userid:bob` (wbadmin, agents) name the switch: the account stays.
    _Rule(
        re.compile(
            r"""(?:^|(?<=\s))(?:-u|-U|--user|--proxy-user)(?:\s+|=|(?<=-[uU])(?=[^\s-])(?!(?i:ser(?:name|id)?)[:=]))"""
            r"""(?:"[^":]*:(?!//)(?P<dq>[^"]*)"|'[^':]*:(?!//)(?P<sq>[^']*)'|[^\s:"']+:(?!//)(?P<bare>[^\s"']+))"""
        ),
        _EX_BASE,
        hints=("-u",),
    ),
    # scheme://user:pass@host
    _Rule(
        re.compile(r"""(?i)\b[a-z][a-z0-9+.-]{0,30}://[^\s/:@"']{1,256}:(?P<bare>[^\s/@"']{1,1024})@"""),
        _EX_BASE,
        hints=("://",),
    ),
    # -p VALUE with a user switch (PsExec, docker login, plink -l): ports and PIDs left alone.
    _Rule(
        re.compile(r"(?:^|(?<=\s))-p\s+"),
        _EX_PORT,
        when=_USER_SWITCH,
        unless=_MYSQL,
        value=_V,
        keep=_file_path,
        hints=("-p",),
    ),
    # mysql -pVALUE (attached; a space means "prompt").
    _Rule(re.compile(r"(?:^|(?<=\s))-p(?=[^\s-])"), _EX_BASE, when=_MYSQL, value=_V, hints=("-p",)),
    # sqlcmd -P VALUE / -PVALUE.
    _Rule(re.compile(r"(?:^|(?<=\s))-P\s+"), _EX_SWITCH, when=_SQL_TOOL_OR_U, unless=_MYSQL, value=_V, hints=("-p",)),
    _Rule(
        re.compile(r"(?:^|(?<=\s))-P(?=\S)"),
        _EX_SWITCH,
        when=_SQL_TOOL_OR_U,
        unless=_MYSQL,
        accept=_sql_attached,
        value=_V,
        hints=("-p",),
    ),
    # zip -P VALUE.
    _Rule(re.compile(r"(?:^|(?<=\s))-P\s+"), _EX_SWITCH, when=_ZIP_TOOL, value=_V, hints=("-p",)),
    # 7z/rar -pVALUE, rar -hpVALUE.
    _Rule(re.compile(r"(?i)(?:^|(?<=\s))-h?p(?=\S)"), _EX_BASE, when=_ARCHIVER, value=_V, hints=("-p", "-hp")),
    # openssl -passin/-passout/-pass/-password pass:VALUE, and enc's -k VALUE.
    _Rule(
        re.compile(
            r"(?i)(?:^|(?<=\s))-(?:passin|passout|pass|password|passphrase)\s+[\"']?pass:"
            r"""(?P<bare>(?:[^\s"'])+)"""
        ),
        _EX_BASE,
        hints=("pass:",),
    ),
    _Rule(re.compile(r"(?:^|(?<=\s))-k\s+"), _EX_SWITCH, when=_OPENSSL, value=_V, hints=("-k",)),
    # redis-cli -a, sshpass -p, ldapsearch/ldapmodify -w, netdom /PasswordD: /PasswordO: (and /pd: /po:).
    _Rule(re.compile(r"(?:^|(?<=\s))-a\s+"), _EX_SWITCH, when=_REDIS, value=_V, hints=("-a",)),
    _Rule(re.compile(r"(?:^|(?<=\s))-p\s*"), _EX_SWITCH, when=_SSHPASS, value=_V, hints=("-p",)),
    _Rule(re.compile(r"(?:^|(?<=\s))-w\s+"), _EX_SWITCH, when=_LDAP, value=_V, hints=("-w",)),
    _Rule(
        re.compile(r"(?i)(?:^|(?<=\s))/p(?:assword)?[do](?::|\s+)"),
        _EX_SWITCH_SLASH,
        when=_NETDOM,
        value=_V,
        hints=("/p",),
    ),
    # smbclient/rpcclient -U user%password.
    _Rule(
        re.compile(r"""(?:^|(?<=\s))(?:-U|--user)(?:\s+|=)["']?[^\s%"']+%(?P<bare>[^\s"']+)"""), _EX_BASE, hints=("%",)
    ),
    # impacket-style targets: [domain/]user:password@host.
    _Rule(
        re.compile(r"""(?:^|(?<=\s))(?:[\w.-]+/)?[\w.$-]+:(?P<bare>[^\s@/:"']+)@[\w.-]+(?=\s|$)"""),
        _EX_BASE,
        hints=("@",),
    ),
    # npm config set [//registry/:]_authToken VALUE.
    _Rule(
        re.compile(r"""(?i)\bnpm(?:\.cmd)?\s+config\s+set\s+(?:\S*:)?(?P<name>[A-Za-z_][\w-]{0,63})\s+"""),
        _EX_BASE,
        accept=_secret_kv,
        value=_V,
        hints=("npm",),
    ),
    # certutil -p VALUE (PFX password).
    _Rule(re.compile(r"(?:^|(?<=\s))-p\s+"), _EX_SWITCH, when=_CERTUTIL, value=_V, hints=("certutil",)),
    # /p:VALUE (no '='), and /p VALUE where a /u, /user or /ru names the account, or signtool.
    _Rule(re.compile(r"""(?i)(?:^|(?<=\s))[/-]p:(?![^\s"']*=)"""), _EX_BASE, value=_V, hints=("/p:", "-p:")),
    _Rule(re.compile(r"""(?i)(?:^|(?<=\s))/p\s+"""), _EX_SWITCH_SLASH, when=_SLASH_USER, value=_V, hints=("/p",)),
    _Rule(re.compile(r"""(?i)(?:^|(?<=\s))/p\s+"""), _EX_SWITCH_SLASH, when=_SIGNTOOL, value=_V, hints=("/p",)),
    # MSBuild /p:Name=Value when Name names a secret.
    _Rule(
        re.compile(r"""(?i)(?:^|(?<=\s))[/-]p(?:roperty)?:(?P<name>[^\s=;"']+)="""),
        _EX_BASE,
        accept=_secret_kv,
        value=_V,
        hints=("/p", "-p"),
    ),
    # schtasks /RP VALUE (run-as password; /RP alone or /RP * prompts).
    _Rule(re.compile(r"(?i)(?:^|(?<=\s))/rp(?::|\s+)"), _EX_SWITCH_SLASH, value=_V, hints=("/rp",)),
    # aws configure set [profile.]aws_secret_access_key VALUE.
    _Rule(
        re.compile(
            r"""(?i)\baws(?:\.exe)?"?\s+configure\s+set\s+(?:[\w.-]*\.)?"""
            r"""(?:aws_secret_access_key|aws_session_token|aws_access_key_id)\s+"""
        ),
        _EX_BASE,
        value=_V,
        hints=("configure",),
    ),
    # setx [/s C] [/u U] [/p P] [/m] NAME VALUE where NAME names a secret (setx /?). At most its four
    # switches, read possessively: an open-ended loop rescanned to the end for every `setx /m /s`.
    _Rule(
        re.compile(
            r"""(?i)\bsetx(?:\.exe)?(?:\s+/(?:[sup]\s+[^\s/]\S*|m(?=\s))){0,4}+\s+"?(?P<name>[A-Za-z][\w.-]{0,63})"?\s+"""
        ),
        _EX_BASE,
        accept=_secret_kv,
        value=_V,
        hints=("setx",),
    ),
    # netsh wlan set hostednetwork ... key=VALUE (in `show profile key=clear` it is a mode);
    # netsh wlan set profileparameter ... keyMaterial=VALUE.
    _Rule(re.compile(r"""(?i)(?:^|(?<=\s))key="""), _EX_BASE, when=_HOSTED_NETWORK, value=_V, hints=("key=",)),
    _Rule(re.compile(r"""(?i)(?:^|(?<=\s))keymaterial="""), _EX_BASE, when=_NETSH, value=_V, hints=("keymaterial=",)),
    # az keyvault secret set ... --value VALUE: whatever the secret is called, its value is one.
    _Rule(
        re.compile(r"""(?i)(?:^|(?<=\s))--value(?:\s+|=)"""),
        _EX_SWITCH,
        when=_KEYVAULT_SET,
        value=_V,
        hints=("--value",),
    ),
    # ldifde/csvde -b user domain password (the third argument; `*` prompts).
    _Rule(
        re.compile(rf"""(?:^|(?<=\s))[-/]b\s+{_ARG}\s+{_ARG}\s+"""),
        _EX_SWITCH,
        when=_LDIFDE,
        value=_V,
        hints=("-b", "/b"),
    ),
    # bitsadmin /setcredentials job target scheme user password.
    _Rule(
        re.compile(rf"""(?i)(?:^|(?<=\s))/setcredentials\s+{_ARG}\s+{_ARG}\s+{_ARG}\s+{_ARG}\s+"""),
        _EX_BASE,
        value=_V,
        hints=("/setcredentials",),
    ),
    # vaultcmd /addcreds:... /identity:user /authenticator:password (only vaultcmd: certbot's
    # --authenticator names a plugin).
    _Rule(
        re.compile(r"""(?i)(?:^|(?<=\s))/authenticator:"""),
        _EX_BASE,
        when=_VAULTCMD,
        value=_V,
        hints=("/authenticator:",),
    ),
    # [Environment]::SetEnvironmentVariable('NAME', 'VALUE', ...) where NAME names a secret.
    _Rule(
        re.compile(r"""(?i)SetEnvironmentVariable\s*\(\s*\\?["'](?P<name>[\w.-]{1,64})\\?["']\s*,\s*"""),
        _EX_BASE,
        accept=_secret_kv,
        value=_V_QUOTED,
        ps_syntax=True,
        hints=("setenvironmentvariable",),
    ),
    # manage-bde -rp VALUE (the short form of -RecoveryPassword; -rp alone makes a new one).
    _Rule(re.compile(r"""(?i)(?:^|(?<=\s))-rp\s+"""), _EX_SWITCH, when=_MANAGE_BDE, value=_V, hints=("-rp",)),
    # nuget setapikey KEY [-Source URL].
    _Rule(
        re.compile(r"""(?i)\bnuget(?:\.exe)?"?\s+setapikey\s+"""),
        _EX_SWITCH,
        value=_V,
        hints=("setapikey",),
    ),
    # vault login [flags] TOKEN (flags are atomic: `-method userpass` never yields `userpass`).
    _Rule(
        re.compile(
            r"""(?i)(?<![\w-])vault(?:\.exe)?"?\s+login(?:\s+(?>-(?:(?:"""
            + _VAULT_VALUE_FLAGS
            + r""")\s+[^\s-]\S*|[^\s=]+(?:=\S*)?)))*+\s+"""
        ),
        _EX_SWITCH,
        value=_V,
        keep=_names_kv,
        hints=("login",),
    ),
    # Well-known token shapes wherever they appear.
    _Rule(re.compile(r"""\b(?P<bare>(?:AKIA|ASIA)[0-9A-Z]{16})\b"""), _EX_BASE, hints=("akia", "asia")),
    _Rule(re.compile(r"""\b(?P<bare>gh[pousr]_[A-Za-z0-9]{36,255})\b"""), _EX_BASE, hints=("gh",)),
    _Rule(re.compile(r"""\b(?P<bare>github_pat_[A-Za-z0-9_]{22,255})\b"""), _EX_BASE, hints=("github_pat",)),
    _Rule(re.compile(r"""\b(?P<bare>glpat-[A-Za-z0-9_-]{20,255})"""), _EX_BASE, hints=("glpat",)),
    _Rule(re.compile(r"""\b(?P<bare>xox[abprs]-[A-Za-z0-9-]{10,})\b"""), _EX_BASE, hints=("xox",)),
    _Rule(re.compile(r"""\b(?P<bare>AIza[0-9A-Za-z_-]{35})"""), _EX_BASE, hints=("aiza",)),
    # AWS secret access keys: 40 of [A-Za-z0-9/+], mixed case and a digit, on a line naming AWS.
    _Rule(
        re.compile(
            r"""(?<![A-Za-z0-9/+=])(?P<bare>(?=[^\s]{0,39}[A-Z])(?=[^\s]{0,39}[a-z])(?=[^\s]{0,39}[0-9])"""
            r"""[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"""
        ),
        _EX_BASE,
        when=_AWS,
        hints=("aws", "akia", "asia"),
    ),
)


def _rule_spans(line: _Line) -> Iterator[Span]:
    text = line.text
    low = line.lower
    for rule in _RULES:
        if rule.hints and not any(h in low for h in rule.hints):
            continue
        if rule.when is not None and not rule.when.search(text):
            continue
        if rule.unless is not None and rule.unless.search(text):
            continue
        pos = 0
        # A redacted value is skipped over (each is read once: linear time); anything else, including
        # a value that is the next switch, is searched again. A {braced} value is skipped over either
        # way: nothing in it is a new Name=, and rereading it is what made `pw={(pw={(...` quadratic.
        while (m := rule.pattern.search(text, pos)) is not None:
            pos = m.end() if m.end() > m.start() else m.start() + 1
            if rule.accept is not None and not rule.accept(m, line):
                continue
            reader = rule.value
            if reader is _V_KV and m.end() >= line.last_close:
                reader = _V_KV_NO_BRACE
            v = m if reader is None else reader.match(text, m.end())
            span = _value_span(v) if v is not None else None
            if span is None:
                continue
            if reader is _V_KV and v is not None and v.start("brace") >= 0:
                pos = max(pos, v.end())
            value = text[span[0] : span[1]]
            if rule.exempt.match(value) or (rule.keep is not None and rule.keep(m, value)):
                continue
            if (rule.ps_syntax or line.in_powershell(span[0])) and _EX_PS_REF.match(value):
                continue
            if rule.pass_sources and _PASS_SOURCE.search(value):
                continue
            pos = max(pos, span[1])
            yield span


# ------------------------------------------------------------------ net user / net use

_NET = re.compile(r"""(?i)(?<![\w.-])net1?(?:\.exe)?"?\s+(?P<verb>user|use)(?=\s|$)""")
# One argument as cmd hands it on: quoted parts and plain characters up to a space, & or |.
_NET_ARG = re.compile(r"""\s*(?P<arg>(?:"[^"]*(?:"|\Z)|[^\s"&|])+)""")
_NET_MAX_ARGS = 32
_NET_DEVICE = re.compile(r"(?i)^(?:[A-Z]:|\*|(?:LPT|COM)\d:?|PRN)$")


def _net_spans(ctx: _Line) -> Iterator[Span]:
    """`net user NAME PASSWORD` and `net use [DEVICE] \\\\server\\share PASSWORD` (Windows `net help`)."""
    line = ctx.text
    if "net" not in line.lower():
        return
    for m in _NET.finditer(line):
        pos = m.end()
        positional = 0
        # net takes a handful of arguments; the cap keeps hostile lines linear.
        for _ in range(_NET_MAX_ARGS):
            a = _NET_ARG.match(line, pos)
            if a is None:
                break
            pos = a.end()
            arg = a.group("arg")
            if arg.startswith("/"):
                continue
            positional += 1
            start, end = a.start("arg"), a.end("arg")
            if arg.startswith('"') and arg.endswith('"') and len(arg) >= 2:
                start, end = start + 1, end - 1
            elif arg.endswith('"') and arg.count('"') % 2:
                end -= 1  # the closing quote of an outer cmd /c "..."
            value = line[start:end]
            if m.group("verb").lower() == "user":
                secret = positional == 2
            else:
                unc = value.startswith("\\\\") or "://" in value
                secret = not unc and not (positional == 1 and _NET_DEVICE.match(value))
            if secret and ctx.in_powershell(start) and _EX_PS_REF.match(value):
                secret = False  # PowerShell hands net.exe the variable's value
            if secret and not _EX_BASE.match(value):
                yield start, end
                break
            if positional >= 3:
                break


# ------------------------------------------------------------------ -Name X ... -Value V, either order

# A command ends at ; & | or a newline; within one, a -Name/--name/-n (or az appconfig's --key) naming a
# secret makes its -Value one.
_NV_STEP = re.compile(r"""(?i)(?P<sep>[;&|\n])|(?:^|(?<=[\s(]))--?(?P<sw>name|n|key|value)(?:[:=][ \t]*|[ \t]+)""")


def _name_value_spans(line: _Line) -> Iterator[Span]:
    """`Set-ItemProperty -Value V -Name DefaultPassword`, `az keyvault secret set -n DbPassword --value V`."""
    text = line.text
    if "value" not in line.lower:
        return
    secret_name, values = False, list[Span]()
    pos = 0
    while (m := _NV_STEP.search(text, pos)) is not None:
        pos = m.end()
        if m.group("sep") is not None:
            if secret_name:
                yield from values
            secret_name, values = False, []
            continue
        if text.startswith("-", pos):
            continue  # the next switch: read it again
        v = _V.match(text, pos)
        span = _value_span(v) if v is not None else None
        if span is None:
            continue
        value = text[span[0] : span[1]]
        if _EX_SWITCH.match(value):
            continue
        pos = max(pos, span[1])
        if m.group("sw").lower() == "value":
            if not (line.ps_shaped and _EX_PS_REF.match(value)):
                values.append(span)
        elif _names_secret(value, kv=True):
            secret_name = True
    if secret_name:
        yield from values


# ------------------------------------------------------------------ Set-ItemProperty by position

# Set-ItemProperty [-Path] <String[]> [-Name] <String> [-Value] <Object> (learn.microsoft.com,
# Microsoft.PowerShell.Management/Set-ItemProperty): named parameters bind first, then the positional
# arguments fill Path, Name, Value in that order.
_SET_ITEM_PROPERTY = re.compile(r"(?i)(?<![\w-])Set-ItemProperty(?=\s)")
# Quotes may be unclosed (they run to the end, read once): a closed-only reader would rescan the rest of
# the line for every Set-ItemProperty on it.
_SIP_TOKEN = re.compile(rf"""[ \t]*(?:{_EQ}|{_DQ}|{_SQ}|(?P<bare>(?!\\")[^\s"';|&)}}][^\s"';|&)}}]*))""")
_SIP_MAX_TOKENS = 24
_SIP_POSITIONS = ("path", "name", "value")
# Its other parameters that take a value (a switch such as -Force or -PassThru takes none).
_SIP_VALUE_PARAMS = ("literalpath", "pspath", "lp", "psproperty", "inputobject", "filter", "include", "exclude",
                     "credential", "type")  # fmt: skip


def _sip_param(token: str) -> str | None:
    """'path', 'name', 'value', 'other' (takes a value) or None (a switch) for a -Parameter token."""
    name = token[1:].split(":", 1)[0].lower()
    if not name:
        return None
    if "name".startswith(name):
        return "name"
    if len(name) >= 2 and "value".startswith(name):
        return "value"
    if "path".startswith(name):
        return "path"
    if any(p.startswith(name) for p in _SIP_VALUE_PARAMS):
        return "other"
    return None


def _set_item_property_spans(line: _Line) -> Iterator[Span]:
    text = line.text
    if "itemproperty" not in line.lower:
        return
    pos = 0
    while (m := _SET_ITEM_PROPERTY.search(text, pos)) is not None:
        pos = m.end()
        named: dict[str, Span] = {}
        positional: list[Span] = []
        param: str | None = None  # the parameter waiting for its value
        for _ in range(_SIP_MAX_TOKENS):
            t = _SIP_TOKEN.match(text, pos)
            if t is None or t.end() == pos:
                break
            pos = t.end()
            span = _value_span(t)
            if span is None:
                break
            if t.group("dq") is not None and t.end("dq") == t.end():
                break  # unclosed: most likely the end of an outer -Command "..."
            unclosed = t.group("sq") is not None and t.end("sq") == t.end()
            if param is not None:
                named.setdefault(param, span)
                param = None
                continue
            bare = t.group("bare")
            if bare is not None and bare.startswith("-") and len(bare) > 1:
                kind = _sip_param(bare)
                head, colon, rest = bare.partition(":")
                if kind is not None and colon and rest:
                    named.setdefault(kind, (span[0] + len(head) + 1, span[1]))
                elif kind is not None and not colon:
                    param = kind
                continue
            positional.append(span)
            if unclosed:
                break
        for slot in _SIP_POSITIONS:
            if slot not in named and positional:
                named[slot] = positional.pop(0)
        if "name" not in named or "value" not in named:
            continue
        name = text[slice(*named["name"])]
        value = text[slice(*named["value"])]
        if _names_secret(name, kv=True) and not _EX_BASE.match(value) and not _EX_PS_REF.match(value):
            yield named["value"]


# ------------------------------------------------------------------ Autologon, pspasswd by position

# Sysinternals usage lines: `autologon [-accepteula] user domain password` and
# `pspasswd [[\\computer[,...] | @file] [-u user [-p psswd]]] Username [NewPassword]`.
# A command word, or a path ending in .exe: `HKLM\...\Autologon /v User /d bob` is a registry key.
_AUTOLOGON = re.compile(
    r"""(?i)(?:(?<![^\s"'(&|;])|(?<=[\\/])(?=autologon(?:64a?)?\.exe))autologon(?:64a?)?(?:\.exe)?"?(?=\s)"""
)
_PSPASSWD = re.compile(
    r"""(?i)(?:(?<![^\s"'(&|;])|(?<=[\\/])(?=pspasswd(?:64)?\.exe))pspasswd(?:64)?(?:\.exe)?"?(?=\s)"""
)
_PSPASSWD_VALUE_SWITCHES = frozenset({"-u", "-p"})
_TOOL_MAX_ARGS = 16


def _positional_spans(line: _Line, tool: re.Pattern[str], index: int, hint: str) -> Iterator[Span]:
    """The index-th (1-based) argument after `tool` that is not a switch, a \\\\computer or an @file."""
    text = line.text
    if hint not in line.lower:
        return
    pos = 0
    while (m := tool.search(text, pos)) is not None:
        pos = m.end()
        positional, skip = 0, False
        for _ in range(_TOOL_MAX_ARGS):
            a = _NET_ARG.match(text, pos)
            if a is None:
                break
            pos = a.end()
            arg = a.group("arg")
            if skip:
                skip = False
                continue
            if arg.startswith(("-", "/")):
                skip = arg.lower() in _PSPASSWD_VALUE_SWITCHES and tool is _PSPASSWD
                continue
            if arg.startswith(("\\\\", "@")) and tool is _PSPASSWD:
                continue
            positional += 1
            if positional < index:
                continue
            start, end = a.start("arg"), a.end("arg")
            if arg.startswith('"') and arg.endswith('"') and len(arg) >= 2:
                start, end = start + 1, end - 1
            value = text[start:end]
            if not _EX_BASE.match(value) and not (line.in_powershell(start) and _EX_PS_REF.match(value)):
                yield start, end
            break


# ------------------------------------------------------------------ ConvertTo-SecureString

_CTSS = re.compile(r"(?i)\bConvertTo-SecureString\b")
# The cmdlet's own arguments: up to an unquoted | ; ) } or end of line.
_CTSS_ARGS = re.compile(r"""(?:"(?:[^"`]|`[\s\S])*(?:"|\Z)|'(?:[^']|'')*(?:'|\Z)|[^|;)}\n"'])*""")
_CTSS_TOKEN = re.compile(r"\s*(?:" + _VALUE + ")")
# ... ending the outer -Command "..." too: `ConvertTo-SecureString 'x' -AsPlainText"`.
_AS_PLAIN_TEXT = re.compile(
    r"""(?i)(?:^|\s)-a(?:s(?:p(?:l(?:a(?:i(?:n(?:t(?:e(?:xt?)?)?)?)?)?)?)?)?)?(?::\$true)?(?=[\s"\\]|$)"""
)
_STRING_PARAM = re.compile(r"(?i)^-st(?:r(?:i(?:ng?)?)?)?:?$")
_VALUE_PARAMS = re.compile(r"(?i)^-(?:k(?:ey?)?|se(?:c(?:u(?:r(?:e(?:k(?:ey?)?)?)?)?)?)?)$")


def _piped_value(line: str, floor: int, pipe_end: int) -> Span | None:
    """The literal just before `| ConvertTo-SecureString` ('x', "x" or a bare word), read backwards."""
    before = line[floor:pipe_end].rstrip()
    if not before.endswith("|"):
        return None
    text = before[:-1].rstrip()
    end = len(text)
    if not text:
        return None
    if text[-1] in "'\"":
        quote = text[-1]
        start = text.rfind(quote, 0, end - 1)
        while quote == "'" and start > 0 and text[start - 1] == "'":  # '' inside '...'
            start = text.rfind(quote, 0, start - 1)
        if start < 0:
            return None
        return floor + start + 1, floor + end - 1
    start = max(text.rfind(c, 0, end) for c in " \t|\"'(") + 1
    return (floor + start, floor + end) if start < end else None


def _ctss_spans(line: str) -> Iterator[Span]:
    """ConvertTo-SecureString's plain text: -String X, the first positional, or `X | ConvertTo-...`."""
    if "securestring" not in line.lower():
        return
    starts = list(_CTSS.finditer(line))
    for i, m in enumerate(starts):
        stop = starts[i + 1].start() if i + 1 < len(starts) else len(line)
        args = _CTSS_ARGS.match(line, m.end(), stop)
        if args is None or not _AS_PLAIN_TEXT.search(args.group()):
            continue
        found: Span | None = None
        pos, end = m.end(), args.end()
        take_next, skip_next = False, False
        while found is None and (t := _CTSS_TOKEN.match(line, pos, end)) is not None and t.end() > pos:
            pos = t.end()
            token = line[t.start("bare") : t.end("bare")] if t.start("bare") >= 0 else None
            span = _value_span(t)
            if span is None or span[0] == span[1]:
                continue  # "" or the closing quote of an outer -Command "..."
            if take_next:
                found = span
            elif skip_next:
                skip_next = False
            elif token is not None and _STRING_PARAM.match(token):
                take_next = True
            elif token is not None and _VALUE_PARAMS.match(token):
                skip_next = True
            elif token is not None and token.startswith("-"):
                continue
            else:
                found = span
        if found is None:
            found = _piped_value(line, starts[i - 1].end() if i else 0, m.start())
        # a cmdlet's argument: PowerShell reads it, wherever the host process is
        if found is not None and not _EX_BASE.match(v := line[found[0] : found[1]]) and not _EX_PS_REF.match(v):
            yield found


# ------------------------------------------------------------------ redact


def redact(command_line: str) -> tuple[str, int]:
    """Return the command line with each credential value replaced by REDACTED, and how many."""
    line = _Line(command_line)
    found = [
        *_rule_spans(line),
        *_net_spans(line),
        *_ctss_spans(command_line),
        *_name_value_spans(line),
        *_set_item_property_spans(line),
        *_positional_spans(line, _AUTOLOGON, 3, "autologon"),
        *_positional_spans(line, _PSPASSWD, 2, "pspasswd"),
    ]
    spans = sorted(s for s in found if s[1] > s[0])
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
