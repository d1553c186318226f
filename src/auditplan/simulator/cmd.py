"""A small cmd.exe: what `cmd.exe /c <line>` does with the line a WinRS Command carries.

Rules implemented, in cmd's own phase order (windows-tool-outputs.md §9 for the observable
texts; the phase order is cmd's documented parser behaviour):

1. `%VAR%` expansion over the whole line before anything runs (command-line mode: an undefined
   variable keeps its text and scanning resumes at its closing `%`, which reproduces the known
   `echo %a %b% c%` -> `%a a c%` case; `%ERRORLEVEL%` and `%CD%` are dynamic). So in
   `a & echo %ERRORLEVEL%` the value is the one from before `a` ran, as on Windows. The 8191-character
   limit applies to the line before and after this pass (`Shell.run_line`).
2. Special characters outside double quotes: `^` escapes the next character (and is removed),
   `&`, `&&`, `||`, `|`, `(` ... `)` groups, redirections `>`, `>>`, `N>`, `N>&M`, `<`.
   Inside double quotes nothing is special; quotes stay in the text tools receive.
   `for [/l] %X in (set) do body` has its own grammar: the set ends at `)`, the body runs to the end
   of the enclosing block or line (so `&` after it repeats too). /f, /d and /r are not emulated.
3. At execution: FOR substitutes `%X` per item in the parsed body; `!VAR!` expansion when the shell
   runs with delayed expansion (`cmd /v:on /c`); `call` expands `%VAR%` once more (so
   `call echo %^ERRORLEVEL%` prints the current value). `cd [/d] path` changes the shell's folder
   (which must exist: the start folder and the profile folders named by the environment do).

ERRORLEVEL follows cmd: external tools always set it; `echo`, `rem`, `set` (success) keep it;
`type`, `del`, `ver`, `cd` set 0 on success; an unknown command sets 9009. `&&`/`||` test the
command's own return code (echo succeeds). The line's exit code is the return code of the last
command executed (§9.2 "exit status is that of the last command"; the same rule is the known
`cmd /c` behaviour), or N after `exit /b N`: `failing & echo x` exits 0 while ERRORLEVEL stays.

Output: every text line ends in CRLF and is encoded in the shell's console code page (437 or 850
for an OEM console, 65001 = UTF-8 when the WinRS client asks for it: §0.1). stdout and stderr are
collected separately, so `2>&1` appends stderr after stdout instead of interleaving them.
A piped parenthesised block gains a space before each line end, as cmd's re-serialisation does
(`(echo ABC)|more` passes `ABC \\r\\n`, §9.2).
"""

from __future__ import annotations

import fnmatch
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field

from auditplan.simulator.interface import CommandOutput

CRLF = "\r\n"
UNKNOWN_COMMAND_EXIT = 9009
# windows-tool-outputs.md §9.1 (VERBATIM, stderr, CRLF).
UNKNOWN_COMMAND_TEXT = (
    "'{name}' is not recognized as an internal or external command,\r\noperable program or batch file.\r\n"
)
FILE_NOT_FOUND_TEXT = "The system cannot find the file specified.\r\n"
PATH_NOT_FOUND_TEXT = "The system cannot find the path specified.\r\n"
SYNTAX_ERROR_TEXT = "The syntax of the command is incorrect.\r\n"
# Win32 error 5's text as wevtutil prints it (tool-outputs §3.4/§4.3); that cmd prints the same text
# for a refused redirection is UNVERIFIED (not captured).
ACCESS_DENIED_TEXT = "Access is denied.\r\n"
# cd to a \\server\share path. Not in the reference captures: UNVERIFIED (cmd's well-known wording).
UNC_CURRENT_DIRECTORY_TEXT = "CMD does not support UNC paths as current directories.\r\n"
NUL_DEVICE = "NUL"
CMD_LINE_LIMIT = 8191  # winrm-protocol.md §1.5/§3.3; KB 830473
COMMAND_LINE_TOO_LONG_TEXT = "The command line is too long.\r\n"  # winrm-protocol.md §1.5
INPUT_LINE_TOO_LONG_TEXT = "The input line is too long.\r\n"  # after expansion; UNVERIFIED (run_line)


def codec_for(codepage: int) -> str:
    """Python codec for a Windows code page number (65001 = UTF-8)."""
    if codepage == 65001:
        return "utf-8"
    name = f"cp{codepage}"
    try:
        "".encode(name)
    except LookupError:
        return "cp437"
    return name


