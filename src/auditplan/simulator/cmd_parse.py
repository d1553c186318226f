"""cmd.exe's parser: phase 2 of a line (after %VAR% expansion), the operator tree it runs.

Special characters outside double quotes: `^` escapes the next character (and is removed),
`&`, `&&`, `||`, `|`, `(` ... `)` groups, redirections `>`, `>>`, `N>`, `N>&M`, `<`.
Inside double quotes nothing is special; quotes stay in the text tools receive.
`for [/l] %X in (set) do body` has its own grammar: the set ends at `)`, the body runs to the end
of the enclosing block or line (so `&` after it repeats too). /f, /d and /r are not emulated.
At execution FOR substitutes `%X` per item in the parsed body (`substitute_sequence`), so an item
is never re-parsed. The shell that runs the tree is cmd_shell.py.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# ---------------------------------------------------------------------------------------------
# Parse tree


@dataclass(frozen=True)
class Redirect:
    handle: int  # 0 stdin, 1 stdout, 2 stderr
    target: str  # a path, or "&N" for a handle duplicate
    append: bool = False


@dataclass
class Simple:
    text: str  # command text with carets removed, quotes kept, redirections cut out
    redirects: list[Redirect] = field(default_factory=list)


@dataclass
class Group:
    body: Sequence
    redirects: list[Redirect] = field(default_factory=list)


@dataclass
class For:
    """`for [/l] %X in (set) do body`: the body runs once per item with `%X` substituted."""

    variable: str  # the one character after `%` (case-sensitive, like cmd's)
    numeric: bool  # /l: the set is start,step,end
    items: str  # the set's text between the parentheses
    body: Sequence
    body_text: str  # the body as typed, for the echo of each iteration
    redirects: list[Redirect] = field(default_factory=list)  # always empty: they belong to the body


Node = Simple | Group | For


@dataclass
class Pipeline:
    nodes: list[Node] = field(default_factory=list)


@dataclass
class Sequence:
    """Pipelines joined by `&` / `&&` / `||`; the first op is ""."""

    items: list[tuple[str, Pipeline]] = field(default_factory=list)


_FOR_WORD = re.compile(r"@?[ \t]*for(?=[ \t/%])", re.IGNORECASE)
# Command-line mode: `%X`, one percent sign (`%%X` is batch-file syntax and an error here).
_FOR_HEAD = re.compile(r"@?[ \t]*for[ \t]+(/l[ \t]+)?%([^%\s])[ \t]+in[ \t]*\(", re.IGNORECASE)
_FOR_BATCH_VARIABLE = re.compile(r"@?[ \t]*for[ \t]+(?:/l[ \t]+)?(%%\S)", re.IGNORECASE)
_FOR_DO = re.compile(r"[ \t]*do(?:[ \t]+|(?=[@(]))", re.IGNORECASE)


class CmdSyntaxError(ValueError):
    """What cmd reports as `<token> was unexpected at this time.`"""


class _Parser:
    def __init__(self, line: str) -> None:
        self.s = line
        self.i = 0

    def parse(self) -> Sequence:
        seq = self._sequence(depth=0)
        if self.i < len(self.s):
            raise CmdSyntaxError(f"{self.s[self.i]} was unexpected at this time.")
        return seq

    def _sequence(self, depth: int) -> Sequence:
        seq = Sequence()
        op = ""
        while True:
            pipe = self._pipeline(depth)
            seq.items.append((op, pipe))
            if self.i >= len(self.s) or self.s[self.i] == ")":
                return seq
            ch = self.s[self.i]
            if self.s.startswith("&&", self.i):
                op, self.i = "&&", self.i + 2
            elif self.s.startswith("||", self.i):
                op, self.i = "||", self.i + 2
            elif ch == "&":
                op, self.i = "&", self.i + 1
            else:  # pragma: no cover - _pipeline stops only at these
                raise CmdSyntaxError(f"{ch} was unexpected at this time.")

    def _pipeline(self, depth: int) -> Pipeline:
        pipe = Pipeline()
        while True:
            pipe.nodes.append(self._node(depth))
            if self.s.startswith("|", self.i) and not self.s.startswith("||", self.i):
                self.i += 1
                continue
            return pipe

    def _node(self, depth: int) -> Node:
        j = self.i
        while j < len(self.s) and self.s[j] in " \t":
            j += 1
        if (m := _FOR_HEAD.match(self.s, j)) is not None:
            return self._for(m, depth)
        if (m := _FOR_BATCH_VARIABLE.match(self.s, j)) is not None:
            raise CmdSyntaxError(f"{m.group(1)} was unexpected at this time.")
        if _FOR_WORD.match(self.s, j):
            # for /f, /d, /r and malformed FORs are not emulated.
            raise CmdSyntaxError("The syntax of the command is incorrect.")
        if self.s.startswith("@", j):
            # `@(...)`: the `@` (no echo of this command) may precede a block as well as a command.
            k = j + 1
            while k < len(self.s) and self.s[k] in " \t":
                k += 1
            if k < len(self.s) and self.s[k] == "(":
                j = k
        if j < len(self.s) and self.s[j] == "(":
            self.i = j + 1
            body = self._sequence(depth + 1)
            if self.i >= len(self.s) or self.s[self.i] != ")":
                raise CmdSyntaxError("The syntax of the command is incorrect.")
            self.i += 1
            group = Group(body)
            tail = self._simple(depth)  # redirections (and stray text) after ")"
            group.redirects = tail.redirects
            if tail.text.strip():
                raise CmdSyntaxError(f"{tail.text.strip().split()[0]} was unexpected at this time.")
            return group
        return self._simple(depth)

    def _for(self, head: re.Match[str], depth: int) -> For:
        """FOR's own grammar: its set ends at `)`, and its body runs on to the end of the enclosing
        block or line, so `for ... do a & b` repeats both `a` and `b`."""
        s = self.s
        i = head.end()
        in_quote = False
        while i < len(s) and (in_quote or s[i] != ")"):
            in_quote = in_quote != (s[i] == '"')
            i += 1
        if i >= len(s):
            raise CmdSyntaxError("The syntax of the command is incorrect.")
        items = s[head.end() : i]
        do = _FOR_DO.match(s, i + 1)
        if do is None:
            raise CmdSyntaxError("The syntax of the command is incorrect.")
        self.i = do.end()
        body_start = self.i
        body = self._sequence(depth)
        if not s[body_start : self.i].strip():
            raise CmdSyntaxError("The syntax of the command is incorrect.")
        return For(head.group(2), head.group(1) is not None, items, body, s[body_start : self.i].strip())

    def _simple(self, depth: int) -> Simple:
        text: list[str] = []
        redirects: list[Redirect] = []
        in_quote = False
        s = self.s
        while self.i < len(s):
            ch = s[self.i]
            if in_quote:
                text.append(ch)
                in_quote = ch != '"'
                self.i += 1
                continue
            if ch == '"':
                in_quote = True
                text.append(ch)
                self.i += 1
            elif ch == "^":
                if self.i + 1 < len(s):
                    text.append(s[self.i + 1])
                self.i += 2
            elif ch in "&|":
                break
            elif ch == ")" and depth > 0:
                break
            elif ch in "<>":
                redirects.append(self._redirect(text))
            else:
                text.append(ch)
                self.i += 1
        return Simple("".join(text), redirects)

    def _redirect(self, text: list[str]) -> Redirect:
        s = self.s
        ch = s[self.i]
        handle = 0 if ch == "<" else 1
        # A single digit right before the operator, itself after a delimiter, names the handle.
        if text and text[-1].isdigit() and (len(text) == 1 or text[-2] in " \t"):
            handle = int(text.pop())
        self.i += 1
        append = False
        if ch == ">" and self.i < len(s) and s[self.i] == ">":
            append = True
            self.i += 1
        if self.i < len(s) and s[self.i] == "&":
            j = self.i + 1
            if j < len(s) and s[j].isdigit():
                self.i = j + 1
                return Redirect(handle, "&" + s[j], append)
        while self.i < len(s) and s[self.i] in " \t":
            self.i += 1
        target: list[str] = []
        in_quote = False
        while self.i < len(s):
            c = s[self.i]
            if in_quote:
                if c == '"':
                    in_quote = False
                else:
                    target.append(c)
                self.i += 1
                continue
            if c == '"':
                in_quote = True
                self.i += 1
            elif c == "^" and self.i + 1 < len(s):
                target.append(s[self.i + 1])
                self.i += 2
            elif c in " \t&|<>()":
                break
            else:
                target.append(c)
                self.i += 1
        if not target:
            raise CmdSyntaxError("The syntax of the command is incorrect.")
        return Redirect(handle, "".join(target), append)


def parse_line(line: str) -> Sequence:
    """Phase 2 of cmd's parser (after %-expansion): the operator tree of one line."""
    return _Parser(line).parse()


