"""The survey on a real distributed.LocalCluster (worker processes, loopback) against the simulator.

One cluster for the module (worker processes are slow to start on a 2-core machine): the same
statuses as the threaded engine, each host saved once; a worker SIGKILLed while it surveys a host
loses nothing; the password is in no worker's argv, environment or log; site routing; the refusals
that must come before any host is tried.
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from integration_fleet import PASSWORD, inventory_host, profile, serving, settings_for

from auditplan.cli import main
from auditplan.collect import api
from auditplan.collect.winrm import dask_engine
from auditplan.collect.winrm.dask_engine import DaskCluster, check_workers, run_survey_dask
from auditplan.collect.winrm.survey import run_survey
from auditplan.records import Host, HostStatus
from auditplan.simulator.interface import FaultSpec
from auditplan.store import Store

distributed = pytest.importorskip("distributed", reason="the Dask engine is the optional extra auditplan[dask]")
dask = pytest.importorskip("dask")

FAULTS = {
    "badcreds": FaultSpec(reject_credentials=True),
    "hang": FaultSpec(hang=True),
    "reset": FaultSpec(reset_connection=True),
    "denied": FaultSpec(access_denied=True),
    "garbled": FaultSpec(malformed_xml=True),
}
NAMES = [f"ok{i}" for i in range(7)] + list(FAULTS)


@pytest.fixture(scope="module")
def cluster() -> Iterator[Any]:
    # Two worker processes; every worker serves site "lon" (and no other site).
    with dask.config.set({"distributed.scheduler.allowed-failures": dask_engine.LOCAL_ALLOWED_FAILURES}):
        local = distributed.LocalCluster(n_workers=2, threads_per_worker=4, processes=True, dashboard_address=None,
                                         silence_logs=logging.ERROR, host="127.0.0.1", resources={"site-lon": 4})
    client = distributed.Client(local, set_as_default=False)
    try:
        yield client
    finally:
        client.close()
        local.close()


def _statuses(store: Store) -> dict[str, HostStatus]:
    return {r.host.name: r.status for r in store.load_results()}


def test_same_statuses_as_threads_each_host_once_and_no_password_outside_memory(tmp_path: Path, cluster: Any) -> None:
    # A deadline far above a loopback conversation's time, so only "hang" can time out, even on a busy
    # machine; each request may use all of it (a 2 s read timeout made a slow answer a timeout in one
    # of the two runs, and the statuses then differed).
    settings = settings_for("basic", None, operation_timeout=1, read_timeout=8, deadline=8.0)
    with serving([profile(n, FAULTS.get(n)) for n in NAMES]) as server:
        hosts = [inventory_host(server, n) for n in NAMES]
        with Store(tmp_path / "threads.db") as store:
            run_survey(hosts, settings, store, concurrency=8)
            expected = _statuses(store)
        with Store(tmp_path / "dask.db") as store:
            outcome = run_survey_dask(hosts, settings, store, DaskCluster(cluster, check_workers(cluster, settings)),
                                      concurrency=8)
            assert _statuses(store) == expected
            assert sorted(r.host.name for r in store.load_results()) == sorted(NAMES)  # each exactly once
    assert sorted(r.host.name for r in outcome.results) == sorted(NAMES)
    assert expected["hang"] is HostStatus.TIMEOUT and expected["badcreds"] is HostStatus.AUTH_FAILED
    hang = next(r for r in outcome.results if r.host.name == "hang")
    assert "from Dask worker" in hang.reason  # the worker that tried is named

    # The password reached the workers only inside the tasks: not in the argv or environment of this
    # process, the workers or their nannies, nor in a worker's, nanny's or the scheduler's log, nor the store.
    secret = PASSWORD.encode()
    pids = [os.getpid(), *cluster.run(os.getpid).values(), *cluster.run(os.getpid, nanny=True).values()]
    assert len(pids) == 5
    for pid in pids:
        for part in ("cmdline", "environ"):
            assert secret not in Path(f"/proc/{pid}/{part}").read_bytes(), f"password in /proc/{pid}/{part}"
    logs = repr([cluster.get_worker_logs(), cluster.get_worker_logs(nanny=True), cluster.get_scheduler_logs()])
    assert PASSWORD not in logs
    assert secret not in (tmp_path / "dask.db").read_bytes()


def test_a_worker_killed_mid_host_loses_nothing(tmp_path: Path, cluster: Any) -> None:
    # "slow" answers each request after 1.5 s, so it is certainly in flight when its worker is killed;
    # the scheduler runs it again on the other (or the restarted) worker, and it ends ok.
    names = ["slow", *(f"w{i}" for i in range(6))]
    settings = settings_for("basic", None, deadline=120.0)
    pids: dict[str, int] = cluster.run(os.getpid)
    killed: list[int] = []

    def kill_slow_hosts_worker() -> None:
        for _ in range(600):  # until the host is on a worker (a wait, not a timing assertion)
            for worker, keys in cluster.processing().items():
                if any(str(k).endswith("-slow") for k in keys):
                    killed.append(pids[worker])
                    os.kill(pids[worker], signal.SIGKILL)
                    return
            time.sleep(0.05)

    slow = {"slow": FaultSpec(latency_ms=1500)}
    with serving([profile(n, slow.get(n)) for n in names]) as server, Store(tmp_path / "s.db") as store:
        hosts = [inventory_host(server, n) for n in names]
        killer = threading.Thread(target=kill_slow_hosts_worker)
        killer.start()
        outcome = run_survey_dask(hosts, settings, store, DaskCluster(cluster, {}), concurrency=8)
        killer.join()
        saved = store.load_results()
    assert killed, "the slow host never reached a worker"
    assert sorted(r.host.name for r in saved) == sorted(names)  # nothing lost, nothing twice
    assert sorted(r.host.name for r in outcome.results) == sorted(names)
    # surveyed again elsewhere, not given up (a host given up would be protocol_error)
    assert {r.host.name: r.status for r in saved} == dict.fromkeys(names, HostStatus.OK)
    cluster.wait_for_workers(2, timeout=120)  # the nanny restarts it, for the tests after this one


def test_sites_route_to_their_workers_and_unserved_sites_are_unreachable(tmp_path: Path, cluster: Any) -> None:
    settings = settings_for("basic", None)
    with serving([profile(n) for n in ("lon1", "fra1", "any1")]) as server, Store(tmp_path / "s.db") as store:
        hosts = [inventory_host(server, "lon1", site="LON"), inventory_host(server, "fra1", site="fra"),
                 inventory_host(server, "any1")]
        dc = DaskCluster(cluster, check_workers(cluster, settings))
        assert dc.sites == {"lon": "site-lon"}
        run_survey_dask(hosts, settings, store, dc, concurrency=4)
        results = {r.host.name: r for r in store.load_results()}
        assert server.stats("fra1").requests == 0  # never tried
    assert results["lon1"].status is HostStatus.OK and results["any1"].status is HostStatus.OK
    assert results["fra1"].status is HostStatus.UNREACHABLE
    assert "no Dask worker serves site 'fra'" in results["fra1"].reason


def test_cli_through_a_scheduler_and_its_refusals(tmp_path: Path, cluster: Any,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    address = cluster.scheduler.address
    with serving([profile("web01"), profile("web02")]) as server:
        hosts_file = tmp_path / "hosts.csv"
        rows = ["host,address,port"] + [f"{n},{a},{p}" for n in ("web01", "web02")
                                        for a, p in [server.endpoint(n)]]
        hosts_file.write_text("\n".join(rows) + "\n", encoding="utf-8")
        monkeypatch.setenv("AP_PW", PASSWORD)
        base = ["survey", str(hosts_file), "-u", "auditor", "--password-env", "AP_PW", "--transport", "basic",
                "--http", "--allow-basic-over-http", "--no-progress", "--json"]
        ok = CliRunner().invoke(main, [*base, "--db", str(tmp_path / "a.db"), "--scheduler", address])
        assert ok.exit_code == 0, ok.output
        with Store(tmp_path / "a.db") as store:
            assert _statuses(store) == {"web01": HostStatus.OK, "web02": HostStatus.OK}

        # Workers running another auditplan: exit 2, one line, before any host or the store.
        monkeypatch.setattr(dask_engine, "__version__", "99.0")
        server.reset_stats()
        other = CliRunner().invoke(main, [*base, "--db", str(tmp_path / "b.db"), "--scheduler", address])
        assert other.exit_code == 2 and "runs auditplan 0" in other.output and "this client 99.0" in other.output
        assert "Traceback" not in other.output and not (tmp_path / "b.db").exists()
        assert server.stats("web01").requests == 0

        # Nothing listening: exit 2 naming the address.
        monkeypatch.setattr(dask_engine, "CONNECT_TIMEOUT_SECONDS", 2.0)
        gone = CliRunner().invoke(main, [*base, "--db", str(tmp_path / "c.db"), "--scheduler", "tcp://127.0.0.1:9"])
        assert gone.exit_code == 2 and "cannot reach the Dask scheduler at tcp://127.0.0.1:9" in gone.output
        # A TLS scheduler address to a plain TCP scheduler (no TLS settings here): refused the same way.
        tls = CliRunner().invoke(main, [*base, "--db", str(tmp_path / "c.db"),
                                        "--scheduler", address.replace("tcp://", "tls://")])
        assert tls.exit_code == 2 and "cannot reach the Dask scheduler at tls://" in tls.output
        assert not (tmp_path / "c.db").exists()


def test_api_refuses_both_engines_at_once(tmp_path: Path) -> None:
    with pytest.raises(api.CollectError, match="choose one"):
        api.survey([Host(name="h", address="127.0.0.1")], tmp_path / "a.db", settings_for("basic", None),
                   scheduler="tcp://127.0.0.1:9", processes=2)
    assert not (tmp_path / "a.db").exists()


def test_lockout_guard_stops_after_the_canary_as_with_threads(tmp_path: Path, cluster: Any) -> None:
    names = [f"lk{i}" for i in range(6)]
    wrong = settings_for("basic", None, password="not-" + PASSWORD)
    with serving([profile(n) for n in names]) as server, Store(tmp_path / "s.db") as store:
        hosts = [inventory_host(server, n) for n in names]
        outcome = run_survey_dask(hosts, wrong, store, DaskCluster(cluster, {}), concurrency=8)
        tried = [n for n in names if server.stats(n).requests]
        saved = store.load_results()
    assert outcome.stopped_reason is not None and "rejected the credentials" in outcome.stopped_reason
    assert tried == ["lk0"] and [r.host.name for r in saved] == ["lk0"]  # only the canary
    assert sorted(outcome.not_started) == names[1:]
