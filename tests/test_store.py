"""Store: round trips, replacement, crash safety, frames, estimates, documents, bad files."""

from __future__ import annotations

import math
import os
import signal
import sqlite3
import stat
import subprocess
import sys
import textwrap
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from auditplan.records import (
    PROCESS_CREATION_GUID,
    AuditPolicy,
    AuditSetting,
    EstimateSource,
    Host,
    HostEstimate,
    HostResult,
    HostStatus,
    OSInfo,
    ProbeCaps,
    ProbeCost,
    ProductType,
    Range,
    SampledEvent,
    SecurityLog,
    SubcategorySetting,
    SysmonInfo,
    VolumeSample,
)
from auditplan.store import Store, StoreError
from auditplan.store import schema as store_schema

T0 = datetime(2026, 11, 27, 0, 0, tzinfo=UTC)


def full_result(name: str = "dc01", *, events: int = 3, reason: str = "", source: str = "winrm") -> HostResult:
    """A result with every nested record filled, so a round trip exercises every type."""
    return HostResult(
        host=Host(
            name=name,
            address="10.0.0.5",
            port=5986,
            transport="kerberos",
            scheme="https",
            role="domain_controller",
            site="lon",
            group="tier0",
            tags=("critical", "pci"),
            source="hosts.csv:2",
        ),
        status=HostStatus.OK,
        reason=reason,
        collected_at=datetime(2026, 11, 28, 6, 30, 15, 123456, tzinfo=UTC),
        source=source,
        computer_name=name.upper(),
        os=OSInfo(
            product_name="Windows Server 2022 Datacenter",
            current_build=20348,
            ubr=2849,
            product_type=ProductType.DOMAIN_CONTROLLER,
            display_version="21H2",
            cmdline_supported=True,
        ),
        audit=AuditPolicy(
            process_creation=AuditSetting.SUCCESS,
            cmdline_enabled=False,
            sce_no_apply_legacy=None,
            subcategories=(
                SubcategorySetting(PROCESS_CREATION_GUID, "Process Creation", AuditSetting.SUCCESS),
                SubcategorySetting(
                    "{0cce9215-69ae-11d9-bed3-505054503030}", "Logon", AuditSetting.SUCCESS_AND_FAILURE
                ),
            ),
        ),
        security_log=SecurityLog(
            max_size_bytes=20_971_520,
            retention="overwrite",
            file_size_bytes=20_975_616,
            record_count=48_211,
            oldest_record_number=1_000_001,
            oldest_time=T0 - timedelta(hours=30),
            newest_time=T0 + timedelta(hours=6),
        ),
        sysmon=SysmonInfo(installed=True, service_name="Sysmon64", running=True),
        volume=VolumeSample(
            window_start=T0,
            window_end=T0 + timedelta(hours=4),
            hourly_4688=(100, 200, 50, 50),
            hourly_sysmon_eid1=(90, 210, 40, 60),
            security_events_per_hour=1234.5,
            capped=False,
            boot_only=False,
        ),
        events=tuple(
            SampledEvent(
                time=T0 + timedelta(minutes=i, microseconds=7),
                event_id=4688,
                version=2,
                new_process_name="C:\\Windows\\System32\\cmd.exe",
                parent_process_name=None if i % 2 else "C:\\Windows\\explorer.exe",
                subject_user_name="alice",
                command_line=None if i == 1 else f'cmd.exe /c "echo {i} ünïcode"',
                size_bytes=1500 + i,
                secrets_found=i % 3,
            )
            for i in range(events)
        ),
        cost=ProbeCost(requests=4, bytes_sent=5123, bytes_received=98_765, seconds=1.25, truncated=False),
        caps=ProbeCaps(max_events=200, max_bytes=1_048_576, deadline_seconds=60.0),
        warnings=("sysmon: service query printed nothing",),
    )


