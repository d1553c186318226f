"""The README documents every option of every command with an example (sqlite-utils style)."""

from __future__ import annotations

import re
from pathlib import Path

import click
import pytest

from auditplan.cli import main

README = Path(__file__).resolve().parents[1] / "README.md"


def _commands() -> list[tuple[str, click.Command]]:
    out: list[tuple[str, click.Command]] = []
    ctx = click.Context(main)
    for name in main.list_commands(ctx):
        command = main.get_command(ctx, name)
        assert command is not None, name
        if isinstance(command, click.Group):
            out += [(name, sub) for _, sub in sorted(command.commands.items())]
        else:
            out.append((name, command))
    return out


def _section(top: str) -> str:
    text = README.read_text(encoding="utf-8")
    heading = re.search(rf"^### .*`auditplan {re.escape(top)}\b.*$", text, re.M)
    assert heading, f"README has no '### `auditplan {top}`' section"
    rest = text[heading.end():]
    following = re.search(r"^#{2,3} ", rest, re.M)
    return rest[: following.start()] if following else rest


@pytest.mark.parametrize(("top", "command"), _commands(), ids=lambda v: v if isinstance(v, str) else v.name)
def test_every_option_has_an_example_in_the_readme(top: str, command: click.Command) -> None:
    section = _section(top)
    examples = "\n".join(line for line in section.splitlines() if line.lstrip().startswith("auditplan ")
                         or line.startswith("    --"))
    for param in command.params:
        if not isinstance(param, click.Option) or param.hidden or param.name == "help":
            continue
        spelled = [o for o in param.opts + param.secondary_opts if o.startswith("-")]
        assert any(re.search(rf"(?<![\w-]){re.escape(o)}(?![\w-])", examples) for o in spelled), (
            f"auditplan {top} {command.name}: no README example uses {'/'.join(spelled)}"
        )
        assert param.help, f"auditplan {top} {command.name}: {spelled[0]} has no help text"


def test_ci_runs_exactly_the_readme_test_command() -> None:
    setup = README.read_text(encoding="utf-8").split("## Set-up", 1)[1].split("```sh", 1)[1].split("```", 1)[0]
    commands = [line.strip() for line in setup.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert len(commands) == 2, commands  # one installs and runs the demo, one runs the tests
    install, test = commands
    assert install.endswith("auditplan demo") and "pytest" in test
    ci = (README.parent / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert test in ci, f".ci/run does not run the README's test command {test!r}"
    assert ci[-1] == test  # last, so its exit status is CI's
    assert install.split(" && ")[0] in ci  # and CI installs the same way


def test_the_library_example_in_development_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The README's Python example uses only front doors, without click, and produces every output."""
    development = README.read_text(encoding="utf-8").split("## Development", 1)[1]
    code = development.split("```python", 1)[1].split("```", 1)[0]
    evtx = Path(__file__).resolve().parent / "data" / "dfirmuseum__APTSimulatorVM_EventLogs_Server2022__Security.evtx"
    assert 'Path("Security.evtx")' in code
    code = code.replace('Path("Security.evtx")', f"Path({str(evtx)!r})")
    monkeypatch.chdir(tmp_path)
    exec(compile(code, "README.md (Development)", "exec"), {})  # noqa: S102 - our own README's example
    out = tmp_path / "auditplan-out"
    from auditplan.records import read_plan

    plan = read_plan(out / "plan.json")
    assert [h.host for w in plan.waves for h in w.hosts] == ["web01"]
    assert (out / "gpo" / "backups" / "manifest.xml").is_file()
    html = (out / "report.html").read_text(encoding="utf-8")
    assert "web01" in html and f"Projection as planned: plan {plan.plan_id}" in html
