r"""Patterns for SCOM expression filters, written only with the constructs KB 2702651 documents.

Microsoft KB 2702651 ("Regular expression support in System Center Operations Manager") lists what the
.NET regular expressions of an expression filter (MatchesRegularExpression) support: `.`, `[ ]`, `[^ ]`,
`^`, `$`, `|`, `( )`, `?`, `*`, `+`, `{n}`, `{n,}`, `{n,m}`, `\n`, `\t`; "not all expressions work".
So no inline options (`(?i)`, `(?s)`), no `\z`, `\s`, `\uXXXX`: case is spelled out as character classes
(`[Rr][Ee][Gg]`), a metacharacter meant literally sits in a class (`[.]`), any character including a
newline is `(.|\n)`. The one escape outside the table is the backslash itself, `\\` (and `\]`, `\^`,
`\-`, `\[` inside a class): .NET has no other way to write a literal backslash, which every Windows path
needs. tests/emit/test_scom_kb_constructs.py checks every emitted pattern against this list.

Sigma's string matches end at the very end of the text; `$` also matches before a final newline, so
an end-anchored pattern comes with a guard, `\n$` (the text ends in a newline), that the expression
requires NOT to match: for a value ending in a literal character other than a newline, `X$` without a
final newline means exactly what `X\z` means.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterable
from typing import Any, Final

from sigma.types import SigmaString, SpecialChars

with warnings.catch_warnings():  # sre_parse: the stdlib's own regex parser, the one reader of Python syntax
    warnings.simplefilter("ignore", DeprecationWarning)
    import sre_constants as C
    import sre_parse

ANY_CHAR: Final = r"(.|\n)"  # any one character, a newline too ('.' stops at a newline without (?s))
_OUTSIDE_META: Final = frozenset(".$|?*+()[{}")
_ESCAPED: Final = {"\\": "\\\\", "\n": "\\n", "\t": "\\t", "]": "[\\]]", "^": "[\\^]", "[": "[\\[]"}
_CLASS_ESCAPED: Final = {"\\": "\\\\", "]": "\\]", "^": "\\^", "-": "\\-", "[": "\\[", "\n": "\\n", "\t": "\\t"}


class RegexUnsupported(ValueError):
    """A construct KB 2702651's list cannot express; the message names it."""


def _xml_char(ch: str) -> bool:
    code = ord(ch)
    return code in (0x9, 0xA) or 0x20 <= code <= 0xD7FF or 0xE000 <= code <= 0xFFFD or 0x10000 <= code <= 0x10FFFF


def _cases(ch: str) -> list[str]:
    """`ch` and its other case, where that is one character (simple case folding)."""
    out = [ch]
    for other in (ch.lower(), ch.upper()):
        if len(other) == 1 and other not in out:
            out.append(other)
    return out


def literal(ch: str, *, fold: bool, notes: list[str]) -> str:
    """One character meant literally, outside a class."""
    if ch == "\r" or not _xml_char(ch):
        notes.append(f"character U+{ord(ch):04X} cannot be written in a SCOM pattern (XML or KB 2702651): "
                     "matched as any character there")
        return "."
    if fold and len(_cases(ch)) > 1:
        return "[" + "".join(class_literal(c) for c in _cases(ch)) + "]"
    if ch in _ESCAPED:
        return _ESCAPED[ch]
    if ch in _OUTSIDE_META:
        return f"[{ch}]"
    return ch


def class_literal(ch: str) -> str:
    """One character inside a character class."""
    if ch == "\r" or not _xml_char(ch):
        raise RegexUnsupported(f"character U+{ord(ch):04X} in a character class")
    return _CLASS_ESCAPED.get(ch, ch)


def string_pattern(value: SigmaString, *, cased: bool, notes: list[str]) -> tuple[str, str | None]:
    """(pattern, guard) meaning Sigma's (wildcard) string match: anchored at both ends unless a wildcard
    opens that end. The guard, when not None, must NOT match (module docstring): `\\n$`, a final newline,
    which an end-anchored match cannot cover when the value ends in a literal character other than a
    newline. A value ending in `?` or a newline keeps `$` alone (it may also match before a final newline)."""
    parts = list(value.s)
    if parts == [SpecialChars.WILDCARD_MULTI]:
        return "", None  # '*': anything (the caller adds the non-empty test)
    starts_open = bool(parts) and parts[0] == SpecialChars.WILDCARD_MULTI
    ends_open = len(parts) > 1 and parts[-1] == SpecialChars.WILDCARD_MULTI
    pieces: list[str] = []
    body_parts = parts[int(starts_open) : len(parts) - int(ends_open)]
    for part in body_parts:
        if part == SpecialChars.WILDCARD_MULTI:
            pieces.append(ANY_CHAR + "*")
        elif part == SpecialChars.WILDCARD_SINGLE:
            pieces.append(ANY_CHAR)
        else:
            pieces.extend(literal(ch, fold=not cased, notes=notes) for ch in str(part))
    body = ("" if starts_open else "^") + "".join(pieces)
    if ends_open:
        return body, None
    last = body_parts[-1] if body_parts else ""
    if isinstance(last, str) and not last.endswith("\n"):
        return body + "$", "\\n$"
    notes.append("a value ending in '?' or a newline is anchored with $, which also accepts a final newline")
    return body + "$", None