def failed_result(name: str, status: HostStatus, reason: str) -> HostResult:
    return HostResult(
        host=Host(name=name, address=name),
        status=status,
        reason=reason,
        collected_at=datetime(2026, 11, 28, 7, 0, tzinfo=UTC),
    )


def estimate(host: str, p50: float) -> HostEstimate:
    return HostEstimate(
        host=host,
        role="iis",
        site=None,
        os_family="2019",
        events_per_day=Range(p50 / 2, p50, p50 * 3),
        source=EstimateSource.ROLE_PRIOR,
        peak_hour_factor=2.5,
        hourly_shape=tuple([1 / 24] * 24),
        bytes_per_event_xml=1500.0,
        bytes_per_event_xml_no_cmdline=1200.0,
        cmdline_length_p50=None,
        bytes_source="dev_set",
        already_on=False,
        cmdline_already_on=False,
        cmdline_supported=None,
        notes=("prior: iis",),
    )


@pytest.fixture
def store(tmp_path: Path) -> Store:
    return Store(tmp_path / "survey.db")


# -- round trips ---------------------------------------------------------------------------


def test_full_round_trip_is_equal(store: Store) -> None:
    saved = [full_result("dc01"), failed_result("web01", HostStatus.TIMEOUT, "no answer in 60 s")]
    for result in saved:
        store.save_result(result)
    loaded = store.load_results()
    assert loaded == saved  # ordered by host name
    event = loaded[0].events[0]
    assert event.time.tzinfo is not None and event.time.utcoffset() == timedelta(0)
    assert isinstance(loaded[0].status, HostStatus)
    assert isinstance(loaded[0].audit and loaded[0].audit.subcategories, tuple)
    assert isinstance(loaded[0].volume and loaded[0].volume.hourly_4688, tuple)
    assert isinstance(loaded[0].cost and loaded[0].cost.seconds, float)


def test_round_trip_survives_reopening_and_keeps_non_utc_offsets(tmp_path: Path) -> None:
    plus2 = timezone(timedelta(hours=2))
    result = replace(full_result(), collected_at=datetime(2026, 11, 28, 8, 30, tzinfo=plus2))
    with Store(tmp_path / "s.db") as first:
        first.save_result(result)
    with Store(tmp_path / "s.db") as second:
        (loaded,) = second.load_results()
        assert loaded == result
        # the frame reports the same instant in UTC
        assert second.hosts_frame()["collected_at"][0] == pd.Timestamp("2026-11-28T06:30:00Z")


