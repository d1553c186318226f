"""The remaining hostile-option items of issue 20 (item 6): each refused with exit 2 and one line, or
warned about, instead of silently accepted or rewritten."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from auditplan.cli import main
from auditplan.collect import api
from auditplan.store import Store

DATA = Path(__file__).resolve().parents[1] / "data"
EVTX = DATA / "mdec__ID4688-Clear_event_log_attempt_native.evtx"


def _closed_port() -> int:
    with socket.socket() as sock:  # a port that was free a moment ago and has no listener
        sock.bind(("127.0.1.98", 0))
        return int(sock.getsockname()[1])


def _survey(args: list[str]) -> Result:
    return CliRunner().invoke(main, ["survey", *args, "--no-progress", "--timeout", "5", "--password-env", "AP_PW",
                                     "--username", "auditor"], env={"AP_PW": "Pw-not-a-secret"})


def test_allow_basic_over_http_warns_that_the_password_goes_in_clear(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.txt"
    hosts.write_text(f"127.0.1.98:{_closed_port()}\n", encoding="utf-8")
    result = _survey([str(hosts), "--db", str(tmp_path / "a.db"), "--transport", "basic", "--http",
                      "--allow-basic-over-http"])
    assert result.exit_code == 1, result.output  # the host is unreachable; the warning came first
    assert "WARNING: --allow-basic-over-http" in result.stderr and "clear text" in result.stderr


def test_a_csv_row_asking_for_basic_over_http_is_an_inventory_error(tmp_path: Path) -> None:
    port = _closed_port()
    hosts = tmp_path / "hosts.csv"
    hosts.write_text(f"host,address,port,transport,scheme\r\nweb01,127.0.1.98,{port},basic,http\r\n"
                     f"web02,127.0.1.98,{port},,\r\n", encoding="utf-8")
    result = _survey([str(hosts), "--db", str(tmp_path / "a.db"), "--json"])
    assert result.exit_code == 1, result.output
    assert (f"{hosts}:2: host web01: Basic over plain HTTP sends the password in clear text; refused "
            "(use https, or pass --allow-basic-over-http)") in result.stderr
    rows = json.loads(result.stdout)
    assert [row["host"] for row in rows] == ["web02"]  # web01 was never a host to survey


def test_only_such_rows_is_a_usage_error(tmp_path: Path) -> None:
    hosts = tmp_path / "hosts.csv"
    hosts.write_text(f"host,address,port,transport,scheme\r\nweb01,127.0.1.98,{_closed_port()},basic,http\r\n",
                     encoding="utf-8")
    result = _survey([str(hosts), "--db", str(tmp_path / "a.db")])
    assert result.exit_code == 2 and "no valid hosts to survey" in result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(("option", "value"), [
    ("--host", '"quoted"'), ("--host", "../../evil"), ("--host", "<script>"), ("--host", "web\x1b[31m01"),
    ("--host", ""), ("--role", "../../evil"), ("--role", "<script>alert(1)</script>"), ("--role", "a\x1bb"),
    ("--role", "x" * 65),
])
def test_ingest_host_and_role_are_validated(tmp_path: Path, option: str, value: str) -> None:
    db = tmp_path / "a.db"
    result = CliRunner().invoke(main, ["ingest", str(EVTX), "--db", str(db), option, value])
    assert result.exit_code == 2, result.output
    assert f"Invalid value for {option}" in result.output and "Traceback" not in result.output
    assert "\x1b" not in result.output  # the escape character is shown escaped, never raw
    assert not db.exists()


def test_ingest_accepts_ordinary_names(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    result = CliRunner().invoke(main, ["ingest", str(EVTX), "--db", str(db), "--host", "fs02.corp.example",
                                       "--role", "file_server"])
    assert result.exit_code == 0, result.output
    with Store(db) as store:
        (saved,) = store.load_results()
    assert (saved.host.name, saved.host.role) == ("fs02.corp.example", "file_server")


@pytest.mark.parametrize("mp_id", ["../../x", "1Corp.Pack", "Corp..Pack", "Corp Pack", "x" * 257])
def test_mp_id_is_refused_not_rewritten(tmp_path: Path, mp_id: str) -> None:
    out = tmp_path / "mp"
    result = CliRunner().invoke(main, ["detections", "export", "--format", "scom", "--mp-id", mp_id,
                                       "--out", str(out)])
    assert result.exit_code == 2, result.output
    assert "not a management pack ID" in result.output and "Traceback" not in result.output
    assert not out.exists() or not any(out.iterdir())


def test_timeout_help_says_what_the_deadline_covers() -> None:
    from auditplan.collect.winrm.transport import cleanup_share

    # What the help promises is what the transport does (tests/integration/test_deadline_holds.py
    # checks every wait of a conversation ends within it): the Delete is inside the deadline, in its
    # last 3 s, or a quarter of a shorter deadline.
    assert (cleanup_share(120.0), cleanup_share(8.0)) == (api.CLEANUP_GRACE_SECONDS, 2.0) == (3.0, 2.0)
    result = CliRunner().invoke(main, ["survey", "--help"], terminal_width=200)
    text = " ".join(result.output.split())
    assert "Per-host deadline in seconds: the whole conversation, from connect to the Delete that frees" in text
    assert "Its last 3 s (a quarter, if shorter) are kept for that Delete" in text
    assert "every request and every read of an answer waits at most the time left" in text
    assert "more to delete its shell" not in text
