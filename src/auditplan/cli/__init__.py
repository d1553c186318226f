"""The auditplan command line. Click commands only: each submodule wires one stage."""

from __future__ import annotations

from pathlib import Path

import click

from auditplan import __version__

# The store every stage reads and writes unless --db says otherwise.
DEFAULT_DB = Path("auditplan-out/auditplan.db")


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
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


# Each command module registers itself on `main` when imported.
from auditplan.cli import commands as _commands  # noqa: E402,F401