def split_args(text: str) -> list[str]:
    """Split arguments the way a C program's argv sees them: whitespace outside quotes splits,
    quotes are removed (a simplification of CommandLineToArgvW without backslash rules)."""
    args: list[str] = []
    cur: list[str] = []
    in_quote = False
    started = False
    for ch in text:
        if ch == '"':
            in_quote = not in_quote
            started = True
        elif ch in " \t" and not in_quote:
            if started:
                args.append("".join(cur))
                cur, started = [], False
        else:
            cur.append(ch)
            started = True
    if started:
        args.append("".join(cur))
    return args


# ---------------------------------------------------------------------------------------------
# FOR sets and substitution

_FOR_SET_SPLIT = re.compile(r"[\s,;=]+")


def _atoi(text: str) -> int:
    m = re.match(r"[+-]?\d+", text)
    return int(m.group()) if m else 0


def for_range(items: str) -> tuple[int, int, int]:
    """`for /l`'s set as start, step, end; missing or non-numeric parts count as 0, as cmd's atoi does."""
    nums = [_atoi(t) for t in _FOR_SET_SPLIT.split(items.strip()) if t]
    start, step, end = [*nums, 0, 0, 0][:3]
    return start, step, end


def for_set_tokens(items: str) -> list[str]:
    """A FOR set's items: separated by blanks, `,`, `;` or `=`; a quoted item keeps its quotes."""
    tokens: list[str] = []
    cur: list[str] = []
    in_quote = False
    for ch in items:
        if ch == '"':
            in_quote = not in_quote
            cur.append(ch)
        elif not in_quote and _FOR_SET_SPLIT.fullmatch(ch):
            if cur:
                tokens.append("".join(cur))
                cur = []
        else:
            cur.append(ch)
    if cur:
        tokens.append("".join(cur))
    return tokens


