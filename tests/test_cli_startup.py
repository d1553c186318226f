"""Commands load lazily: running one stage does not import the others' heavy dependencies."""

from __future__ import annotations

import subprocess
import sys

import click

from auditplan.cli import main
from auditplan.cli.commands import COMMAND_MODULES

PROBE = """
import sys
from click.testing import CliRunner
from auditplan.cli import main
result = CliRunner().invoke(main, [sys.argv[1], "--help"])
assert result.exit_code == 0, result.output
print(",".join(m for m in ("matplotlib", "sigma", "pandas", "winrm", "requests") if m in sys.modules))
"""


def _loaded_by(command: str) -> str:
    # A fresh interpreter: this test process has imported everything already.
    out = subprocess.run([sys.executable, "-c", PROBE, command], capture_output=True, text=True, check=True,
                         timeout=60)
    return out.stdout.strip()


def test_a_command_imports_only_its_own_stage() -> None:
    assert _loaded_by("gpo") == ""  # gpo needs none of the report's, detections' or survey's libraries


def test_offline_ingest_loads_no_winrm_stack() -> None:
    # collect.api serves both survey and ingest; the WinRM stack loads only when a survey runs.
    assert "winrm" not in _loaded_by("ingest").split(",")
    assert "requests" not in _loaded_by("ingest").split(",")


def test_every_listed_command_resolves_to_its_module() -> None:
    ctx = click.Context(main)
    assert main.list_commands(ctx) == sorted(COMMAND_MODULES)
    for name, module in COMMAND_MODULES.items():
        command = main.get_command(ctx, name)
        assert command is not None and command.name == name
        assert sys.modules[module].__name__ == module


def test_survey_and_ingest_help_load_no_pandas() -> None:
    # pandas alone costs over half a second to import; the store defers it to the frame methods.
    assert "pandas" not in _loaded_by("survey").split(",")
    assert "pandas" not in _loaded_by("ingest").split(",")
    assert "pandas" not in _loaded_by("merge").split(",")
