"""Parser of the XPath 1.0 subset that Windows Event Log filters accept (MS-EVEN6 §2.2.15).

Tokens, then a recursive-descent parse into a small tree (Lit, Num, Func, Step, Path, BinOp).
What the subset leaves out (absolute paths, `//`, `|`, arithmetic, other axes and functions) is
refused here with XPathError, as wevtutil refuses it; xpath.py evaluates the tree.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SUPPORTED_FUNCTIONS = ("position", "band", "timediff")
EVENT_ELEMENT = "Event"
COMPARISONS = ("=", "!=", "<", "<=", ">", ">=")


class XPathError(ValueError):
    """The query is malformed or uses what Windows' XPath subset does not support."""


_TOKEN = re.compile(
    r"\s*(?:(?P<str>'[^']*'|\"[^\"]*\")|(?P<num>\d+(?:\.\d*)?|\.\d+)"
    r"|(?P<op>//|::|!=|<=|>=|[=<>()\[\]@,/|*+\-])|(?P<name>[A-Za-z_][\w.\-]*))"
)


@dataclass(frozen=True)
class Lit:
    value: str


@dataclass(frozen=True)
class Num:
    value: float


@dataclass(frozen=True)
class Func:
    name: str
    args: tuple[object, ...]


@dataclass(frozen=True)
class Step:
    axis: str  # "child" | "attribute" | "text"
    name: str
    predicates: tuple[object, ...] = ()


@dataclass(frozen=True)
class Path:
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class BinOp:
    op: str  # "or" | "and" | comparison
    left: object
    right: object


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise XPathError(f"unexpected character at offset {pos}: {text[pos:pos + 10]!r}")
        kind = m.lastgroup or ""
        tokens.append((kind, m.group(kind)))
        pos = m.end()
    return tokens


class _Parser:
    def __init__(self, text: str) -> None:
        self.tokens = _tokenize(text)
        self.i = 0

    def peek(self, offset: int = 0) -> tuple[str, str] | None:
        j = self.i + offset
        return self.tokens[j] if j < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        tok = self.peek()
        if tok is None or (value is not None and tok[1] != value):
            raise XPathError(f"expected {value or 'more'} at token {self.i}")
        self.i += 1
        return tok

    def at(self, value: str) -> bool:
        tok = self.peek()
        return tok is not None and tok[1] == value and tok[0] in ("op", "name")

    def parse_query(self) -> Step:
        if not self.tokens:
            raise XPathError("empty query")
        if self.at("/") or self.at("//"):
            raise XPathError("absolute location paths are not supported")
        expr = self.parse_or()
        rest = self.peek()
        if rest is not None:
            raise XPathError(f"unexpected {rest[1]!r}")
        if not isinstance(expr, Path) or len(expr.steps) != 1 or expr.steps[0].axis != "child":
            raise XPathError("a query must select events: one step, '*' or 'Event', with predicates")
        if expr.steps[0].name not in ("*", EVENT_ELEMENT):
            raise XPathError("a query must select events")
        return expr.steps[0]

    def parse_or(self) -> object:
        left = self.parse_and()
        while self.at("or"):
            self.take()
            left = BinOp("or", left, self.parse_and())
        return left

    def parse_and(self) -> object:
        left = self.parse_cmp()
        while self.at("and"):
            self.take()
            left = BinOp("and", left, self.parse_cmp())
        return left

    def parse_cmp(self) -> object:
        left = self.parse_primary()
        while (tok := self.peek()) is not None and tok[0] == "op" and tok[1] in COMPARISONS:
            self.take()
            left = BinOp(tok[1], left, self.parse_primary())
        tok = self.peek()
        if tok is not None and (tok[1] in ("+", "-", "|", "div", "mod") or (tok[1] == "*" and tok[0] == "op")):
            raise XPathError(f"operator {tok[1]!r} is not supported")
        return left

    def parse_primary(self) -> object:
        tok = self.peek()
        if tok is None:
            raise XPathError("unexpected end of query")
        kind, value = tok
        if kind == "str":
            self.take()
            return Lit(value[1:-1])
        if kind == "num":
            self.take()
            return Num(float(value))
        if value == "(":
            self.take()
            inner = self.parse_or()
            self.take(")")
            return inner
        if value in ("-", "+", "|", "/", "//"):
            raise XPathError(f"operator {value!r} is not supported here")
        nxt = self.peek(1)
        if kind == "name" and nxt is not None and nxt[1] == "(" and value != "text":
            return self.parse_function()
        return self.parse_path()

    def parse_function(self) -> Func:
        name = self.take()[1]
        if name not in SUPPORTED_FUNCTIONS:
            raise XPathError(f"function {name}() is not supported")
        self.take("(")
        args: list[object] = []
        if not self.at(")"):
            args.append(self.parse_or())
            while self.at(","):
                self.take()
                args.append(self.parse_or())
        self.take(")")
        arity = {"position": (0,), "band": (2,), "timediff": (1, 2)}[name]
        if len(args) not in arity:
            raise XPathError(f"{name}() takes {' or '.join(map(str, arity))} arguments")
        return Func(name, tuple(args))

    def parse_path(self) -> Path:
        steps = [self.parse_step()]
        while self.at("/") or self.at("//"):
            if self.take()[1] == "//":
                raise XPathError("the descendant axis ('//') is not supported")
            steps.append(self.parse_step())
        return Path(tuple(steps))

    def parse_step(self) -> Step:
        axis = "child"
        if self.at("@"):
            self.take()
            axis = "attribute"
        elif (tok := self.peek()) is not None and tok[0] == "name" and (n := self.peek(1)) and n[1] == "::":
            axis_name = self.take()[1]
            self.take("::")
            if axis_name not in ("child", "attribute"):
                raise XPathError(f"axis {axis_name}:: is not supported")
            axis = axis_name
        tok = self.peek()
        if tok is None:
            raise XPathError("expected a node test")
        if tok[0] == "name" and tok[1] == "text" and (n := self.peek(1)) and n[1] == "(":
            self.take()
            self.take("(")
            self.take(")")
            return Step("text", "text()")
        if not (tok[0] == "name" or tok[1] == "*"):
            raise XPathError(f"expected a node test, got {tok[1]!r}")
        self.take()
        preds: list[object] = []
        while self.at("["):
            self.take()
            preds.append(self.parse_or())
            self.take("]")
        if axis == "attribute" and preds:
            raise XPathError("predicates on attributes are not supported")
        return Step(axis, tok[1], tuple(preds))



def parse_query(text: str) -> Step:
    """The query's one step (`*` or `Event`) with its predicates; XPathError on what Windows refuses."""
    return _Parser(text).parse_query()
