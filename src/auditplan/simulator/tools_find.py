"""`find`: an external tool, but generic text processing over the shell's files and stdin."""

from __future__ import annotations

from auditplan.simulator.cmd_shell import CRLF, ToolContext
from auditplan.simulator.interface import CommandOutput

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