# -- Python (Sigma |re) syntax to the KB's constructs ------------------------------------------------------


def _quantifier(low: int, high: int) -> str:
    if (low, high) == (0, C.MAXREPEAT):
        return "*"
    if (low, high) == (1, C.MAXREPEAT):
        return "+"
    if (low, high) == (0, 1):
        return "?"
    if low == high:
        return f"{{{low}}}"
    if high == C.MAXREPEAT:
        return f"{{{low},}}"
    return f"{{{low},{high}}}"


def _class(items: Iterable[tuple[Any, Any]], fold: bool) -> str:
    negate = False
    members: list[str] = []
    for op, av in items:
        if op is C.NEGATE:
            negate = True
        elif op is C.LITERAL:
            members += [class_literal(c) for c in (_cases(chr(av)) if fold else [chr(av)])]
        elif op is C.RANGE:
            low, high = chr(av[0]), chr(av[1])
            members.append(f"{class_literal(low)}-{class_literal(high)}")
            if fold and low.isascii() and high.isascii() and low.isalpha() and high.isalpha():
                other_low, other_high = (low.upper(), high.upper()) if low.islower() else (low.lower(), high.lower())
                members.append(f"{other_low}-{other_high}")
        elif op is C.CATEGORY and av is C.CATEGORY_DIGIT:
            members.append("0-9")
        elif op is C.CATEGORY and av is C.CATEGORY_SPACE:
            members.append(" \\t\\n")
        elif op is C.CATEGORY and av is C.CATEGORY_WORD:
            members.append("A-Za-z0-9_")
        else:
            raise RegexUnsupported(f"{op} {av} in a character class")
    return "[" + ("^" if negate else "") + "".join(members) + "]"


def _negated_category(av: Any) -> str | None:
    return {C.CATEGORY_NOT_DIGIT: "[^0-9]", C.CATEGORY_NOT_SPACE: "[^ \\t\\n]",
            C.CATEGORY_NOT_WORD: "[^A-Za-z0-9_]"}.get(av)


def _node(op: Any, av: Any, flags: int, notes: list[str]) -> str:
    fold, dotall, multiline = (bool(flags & C.SRE_FLAG_IGNORECASE), bool(flags & C.SRE_FLAG_DOTALL),
                               bool(flags & C.SRE_FLAG_MULTILINE))
    if op is C.LITERAL:
        return literal(chr(av), fold=fold, notes=notes)
    if op is C.NOT_LITERAL:
        return "[^" + "".join(class_literal(c) for c in (_cases(chr(av)) if fold else [chr(av)])) + "]"
    if op is C.ANY:
        return ANY_CHAR if dotall else "."
    if op is C.IN:
        if len(av) == 1 and av[0][0] is C.CATEGORY and (negated := _negated_category(av[0][1])):
            return negated
        return _class(av, fold)
    if op is C.BRANCH:
        return "(" + "|".join(_sequence(alt, flags, notes) for alt in av[1]) + ")"
    if op is C.SUBPATTERN:
        _group, add, delete, sub = av
        return "(" + _sequence(sub, (flags | add) & ~delete, notes) + ")"
    if op in (C.MAX_REPEAT, C.MIN_REPEAT):  # lazy or greedy: the same match / no match
        low, high, sub = av
        inner = _sequence(sub, flags, notes)
        atomic = len(sub) == 1 and sub[0][0] in (C.LITERAL, C.NOT_LITERAL, C.ANY, C.IN, C.SUBPATTERN, C.BRANCH)
        return (inner if atomic else f"({inner})") + _quantifier(low, high)
    if op is C.AT:
        if av in (C.AT_BEGINNING_STRING,) or (av is C.AT_BEGINNING and not multiline):
            return "^"
        if av is C.AT_BEGINNING:
            return "(^|\\n)"  # a line start, as (?m)^ means: after a newline or at the start
        if av is C.AT_END and not multiline:
            return "$"  # Python's $ and .NET's: the end, or before a final newline
        if av is C.AT_END:
            return "($|\\n)"
        if av is C.AT_END_STRING:
            notes.append("\\Z (the very end) is written $, which also matches before a final newline")
            return "$"
    raise RegexUnsupported(f"{str(op).lower()} ({str(av)[:40]})")


def _sequence(items: Any, flags: int, notes: list[str]) -> str:
    return "".join(_node(op, av, flags, notes) for op, av in items)


def translate(pattern: str, notes: list[str]) -> str:
    """A Python regular expression (Sigma |re, inline (?ims) included) in KB 2702651's constructs."""
    try:
        parsed = sre_parse.parse(pattern)
    except C.error as exc:
        raise RegexUnsupported(f"not a regular expression: {exc}") from None
    if parsed.state.flags & C.SRE_FLAG_VERBOSE:
        raise RegexUnsupported("(?x) verbose patterns")
    return _sequence(parsed.data, parsed.state.flags, notes)
