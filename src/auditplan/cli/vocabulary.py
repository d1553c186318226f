"""One vocabulary of options across commands: renamed options kept as hidden aliases, and what `--out` means.

Every command is an `AuditplanCommand` (cli/__init__.py sets it as the group's command class). A command
declares the names it renamed, `@main.command(renamed={"--auth": "--transport"})`: the old name still
works, is absent from --help, and prints one deprecation line on stderr. Kept light (click only): it
loads with `auditplan --help`.

`--out` means a folder for commands that write several files and a file for single-file outputs; each
command's help starts with "Folder:" or "File:". A single-file command given an existing folder, or a
path ending in a separator, writes its default file name inside it (`single_file_out`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import click

# Sizes are MB everywhere, spelled with this suffix (`--max-output-mb`, `--max-size-mb`, `--log-max-size-mb`).
# 1 MB = 1,048,576 bytes, as Windows counts the Security log's MaxSize.
MB = 1024 * 1024


def rename_args(args: list[str], renamed: Mapping[str, str]) -> tuple[list[str], list[tuple[str, str]]]:
    """`args` with every old option name replaced by its new one (also `--old=value`); the pairs used.

    Stops at `--`: what follows is arguments, not options.
    """
    out: list[str] = []
    used: list[tuple[str, str]] = []
    for i, arg in enumerate(args):
        if arg == "--":
            out.extend(args[i:])
            break
        name, sep, value = arg.partition("=")
        new = renamed.get(name)
        if new is None:
            out.append(arg)
            continue
        out.append(new + sep + value)
        if (name, new) not in used:
            used.append((name, new))
    return out, used


class AuditplanCommand(click.Command):
    """A command whose renamed options still parse under their old names, with a deprecation line."""

    def __init__(self, *args: Any, renamed: Mapping[str, str] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.renamed: dict[str, str] = dict(renamed or {})

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        if self.renamed:
            args, used = rename_args(args, self.renamed)
            for old, new in used:
                click.echo(f"{ctx.command_path}: {old} is deprecated; use {new} (same meaning)", err=True)
        return super().parse_args(ctx, args)


class AuditplanGroup(click.Group):
    """A sub-group (e.g. `detections`) whose commands are AuditplanCommands too."""

    command_class = AuditplanCommand


def single_file_out(value: str | os.PathLike[str], default_name: str) -> Path:
    """The file a single-file command writes for `--out value`: `value` itself, or `default_name` inside it
    when it is an existing folder or ends with a path separator (`--out reports/`)."""
    text = os.fspath(value)
    path = Path(text)
    if text.endswith(("/", os.sep)) or path.is_dir():
        return path / default_name
    return path