def substitute_text(text: str, variable: str, value: str) -> str:
    """`%~X` is the item without its surrounding quotes, `%X` the item as written. Other `~`
    modifiers (%~nX, %~fX, ...) are not emulated and stay as typed."""
    unquoted = value[1:] if value.startswith('"') else value
    unquoted = unquoted[:-1] if unquoted.endswith('"') else unquoted
    return text.replace("%~" + variable, unquoted).replace("%" + variable, value)


def substitute_sequence(seq: Sequence, variable: str, value: str) -> Sequence:
    def redirects(rs: list[Redirect]) -> list[Redirect]:
        return [Redirect(r.handle, substitute_text(r.target, variable, value), r.append) for r in rs]

    def node(n: Node) -> Node:
        if isinstance(n, Simple):
            return Simple(substitute_text(n.text, variable, value), redirects(n.redirects))
        if isinstance(n, Group):
            return Group(substitute_sequence(n.body, variable, value), redirects(n.redirects))
        return For(
            n.variable, n.numeric, substitute_text(n.items, variable, value),
            substitute_sequence(n.body, variable, value), substitute_text(n.body_text, variable, value),
        )

    return Sequence([(op, Pipeline([node(n) for n in pipe.nodes])) for op, pipe in seq.items])


# ---------------------------------------------------------------------------------------------
# Command words

# Where an internal command's name ends (`echo.`, `echo(`, `cd..`): cmd's delimiters for them.
_INTERNAL_SPLIT = re.compile(r'[\s.,;=/:(+\[\]"]')
_INTERNAL_COMMANDS = ("echo", "rem", "cd", "chdir", "call", "set", "type", "del", "erase", "exit", "chcp")


def split_command(text: str) -> tuple[str, str]:
    """Command word and the rest (the rest keeps its leading delimiter, which echo needs)."""
    if text.startswith('"'):
        end = text.find('"', 1)
        end = len(text) if end < 0 else end + 1
        return text[:end], text[end:]
    m = _INTERNAL_SPLIT.search(text)
    word_end = m.start() if m else len(text)
    word = text[:word_end]
    if word.lower() in _INTERNAL_COMMANDS:
        return word, text[word_end:]
    # External commands: the word runs to whitespace (so `auditpol.exe` and paths stay whole).
    m2 = re.search(r"[\s]", text)
    end = m2.start() if m2 else len(text)
    return text[:end], text[end:]


def command_key(name: str) -> str:
    """The name a command is known by: no quotes, no folder, no .exe/.com, lower case."""
    base = name.strip('"').replace("/", "\\").rsplit("\\", 1)[-1].lower()
    for ext in (".exe", ".com"):
        if base.endswith(ext):
            return base[: -len(ext)]
    return base

