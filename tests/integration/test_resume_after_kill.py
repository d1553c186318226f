"""The survey process is SIGKILLed mid-run; the next run resumes and every host ends up in the
store exactly once, each a complete record."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from integration_fleet import PASSWORD, USERNAME, profile, serving, write_hosts_csv

from auditplan.records import HostStatus
from auditplan.simulator.interface import FaultSpec
from auditplan.store import Store

NAMES = [f"h{i:02}" for i in range(12)]


def _saved(db: Path) -> int:
    if not db.exists():
        return 0
    try:
        with sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=5) as conn:
            return int(conn.execute("SELECT count(*) FROM host_results").fetchone()[0])
    except sqlite3.Error:
        return 0  # not created yet


def _survey(hosts: Path, db: Path) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, "-m", "auditplan", "survey", str(hosts), "--db", str(db), "--username", USERNAME,
         "--password-env", "AP_PW", "--transport", "basic", "--http", "--allow-basic-over-http",
         "--concurrency", "2", "--timeout", "60", "--no-progress", "--json"],
        env={**os.environ, "AP_PW": PASSWORD},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        # A shell's background job inherits SIGINT ignored, and Python keeps it ignored;
        # the Ctrl-C test must not depend on how pytest itself was started.
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _start_until_saved(hosts: Path, db: Path, saved: int) -> subprocess.Popen[bytes]:
    """Start a survey and return once it has saved `saved` hosts (or ended)."""
    proc = _survey(hosts, db)
    deadline = time.monotonic() + 60
    while _saved(db) < saved and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    return proc


@pytest.mark.slow
def test_resume_after_sigkill(tmp_path: Path) -> None:
    # 100 ms per response: a host takes about 0.4 s, so the kill lands mid-run.
    slow = FaultSpec(latency_ms=100)
    with serving([profile(n, slow) for n in NAMES]) as server:
        hosts = write_hosts_csv(tmp_path / "hosts.csv", server, NAMES)
        db = tmp_path / "survey.db"
        first = _start_until_saved(hosts, db, 3)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert first.returncode == -signal.SIGKILL
        saved_before = _saved(db)
        assert 3 <= saved_before < len(NAMES), "the kill should land mid-run"

        second = _survey(hosts, db)
        out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err.decode(errors="replace")
    assert f"{saved_before} host(s) already in" in err.decode()
    with sqlite3.connect(db) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        counts = dict(conn.execute("SELECT host, count(*) FROM host_results GROUP BY host").fetchall())
    assert counts == dict.fromkeys(NAMES, 1)
    with Store(db) as store:
        results = store.load_results()
    assert all(r.status is HostStatus.OK and r.os is not None and r.cost is not None for r in results)
    for blob in (out, err, *(p.read_bytes() for p in tmp_path.glob("survey.db*"))):
        assert PASSWORD.encode() not in blob


@pytest.mark.slow
def test_ctrl_c_stops_cleanly_and_keeps_results(tmp_path: Path) -> None:
    slow = FaultSpec(latency_ms=100)
    with serving([profile(n, slow) for n in NAMES]) as server:
        hosts = write_hosts_csv(tmp_path / "hosts.csv", server, NAMES)
        db = tmp_path / "survey.db"
        proc = _start_until_saved(hosts, db, 2)
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=60)
        started = {n for n in NAMES if server.stats(n).requests}
    assert proc.returncode == 1, err.decode(errors="replace")
    assert b"interrupted:" in err and b"Traceback" not in err
    with Store(db) as store:
        saved = store.finished_hosts()
    # Hosts in flight finished and were saved; no host was started after the interrupt.
    assert set(saved) == started
    assert len(saved) < len(NAMES)
    assert {row["host"] for row in json.loads(out)} == started
