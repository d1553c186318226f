"""Redaction of credentials in command lines (4688 CommandLine, Sysmon CommandLine).

`redact(command_line)` replaces each secret VALUE (not the switch naming it) with REDACTED and returns
how many it replaced. Spans found by all rules are merged first, so a secret two rules agree on counts
once and a replacement is never re-matched. The rest of the line is kept, so detections still see it.

How a value is read: "double quoted" (\\" `" and "" escape a quote; an unclosed quote runs to the end),
'single quoted' ('' escapes a quote, PowerShell), {braced} after `Name=` (ODBC, }} escapes), or a bare
token. A value is consumed only when it is redacted, so in `--verbose --password X` the second switch
is still seen; each rule reads each value once (linear time on hostile lines).

Which values a rule leaves alone (each rule names its own set; a too-wide set leaks secrets):
- everywhere: nothing given, `*` (the tool prompts for it), `%VAR%` (cmd expands it, so the secret
  shows, if anywhere, in the child's own 4688, which is redacted on its own);
- PowerShell-shaped rules (`-Password`, `Name=` in a string, ConvertTo-SecureString, headers): `$var`,
  `$env:X`, `(expression)`: a reference, not the secret. `net user bob $ecret` IS redacted: cmd and
  net.exe take `$` literally;
- space-separated switch values that start with `-` (the next switch, not a value);
- only `-p` (lower case, with a user switch): numbers and `N:N`, which are ports or PIDs there
  (`ssh -l u -p 22`, `docker run -u 1000 -p 8080:80`). Everywhere else a number is a password
  (`net user bob 12345678 /add`).

Decisions on near-misses (recall traded against false alarms):
- `-p VALUE` is a password only when the line also names a user (`-u`, `-U`, `/u`, `-user`, `--user`,
  `-l`): PsExec/docker style; alone it is a port or "parents" (`mkdir -p`); not for mysql, where
  `-p VALUE` means "prompt, then database VALUE". Attached `-pVALUE` counts for mysql and the archivers
  (7z, rar: also `-hp`).
- `-P` is the password of sqlcmd/osql/bcp/isql (or any line with `-U`) and of zip/unzip; never on a mysql
  line (port there).
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
  smbclient `-U user%X`, winrs `-p:X`, netdom `/pd:X`, redis-cli `-a`, sshpass `-p`, ldapsearch `-w`.
- runas takes no password on its command line: nothing to find there.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass

REDACTED = "********"

Span = tuple[int, int]

# ------------------------------------------------------------------ values

_DQ = r""""(?P<dq>(?:[^"\\`]|[\\`](?:[\s\S]|\Z)|"")*)(?:"|\Z)"""
_DQ_CLOSED = r'''"(?P<dq>(?:[^"\\`]|[\\`][\s\S]|"")*)"'''
_SQ = r"""'(?P<sq>(?:[^']|'')*)(?:'|\Z)"""
_SQ_CLOSED = r"""'(?P<sq>(?:[^']|'')*)'"""
_BARE = r"""(?P<bare>[^\s"'][^\s"]*)"""
# A switch value: "quoted", 'quoted', or a bare token.
_VALUE = f"(?:{_DQ}|{_SQ}|{_BARE})"
# `Name=value` in a string: braced (ODBC), quoted, or bare up to ; & | or a quote.
_KV_VALUE = rf"""(?:\{{(?P<brace>(?:[^}}]|\}}\}})*)\}}|{_DQ_CLOSED}|{_SQ_CLOSED}|(?P<bare>[^\s;&"'|]+))"""

_V = re.compile(_VALUE)
_V_KV = re.compile(_KV_VALUE)
_V_QUOTED = re.compile(f"(?:{_DQ_CLOSED}|{_SQ_CLOSED})")

_BLANK = r"|\*|%[A-Za-z_][\w()]*%"
_PS_REF = r"\$[A-Za-z_{][\w:{}.]*|\$?\(.*|@\(.*"
_DASH = r"-.*"
_SLASH = r"/.*"
_PORT = r"\d+(?::\d+)*"


def _exempt(*parts: str) -> re.Pattern[str]:
    return re.compile("^(?:" + "|".join(parts) + ")$", re.DOTALL)


_EX_BASE = _exempt(_BLANK)
_EX_PS = _exempt(_BLANK, _PS_REF)
_EX_PS_SWITCH = _exempt(_BLANK, _PS_REF, _DASH)
_EX_PS_SWITCH_SLASH = _exempt(_BLANK, _PS_REF, _DASH, _SLASH)
_EX_PORT = _exempt(_BLANK, _PS_REF, _DASH, _PORT)
# Openssl's password sources other than pass: (openssl-passphrase-options: env:, file:, fd:, stdin).
_PASS_SOURCE = re.compile(r"(?i)^(?:pass|env|file|fd):|^stdin$")


def _value_span(m: re.Match[str]) -> Span | None:
    for group in ("dq", "sq", "brace", "bare"):
        try:
            start = m.start(group)
        except IndexError:
            continue
        if start >= 0:
            return start, m.end(group)
    return None


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
# Run together without a separator (`adminpassword`, `dbtoken`, keytool's `-storepass`); short words
# (pw, pass) are left out so `/uniquepw:5` and `--bypass` are not taken.
_LONG_WORDS = tuple("password passwd passphrase secret token apikey secretkey accesskey storepass keypass".split())
# Names read as secrets only in `Name=value` (SAS signatures in URLs, Azure connection strings).
_KV_ONLY = frozenset({"sig", "sharedaccesssignature"})


def _names_secret(name: str, *, kv: bool = False) -> bool:
    parts = [p.lower() for p in re.split(r"[-_.]", _CAMEL.sub("-", name)) if p]
    if not parts or parts[0] == "no":
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
    accept: Callable[[re.Match[str]], bool] | None = None  # checked before the value is read
    value: re.Pattern[str] | None = None  # the value, read where `pattern` ends
    pass_sources: bool = False  # leave openssl-style sources (env:X, file:X, stdin) alone
    hints: tuple[str, ...] = ()  # run only on lines holding one of these (lower case): most lines skip most rules


_MYSQL = re.compile(r"(?i)\bmysql(?:dump|admin)?(?:\.exe)?\b")
_SQL_TOOL_OR_U = re.compile(r"(?i)\b(?:sqlcmd|osql|bcp|isql)(?:\.exe)?\b|(?:^|\s)-U(?:\s|$)")
_ZIP_TOOL = re.compile(r"(?i)(?<![\w-])(?:un)?zip(?:\.exe)?(?:\s|\"|$)")
_USER_SWITCH = re.compile(r"""(?:^|\s)(?:-u|-U|/u|/user|-user|--user|--username|-l|-UserName|-Username)(?:[\s:=]|$)""")
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
_START = r"(?:^|(?<=[\s(\"']))"


def _secret_switch(m: re.Match[str]) -> bool:
    return _names_secret(m.group("name"))


def _secret_kv(m: re.Match[str]) -> bool:
    return _names_secret(m.group("name"), kv=True)


# Every name _names_secret accepts holds one of these.
_SECRET_HINTS = ("pass", "pw", "secret", "token", "key", "ntlm", "hash", "rc4", "aes")
_KV_HINTS = (*_SECRET_HINTS, "sig")


_RULES: tuple[_Rule, ...] = (
    # A switch naming a secret, attached (`--password=X`, `/pass:X`, `-Password:X`): any value.
    _Rule(
        re.compile(_START + r"(?:--?|/)(?P<name>[A-Za-z][\w-]{0,63})[:=]"),
        _EX_PS,
        accept=_secret_switch,
        value=_V,
        pass_sources=True,
        hints=_SECRET_HINTS,
    ),
    # ... or separated by spaces: a value starting with '-' is the next switch.
    _Rule(
        re.compile(_START + r"(?:--?|/)(?P<name>[A-Za-z][\w-]{0,63})\s+"),
        _EX_PS_SWITCH,
        accept=_secret_switch,
        value=_V,
        pass_sources=True,
        hints=_SECRET_HINTS,
    ),
    # Name=value and Name: value in connection strings, query strings, headers, JSON, env vars, sc.exe.
    _Rule(
        re.compile(r"""(?<![\w.$])(?P<name>[A-Za-z_][\w.-]{0,63})["']?(?:\s*=\s*|\s*:[ \t]*)"""),
        _EX_PS,
        accept=_secret_kv,
        value=_V_KV,
        hints=_KV_HINTS,
    ),
    # PowerShell $password = 'literal' (a quoted literal only: anything else is a command or expression).
    _Rule(
        re.compile(r"""\$(?P<name>[A-Za-z_][\w]{0,63})\s*=\s*"""),
        _EX_PS,
        accept=_secret_kv,
        value=_V_QUOTED,
        hints=_SECRET_HINTS,
    ),
    # [Net.NetworkCredential]::new('user', 'password') / New-Object ...NetworkCredential('user', 'password').
    _Rule(
        re.compile(r"""(?i)NetworkCredential(?:\]::new)?\s*\(\s*(?:"[^"]*"|'[^']*'|[^,()\s]+)\s*,\s*"""),
        _EX_PS,
        value=_V_QUOTED,
        hints=("networkcredential",),
    ),
    # reg add ... /v DefaultPassword [/t REG_SZ] /d VALUE; Set-/New-ItemProperty -Name X -Value VALUE.
    _Rule(
        re.compile(r"""(?i)(?:^|(?<=\s))/v\s+"?(?P<name>[\w.-]{1,64})"?(?:\s+/t\s+\S+)?\s+/d\s+"""),
        _EX_PS,
        accept=_secret_kv,
        value=_V,
        hints=_SECRET_HINTS,
    ),
    _Rule(
        re.compile(
            r"""(?i)(?:^|(?<=\s))-Name\s+["']?(?P<name>[\w.-]{1,64})["']?(?:\s+-(?:Path|PropertyType|Type)"""
            r"""\s+\S+)*\s+-Value\s+"""
        ),
        _EX_PS,
        accept=_secret_kv,
        value=_V,
        hints=_SECRET_HINTS,
    ),
    # Authorization: Bearer X; @{Authorization="Basic X"} (curl -H, Invoke-RestMethod -Headers).
    _Rule(
        re.compile(
            r"""(?i)\bAuthorization["']?\s*[:=]\s*["']?\s*(?:Bearer|Basic|Token|Digest|NTLM|Negotiate)"""
            r"""\s+(?P<bare>[^\s"']+)"""
        ),
        _EX_PS,
        hints=("authorization",),
    ),
    # curl -u user:pass, -uuser:pass, --user=user:pass, --proxy-user, -U (the part after the first colon).
    _Rule(
        re.compile(
            r"""(?:^|(?<=\s))(?:-u|-U|--user|--proxy-user)(?:\s+|=|(?<=-u)(?=[^\s-])|(?<=-U)(?=[^\s-]))"""
            r"""(?:"[^":]*:(?P<dq>[^"]*)"|'[^':]*:(?P<sq>[^']*)'|[^\s:"']+:(?P<bare>[^\s"']+))"""
        ),
        _EX_PS,
        hints=("-u",),
    ),
    # scheme://user:pass@host
    _Rule(
        re.compile(r"""(?i)\b[a-z][a-z0-9+.-]{0,30}://[^\s/:@"']{1,256}:(?P<bare>[^\s/@"']{1,1024})@"""),
        _EX_PS,
        hints=("://",),
    ),
    # -p VALUE with a user switch (PsExec, docker login, plink -l): ports and PIDs left alone.
    _Rule(re.compile(r"(?:^|(?<=\s))-p\s+"), _EX_PORT, when=_USER_SWITCH, unless=_MYSQL, value=_V, hints=("-p",)),
    # mysql -pVALUE (attached; a space means "prompt").
    _Rule(re.compile(r"(?:^|(?<=\s))-p(?=[^\s-])"), _EX_PS, when=_MYSQL, value=_V, hints=("-p",)),
    # sqlcmd -P VALUE / -PVALUE.
    _Rule(
        re.compile(r"(?:^|(?<=\s))-P(?:\s+|(?=\S))"),
        _EX_PS_SWITCH,
        when=_SQL_TOOL_OR_U,
        unless=_MYSQL,
        value=_V,
        hints=("-p",),
    ),
    # zip -P VALUE.
    _Rule(re.compile(r"(?:^|(?<=\s))-P\s+"), _EX_PS_SWITCH, when=_ZIP_TOOL, value=_V, hints=("-p",)),
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
    _Rule(re.compile(r"(?:^|(?<=\s))-k\s+"), _EX_PS_SWITCH, when=_OPENSSL, value=_V, hints=("-k",)),
    # redis-cli -a, sshpass -p, ldapsearch/ldapmodify -w, netdom /pd: /po:.
    _Rule(re.compile(r"(?:^|(?<=\s))-a\s+"), _EX_PS_SWITCH, when=_REDIS, value=_V, hints=("-a",)),
    _Rule(re.compile(r"(?:^|(?<=\s))-p\s*"), _EX_PS_SWITCH, when=_SSHPASS, value=_V, hints=("-p",)),
    _Rule(re.compile(r"(?:^|(?<=\s))-w\s+"), _EX_PS_SWITCH, when=_LDAP, value=_V, hints=("-w",)),
    _Rule(re.compile(r"(?i)(?:^|(?<=\s))/p[do](?::|\s+)"), _EX_PS_SWITCH_SLASH, when=_NETDOM, value=_V, hints=("/p",)),
    # smbclient/rpcclient -U user%password.
    _Rule(
        re.compile(r"""(?:^|(?<=\s))(?:-U|--user)(?:\s+|=)["']?[^\s%"']+%(?P<bare>[^\s"']+)"""), _EX_PS, hints=("%",)
    ),
    # impacket-style targets: [domain/]user:password@host.
    _Rule(
        re.compile(r"""(?:^|(?<=\s))(?:[\w.-]+/)?[\w.$-]+:(?P<bare>[^\s@/:"']+)@[\w.-]+(?=\s|$)"""),
        _EX_PS,
        hints=("@",),
    ),
    # npm config set [//registry/:]_authToken VALUE.
    _Rule(
        re.compile(r"""(?i)\bnpm(?:\.cmd)?\s+config\s+set\s+(?:\S*:)?(?P<name>[A-Za-z_][\w-]{0,63})\s+"""),
        _EX_PS,
        accept=_secret_kv,
        value=_V,
        hints=("npm",),
    ),
    # certutil -p VALUE (PFX password).
    _Rule(re.compile(r"(?:^|(?<=\s))-p\s+"), _EX_PS_SWITCH, when=_CERTUTIL, value=_V),
    # /p:VALUE (no '=', hints=("-p",)), and /p VALUE where a /u, /user or /ru names the account, or signtool.
    _Rule(re.compile(r"""(?i)(?:^|(?<=\s))[/-]p:(?![^\s"']*=)"""), _EX_PS, value=_V, hints=("/p:", "-p:")),
    _Rule(re.compile(r"""(?i)(?:^|(?<=\s))/p\s+"""), _EX_PS_SWITCH_SLASH, when=_SLASH_USER, value=_V, hints=("/p",)),
    _Rule(re.compile(r"""(?i)(?:^|(?<=\s))/p\s+"""), _EX_PS_SWITCH_SLASH, when=_SIGNTOOL, value=_V, hints=("/p",)),
    # MSBuild /p:Name=Value when Name names a secret.
    _Rule(
        re.compile(r"""(?i)(?:^|(?<=\s))[/-]p(?:roperty)?:(?P<name>[^\s=;"']+)="""),
        _EX_PS,
        accept=lambda m: _names_secret(m.group("name"), kv=True),
        value=_V,
        hints=("/p", "-p"),
    ),
    # schtasks /RP VALUE (run-as password; /RP alone or /RP * prompts).
    _Rule(re.compile(r"(?i)(?:^|(?<=\s))/rp(?::|\s+)"), _EX_PS_SWITCH_SLASH, value=_V, hints=("/rp",)),
    # aws configure set [profile.]aws_secret_access_key VALUE.
    _Rule(
        re.compile(
            r"""(?i)\baws(?:\.exe)?"?\s+configure\s+set\s+(?:[\w.-]*\.)?"""
            r"""(?:aws_secret_access_key|aws_session_token|aws_access_key_id)\s+"""
        ),
        _EX_PS,
        value=_V,
        hints=("configure",),
    ),
    # setx NAME VALUE where NAME names a secret.
    _Rule(
        re.compile(r"""(?i)\bsetx(?:\.exe)?\s+"?(?P<name>[A-Za-z][\w.-]{0,63})"?\s+"""),
        _EX_PS,
        accept=_secret_kv,
        value=_V,
        hints=("setx",),
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


def _rule_spans(line: str) -> Iterator[Span]:
    low = line.lower()
    for rule in _RULES:
        if rule.hints and not any(h in low for h in rule.hints):
            continue
        if rule.when is not None and not rule.when.search(line):
            continue
        if rule.unless is not None and rule.unless.search(line):
            continue
        pos = 0
        # A redacted value is skipped over (each is read once: linear time); anything else, including
        # a value that is the next switch, is searched again.
        while (m := rule.pattern.search(line, pos)) is not None:
            pos = m.end() if m.end() > m.start() else m.start() + 1
            if rule.accept is not None and not rule.accept(m):
                continue
            v = m if rule.value is None else rule.value.match(line, m.end())
            span = _value_span(v) if v is not None else None
            if span is None or rule.exempt.match(line[span[0] : span[1]]):
                continue
            if rule.pass_sources and _PASS_SOURCE.search(line[span[0] : span[1]]):
                continue
            pos = max(pos, span[1])
            yield span


# ------------------------------------------------------------------ net user / net use

_NET = re.compile(r"""(?i)(?<![\w.-])net1?(?:\.exe)?"?\s+(?P<verb>user|use)(?=\s|$)""")
# One argument as cmd hands it on: quoted parts and plain characters up to a space, & or |.
_NET_ARG = re.compile(r"""\s*(?P<arg>(?:"[^"]*(?:"|\Z)|[^\s"&|])+)""")
_NET_MAX_ARGS = 32
_NET_DEVICE = re.compile(r"(?i)^(?:[A-Z]:|\*|(?:LPT|COM)\d:?|PRN)$")


def _net_spans(line: str) -> Iterator[Span]:
    """`net user NAME PASSWORD` and `net use [DEVICE] \\\\server\\share PASSWORD` (Windows `net help`)."""
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
            if secret and not _EX_BASE.match(value):
                yield start, end
                break
            if positional >= 3:
                break


# ------------------------------------------------------------------ ConvertTo-SecureString

_CTSS = re.compile(r"(?i)\bConvertTo-SecureString\b")
# The cmdlet's own arguments: up to an unquoted | ; ) } or end of line.
_CTSS_ARGS = re.compile(r"""(?:"(?:[^"`]|`[\s\S])*(?:"|\Z)|'(?:[^']|'')*(?:'|\Z)|[^|;)}\n"'])*""")
_CTSS_TOKEN = re.compile(r"\s*(?:" + _VALUE + ")")
_AS_PLAIN_TEXT = re.compile(
    r"(?i)(?:^|\s)-a(?:s(?:p(?:l(?:a(?:i(?:n(?:t(?:e(?:xt?)?)?)?)?)?)?)?)?)?(?::\$true)?(?=\s|$)"
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
        if found is not None and not _EX_PS.match(line[found[0] : found[1]]):
            yield found


# ------------------------------------------------------------------ redact


def redact(command_line: str) -> tuple[str, int]:
    """Return the command line with each credential value replaced by REDACTED, and how many."""
    found = [*_rule_spans(command_line), *_net_spans(command_line), *_ctss_spans(command_line)]
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
