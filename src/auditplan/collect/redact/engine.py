"""The redaction engine: the rule table's matches, plus the syntaxes a table row cannot express
(net user/use, -Name/-Value pairs, Set-ItemProperty and tool positions, ConvertTo-SecureString),
merged into one set of spans and replaced with REDACTED (`redact`)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from auditplan.collect.redact.line import (
    DQ,
    EQ,
    EX_BASE,
    EX_PS_REF,
    EX_SWITCH,
    PASS_SOURCE,
    SQ,
    V_KV,
    V_KV_NO_BRACE,
    VALUE,
    Line,
    Span,
    V,
    value_span,
)
from auditplan.collect.redact.rules import RULES, names_secret
from auditplan.records import REDACTED

# Every rule's hints, looked for once per line (one substring search each) rather than rule by rule:
# the per-rule search was most of the redaction of a line that holds no secret, i.e. most lines.
_ALL_HINTS = tuple(sorted({h for rule in RULES for h in rule.hints}))
# Most lines hold none of the hints: one search for any of them then skips every rule that has hints.
_ANY_HINT = re.compile("|".join(re.escape(h) for h in _ALL_HINTS))
_RULES_WITHOUT_HINTS = tuple(rule for rule in RULES if not rule.hints)


def _rule_spans(line: Line) -> Iterator[Span]:
    text = line.text
    low = line.lower
    if _ANY_HINT.search(low) is None:
        present: frozenset[str] = frozenset()
        rules = _RULES_WITHOUT_HINTS
    else:
        present = frozenset(h for h in _ALL_HINTS if h in low)
        rules = RULES
    for rule in rules:
        if rule.hints and present.isdisjoint(rule.hints):
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
            if reader is V_KV and m.end() >= line.last_close:
                reader = V_KV_NO_BRACE
            v = m if reader is None else reader.match(text, m.end())
            span = value_span(v) if v is not None else None
            if span is None:
                continue
            if reader is V_KV and v is not None and v.start("brace") >= 0:
                pos = max(pos, v.end())
            value = text[span[0] : span[1]]
            if rule.exempt.match(value) or (rule.keep is not None and rule.keep(m, value)):
                continue
            if (rule.ps_syntax or line.in_powershell(span[0])) and EX_PS_REF.match(value):
                continue
            if rule.pass_sources and PASS_SOURCE.search(value):
                continue
            pos = max(pos, span[1])
            yield span


# ------------------------------------------------------------------ net user / net use

_NET = re.compile(r"""(?i)(?<![\w.-])net1?(?:\.exe)?"?\s+(?P<verb>user|use)(?=\s|$)""")
# One argument as cmd hands it on: quoted parts and plain characters up to a space, & or |.
_NET_ARG = re.compile(r"""\s*(?P<arg>(?:"[^"]*(?:"|\Z)|[^\s"&|])+)""")
_NET_MAX_ARGS = 32
_NET_DEVICE = re.compile(r"(?i)^(?:[A-Z]:|\*|(?:LPT|COM)\d:?|PRN)$")


def _net_spans(ctx: Line) -> Iterator[Span]:
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
            if secret and ctx.in_powershell(start) and EX_PS_REF.match(value):
                secret = False  # PowerShell hands net.exe the variable's value
            if secret and not EX_BASE.match(value):
                yield start, end
                break
            if positional >= 3:
                break


# ------------------------------------------------------------------ -Name X ... -Value V, either order

# A command ends at ; & | or a newline; within one, a -Name/--name/-n (or az appconfig's --key) naming a
# secret makes its -Value one.
_NV_STEP = re.compile(r"""(?i)(?P<sep>[;&|\n])|(?:^|(?<=[\s(]))--?(?P<sw>name|n|key|value)(?:[:=][ \t]*|[ \t]+)""")


def _name_value_spans(line: Line) -> Iterator[Span]:
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
        v = V.match(text, pos)
        span = value_span(v) if v is not None else None
        if span is None:
            continue
        value = text[span[0] : span[1]]
        if EX_SWITCH.match(value):
            continue
        pos = max(pos, span[1])
        if m.group("sw").lower() == "value":
            if not (line.ps_shaped and EX_PS_REF.match(value)):
                values.append(span)
        elif names_secret(value, kv=True):
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
_SIP_TOKEN = re.compile(rf"""[ \t]*(?:{EQ}|{DQ}|{SQ}|(?P<bare>(?!\\")[^\s"';|&)}}][^\s"';|&)}}]*))""")
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


def _set_item_property_spans(line: Line) -> Iterator[Span]:
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
            span = value_span(t)
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
        if names_secret(name, kv=True) and not EX_BASE.match(value) and not EX_PS_REF.match(value):
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


def _positional_spans(line: Line, tool: re.Pattern[str], index: int, hint: str) -> Iterator[Span]:
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
            if not EX_BASE.match(value) and not (line.in_powershell(start) and EX_PS_REF.match(value)):
                yield start, end
            break


# ------------------------------------------------------------------ ConvertTo-SecureString

_CTSS = re.compile(r"(?i)\bConvertTo-SecureString\b")
# The cmdlet's own arguments: up to an unquoted | ; ) } or end of line.
_CTSS_ARGS = re.compile(r"""(?:"(?:[^"`]|`[\s\S])*(?:"|\Z)|'(?:[^']|'')*(?:'|\Z)|[^|;)}\n"'])*""")
_CTSS_TOKEN = re.compile(r"\s*(?:" + VALUE + ")")
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
            span = value_span(t)
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
        if found is not None and not EX_BASE.match(v := line[found[0] : found[1]]) and not EX_PS_REF.match(v):
            yield found


# ------------------------------------------------------------------ redact


def redact(command_line: str) -> tuple[str, int]:
    """Return the command line with each credential value replaced by REDACTED, and how many."""
    line = Line(command_line)
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
