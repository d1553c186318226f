"""The auditplan command line. Click commands only: each submodule wires one stage."""

from __future__ import annotations

import importlib

import click

from auditplan import __version__
from auditplan.cli.chain import DEFAULT_DB, DEFAULT_OUT
from auditplan.cli.vocabulary import AuditplanCommand, AuditplanGroup

__all__ = ["DEFAULT_DB", "DEFAULT_OUT", "LazyGroup", "main"]


class LazyGroup(click.Group):
    """Imports a command's module only when that command runs (or help lists it).

    The stages pull in pandas, matplotlib, pySigma and the simulator; `auditplan survey` should not
    pay for the report's or the detections' imports at start-up. `auditplan --help` lists the commands
    from COMMAND_HELP without importing any of them.
    """

    command_class = AuditplanCommand
    group_class = AuditplanGroup

    def list_commands(self, ctx: click.Context) -> list[str]:
        from auditplan.cli.commands import COMMAND_MODULES

        return sorted(set(super().list_commands(ctx)) | set(COMMAND_MODULES))

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        from auditplan.cli.commands import COMMAND_MODULES

        if cmd_name not in self.commands and cmd_name in COMMAND_MODULES:
            importlib.import_module(COMMAND_MODULES[cmd_name])  # registers itself on `main`
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        from auditplan.cli.commands import COMMAND_HELP

        rows: list[tuple[str, str]] = []
        for name in self.list_commands(ctx):
            text = COMMAND_HELP.get(name) if name not in self.commands else None
            if text is None:  # a command without a listed summary: import it for its own
                command = self.get_command(ctx, name)
                if command is None or command.hidden:
                    continue
                text = command.get_short_help_str(limit=formatter.width - 6 - len(name))
            rows.append((name, text))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="auditplan")
def main() -> None:
    """Plan process-creation auditing (Security event 4688 with command line) on a Windows fleet.

    \b
    Stages, in data-flow order:
      survey / ingest   collect from hosts over WinRM, or from exported .evtx files
      estimate          4688 events/day per host, with a range and a named source
      project / plan    SIEM load, cost, local log retention; rollout waves
      gpo / report      GPO backups per wave; the HTML capacity report
      demo / simulate   the built-in simulated fleet
    """

