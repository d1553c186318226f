"""A small cmd.exe: what `cmd.exe /c <line>` does with the line a WinRS Command carries.

Rules implemented, in cmd's own phase order (windows-tool-outputs.md §9 for the observable
texts; the phase order is cmd's documented parser behaviour):

1. `%VAR%` expansion over the whole line before anything runs (command-line mode: an undefined
   variable keeps its text and scanning resumes at its closing `%`, which reproduces the known
   `echo %a %b% c%` -> `%a a c%` case; `%ERRORLEVEL%` and `%CD%` are dynamic). So in
   `a & echo %ERRORLEVEL%` the value is the one from before `a` ran, as on Windows. The 8191-character
   limit applies to the line before and after this pass (`Shell.run_line`).
2. The operator tree: `^`, `&`, `&&`, `||`, `|`, `( )`, redirections and FOR's own grammar
   (cmd_parse.py).
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

The host's files and path resolution are cmd_files.py; `find` is tools_find.py.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from auditplan.simulator.cmd_files import (
    FILE_NOT_FOUND_TEXT,
    NUL_DEVICE,
    PATH_NOT_FOUND_TEXT,
    FileSystem,
    make_start_folders,
    resolve_path,
)
from auditplan.simulator.cmd_parse import (
    CmdSyntaxError,
    For,
    Group,
    Node,
    Pipeline,
    Redirect,
    Sequence,
    Simple,
    command_key,
    for_range,
    for_set_tokens,
    parse_line,
    split_args,
    split_command,
    substitute_sequence,
    substitute_text,
)
from auditplan.simulator.interface import CommandOutput
from auditplan.simulator.tool_texts import CMD_SYNTAX, CMD_UNKNOWN

CRLF = "\r\n"
UNKNOWN_COMMAND_EXIT = 9009
UNKNOWN_COMMAND_TEXT = CMD_UNKNOWN  # windows-tool-outputs.md §9.1 (VERBATIM, stderr, CRLF)
SYNTAX_ERROR_TEXT = CMD_SYNTAX
# cd to a \\server\share path. Not in the reference captures: UNVERIFIED (cmd's well-known wording).
UNC_CURRENT_DIRECTORY_TEXT = "CMD does not support UNC paths as current directories.\r\n"
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


FOR_L_MAX_ITERATIONS = 100_000  # `for /l` with step 0 never ends on Windows; the emulation gives up here
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
        messages: Mapping[str, str] | None = None,  # English message -> the host's (tool_texts.py)
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
        self.messages = messages or {}
        self._errorlevel = 0
        self._level_touched = False
        self._pushed: list[str] = []  # pushd's stack of folders
        make_start_folders(fs, cwd, self.env)

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

    def say(self, text: str, name: str = "") -> bytes:
        """One of cmd's own messages, in the host's language (`{name}`: the command as typed)."""
        return self.encode(self.messages.get(text, text).replace("{name}", name))

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
        return resolve_path(self.cwd, path)

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
                    return _Result(b"", self.say(FILE_NOT_FOUND_TEXT), 1)
                stdin = content
            elif not r.target.startswith("&") and r.target.upper() != NUL_DEVICE:
                # cmd opens the file before it runs the command: a refused file means no command.
                problem = self.fs.create_error(self.resolve(r.target))
                if problem is not None:
                    self.errorlevel = 1
                    return _Result(b"", self.say(problem), 1)
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
                shown = substitute_text(node.body_text, node.variable, item)
                out += self.encode(f"{CRLF}{self.cwd}>{shown}{CRLF}")
            last = self._run_sequence(substitute_sequence(node.body, node.variable, item), stdin, piped=piped)
            out += last.stdout
            err += last.stderr
        return _Result(bytes(out), bytes(err), last.rc)

    def _for_items(self, node: For) -> Iterator[str]:
        if node.numeric:
            start, step, end = for_range(node.items)
            value, n = start, 0
            while (value <= end if step >= 0 else value >= end) and n < FOR_L_MAX_ITERATIONS:
                yield str(value)
                value, n = value + step, n + 1
            return
        for token in for_set_tokens(node.items):
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
        name, rest = split_command(stripped)
        key = command_key(name)
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
        if key in ("pushd", "popd"):
            return self._pushd(rest) if key == "pushd" else self._popd()
        if key == "cmd":
            return self._cmd(rest, stdin)
        tool = self.tools.get(key)
        if tool is None:
            self.errorlevel = UNKNOWN_COMMAND_EXIT
            shown = name.strip('"')
            return _Result(b"", self.say(UNKNOWN_COMMAND_TEXT, shown), UNKNOWN_COMMAND_EXIT)
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
            return _Result(b"", self.say(SYNTAX_ERROR_TEXT), 1)
        data = self.fs.read(self.resolve(args[0]))
        if data is None:
            self.errorlevel = 1
            return _Result(b"", self.say(FILE_NOT_FOUND_TEXT), 1)
        self.errorlevel = 0
        return _Result(data, b"", 0)  # type writes the bytes unchanged (§1.2)

    def _del(self, rest: str) -> _Result:
        paths = [a for a in split_args(rest) if not a.startswith("/")]
        if not paths:
            self.errorlevel = 1
            return _Result(b"", self.say(SYNTAX_ERROR_TEXT), 1)
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
            return _Result(b"", self.say(PATH_NOT_FOUND_TEXT), 1)
        if switch_drive or target[:2].upper() == self.cwd[:2].upper():
            self.cwd = target
        self.errorlevel = 0
        return _Result(b"", b"", 0)

    def _pushd(self, rest: str) -> _Result:
        """`pushd path`: remember the current folder, then `cd /d path` (its errors are cd's)."""
        before = self.cwd
        res = self._cd("/d " + rest.strip())
        if res.rc == 0:
            self._pushed.append(before)
        return res

    def _popd(self) -> _Result:
        self.cwd = self._pushed.pop() if self._pushed else self.cwd
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

