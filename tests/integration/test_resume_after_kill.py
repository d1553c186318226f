"""The survey process is SIGKILLed mid-run; the next run resumes and every host ends up in the
store exactly once, each a complete record."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
from integration_fleet import PASSWORD, USERNAME, profile, write_hosts_csv

from auditplan.records import HostStatus
from auditplan.simulator.fleet import sim_host
from auditplan.simulator.interface import CommandOutput, Credentials, FaultSpec
from auditplan.simulator.server import FleetServer
from auditplan.store import Store

NAMES = [f"h{i:02}" for i in range(12)]
HELD_FROM = 6  # hosts from this one on answer only once the test opens the gate


class GatedBackend:
    """A host whose command runs only once `gate` is set: the survey cannot finish before the test
    has killed or interrupted it, however fast or slow the machine (no race with a poll interval)."""

    def __init__(self, inner: object, gate: threading.Event) -> None:
        self.inner, self.gate = inner, gate

    def run(self, command: str, arguments: tuple[str, ...], codepage: int | None = None) -> CommandOutput:
        self.gate.wait(120)
        return self.inner.run(command, arguments, codepage)  # type: ignore[attr-defined, no-any-return]


@contextmanager
def gated_fleet(gate: threading.Event) -> Iterator[FleetServer]:
    """NAMES on loopback over Basic/HTTP, 100 ms per response, hosts HELD_FROM.. behind `gate`."""
    sims = [sim_host(profile(name, FaultSpec(latency_ms=100))) for name in NAMES]
    sims = [replace(s, backend=GatedBackend(s.backend, gate)) if i >= HELD_FROM else s for i, s in enumerate(sims)]
    server = FleetServer(sims, users=[Credentials(USERNAME, PASSWORD)], auth={"basic"}, tls=None,
                         allow_unencrypted=True, operation_timeout_cap=1.0)
    with server:
        yield server


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
    # The held hosts cannot finish before the kill, so it lands mid-run on any machine.
    gate = threading.Event()
    with gated_fleet(gate) as server:
        hosts = write_hosts_csv(tmp_path / "hosts.csv", server, NAMES)
        db = tmp_path / "survey.db"
        first = _start_until_saved(hosts, db, 3)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
        assert first.returncode == -signal.SIGKILL
        saved_before = _saved(db)
        assert 3 <= saved_before <= HELD_FROM, "the kill should land mid-run"

        gate.set()
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
    gate = threading.Event()
    with gated_fleet(gate) as server:
        hosts = write_hosts_csv(tmp_path / "hosts.csv", server, NAMES)
        db = tmp_path / "survey.db"
        proc = _start_until_saved(hosts, db, 2)
        proc.send_signal(signal.SIGINT)
        # Pending in the survey process from here on, so the held hosts in flight finish after it.
        gate.set()
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
