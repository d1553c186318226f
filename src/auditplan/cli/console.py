"""Output that survives a pipe: the Rich console every command prints its tables on.

At a terminal Rich fits tables to its width. Piped or redirected there is no width to fit, and Rich's
default of 80 columns would cut values with "…" (issue 19: `project > file` lost 208 lines' values), so
the console is as wide as the widest row needs: every value whole, each row on one line.
"""

from __future__ import annotations

import os
import shutil
import sys
import textwrap
from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import click
from rich.console import Console

# Wide enough that no table of auditplan's is squeezed; a table is only as wide as its content.
PIPE_WIDTH = 1000


def stdout_console() -> Console:
    """The console for stdout: the terminal's width at a terminal, no cutting anywhere else."""
    console = Console()
    if not console.is_terminal:
        console = Console(width=PIPE_WIDTH)
    return console


def text_width() -> int | None:
    """Where plain text wraps: the terminal's width (80 columns on most), $COLUMNS when piped, else nowhere
    (a file or grep gets one line per detail)."""
    if sys.stdout.isatty():
        return shutil.get_terminal_size().columns
    columns = os.environ.get("COLUMNS", "")
    return int(columns) if columns.isdigit() and int(columns) > 20 else None


def echo_block(first: str, details: Iterable[str], indent: int = 4) -> None:
    """One item as plain text for people: `first` on its own line, each detail indented under it and
    wrapped at the terminal's width. Never cut: long values wrap."""
    pad = " " * indent
    width = text_width()

    def fill(text: str, first_pad: str, next_pad: str) -> str:
        if width is None:
            return first_pad + text
        return textwrap.fill(text, width, initial_indent=first_pad, subsequent_indent=next_pad,
                             break_long_words=False, break_on_hyphens=False)

    click.echo(fill(first, "", pad))
    for line in details:
        click.echo(fill(line, pad, pad + "  "))


@contextmanager
def working(message: str) -> Iterator[None]:
    """A spinner on stderr while a step that can take seconds runs (only at a terminal: a pipe or a log
    gets nothing), so a long `report` or `plan` is not mistaken for a hang."""
    err = Console(stderr=True)
    if not err.is_terminal:
        yield
        return
    with err.status(message):
        yield