class FileSystem:
    """The host's files, in memory. Paths are case-insensitive, as on NTFS with default flags."""

    def __init__(self) -> None:
        self._files: dict[str, tuple[str, bytes]] = {}
        self._dirs: set[str] = set()
        self._absent: set[str] = set()  # folders a test removed: make_dirs leaves them (and below) out
        self._read_only: set[str] = set()  # folders where cmd cannot create files
        self._lock = threading.Lock()

    def make_dirs(self, path: str) -> None:
        """Record a folder and its parents as existing (files imply their folders anyway)."""
        parts = self._key(path).rstrip("\\").split("\\")
        with self._lock:
            for n in range(1, len(parts) + 1):
                key = "\\".join(parts[:n])
                if key in self._absent:
                    return
                self._dirs.add(key)

    def remove_dir(self, path: str) -> None:
        """Model a folder that does not exist (e.g. a deleted TEMP), even if a shell names it later."""
        key = self._key(path).rstrip("\\")
        with self._lock:
            self._absent.add(key)
            self._dirs = {d for d in self._dirs if d != key and not d.startswith(key + "\\")}

    def deny_writes(self, path: str) -> None:
        """Model a folder the account may not create files in (a redirection there is refused)."""
        with self._lock:
            self._read_only.add(self._key(path).rstrip("\\"))

    def create_error(self, path: str) -> str | None:
        """cmd's message when a file at `path` cannot be created (a removed or write-denied folder),
        else None. Other folders are not checked: the in-memory tree does not list every folder."""
        folder = self._key(path).rpartition("\\")[0]
        with self._lock:
            if any(folder == a or folder.startswith(a + "\\") for a in self._absent):
                return PATH_NOT_FOUND_TEXT
            if folder in self._read_only:
                return ACCESS_DENIED_TEXT
        return None

    def is_dir(self, path: str) -> bool:
        key = self._key(path).rstrip("\\")
        if re.fullmatch(r"[A-Z]:", key):
            return True
        with self._lock:
            return key in self._dirs or any(k.startswith(key + "\\") for k in self._files)

    @staticmethod
    def _key(path: str) -> str:
        return path.replace("/", "\\").upper()

    def read(self, path: str) -> bytes | None:
        with self._lock:
            entry = self._files.get(self._key(path))
        return None if entry is None else entry[1]

    def exists(self, path: str) -> bool:
        with self._lock:
            return self._key(path) in self._files

    def write(self, path: str, data: bytes, *, append: bool = False) -> None:
        key = self._key(path)
        with self._lock:
            old = self._files.get(key)
            if append and old is not None:
                self._files[key] = (old[0], old[1] + data)
            else:
                self._files[key] = (path, data)

    def create_new(self, path: str, data: bytes) -> bool:
        """Write only if the file does not exist yet (atomic); False when it existed."""
        key = self._key(path)
        with self._lock:
            if key in self._files:
                return False
            self._files[key] = (path, data)
            return True

    def delete(self, path: str) -> bool:
        with self._lock:
            return self._files.pop(self._key(path), None) is not None

    def paths(self) -> list[str]:
        with self._lock:
            return [display for display, _ in self._files.values()]


@dataclass(frozen=True)
class ToolContext:
    """What a tool sees: its arguments (quotes removed), the raw argument text, stdin, the shell."""

    name: str  # the command name as typed (may carry .exe or a path)
    argv: tuple[str, ...]
    raw_args: str
    stdin: bytes
    shell: Shell

    def out(self, text: str, *, exit_code: int = 0) -> CommandOutput:
        return CommandOutput(self.shell.encode(text), b"", exit_code)

    def err(self, text: str, *, exit_code: int, stdout: str = "") -> CommandOutput:
        return CommandOutput(self.shell.encode(stdout), self.shell.encode(text), exit_code)


Tool = Callable[[ToolContext], CommandOutput]


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
# Execution


class _ExitRequested(Exception):
    """`exit [/b] N`: ends the cmd /c process; carries the output produced so far."""

    def __init__(self, code: int, out: bytes = b"", err: bytes = b"") -> None:
        super().__init__(code)
        self.code = code
        self.out = out
        self.err = err


@dataclass
class _Result:
    stdout: bytes
    stderr: bytes
    rc: int  # the command's own result (for && and ||)