def test_events_live_in_their_own_table(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        store.save_result(full_result(events=5))
    conn = sqlite3.connect(tmp_path / "s.db")
    rows = conn.execute("SELECT seq, event_id, command_line FROM events ORDER BY seq").fetchall()
    conn.close()
    assert [r[0] for r in rows] == [0, 1, 2, 3, 4]
    assert rows[1][2] is None and rows[2][2] == 'cmd.exe /c "echo 2 ünïcode"'


def test_save_replaces_the_same_host_and_source_only(store: Store) -> None:
    store.save_result(full_result("dc01", events=5))
    store.save_result(full_result("dc01", events=2, source="evtx"))
    newer = failed_result("DC01", HostStatus.AUTH_FAILED, "401 from the listener")
    store.save_result(newer)  # Windows names compare case-insensitively
    results = store.load_results()
    assert sorted((r.host.name, r.source, len(r.events)) for r in results) == [
        ("DC01", "winrm", 0),
        ("dc01", "evtx", 2),
    ]
    assert store.load_results("winrm") == [newer]
    assert store.events_frame()["host"].tolist() == ["dc01", "dc01"]  # the old winrm events are gone


def test_reason_text_passes_through_unchanged(store: Store) -> None:
    # The survey keeps secrets out of reasons; the store neither adds nor strips anything.
    reason = "access denied: 'net use \\\\x /user:bob Hunter2' -> 0x5; <b>&amp; \u202e é"
    store.save_result(failed_result("web01", HostStatus.ACCESS_DENIED, reason))
    assert store.load_results()[0].reason == reason


def test_store_has_no_password_column(tmp_path: Path) -> None:
    Store(tmp_path / "s.db").close()
    conn = sqlite3.connect(tmp_path / "s.db")
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    columns = [c[1] for t in tables for c in conn.execute(f"PRAGMA table_info({t})")]
    conn.close()
    suspicious = [c for c in columns if any(w in c.lower() for w in ("pass", "secret", "cred", "token"))]
    assert suspicious == ["secrets_found"]  # a count of redactions, not a secret


# -- resume / refresh ----------------------------------------------------------------------


def test_finished_hosts_and_delete_results(store: Store) -> None:
    store.save_result(full_result("dc01"))
    store.save_result(failed_result("web01", HostStatus.UNREACHABLE, "connection refused"))
    store.save_result(full_result("sql01", source="evtx"))
    assert store.finished_hosts() == {"dc01": HostStatus.OK, "web01": HostStatus.UNREACHABLE}
    assert store.finished_hosts(source=None) == {
        "dc01": HostStatus.OK,
        "web01": HostStatus.UNREACHABLE,
        "sql01": HostStatus.OK,
    }
    assert store.delete_results(["WEB01", "nope"]) == 1
    assert store.finished_hosts() == {"dc01": HostStatus.OK}
    assert store.delete_results(["sql01"], source="winrm") == 0
    assert [r.host.name for r in store.load_results("evtx")] == ["sql01"]
    assert store.events_frame("evtx")["host"].unique().tolist() == ["sql01"]


def test_delete_cascades_to_events(tmp_path: Path) -> None:
    with Store(tmp_path / "s.db") as store:
        store.save_result(full_result("dc01", events=4))
        store.delete_results(["dc01"])
    conn = sqlite3.connect(tmp_path / "s.db")
    assert conn.execute("SELECT count(*) FROM events").fetchone()[0] == 0
    conn.close()


# -- threads and crashes -------------------------------------------------------------------


def test_many_threads_save_concurrently(store: Store) -> None:
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        try:
            for j in range(10):
                store.save_result(full_result(f"h{k:02d}-{j}", events=3))
                store.save_result(full_result(f"h{k:02d}-{j}", events=2))  # replace
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    results = store.load_results()
    assert len(results) == 160
    assert {len(r.events) for r in results} == {2}


_WRITER = textwrap.dedent(
    """
    import sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[2])
    from test_store import full_result
    from auditplan.store import Store

    class StallAfterEvents:
        # Stops inside save_result's transaction, after the events are inserted, before COMMIT.
        def __init__(self, conn, label):
            self.conn, self.label = conn, label
        def __getattr__(self, name):
            return getattr(self.conn, name)
        def executemany(self, *args):
            cursor = self.conn.executemany(*args)
            print("mid " + self.label, flush=True)
            time.sleep(60)
            return cursor

    store = Store(Path(sys.argv[1]))
    stall = sys.argv[3] == "stall"
    iteration = 0
    while True:
        for k in range(20):
            n = 1 + (iteration + k) % 7 * 40  # 1 .. 241 events
            if stall and iteration == 45:
                store._conn = StallAfterEvents(store._conn, f"host{k:02d} n={n}")
            store.save_result(full_result(f"host{k:02d}", events=n, reason=f"n={n}"))
            iteration += 1
            if iteration == 40:
                print("ready", flush=True)
    """
)


@pytest.mark.parametrize("mode", ["stall", "timing-0", "timing-1"])
def test_sigkill_mid_write_leaves_every_host_complete(tmp_path: Path, mode: str) -> None:
    path = tmp_path / "crash.db"
    tests_dir = str(Path(__file__).resolve().parent)
    child = subprocess.Popen(
        [sys.executable, "-c", _WRITER, str(path), tests_dir, mode],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert child.stdout is not None
        line = child.stdout.readline()
        assert line == "ready\n", child.stderr.read() if child.stderr else ""
        interrupted = None
        if mode == "stall":
            interrupted = child.stdout.readline().split()  # ["mid", "host05", "n=81"]
            assert interrupted[0] == "mid"
        else:
            time.sleep(0.03 if mode == "timing-0" else 0.11)  # land somewhere in the write loop
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
    assert child.returncode == -signal.SIGKILL

    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    with Store(path) as store:
        results = store.load_results()
    names = [r.host.name for r in results]
    assert sorted(names) == [f"host{k:02d}" for k in range(20)]  # each exactly once
    for r in results:
        # a complete record: the event count matches the one written in the same transaction
        assert r.reason == f"n={len(r.events)}"
        assert r.events == full_result(r.host.name, events=len(r.events)).events
    if interrupted is not None:
        # the host being written keeps its previous result, not the interrupted one
        (victim,) = [r for r in results if r.host.name == interrupted[1]]
        assert victim.reason != interrupted[2]


# -- frames --------------------------------------------------------------------------------


def test_hosts_frame_flat_columns(store: Store) -> None:
    store.save_result(full_result("dc01", events=3))
    store.save_result(failed_result("web01", HostStatus.TIMEOUT, "deadline 60 s"))
    frame = store.hosts_frame()
    required = (
        "host computer_name status reason source collected_at role site group product_name os_build ubr "
        "product_type cmdline_supported process_creation cmdline_enabled sce_no_apply_legacy "
        "log_max_size_bytes log_retention log_file_size_bytes log_record_count log_history_hours "
        "sysmon_installed sampled_4688_per_day requests bytes_sent bytes_received seconds"
    ).split()
    assert set(required) <= set(frame.columns)
    assert frame["host"].tolist() == ["dc01", "web01"]
    dc = frame.iloc[0]
    # (100 + 200 + 50 + 50) events over 4 hours -> 100/h -> 2400/day
    assert dc["sampled_4688_per_day"] == pytest.approx(2400.0)
    # oldest T0-30h .. newest T0+6h
    assert dc["log_history_hours"] == pytest.approx(36.0)
    assert (dc["status"], dc["process_creation"], dc["product_type"]) == ("ok", "success", "domain_controller")
    assert dc["os_build"] == 20348 and dc["ubr"] == 2849
    assert bool(dc["cmdline_supported"]) is True and bool(dc["cmdline_enabled"]) is False
    assert dc["sce_no_apply_legacy"] is pd.NA
    assert dc["events_sampled"] == 3
    assert dc["tags"] == "critical;pci"
    assert (dc["requests"], dc["bytes_sent"], dc["bytes_received"], dc["seconds"]) == (4, 5123, 98765, 1.25)
    assert str(frame["collected_at"].dtype) == "datetime64[ns, UTC]"
    web = frame.iloc[1]
    assert web["status"] == "timeout" and web["reason"] == "deadline 60 s"
    assert math.isnan(web["sampled_4688_per_day"])
    assert web["os_build"] is pd.NA and web["sysmon_installed"] is pd.NA
    assert math.isnan(web["log_history_hours"])


def test_frames_of_an_empty_store_have_columns(store: Store) -> None:
    hosts, events = store.hosts_frame(), store.events_frame()
    assert len(hosts) == 0 and "sampled_4688_per_day" in hosts.columns
    assert len(events) == 0 and list(events.columns)[:3] == ["host", "source", "time"]


def test_events_frame(store: Store) -> None:
    store.save_result(full_result("dc01", events=3))
    frame = store.events_frame()
    assert len(frame) == 3
    assert frame["time"].tolist() == [pd.Timestamp(T0 + timedelta(minutes=i, microseconds=7)) for i in range(3)]
    assert frame["event_id"].tolist() == [4688] * 3
    assert frame["size_bytes"].tolist() == [1500, 1501, 1502]
    assert frame["secrets_found"].tolist() == [0, 1, 2]
    assert pd.isna(frame["command_line"][1])
    expected = {
        "host",
        "time",
        "event_id",
        "version",
        "new_process_name",
        "parent_process_name",
        "subject_user_name",
        "command_line",
        "size_bytes",
        "secrets_found",
    }
    assert expected <= set(frame.columns)


# -- estimates and documents ---------------------------------------------------------------


def test_estimates_round_trip_and_replace(store: Store) -> None:
    first = [estimate("web01", 1000.0), estimate("web02", 3000.0)]
    store.save_estimates("baseline", first)
    store.save_estimates("after-wave-1", [estimate("web01", 800.0)])
    assert store.load_estimates("baseline") == first
    store.save_estimates("baseline", first[:1])
    assert store.load_estimates("baseline") == first[:1]
    assert store.load_estimates("missing") == []
    assert store.list_estimate_runs() == ["after-wave-1", "baseline"]


def test_documents(store: Store) -> None:
    plan = {"schema_version": 1, "waves": [{"wave": 0, "hosts": ["dc01"]}], "ratio": 0.5}
    store.save_document("plan", "p1", plan)
    store.save_document("calibration", "wave-0", {"factor": 1.2})
    store.save_document("calibration", "wave-1", {"factor": 0.9})
    store.save_document("calibration", "wave-0", {"factor": 1.3})  # re-saved: keeps its place
    assert store.load_document("plan", "p1") == plan
    assert store.load_document("plan", "nope") is None
    assert store.list_documents("calibration") == ["wave-0", "wave-1"]
    assert store.load_document("calibration", "wave-0") == {"factor": 1.3}
    with pytest.raises(StoreError, match="not JSON-serialisable"):
        store.save_document("plan", "bad", {"x": float("nan")})
    with pytest.raises(StoreError, match="not JSON-serialisable"):
        store.save_document("plan", "bad", {"x": object()})
    assert store.load_document("plan", "bad") is None


# -- opening -------------------------------------------------------------------------------


def test_new_store_is_private_wal_with_foreign_keys(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path) as store:
        store.save_result(full_result())
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        wal = Path(f"{path}-wal")
        assert wal.exists() and stat.S_IMODE(wal.stat().st_mode) == 0o600
        assert store._conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store._conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert store._conn.execute("PRAGMA secure_delete").fetchone()[0] == 1
        assert store.schema_version() == store_schema.current_version()


@pytest.mark.parametrize("content", ["dc01\nweb01\n" * 100, "x\n"])
def test_text_file_is_not_a_store(tmp_path: Path, content: str) -> None:
    path = tmp_path / "notes.txt"
    path.write_text(content, encoding="utf-8")
    with pytest.raises(StoreError) as caught:
        Store(path)
    assert str(path) in str(caught.value) and "not an SQLite database" in str(caught.value)
    assert path.read_text(encoding="utf-8") == content  # left untouched


@pytest.mark.parametrize("round_", range(30))
def test_many_openers_of_a_new_store_migrate_once(tmp_path: Path, round_: int) -> None:
    # Repeated: switching a new file to WAL under contention failed in about 1 round in 14
    # before Store retried it, so 30 rounds catch a regression nearly every run.
    path = tmp_path / "new.db"
    errors: list[BaseException] = []
    barrier = threading.Barrier(8)

    def opener() -> None:
        barrier.wait()
        try:
            with Store(path) as store:  # a connection per Store: like separate processes
                store.save_result(full_result(f"h{threading.get_ident()}"))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    with Store(path) as store:
        assert store.schema_version() == store_schema.current_version()
        assert len(store.load_results()) == 8


def test_other_sqlite_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE t (x)")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError, match="not an auditplan store"):
        Store(path)


def test_directory_and_missing_parent(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="is a directory"):
        Store(tmp_path)
    with pytest.raises(StoreError, match="cannot create"):
        Store(tmp_path / "no" / "such" / "dir" / "s.db")


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    Store(path).close()
    conn = sqlite3.connect(path)
    conn.execute("UPDATE schema_version SET version = 99")
    conn.commit()
    conn.close()
    with pytest.raises(StoreError) as caught:
        Store(path)
    assert "schema version 99 is newer" in str(caught.value) and str(path) in str(caught.value)


def test_forward_migration_keeps_data(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "s.db"
    with Store(path) as store:
        store.save_result(full_result())
    applied: list[int] = []

    def to_v2(conn: sqlite3.Connection) -> None:
        applied.append(2)
        conn.execute("ALTER TABLE host_results ADD COLUMN note TEXT")

    monkeypatch.setattr(store_schema, "MIGRATIONS", [*store_schema.MIGRATIONS, to_v2])
    monkeypatch.setattr("auditplan.store.db.MIGRATIONS", store_schema.MIGRATIONS)
    with Store(path) as store:
        assert store.schema_version() == 2
        assert store.load_results() == [full_result()]
    with Store(path) as store:  # already migrated: not applied again
        assert store.schema_version() == 2
    assert applied == [2]


def test_corrupt_row_names_the_host(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with Store(path) as store:
        store.save_result(full_result("dc01"))
    conn = sqlite3.connect(path)
    conn.execute("UPDATE host_results SET os_json = '{\"current_build\": \"x\"}'")
    conn.commit()
    conn.close()
    with Store(path) as store, pytest.raises(StoreError, match="dc01"):
        store.load_results()


# -- property: any well-formed result round-trips ------------------------------------------

# Cs: lone surrogates. A list, not a tuple: mypy types ("Cs",) as tuple[str], not the Literal category names.
_text = st.text(st.characters(exclude_categories=["Cs"]), max_size=40)
_opt_text = st.none() | _text
_opt_int = st.none() | st.integers(min_value=-(2**63), max_value=2**63 - 1)
_opt_bool = st.none() | st.booleans()
_float = st.floats(allow_nan=False)
_zones = st.sampled_from([UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5, minutes=-30))])
_when = st.datetimes(min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=_zones)
_hosts = st.builds(
    Host,
    name=st.from_regex(r"[A-Za-z0-9-]{1,20}", fullmatch=True),
    address=_text,
    port=st.none() | st.integers(1, 65535),
    transport=_opt_text,
    scheme=_opt_text,
    role=_opt_text,
    site=_opt_text,
    group=_opt_text,
    tags=st.lists(_text, max_size=3).map(tuple),
    source=_text,
)
_results = st.builds(
    HostResult,
    host=_hosts,
    status=st.sampled_from(HostStatus),
    reason=_text,
    collected_at=_when,
    source=st.sampled_from(["winrm", "evtx"]),
    computer_name=_opt_text,
    os=st.none()
    | st.builds(
        OSInfo,
        product_name=_opt_text,
        current_build=_opt_int,
        ubr=_opt_int,
        product_type=st.none() | st.sampled_from(ProductType),
        display_version=_opt_text,
        cmdline_supported=_opt_bool,
    ),
    audit=st.none()
    | st.builds(
        AuditPolicy,
        process_creation=st.none() | st.sampled_from(AuditSetting),
        cmdline_enabled=_opt_bool,
        sce_no_apply_legacy=_opt_bool,
        subcategories=st.lists(
            st.builds(SubcategorySetting, guid=_text, name=_text, setting=st.sampled_from(AuditSetting)),
            max_size=3,
        ).map(tuple),
    ),
    security_log=st.none()
    | st.builds(
        SecurityLog,
        max_size_bytes=_opt_int,
        retention=_opt_text,
        file_size_bytes=_opt_int,
        record_count=_opt_int,
        oldest_record_number=_opt_int,
        oldest_time=st.none() | _when,
        newest_time=st.none() | _when,
    ),
    sysmon=st.none() | st.builds(SysmonInfo, installed=st.booleans(), service_name=_opt_text, running=_opt_bool),
    volume=st.none()
    | st.builds(
        VolumeSample,
        window_start=_when,
        window_end=_when,
        hourly_4688=st.lists(st.integers(0, 10**9), max_size=48).map(tuple),
        hourly_sysmon_eid1=st.none() | st.lists(st.integers(0, 10**9), max_size=5).map(tuple),
        security_events_per_hour=st.none() | _float,
        capped=st.booleans(),
        boot_only=st.booleans(),
    ),
    events=st.lists(
        st.builds(
            SampledEvent,
            time=_when,
            event_id=st.integers(0, 65535),
            version=st.none() | st.integers(0, 10),
            new_process_name=_opt_text,
            parent_process_name=_opt_text,
            subject_user_name=_opt_text,
            command_line=_opt_text,
            size_bytes=st.integers(0, 10**7),
            secrets_found=st.integers(0, 100),
        ),
        max_size=4,
    ).map(tuple),
    cost=st.none()
    | st.builds(
        ProbeCost,
        requests=st.integers(0, 100),
        bytes_sent=st.integers(0, 10**9),
        bytes_received=st.integers(0, 10**9),
        seconds=_float,
        truncated=st.booleans(),
    ),
    caps=st.none()
    | st.builds(ProbeCaps, max_events=st.integers(0, 10**6), max_bytes=st.integers(0, 10**9), deadline_seconds=_float),
    warnings=st.lists(_text, max_size=3).map(tuple),
)


@settings(max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(result=_results)
def test_any_result_round_trips(tmp_path: Path, result: HostResult) -> None:
    path = tmp_path / "prop.db"
    path.unlink(missing_ok=True)
    Path(f"{path}-wal").unlink(missing_ok=True)
    Path(f"{path}-shm").unlink(missing_ok=True)
    with Store(path) as store:
        store.save_result(result)
        assert store.load_results() == [result]
        assert len(store.hosts_frame()) == 1


def test_lone_surrogate_is_a_store_error_not_a_crash(store: Store) -> None:
    store.save_result(full_result("dc01", reason="before"))
    with pytest.raises(StoreError, match="dc01"):
        store.save_result(full_result("dc01", reason="bad \udcff byte"))
    assert store.load_results()[0].reason == "before"  # the failed write changed nothing


def test_re_saved_document_keeps_its_first_place_and_takes_the_new_payload(tmp_path: Path) -> None:
    """`plan` re-saves a re-run plan under its plan_id and lists earlier plans in save order to find
    the first plan's budget: plans 0.62, 0.5, 0.62 again must still list the 0.62 plan first, also
    after the store is closed and opened again."""
    db = tmp_path / "docs.db"
    with Store(db) as store:
        store.save_document("plan", "id-062", {"budget": 0.62})
        store.save_document("plan", "latest", {"budget": 0.62})
        store.save_document("plan", "id-050", {"budget": 0.5})
        store.save_document("plan", "latest", {"budget": 0.5})
        store.save_document("plan", "id-062", {"budget": 0.62, "rerun": True})
        store.save_document("plan", "latest", {"budget": 0.62})
    with Store(db) as store:
        assert store.list_documents("plan") == ["id-062", "latest", "id-050"]
        assert store.load_document("plan", "id-062") == {"budget": 0.62, "rerun": True}
        assert store.load_document("plan", "latest") == {"budget": 0.62}
    conn = sqlite3.connect(db)
    try:  # one row per key: the re-save updated the row in place
        assert conn.execute("SELECT COUNT(*) FROM documents WHERE kind = 'plan'").fetchone() == (3,)
    finally:
        conn.close()
