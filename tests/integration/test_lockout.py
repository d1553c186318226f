"""The survey cannot lock out its account: a wrong password is tried on the canary only, a run of
authentication failures stops new hosts, and a re-run retries auth_failed hosts without --refresh.

Real pywinrm against the simulator; which hosts were tried is what each simulated host's listener
saw (server.stats), so the test counts attempts the way a domain controller would count logons.
"""

from __future__ import annotations

import json
import socket
from pathlib import Path

from click.testing import CliRunner
from integration_fleet import (
    PASSWORD,
    USERNAME,
    inventory_host,
    new_address,
    profile,
    serving,
    settings_for,
    write_hosts_csv,
)

from auditplan.cli import main
from auditplan.collect import api
from auditplan.records import Host, HostStatus
from auditplan.simulator.interface import FaultSpec
from auditplan.simulator.server import FleetServer

NAMES = [f"srv{i}" for i in range(8)]


def _contacted(server: FleetServer, names: list[str]) -> list[str]:
    return [n for n in names if server.stats(n).requests > 0]


def _closed_port(address: str) -> int:
    """A port nothing listens on (connection refused: the host is unreachable, no logon tried)."""
    with socket.socket() as sock:
        sock.bind((address, 0))
        port: int = sock.getsockname()[1]
    return port


def test_a_wrong_password_is_tried_on_the_canary_only(tmp_path: Path) -> None:
    with serving([profile(n) for n in NAMES]) as server:
        hosts = [inventory_host(server, n) for n in NAMES]
        results = api.survey(hosts, tmp_path / "a.db", settings_for("basic", None, password="wrong-" + PASSWORD),
                             concurrency=8)
        assert _contacted(server, NAMES) == ["srv0"]
    assert [(r.host.name, r.status) for r in results.results] == [("srv0", HostStatus.AUTH_FAILED)]
    assert results.stopped is not None and "srv0" in results.stopped and not results.all_ok
    assert results.outcome.not_started == NAMES[1:]


def test_failures_in_a_row_stop_new_hosts_after_the_canary(tmp_path: Path) -> None:
    # The canary takes the credentials; every later host rejects them (as hosts of another domain
    # would). One at a time, so exactly the limit is reached: canary + 2 hosts.
    profiles = [profile("srv0")] + [profile(n, FaultSpec(reject_credentials=True)) for n in NAMES[1:]]
    with serving(profiles) as server:
        hosts = [inventory_host(server, n) for n in NAMES]
        results = api.survey(hosts, tmp_path / "a.db", settings_for("basic", None), concurrency=1,
                             max_auth_failures=2)
        assert _contacted(server, NAMES) == ["srv0", "srv1", "srv2"]
    assert results.stopped is not None and results.stopped.startswith("2 hosts in a row")
    assert results.outcome.not_started == NAMES[3:]


def test_in_flight_hosts_finish_and_at_most_canary_plus_n_plus_the_fan_out_are_tried(tmp_path: Path) -> None:
    profiles = [profile("srv0")] + [profile(n, FaultSpec(reject_credentials=True)) for n in NAMES[1:]]
    with serving(profiles) as server:
        hosts = [inventory_host(server, n) for n in NAMES]
        results = api.survey(hosts, tmp_path / "a.db", settings_for("basic", None), concurrency=2,
                             max_auth_failures=2)
        tried = _contacted(server, NAMES)
    # The canary, then two at a time: the second failure may find one more host in flight.
    assert tried[0] == "srv0" and 3 <= len(tried) <= 4
    assert sorted(r.host.name for r in results.outcome.results) == sorted(tried)  # every started host saved
    assert results.stopped is not None and set(results.outcome.not_started) == set(NAMES) - set(tried)


def test_unreachable_hosts_neither_count_nor_reset_and_zero_turns_the_guard_off(tmp_path: Path) -> None:
    bad = FaultSpec(reject_credentials=True)
    with serving([profile("srv0"), profile("srv1", bad), profile("srv2", bad), profile("srv3", bad)]) as server:
        down_address = new_address()
        down = Host(name="down", address=down_address, port=_closed_port(down_address), source="test:down")
        hosts = [inventory_host(server, "srv0"), inventory_host(server, "srv1"), down,
                 inventory_host(server, "srv2"), inventory_host(server, "srv3")]
        stopped = api.survey(hosts, tmp_path / "a.db", settings_for("basic", None), concurrency=1,
                             max_auth_failures=2)
        assert [r.host.name for r in stopped.outcome.results] == ["srv0", "srv1", "down", "srv2"]
        assert stopped.outcome.results[2].status is HostStatus.UNREACHABLE and stopped.stopped is not None
        off = api.survey(hosts, tmp_path / "b.db", settings_for("basic", None, password="wrong-" + PASSWORD),
                         concurrency=1, max_auth_failures=0)
    assert off.stopped is None and len(off.outcome.results) == len(hosts)


def test_cli_exits_2_after_the_canary_and_a_rerun_retries_auth_failed_hosts(tmp_path: Path) -> None:
    names = NAMES[:4]
    with serving([profile(n) for n in names]) as server:
        hosts = write_hosts_csv(tmp_path / "hosts.csv", server, names)
        db = tmp_path / "a.db"
        args = ["survey", str(hosts), "--db", str(db), "--username", USERNAME, "--password-env", "AP_PW",
                "--transport", "basic", "--http", "--allow-basic-over-http", "--timeout", "60", "--json",
                "--no-progress"]
        wrong = CliRunner().invoke(main, args, env={"AP_PW": "wrong-" + PASSWORD}, catch_exceptions=False)
        assert wrong.exit_code == 2, wrong.stdout + wrong.stderr
        assert "survey stopped: the first host, srv0, rejected the credentials" in wrong.stderr
        assert "3 host(s) not started" in wrong.stderr
        assert [row["status"] for row in json.loads(wrong.stdout)] == ["auth_failed"]
        assert _contacted(server, names) == ["srv0"]

        # The password fixed, a plain re-run (no --refresh) retries srv0 and says so.
        fixed = CliRunner().invoke(main, args, env={"AP_PW": PASSWORD}, catch_exceptions=False)
    assert fixed.exit_code == 0, fixed.stdout + fixed.stderr
    assert "retried 1 host(s) whose last survey failed authentication" in fixed.stderr and "srv0" in fixed.stderr
    assert {row["host"]: row["status"] for row in json.loads(fixed.stdout)} == dict.fromkeys(names, "ok")
    for blob in (wrong.stdout, wrong.stderr, fixed.stdout, fixed.stderr):
        assert PASSWORD not in blob