_FOLDER_VARIABLES = ("TEMP", "TMP", "USERPROFILE", "APPDATA", "LOCALAPPDATA", "SYSTEMROOT", "WINDIR",
                     "PROGRAMDATA", "PROGRAMFILES", "PUBLIC", "ALLUSERSPROFILE")
_INTERNAL_SPLIT = re.compile(r'[\s.,;=/:(+\[\]"]')
_DELAYED = re.compile(r"!([^!]+)!")


class Shell:
    """One `cmd.exe /c` process: environment, console code page, current directory, tools."""

    def __init__(
        self,
        *,
        env: Mapping[str, str],
        fs: FileSystem,
        tools: Mapping[str, Tool],
        codepage: int = 437,
        cwd: str = "C:\\Windows\\system32",
        delayed_expansion: bool = False,
        echo_on: bool = True,
    ) -> None:
        self.env: dict[str, str] = {k.upper(): v for k, v in env.items()}
        self._env_case = {k.upper(): k for k in env}
        self.fs = fs
        self.tools = dict(tools)
        self.codepage = codepage
        self.cwd = cwd
        self.delayed_expansion = delayed_expansion
        # `cmd /c` starts with echo on (`cmd /q` off); `echo off` / `echo on` change it for the rest
        # of the line. It decides whether FOR shows each iteration's command.
        self.echo_on = echo_on
        self._errorlevel = 0
        self._level_touched = False
        # The start folder and the profile's folders exist on any real host.
        for folder in (cwd, *(self.env[k] for k in _FOLDER_VARIABLES if k in self.env)):
            if re.match(r"^[A-Za-z]:\\", folder):
                fs.make_dirs(folder)

    @property
    def errorlevel(self) -> int:
        return self._errorlevel

    @errorlevel.setter
    def errorlevel(self, value: int) -> None:
        self._errorlevel = value
        self._level_touched = True

    # -- encoding -------------------------------------------------------------------------
    def encode(self, text: str) -> bytes:
        return text.encode(codec_for(self.codepage), errors="replace")

    def decode(self, data: bytes) -> str:
        return data.decode(codec_for(self.codepage), errors="replace")

    # -- variables ------------------------------------------------------------------------
    def get_var(self, name: str) -> str | None:
        key = name.upper()
        if key in self.env:
            return self.env[key]
        if key == "ERRORLEVEL":
            return str(self.errorlevel)
        if key == "CD":
            return self.cwd
        return None

    def set_var(self, name: str, value: str) -> None:
        key = name.upper()
        if value == "":
            self.env.pop(key, None)
            self._env_case.pop(key, None)
        else:
            self.env[key] = value
            self._env_case.setdefault(key, name)

    def expand_percent(self, line: str) -> str:
        """Phase 1 in command-line mode: undefined `%NAME%` stays as typed."""
        out: list[str] = []
        i = 0
        while i < len(line):
            ch = line[i]
            if ch != "%":
                out.append(ch)
                i += 1
                continue
            end = line.find("%", i + 1)
            if end < 0:
                out.append(line[i:])
                break
            name = line[i + 1 : end]
            value = self.get_var(name) if name else None
            if value is None:
                # Keep the first % and resume at the second: it may open the next variable.
                out.append("%" + name)
                i = end
            else:
                out.append(value)
                i = end + 1
        return "".join(out)

    def expand_delayed(self, text: str) -> str:
        def repl(m: re.Match[str]) -> str:
            value = self.get_var(m.group(1))
            return "" if value is None else value

        return _DELAYED.sub(repl, text)

    # -- paths ----------------------------------------------------------------------------
    def resolve(self, path: str) -> str:
        p = path.strip().strip('"').replace("/", "\\")
        if re.match(r"^[A-Za-z]:\\", p) or p.startswith("\\\\"):
            return _collapse_dots(p)
        if re.match(r"^[A-Za-z]:", p):  # drive-relative: treat as relative to that drive's root
            return _collapse_dots(p[:2] + "\\" + p[2:])
        if p.startswith("\\"):
            return _collapse_dots(self.cwd[:2] + p)
        return _collapse_dots(self.cwd.rstrip("\\") + "\\" + p)

    # -- running --------------------------------------------------------------------------
    def run_line(self, line: str, stdin: bytes = b"") -> CommandOutput:
        """`cmd /c line`. The 8191-character limit holds for the line as given (winrm-protocol.md
        §1.5: stderr "The command line is too long.", exit 1) and again after %VAR% expansion
        (KB 830473: "all environment variable expansions"): a line that grows past it is refused
        before anything runs. The second answer is cmd's message for an over-long input line; the
        reference captures do not hold it, so its text, stream and exit code under `cmd /c` are
        UNVERIFIED (stream and exit code follow the first case)."""
        if len(line) > CMD_LINE_LIMIT:
            self.errorlevel = 1
            return CommandOutput(b"", self.encode(COMMAND_LINE_TOO_LONG_TEXT), 1)
        expanded = self.expand_percent(line)
        if len(expanded) > CMD_LINE_LIMIT:
            self.errorlevel = 1
            return CommandOutput(b"", self.encode(INPUT_LINE_TOO_LONG_TEXT), 1)
        try:
            tree = parse_line(expanded)
        except CmdSyntaxError as exc:
            self.errorlevel = 255
            return CommandOutput(b"", self.encode(str(exc) + CRLF), 255)
        try:
            res = self._run_sequence(tree, stdin, piped=False)
        except _ExitRequested as exc:
            return CommandOutput(exc.out, exc.err, exc.code)
        return CommandOutput(res.stdout, res.stderr, res.rc)

    def _run_sequence(self, seq: Sequence, stdin: bytes, *, piped: bool) -> _Result:
        out = bytearray()
        err = bytearray()
        last = _Result(b"", b"", 0)
        for op, pipe in seq.items:
            if op == "&&" and last.rc != 0:
                continue
            if op == "||" and last.rc == 0:
                continue
            try:
                last = self._run_pipeline(pipe, stdin, piped=piped)
            except _ExitRequested as exc:
                raise _ExitRequested(exc.code, bytes(out) + exc.out, bytes(err) + exc.err) from None
            out += last.stdout
            err += last.stderr
        return _Result(bytes(out), bytes(err), last.rc)

    def _run_pipeline(self, pipe: Pipeline, stdin: bytes, *, piped: bool) -> _Result:
        err = bytearray()
        data = stdin
        result = _Result(b"", b"", 0)
        in_pipe = len(pipe.nodes) > 1
        for node in pipe.nodes:
            # A block that takes part in a pipe runs re-serialised in a child cmd (§9.2 quirk);
            # plain commands in a pipe are passed through unchanged.
            node_piped = piped or (in_pipe and isinstance(node, Group))
            result = self._run_node(node, data, piped=node_piped)
            err += result.stderr
            data = result.stdout
        return _Result(data, bytes(err), result.rc)

    def _run_node(self, node: Node, stdin: bytes, *, piped: bool) -> _Result:
        for r in node.redirects:
            if r.handle == 0 and not r.target.startswith("&"):
                content = self._read_redirect_source(r.target)
                if content is None:
                    self.errorlevel = 1
                    return _Result(b"", self.encode(FILE_NOT_FOUND_TEXT), 1)
                stdin = content
            elif not r.target.startswith("&") and r.target.upper() != NUL_DEVICE:
                # cmd opens the file before it runs the command: a refused file means no command.
                problem = self.fs.create_error(self.resolve(r.target))
                if problem is not None:
                    self.errorlevel = 1
                    return _Result(b"", self.encode(problem), 1)
        if isinstance(node, Group):
            res = self._run_sequence(node.body, stdin, piped=piped)
        elif isinstance(node, For):
            res = self._run_for(node, stdin, piped=piped)
        else:
            res = self._run_simple(node, stdin, piped=piped)
        return self._apply_redirects(node.redirects, res)

    def _run_for(self, node: For, stdin: bytes, *, piped: bool) -> _Result:
        """Each item substituted for `%X` in the parsed body (after the line's %-expansion, so an
        item is never re-parsed), then the body run. Without a leading `@` cmd echoes every
        iteration's command after its prompt while echo is on (`cmd /c` starts so, `cmd /q` and
        `echo off` turn it off; layout UNVERIFIED)."""
        out = bytearray()
        err = bytearray()
        last = _Result(b"", b"", 0)
        quiet = node.body_text.startswith("@")
        for item in self._for_items(node):
            if self.echo_on and not quiet:
                shown = _substitute_text(node.body_text, node.variable, item)
                out += self.encode(f"{CRLF}{self.cwd}>{shown}{CRLF}")
            last = self._run_sequence(_substitute_sequence(node.body, node.variable, item), stdin, piped=piped)
            out += last.stdout
            err += last.stderr
        return _Result(bytes(out), bytes(err), last.rc)

    def _for_items(self, node: For) -> Iterator[str]:
        if node.numeric:
            # `for /l`: start,step,end; missing or non-numeric parts count as 0, as cmd's atoi does.
            nums = [_atoi(t) for t in _FOR_SET_SPLIT.split(node.items.strip()) if t]
            start, step, end = [*nums, 0, 0, 0][:3]
            value, n = start, 0
            while (value <= end if step >= 0 else value >= end) and n < FOR_L_MAX_ITERATIONS:
                yield str(value)
                value, n = value + step, n + 1
            return
        for token in _for_set_tokens(node.items):
            if "*" in token or "?" in token:
                yield from self._glob(token)
            else:
                yield token

    def _glob(self, pattern: str) -> list[str]:
        """Files matching a wildcard set item, named as the item names its folder (none: nothing)."""
        bare = pattern.strip('"')
        folder, _, name = bare.replace("/", "\\").rpartition("\\")
        where = self.resolve(folder or ".").rstrip("\\").upper()
        found = []
        for path in self.fs.paths():
            parent, _, base = path.rpartition("\\")
            if parent.upper() == where and fnmatch.fnmatch(base.upper(), name.upper()):
                found.append(f"{folder}\\{base}" if folder else base)
        return sorted(found, key=str.upper)

    def _read_redirect_source(self, target: str) -> bytes | None:
        if target.upper() == NUL_DEVICE:
            return b""
        return self.fs.read(self.resolve(target))

    def _apply_redirects(self, redirects: list[Redirect], res: _Result) -> _Result:
        outputs = [r for r in redirects if r.handle in (1, 2)]
        if not outputs:
            return res
        # Destinations per handle, applied left to right like cmd's handle duplication.
        dest: dict[int, tuple[str, str, bool]] = {1: ("std", "1", False), 2: ("std", "2", False)}
        for r in outputs:
            if r.target.startswith("&"):
                src = int(r.target[1:])
                dest[r.handle] = dest.get(src, ("std", str(src), False))
            else:
                where = NUL_DEVICE if r.target.upper() == NUL_DEVICE else self.resolve(r.target)
                dest[r.handle] = ("file", where, r.append)
                if dest[r.handle][1] != NUL_DEVICE and not r.append:
                    self.fs.write(dest[r.handle][1], b"")
        out = bytearray()
        err = bytearray()
        for handle, data in ((1, res.stdout), (2, res.stderr)):
            kind, where, _append = dest[handle]
            if kind == "std":
                (out if where == "1" else err).extend(data)
            elif where != NUL_DEVICE:
                self.fs.write(where, data, append=True)
        return _Result(bytes(out), bytes(err), res.rc)

    def _run_simple(self, node: Simple, stdin: bytes, *, piped: bool) -> _Result:
        text = node.text
        if self.delayed_expansion and "!" in text:
            text = self.expand_delayed(text)
        stripped = text.lstrip(" \t;,=")
        if not stripped:
            return _Result(b"", b"", 0)
        if stripped.startswith("@"):
            stripped = stripped[1:].lstrip()
        name, rest = _split_command(stripped)
        key = _command_key(name)
        if key == "echo":
            return self._echo(rest, piped=piped)
        if key == "rem":
            return _Result(b"", b"", 0)
        if key == "call":
            return self._call(rest, stdin, piped=piped)
        if key == "exit":
            args = split_args(rest)
            code = self.errorlevel
            nums = [a for a in args if a.lower() != "/b"]
            if nums:
                try:
                    code = int(nums[0])
                except ValueError:
                    code = 0
            self.errorlevel = code
            raise _ExitRequested(code)
        if key == "set":
            return self._set(rest)
        if key == "type":
            return self._type(rest)
        if key in ("del", "erase"):
            return self._del(rest)
        if key in ("cd", "chdir"):
            return self._cd(rest)
        if key == "chcp":
            return self._chcp(rest)
        if key == "cmd":
            return self._cmd(rest, stdin)
        tool = self.tools.get(key)
        if tool is None:
            self.errorlevel = UNKNOWN_COMMAND_EXIT
            shown = name.strip('"')
            return _Result(b"", self.encode(UNKNOWN_COMMAND_TEXT.format(name=shown)), UNKNOWN_COMMAND_EXIT)
        output = tool(ToolContext(name, tuple(split_args(rest)), rest, stdin, self))
        self.errorlevel = output.exit_code
        return _Result(output.stdout, output.stderr, output.exit_code)

    # -- internal commands ----------------------------------------------------------------
    def _echo(self, rest: str, *, piped: bool) -> _Result:
        # `rest` starts with the delimiter that ended the word "echo" (one is dropped).
        body = rest[1:] if rest else ""
        if not body.strip() and (not rest or rest[0] in " \t"):
            line = "ECHO is on." if self.echo_on else "ECHO is off."  # tool-outputs §9.2
        elif rest[:1] in " \t" and body.strip().lower() in ("on", "off"):
            self.echo_on = body.strip().lower() == "on"
            return _Result(b"", b"", 0)
        else:
            line = body
        if piped:
            line += " "
        return _Result(self.encode(line + CRLF), b"", 0)

    def _call(self, rest: str, stdin: bytes, *, piped: bool) -> _Result:
        again = self.expand_percent(rest.strip())
        self._level_touched = False
        res = self._run_simple(Simple(again), stdin, piped=piped)
        if not self._level_touched:
            self.errorlevel = 0  # CALL clears ERRORLEVEL when the called command leaves it alone
        return res

    def _set(self, rest: str) -> _Result:
        body = rest.strip()
        if body.startswith('"') and body.endswith('"') and len(body) >= 2:
            body = body[1:-1]
        if "=" not in body:
            prefix = body.upper()
            lines = [f"{self._env_case.get(k, k)}={v}" for k, v in sorted(self.env.items()) if k.startswith(prefix)]
            if not lines:
                self.errorlevel = 1
                return _Result(b"", self.encode(f"Environment variable {body} not defined" + CRLF), 1)
            return _Result(self.encode(CRLF.join(lines) + CRLF), b"", 0)
        name, value = body.split("=", 1)
        self.set_var(name, value)
        return _Result(b"", b"", 0)

    def _type(self, rest: str) -> _Result:
        args = split_args(rest)
        if not args:
            self.errorlevel = 1
            return _Result(b"", self.encode(SYNTAX_ERROR_TEXT), 1)
        data = self.fs.read(self.resolve(args[0]))
        if data is None:
            self.errorlevel = 1
            return _Result(b"", self.encode(FILE_NOT_FOUND_TEXT), 1)
        self.errorlevel = 0
        return _Result(data, b"", 0)  # type writes the bytes unchanged (§1.2)

    def _del(self, rest: str) -> _Result:
        paths = [a for a in split_args(rest) if not a.startswith("/")]
        if not paths:
            self.errorlevel = 1
            return _Result(b"", self.encode(SYNTAX_ERROR_TEXT), 1)
        err = []
        for p in paths:
            full = self.resolve(p)
            if not self.fs.delete(full):
                err.append(f"Could Not Find {full}{CRLF}")
        self.errorlevel = 0  # DEL clears ERRORLEVEL even when it fails
        return _Result(b"", self.encode("".join(err)), 0)

    def _cd(self, rest: str) -> _Result:
        """`cd [/d] [path]`: no path prints the current folder; without /d a folder on another
        drive becomes that drive's current folder but the shell stays on its own drive (not modelled
        beyond leaving cwd alone). The error text is Windows' ERROR_PATH_NOT_FOUND message (UNVERIFIED
        in the reference, as is its exit code 1)."""
        arg = rest.strip()
        switch_drive = False
        if re.match(r"(?i)/d(?:[\s\"]|$)", arg):
            switch_drive, arg = True, arg[2:].strip()
        if not arg:
            self.errorlevel = 0
            return _Result(self.encode(self.cwd + CRLF), b"", 0)
        # cd takes the rest as one path: blanks inside need no quotes.
        target = self.resolve(arg.replace('"', "")).rstrip(" \\")
        if target.startswith("\\\\"):
            # Exit code 1 like the other cd failures: UNVERIFIED, as is the text (UNC_CURRENT_DIRECTORY_TEXT).
            self.errorlevel = 1
            return _Result(b"", self.encode(UNC_CURRENT_DIRECTORY_TEXT), 1)
        if len(target) == 2:
            target += "\\"
        if not self.fs.is_dir(target):
            self.errorlevel = 1
            return _Result(b"", self.encode(PATH_NOT_FOUND_TEXT), 1)
        if switch_drive or target[:2].upper() == self.cwd[:2].upper():
            self.cwd = target
        self.errorlevel = 0
        return _Result(b"", b"", 0)

    def _chcp(self, rest: str) -> _Result:
        arg = rest.strip()
        if arg:
            try:
                cp = int(arg)
                if codec_for(cp) == "cp437" and cp != 437:
                    raise ValueError(arg)
            except ValueError:
                self.errorlevel = 1
                return _Result(b"", self.encode(f"Invalid code page{CRLF}"), 1)
            self.codepage = cp
        self.errorlevel = 0
        return _Result(self.encode(f"Active code page: {self.codepage}{CRLF}"), b"", 0)

    def _cmd(self, rest: str, stdin: bytes) -> _Result:
        """A nested `cmd [/d] [/q] [/v:on|off] [/s] /c "line"`: same files, copied environment."""
        i = 0
        delayed = self.delayed_expansion
        echo_on = True
        line = ""
        while i < len(rest):
            while i < len(rest) and rest[i] in " \t":
                i += 1
            if rest[i : i + 1] != "/":
                break
            m = re.match(r"/(\w)(?::(\w+))?", rest[i:])
            if not m:
                break
            switch, value = m.group(1).lower(), (m.group(2) or "").lower()
            i += m.end()
            if switch == "v":
                delayed = value == "on"
            if switch == "q":
                echo_on = False
            if switch in ("c", "k"):
                line = rest[i:].strip()
                break
        if len(line) >= 2 and line.startswith('"') and line.endswith('"'):
            line = line[1:-1]
        child = Shell(
            env={self._env_case.get(k, k): v for k, v in self.env.items()},
            fs=self.fs,
            tools=self.tools,
            codepage=self.codepage,
            cwd=self.cwd,
            delayed_expansion=delayed,
            echo_on=echo_on,
        )
        child.errorlevel = self.errorlevel
        result = child.run_line(line, stdin)
        self.errorlevel = result.exit_code
        return _Result(result.stdout, result.stderr, result.exit_code)


