"""One vocabulary of options (issue 19): renamed options as hidden aliases, sizes in MB, what --out means."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from auditplan.cli import main
from auditplan.cli.commands import COMMAND_HELP, COMMAND_MODULES
from auditplan.cli.vocabulary import rename_args

EVTX = Path(__file__).resolve().parents[1] / "data" / "dfirmuseum__APTSimulatorVM_EventLogs_Server2022__Security.evtx"


def _all_commands() -> list[tuple[str, click.Command]]:
    ctx = click.Context(main)
    out: list[tuple[str, click.Command]] = []
    for name in main.list_commands(ctx):
        command = main.get_command(ctx, name)
        assert command is not None
        if isinstance(command, click.Group):
            out += [(f"{name} {sub}", c) for sub, c in sorted(command.commands.items())]
        else:
            out.append((name, command))
    return out


def test_rename_args_rewrites_only_old_option_names_before_the_double_dash() -> None:
    args, used = rename_args(["--auth", "basic", "--sample=5", "--title", "x", "--", "--auth"],
                             {"--auth": "--transport", "--sample": "--sample-events"})
    assert args == ["--transport", "basic", "--sample-events=5", "--title", "x", "--", "--auth"]
    assert used == [("--auth", "--transport"), ("--sample", "--sample-events")]


@pytest.mark.parametrize(("command", "old", "new"), [
    ("simulate", "--auth", "--transport"),
    ("demo", "--auth", "--transport"),
    ("ingest", "--sample", "--sample-events"),
    ("survey", "--max-output", "--max-output-mb"),
])
def test_old_names_are_hidden_from_help(command: str, old: str, new: str) -> None:
    result = CliRunner().invoke(main, [command, "--help"])
    assert result.exit_code == 0
    words = result.output.replace(",", " ").replace("=", " ").split()
    assert new in words and old not in words


@pytest.mark.parametrize("form", [["--sample", "3"], ["--sample=3"]])
def test_an_old_name_still_works_and_prints_one_deprecation_line(tmp_path: Path, form: list[str]) -> None:
    db = tmp_path / "s.db"
    result = CliRunner().invoke(main, ["ingest", str(EVTX), "--db", str(db), "--json", *form])
    assert result.exit_code == 0, result.output
    assert result.stderr.count("--sample is deprecated; use --sample-events") == 1
    # It reached the option: at most 3 sampled events were kept (the file has 34 4688s).
    from auditplan.store import Store

    with Store(db) as store:
        events = store.events_frame()
    assert 0 < len(events) <= 3


def test_the_old_name_of_a_choice_option_is_checked_as_the_new_one() -> None:
    result = CliRunner().invoke(main, ["simulate", "--auth", "nosuch"])
    assert result.exit_code == 2
    assert "--auth is deprecated; use --transport" in result.stderr
    assert "'nosuch' is not one of" in result.output


def test_sizes_are_in_mb_with_one_suffix() -> None:
    sizes = [(name, o) for name, c in _all_commands() for o in c.params
             if isinstance(o, click.Option) and not o.hidden
             and any(w in (o.help or "").lower() for w in (" mib", " mb ", " mb)", " mb,", " mb."))]
    assert sizes, "no size option found"
    for name, option in sizes:
        assert all(spelled.endswith("-mb") for spelled in option.opts), f"auditplan {name} {option.opts}"


def test_every_out_option_says_folder_or_file() -> None:
    seen = 0
    for name, command in _all_commands():
        for option in command.params:
            if isinstance(option, click.Option) and "--out" in option.opts:
                seen += 1
                assert (option.help or "").startswith(("Folder:", "File:", "sigma: Folder")), f"auditplan {name}"
    assert seen >= 5


def test_single_file_out_given_a_folder_writes_the_default_name_inside(tmp_path: Path) -> None:
    from auditplan.cli.vocabulary import single_file_out

    (tmp_path / "existing").mkdir()
    assert single_file_out(str(tmp_path / "existing"), "report.html") == tmp_path / "existing" / "report.html"
    assert single_file_out(f"{tmp_path}/new/", "report.html") == tmp_path / "new" / "report.html"
    assert single_file_out(str(tmp_path / "r.html"), "report.html") == tmp_path / "r.html"


def test_top_level_help_lists_every_command_without_importing_any() -> None:
    probe = ("import sys\nfrom click.testing import CliRunner\nfrom auditplan.cli import main\n"
             "r = CliRunner().invoke(main, ['--help'])\nassert r.exit_code == 0, r.output\n"
             "print(r.output)\nprint('LOADED', [m for m in sys.modules if m.startswith('auditplan.cli.')"
             " and m not in ('auditplan.cli.chain', 'auditplan.cli.vocabulary', 'auditplan.cli.commands')])")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60).stdout
    assert out.rstrip().endswith("LOADED []")
    listed = out.split("Commands:", 1)[1]
    for name in COMMAND_MODULES:
        assert f"\n  {name} " in listed
    assert set(COMMAND_HELP) <= set(COMMAND_MODULES)


@pytest.mark.parametrize("command", ["report", "plan", "gpo"])
def test_the_chain_commands_help_loads_no_pandas(command: str) -> None:
    """`--help` of the commands a user types after `survey` stays fast: the stage loads only when it runs."""
    probe = ("import sys\nfrom click.testing import CliRunner\nfrom auditplan.cli import main\n"
             f"r = CliRunner().invoke(main, [{command!r}, '--help'])\nassert r.exit_code == 0, r.output\n"
             "print('pandas' in sys.modules, 'auditplan.model.api' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.split() == ["False", "False"]
