"""The rule table: which switches, names and token shapes hold a secret, and which of their values
are not one (the package docstring explains each decision). engine.py applies the table."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from auditplan.collect.redact.line import (
    EX_BASE,
    EX_PORT,
    EX_SWITCH,
    EX_SWITCH_SLASH,
    SQL_TOOL,
    V_KV,
    V_QUOTED,
    Line,
    V,
)

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


def names_secret(name: str, *, kv: bool = False) -> bool:
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
    accept: Callable[[re.Match[str], Line], bool] | None = None  # checked before the value is read
    value: re.Pattern[str] | None = None  # the value, read where `pattern` ends
    pass_sources: bool = False  # leave openssl-style sources (env:X, file:X, stdin) alone
    keep: Callable[[re.Match[str], str], bool] | None = None  # this value is not a secret here
    ps_syntax: bool = False  # PowerShell-only syntax: `$x` and `(...)` are references wherever it is
    hints: tuple[str, ...] = ()  # run only on lines holding one of these (lower case): most lines skip most rules


_MYSQL = re.compile(r"(?i)\bmysql(?:dump|admin)?(?:\.exe)?\b")
# sqlcmd-style -P applies after a SQL tool, or after an upper-case -U (case-sensitive: rsync/scp -u is
# not a user switch, and their -P is not a password).
_SQL_TOOL_OR_U = re.compile(SQL_TOOL.pattern + r"|(?-i:(?:^|\s)-U(?:\s|$))")
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


def _secret_switch(m: re.Match[str], _: Line) -> bool:
    return names_secret(m.group("name"))


def _secret_kv(m: re.Match[str], _: Line) -> bool:
    return names_secret(m.group("name"), kv=True)


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


def _sql_attached(m: re.Match[str], line: Line) -> bool:
    """sqlcmd `-PVALUE`; on PowerShell lines `-P` + a letter is a parameter (-Path, -PacketSize)
    unless a native sqlcmd/osql/bcp/isql comes before it."""
    nxt = line.text[m.end() : m.end() + 1]
    return not nxt.isalpha() or not line.ps_shaped or line.sql_tool < m.start()


# Every name names_secret accepts holds one of these.
_SECRET_HINTS = ("pass", "pw", "secret", "token", "key", "ntlm", "hash", "rc4", "aes")
_KV_HINTS = (*_SECRET_HINTS, "sig")


RULES: tuple[_Rule, ...] = (
    # A switch naming a secret, attached (`--password=X`, `/pass:X`, `-Password:X`): any value.
    _Rule(
        re.compile(_START + r"(?:--?|/)(?P<name>[A-Za-z][\w-]{0,63})[:=]"),
        EX_BASE,
        accept=_secret_switch,
        value=V,
        pass_sources=True,
        keep=_pass_number,
        hints=_SECRET_HINTS,
    ),
    # ... or separated by spaces: a value starting with '-' is the next switch.
    _Rule(
        re.compile(_START + r"(?:--?|/)(?P<name>[A-Za-z][\w-]{0,63})\s+"),
        EX_SWITCH,
        accept=_secret_switch,
        value=V,
        pass_sources=True,
        keep=_pass_number,
        hints=_SECRET_HINTS,
    ),
    # Name=value and Name: value in connection strings, query strings, headers, JSON, env vars, sc.exe.
    _Rule(
        re.compile(r"""(?<![\w.$])(?P<name>[A-Za-z_][\w.-]{0,63})["']?(?:\s*=\s*|\s*:[ \t]*)"""),
        EX_BASE,
        accept=_secret_kv,
        value=V_KV,
        keep=_pass_number,
        hints=_KV_HINTS,
    ),
    # PowerShell $password = 'literal' (a quoted literal only: anything else is a command or expression).
    _Rule(
        re.compile(r"""\$(?P<name>[A-Za-z_][\w]{0,63})\s*=\s*"""),
        EX_BASE,
        accept=_secret_kv,
        value=V_QUOTED,
        ps_syntax=True,
        hints=_SECRET_HINTS,
    ),
    # [Net.NetworkCredential]::new('user', 'password') / New-Object ...NetworkCredential('user', 'password').
    _Rule(
        re.compile(r"""(?i)NetworkCredential(?:\]::new)?\s*\(\s*(?:"[^"]*"|'[^']*'|[^,()\s]+)\s*,\s*"""),
        EX_BASE,
        value=V_QUOTED,
        ps_syntax=True,
        hints=("networkcredential",),
    ),
    # reg add ... /v DefaultPassword [/t REG_SZ] /d VALUE; Set-/New-ItemProperty -Name X -Value VALUE.
    _Rule(
        re.compile(r"""(?i)(?:^|(?<=\s))/v\s+"?(?P<name>[\w.-]{1,64})"?(?:\s+/t\s+\S+)?\s+/d\s+"""),
        EX_BASE,
        accept=_secret_kv,
        value=V,
        hints=_SECRET_HINTS,
    ),
    _Rule(
        re.compile(
            r"""(?i)(?:^|(?<=\s))-Name\s+["']?(?P<name>[\w.-]{1,64})["']?(?:\s+-(?:Path|PropertyType|Type)"""
            r"""\s+\S+)*\s+-Value\s+"""
        ),
        EX_BASE,
        accept=_secret_kv,
        value=V,
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
        EX_BASE,
        hints=("authorization",),
    ),
    # curl -u user:pass, -uuser:pass, --user=user:pass, --proxy-user, -U (the part after the first colon).
    # `-user:bob`, `-username:bob`, `-userid:bob` (wbadmin, agents) name the switch: the account stays.
    _Rule(
        re.compile(
            r"""(?:^|(?<=\s))(?:-u|-U|--user|--proxy-user)(?:\s+|=|(?<=-[uU])(?=[^\s-])(?!(?i:ser(?:name|id)?)[:=]))"""
            r"""(?:"[^":]*:(?!//)(?P<dq>[^"]*)"|'[^':]*:(?!//)(?P<sq>[^']*)'|[^\s:"']+:(?!//)(?P<bare>[^\s"']+))"""
        ),
        EX_BASE,
        hints=("-u",),
    ),
    # scheme://user:pass@host
    _Rule(
        re.compile(r"""(?i)\b[a-z][a-z0-9+.-]{0,30}://[^\s/:@"']{1,256}:(?P<bare>[^\s/@"']{1,1024})@"""),
        EX_BASE,
        hints=("://",),
    ),
    # -p VALUE with a user switch (PsExec, docker login, plink -l): ports and PIDs left alone.
    _Rule(
        re.compile(r"(?:^|(?<=\s))-p\s+"),
        EX_PORT,
        when=_USER_SWITCH,
        unless=_MYSQL,
        value=V,
        keep=_file_path,
        hints=("-p",),
    ),
    # mysql -pVALUE (attached; a space means "prompt").
    _Rule(re.compile(r"(?:^|(?<=\s))-p(?=[^\s-])"), EX_BASE, when=_MYSQL, value=V, hints=("-p",)),
    # sqlcmd -P VALUE / -PVALUE.
    _Rule(re.compile(r"(?:^|(?<=\s))-P\s+"), EX_SWITCH, when=_SQL_TOOL_OR_U, unless=_MYSQL, value=V, hints=("-p",)),
    _Rule(
        re.compile(r"(?:^|(?<=\s))-P(?=\S)"),
        EX_SWITCH,
        when=_SQL_TOOL_OR_U,
        unless=_MYSQL,
        accept=_sql_attached,
        value=V,
        hints=("-p",),
    ),
    # zip -P VALUE.
    _Rule(re.compile(r"(?:^|(?<=\s))-P\s+"), EX_SWITCH, when=_ZIP_TOOL, value=V, hints=("-p",)),
    # 7z/rar -pVALUE, rar -hpVALUE.
    _Rule(re.compile(r"(?i)(?:^|(?<=\s))-h?p(?=\S)"), EX_BASE, when=_ARCHIVER, value=V, hints=("-p", "-hp")),
    # openssl -passin/-passout/-pass/-password pass:VALUE, and enc's -k VALUE.
    _Rule(
        re.compile(
            r"(?i)(?:^|(?<=\s))-(?:passin|passout|pass|password|passphrase)\s+[\"']?pass:"
            r"""(?P<bare>(?:[^\s"'])+)"""
        ),
        EX_BASE,
        hints=("pass:",),
    ),
    _Rule(re.compile(r"(?:^|(?<=\s))-k\s+"), EX_SWITCH, when=_OPENSSL, value=V, hints=("-k",)),
    # redis-cli -a, sshpass -p, ldapsearch/ldapmodify -w, netdom /PasswordD: /PasswordO: (and /pd: /po:).
    _Rule(re.compile(r"(?:^|(?<=\s))-a\s+"), EX_SWITCH, when=_REDIS, value=V, hints=("-a",)),
    _Rule(re.compile(r"(?:^|(?<=\s))-p\s*"), EX_SWITCH, when=_SSHPASS, value=V, hints=("-p",)),
    _Rule(re.compile(r"(?:^|(?<=\s))-w\s+"), EX_SWITCH, when=_LDAP, value=V, hints=("-w",)),
    _Rule(
        re.compile(r"(?i)(?:^|(?<=\s))/p(?:assword)?[do](?::|\s+)"),
        EX_SWITCH_SLASH,
        when=_NETDOM,
        value=V,
        hints=("/p",),
    ),
    # smbclient/rpcclient -U user%password.
    _Rule(
        re.compile(r"""(?:^|(?<=\s))(?:-U|--user)(?:\s+|=)["']?[^\s%"']+%(?P<bare>[^\s"']+)"""), EX_BASE, hints=("%",)
    ),
    # impacket-style targets: [domain/]user:password@host.
    _Rule(
        re.compile(r"""(?:^|(?<=\s))(?:[\w.-]+/)?[\w.$-]+:(?P<bare>[^\s@/:"']+)@[\w.-]+(?=\s|$)"""),
        EX_BASE,
        hints=("@",),
    ),
    # npm config set [//registry/:]_authToken VALUE.
    _Rule(
        re.compile(r"""(?i)\bnpm(?:\.cmd)?\s+config\s+set\s+(?:\S*:)?(?P<name>[A-Za-z_][\w-]{0,63})\s+"""),
        EX_BASE,
        accept=_secret_kv,
        value=V,
        hints=("npm",),
    ),
    # certutil -p VALUE (PFX password).
    _Rule(re.compile(r"(?:^|(?<=\s))-p\s+"), EX_SWITCH, when=_CERTUTIL, value=V, hints=("certutil",)),
    # /p:VALUE (no '='), and /p VALUE where a /u, /user or /ru names the account, or signtool.
    _Rule(re.compile(r"""(?i)(?:^|(?<=\s))[/-]p:(?![^\s"']*=)"""), EX_BASE, value=V, hints=("/p:", "-p:")),
    _Rule(re.compile(r"""(?i)(?:^|(?<=\s))/p\s+"""), EX_SWITCH_SLASH, when=_SLASH_USER, value=V, hints=("/p",)),
    _Rule(re.compile(r"""(?i)(?:^|(?<=\s))/p\s+"""), EX_SWITCH_SLASH, when=_SIGNTOOL, value=V, hints=("/p",)),
    # MSBuild /p:Name=Value when Name names a secret.
    _Rule(
        re.compile(r"""(?i)(?:^|(?<=\s))[/-]p(?:roperty)?:(?P<name>[^\s=;"']+)="""),
        EX_BASE,
        accept=_secret_kv,
        value=V,
        hints=("/p", "-p"),
    ),
    # schtasks /RP VALUE (run-as password; /RP alone or /RP * prompts).
    _Rule(re.compile(r"(?i)(?:^|(?<=\s))/rp(?::|\s+)"), EX_SWITCH_SLASH, value=V, hints=("/rp",)),
    # aws configure set [profile.]aws_secret_access_key VALUE.
    _Rule(
        re.compile(
            r"""(?i)\baws(?:\.exe)?"?\s+configure\s+set\s+(?:[\w.-]*\.)?"""
            r"""(?:aws_secret_access_key|aws_session_token|aws_access_key_id)\s+"""
        ),
        EX_BASE,
        value=V,
        hints=("configure",),
    ),
    # setx [/s C] [/u U] [/p P] [/m] NAME VALUE where NAME names a secret (setx /?). At most its four
    # switches, read possessively: an open-ended loop rescanned to the end for every `setx /m /s`.
    _Rule(
        re.compile(
            r"""(?i)\bsetx(?:\.exe)?(?:\s+/(?:[sup]\s+[^\s/]\S*|m(?=\s))){0,4}+\s+"?(?P<name>[A-Za-z][\w.-]{0,63})"?\s+"""
        ),
        EX_BASE,
        accept=_secret_kv,
        value=V,
        hints=("setx",),
    ),
    # netsh wlan set hostednetwork ... key=VALUE (in `show profile key=clear` it is a mode);
    # netsh wlan set profileparameter ... keyMaterial=VALUE.
    _Rule(re.compile(r"""(?i)(?:^|(?<=\s))key="""), EX_BASE, when=_HOSTED_NETWORK, value=V, hints=("key=",)),
    _Rule(re.compile(r"""(?i)(?:^|(?<=\s))keymaterial="""), EX_BASE, when=_NETSH, value=V, hints=("keymaterial=",)),
    # az keyvault secret set ... --value VALUE: whatever the secret is called, its value is one.
    _Rule(
        re.compile(r"""(?i)(?:^|(?<=\s))--value(?:\s+|=)"""),
        EX_SWITCH,
        when=_KEYVAULT_SET,
        value=V,
        hints=("--value",),
    ),
    # ldifde/csvde -b user domain password (the third argument; `*` prompts).
    _Rule(
        re.compile(rf"""(?:^|(?<=\s))[-/]b\s+{_ARG}\s+{_ARG}\s+"""),
        EX_SWITCH,
        when=_LDIFDE,
        value=V,
        hints=("-b", "/b"),
    ),
    # bitsadmin /setcredentials job target scheme user password.
    _Rule(
        re.compile(rf"""(?i)(?:^|(?<=\s))/setcredentials\s+{_ARG}\s+{_ARG}\s+{_ARG}\s+{_ARG}\s+"""),
        EX_BASE,
        value=V,
        hints=("/setcredentials",),
    ),
    # vaultcmd /addcreds:... /identity:user /authenticator:password (only vaultcmd: certbot's
    # --authenticator names a plugin).
    _Rule(
        re.compile(r"""(?i)(?:^|(?<=\s))/authenticator:"""),
        EX_BASE,
        when=_VAULTCMD,
        value=V,
        hints=("/authenticator:",),
    ),
    # [Environment]::SetEnvironmentVariable('NAME', 'VALUE', ...) where NAME names a secret.
    _Rule(
        re.compile(r"""(?i)SetEnvironmentVariable\s*\(\s*\\?["'](?P<name>[\w.-]{1,64})\\?["']\s*,\s*"""),
        EX_BASE,
        accept=_secret_kv,
        value=V_QUOTED,
        ps_syntax=True,
        hints=("setenvironmentvariable",),
    ),
    # manage-bde -rp VALUE (the short form of -RecoveryPassword; -rp alone makes a new one).
    _Rule(re.compile(r"""(?i)(?:^|(?<=\s))-rp\s+"""), EX_SWITCH, when=_MANAGE_BDE, value=V, hints=("-rp",)),
    # nuget setapikey KEY [-Source URL].
    _Rule(
        re.compile(r"""(?i)\bnuget(?:\.exe)?"?\s+setapikey\s+"""),
        EX_SWITCH,
        value=V,
        hints=("setapikey",),
    ),
    # vault login [flags] TOKEN (flags are atomic: `-method userpass` never yields `userpass`).
    _Rule(
        re.compile(
            r"""(?i)(?<![\w-])vault(?:\.exe)?"?\s+login(?:\s+(?>-(?:(?:"""
            + _VAULT_VALUE_FLAGS
            + r""")\s+[^\s-]\S*|[^\s=]+(?:=\S*)?)))*+\s+"""
        ),
        EX_SWITCH,
        value=V,
        keep=_names_kv,
        hints=("login",),
    ),
    # Well-known token shapes wherever they appear.
    _Rule(re.compile(r"""\b(?P<bare>(?:AKIA|ASIA)[0-9A-Z]{16})\b"""), EX_BASE, hints=("akia", "asia")),
    _Rule(re.compile(r"""\b(?P<bare>gh[pousr]_[A-Za-z0-9]{36,255})\b"""), EX_BASE, hints=("gh",)),
    _Rule(re.compile(r"""\b(?P<bare>github_pat_[A-Za-z0-9_]{22,255})\b"""), EX_BASE, hints=("github_pat",)),
    _Rule(re.compile(r"""\b(?P<bare>glpat-[A-Za-z0-9_-]{20,255})"""), EX_BASE, hints=("glpat",)),
    _Rule(re.compile(r"""\b(?P<bare>xox[abprs]-[A-Za-z0-9-]{10,})\b"""), EX_BASE, hints=("xox",)),
    _Rule(re.compile(r"""\b(?P<bare>AIza[0-9A-Za-z_-]{35})"""), EX_BASE, hints=("aiza",)),
    # AWS secret access keys: 40 of [A-Za-z0-9/+], mixed case and a digit, on a line naming AWS.
    _Rule(
        re.compile(
            r"""(?<![A-Za-z0-9/+=])(?P<bare>(?=[^\s]{0,39}[A-Z])(?=[^\s]{0,39}[a-z])(?=[^\s]{0,39}[0-9])"""
            r"""[A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])"""
        ),
        EX_BASE,
        when=_AWS,
        hints=("aws", "akia", "asia"),
    ),
)