FOR_L_MAX_ITERATIONS = 100_000  # `for /l` with step 0 never ends on Windows; the emulation gives up here
_FOR_SET_SPLIT = re.compile(r"[\s,;=]+")


def _atoi(text: str) -> int:
    m = re.match(r"[+-]?\d+", text)
    return int(m.group()) if m else 0


def _for_set_tokens(items: str) -> list[str]:
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


def _substitute_text(text: str, variable: str, value: str) -> str:
    """`%~X` is the item without its surrounding quotes, `%X` the item as written. Other `~`
    modifiers (%~nX, %~fX, ...) are not emulated and stay as typed."""
    unquoted = value[1:] if value.startswith('"') else value
    unquoted = unquoted[:-1] if unquoted.endswith('"') else unquoted
    return text.replace("%~" + variable, unquoted).replace("%" + variable, value)


def _substitute_sequence(seq: Sequence, variable: str, value: str) -> Sequence:
    def redirects(rs: list[Redirect]) -> list[Redirect]:
        return [Redirect(r.handle, _substitute_text(r.target, variable, value), r.append) for r in rs]

    def node(n: Node) -> Node:
        if isinstance(n, Simple):
            return Simple(_substitute_text(n.text, variable, value), redirects(n.redirects))
        if isinstance(n, Group):
            return Group(_substitute_sequence(n.body, variable, value), redirects(n.redirects))
        return For(
            n.variable, n.numeric, _substitute_text(n.items, variable, value),
            _substitute_sequence(n.body, variable, value), _substitute_text(n.body_text, variable, value),
        )

    return Sequence([(op, Pipeline([node(n) for n in pipe.nodes])) for op, pipe in seq.items])


