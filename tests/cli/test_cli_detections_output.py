"""`auditplan detections` on the terminal (issue 13 review): what came from hosts, events and rule files
is shown as plain text (never Rich markup, never an escape sequence), and figures as text.number shows
them, as the report does."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from auditplan.cli import main
from auditplan.records import Host, HostResult, HostStatus, SampledEvent, VolumeSample
from auditplan.store import Store
from auditplan.text import escaped, number

NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
PS = r"C:\Windows\System32\WindowsPowerShell\v1.0\powershell.exe"
WIDE = {"COLUMNS": "1000"}  # no wrapping or cutting in Rich's table
# An EVTX's Computer field and a process image are whatever the file says.
MARKUP_PROCESS = r"C:\Temp\x[bold red]y.exe"  # no "/": the table shows the file name after the last one
ESCAPE_PROCESS = "C:\\Temp\\\x1b]0;owned\x07run.exe"
MARKUP_HOST = "evil[/red]01"
ESCAPE_HOST = "blind\x1b[2J[/red]02"  # as markup, "[/red]" closes no tag: MarkupError
RULE = ("title: Mine [bold]x[/b]\nid: 31111111-2222-4333-8444-555555555555\nlevel: medium\n"
        "logsource: {category: process_creation, product: windows}\n"
        "detection:\n  sel: {CommandLine|contains: zzmine}\n  condition: sel\n")


def _save(store: Store, host: str, rows: Sequence[tuple[str, str | None, int]]) -> None:
    events = tuple(SampledEvent(time=NOW, event_id=4688, version=2, new_process_name=image,
                                parent_process_name=r"C:\Windows\explorer.exe", subject_user_name="alice",
                                command_line=cmd, size_bytes=1500, secrets_found=found) for image, cmd, found in rows)
    volume = VolumeSample(window_start=NOW.replace(hour=0), window_end=NOW.replace(hour=23), hourly_4688=(100,) * 24)
    store.save_result(HostResult(host=Host(name=host, address="127.0.0.1"), status=HostStatus.OK, reason="",
                                 collected_at=NOW, events=events, volume=volume))


@pytest.fixture
def hostile(tmp_path: Path) -> tuple[Path, Path]:
    """A store whose host names and process images carry Rich markup and terminal escape sequences,
    and a rule folder whose rule fires on them."""
    db = tmp_path / "store.db"
    with Store(db) as store:
        _save(store, MARKUP_HOST, [(MARKUP_PROCESS, "x zzmine", 0), (ESCAPE_PROCESS, "y zzmine", 0),
                                   (PS, "powershell -c $p = 'x'", 1), *[(PS, "svc", 0)] * 7])
        _save(store, ESCAPE_HOST, [(PS, None, 0)] * 10)
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "mine.yml").write_text(RULE, encoding="utf-8")
    return db, rules


def test_evaluate_shows_hostile_names_as_plain_escaped_text(hostile: tuple[Path, Path]) -> None:
    db, rules = hostile
    result = CliRunner().invoke(main, ["detections", "evaluate", "--db", str(db), "--rules", str(rules)], env=WIDE)
    assert result.exit_code == 0, result.output
    assert result.exception is None and "Traceback" not in result.output
    everything = result.stdout + result.stderr
    assert "\x1b" not in everything and "\x07" not in everything
    # The process names (top processes), as the file said, with their controls shown as \xNN.
    assert "x[bold red]y.exe (1)" in result.stdout
    assert "\\x1b]0;owned\\x07run.exe (1)" in result.stdout
    # The rule's own title, markup and all.
    assert "Mine [bold]x[/b]" in result.stdout
    # Exposure per host, and the host without command lines (stdout and the warning on stderr).
    assert f"Exposed command lines per host: {MARKUP_HOST} 1" in result.stdout
    assert f"no CommandLine: {escaped(ESCAPE_HOST)}" in result.stdout
    assert f"without CommandLine ({escaped(ESCAPE_HOST)})" in result.stdout  # each rule's note
    assert escaped(ESCAPE_HOST) == "blind\\x1b[2J[/red]02" and escaped(ESCAPE_HOST) in result.stderr


def test_list_shows_a_rule_title_with_markup_as_text(hostile: tuple[Path, Path]) -> None:
    result = CliRunner().invoke(main, ["detections", "list", "--rules", str(hostile[1])], env=WIDE)
    assert result.exit_code == 0 and result.exception is None, result.output
    assert "Mine [bold]x[/b]" in result.stdout


def test_alerts_per_day_as_the_report_shows_them(tmp_path: Path) -> None:
    db = tmp_path / "store.db"
    with Store(db) as store:  # 3 of 10 sampled events hidden PowerShell, 2,400 4688/day: 720 alerts/day
        _save(store, "web01", [(PS, "powershell -w hidden -c x", 0)] * 3 + [(PS, "svc", 0)] * 7)
    result = CliRunner().invoke(main, ["detections", "evaluate", "--db", str(db)], env=WIDE)
    assert result.exit_code == 0, result.output
    # One block per rule: its title line, then its figures indented under it.
    blocks = {b.splitlines()[0]: b for b in result.stdout.split("\n\n") if b.strip()}
    hidden = next(b for title, b in blocks.items() if "PowerShell" in title and "(family 3)" in title)
    assert number(720.0) == "720" and "alerts/day (fleet): 720 on 1 host(s); 3 hit(s)" in hidden, hidden
    no_rate = next(b for title, b in blocks.items() if "(family 5)" in title)
    assert "alerts/day (fleet): 0 on 0 host(s); 0 hit(s)" in no_rate