def _collapse_dots(path: str) -> str:
    """`.` and `..` components resolved, as GetFullPathName does; other paths unchanged."""
    parts = path.split("\\")
    if path.startswith("\\\\") or not any(p in (".", "..") for p in parts[1:]):
        return path  # UNC paths are left as given
    head, kept = parts[0], list[str]()
    for part in parts[1:]:
        if part == "..":
            if kept:
                kept.pop()
        elif part not in (".", ""):
            kept.append(part)
    return head + "\\" + "\\".join(kept)


def _split_command(text: str) -> tuple[str, str]:
    """Command word and the rest (the rest keeps its leading delimiter, which echo needs)."""
    if text.startswith('"'):
        end = text.find('"', 1)
        end = len(text) if end < 0 else end + 1
        return text[:end], text[end:]
    m = _INTERNAL_SPLIT.search(text)
    word_end = m.start() if m else len(text)
    word = text[:word_end]
    if word.lower() in ("echo", "rem", "cd", "chdir", "call", "set", "type", "del", "erase", "exit", "chcp"):
        return word, text[word_end:]
    # External commands: the word runs to whitespace (so `auditpol.exe` and paths stay whole).
    m2 = re.search(r"[\s]", text)
    end = m2.start() if m2 else len(text)
    return text[:end], text[end:]


def _command_key(name: str) -> str:
    base = name.strip('"').replace("/", "\\").rsplit("\\", 1)[-1].lower()
    for ext in (".exe", ".com"):
        if base.endswith(ext):
            return base[: -len(ext)]
    return base


# ---------------------------------------------------------------------------------------------
# find (an external tool, but generic text processing: it lives with the shell)

FIND_FORMAT_ERROR = "FIND: Parameter format not correct\r\n"


def find_tool(ctx: ToolContext) -> CommandOutput:
    """`find [/v] [/c] [/n] [/i] "string" [file ...]` (windows-tool-outputs.md §7).

    Counts and matches are per LINE, not per occurrence: on `wevtutil qe /f:xml` output, whose
    events share one line (§4.1), `find /c "<Event "` counts lines. From stdin with /c the output
    is the bare count + CRLF (UNVERIFIED bytes); from a file it is a blank line, then ten dashes,
    the path in upper case, `: ` and the count (VERBATIM apart from the blank line, UNVERIFIED).
    Exit codes per the find doc: 0 found, 1 not found, 2 bad switch or missing file.
    """
    flags: set[str] = set()
    needle: str | None = None
    files: list[str] = []
    tokens = _find_tokens(ctx.raw_args)
    for tok, quoted in tokens:
        if not quoted and tok.startswith("/") and needle is None:
            flag = tok[1:].lower()
            if flag not in ("v", "c", "n", "i", "off", "offline"):
                return ctx.err(f"FIND: Invalid switch{CRLF}", exit_code=2)
            flags.add(flag)
        elif needle is None:
            if not quoted:
                return ctx.err(FIND_FORMAT_ERROR, exit_code=2)
            needle = tok
        else:
            files.append(tok)
    if needle is None:
        return ctx.err(FIND_FORMAT_ERROR, exit_code=2)
    invert, count_only, numbered, nocase = "v" in flags, "c" in flags, "n" in flags, "i" in flags

    def matches(text: str) -> list[tuple[int, str]]:
        lines = text.split("\n")
        if lines and lines[-1] == "":
            lines.pop()
        hits = []
        for no, raw in enumerate(lines, 1):
            line = raw[:-1] if raw.endswith("\r") else raw
            found = (needle.lower() in line.lower()) if nocase else (needle in line)
            if found != invert:
                hits.append((no, line))
        return hits

    def render(hits: list[tuple[int, str]]) -> str:
        if count_only:
            return ""
        return "".join((f"[{no}]{line}" if numbered else line) + CRLF for no, line in hits)

    shell = ctx.shell
    if not files:
        hits = matches(shell.decode(ctx.stdin))
        text = f"{len(hits)}{CRLF}" if count_only else render(hits)
        return ctx.out(text, exit_code=0 if hits else 1)
    out: list[str] = []
    err: list[str] = []
    any_hit = False
    missing = False
    for f in files:
        path = shell.resolve(f)
        data = shell.fs.read(path)
        if data is None:
            err.append(f"File not found - {f.upper()}{CRLF}")
            missing = True
            continue
        hits = matches(shell.decode(data))
        any_hit = any_hit or bool(hits)
        header = f"{CRLF}---------- {f.upper()}"  # the name as given, upper-cased (§7)
        out.append(f"{header}: {len(hits)}{CRLF}" if count_only else f"{header}{CRLF}{render(hits)}")
    code = 2 if missing and not any_hit else (0 if any_hit else 1)
    return CommandOutput(shell.encode("".join(out)), shell.encode("".join(err)), code)


def _find_tokens(raw: str) -> list[tuple[str, bool]]:
    tokens: list[tuple[str, bool]] = []
    i = 0
    while i < len(raw):
        ch = raw[i]
        if ch in " \t":
            i += 1
        elif ch == '"':
            end = raw.find('"', i + 1)
            end = len(raw) if end < 0 else end
            tokens.append((raw[i + 1 : end], True))
            i = end + 1
        else:
            j = i
            while j < len(raw) and raw[j] not in " \t":
                j += 1
            tokens.append((raw[i:j], False))
            i = j
    return tokens
