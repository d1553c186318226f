"""The survey store: one SQLite file holding host results, sampled events, estimates and
documents (plans, calibration history).

Concurrency: one connection per Store, shared by all threads and guarded by a lock, because
SQLite serialises writers anyway and one connection keeps WAL checkpoints simple. Other
processes may open the same file (WAL lets readers run beside the writer).

Durability: each save is one transaction (BEGIN IMMEDIATE … COMMIT). In WAL mode with
synchronous=NORMAL a killed process never leaves a half-written host: the previous commit
stays visible. (A power cut may lose the last commits, never corrupt; the survey resumes.)

Privacy: the file is created 0600 (SQLite gives its -wal/-shm files the same mode);
secure_delete overwrites replaced rows. There is no column for a credential; the store keeps
what it is given, so collect must never put a secret into a reason or a command line.
"""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas costs ~0.6 s to import; `survey --help` and the survey itself never need it
    import pandas as pd

from auditplan.records import HostEstimate, HostResult, HostStatus, SampledEvent
from auditplan.store.codec import CodecError, decode_as, encode
from auditplan.store.rows import EVENTS_COLUMNS, HOSTS_COLUMNS, host_row, typed_frame, utc
from auditplan.store.schema import MIGRATIONS, SCHEMA_VERSION_TABLE, current_version

BUSY_TIMEOUT_SECONDS = 30.0
FILE_MODE = 0o600

# HostResult fields with a column of their own (JSON or plain); any other field, e.g. one a
# later contract adds, is kept in extra_json so that nothing is dropped on a round trip.
_RESULT_JSON_COLUMNS = {
    "host": "host_json",
    "os": "os_json",
    "audit": "audit_json",
    "security_log": "security_log_json",
    "sysmon": "sysmon_json",
    "volume": "volume_json",
    "cost": "cost_json",
    "caps": "caps_json",
    "warnings": "warnings_json",
}
_RESULT_PLAIN_COLUMNS = ("status", "reason", "collected_at", "source", "computer_name")
_EVENT_COLUMNS = (
    "time",
    "event_id",
    "version",
    "new_process_name",
    "parent_process_name",
    "subject_user_name",
    "command_line",
    "size_bytes",
    "secrets_found",
)


_DELETE_RESULT = "DELETE FROM host_results WHERE host = ? AND source = ?"
_INSERT_RESULT = (
    "INSERT INTO host_results (host, status, reason, collected_at, collected_at_utc, source, computer_name, "
    "host_json, os_json, audit_json, security_log_json, sysmon_json, volume_json, cost_json, caps_json, "
    "warnings_json, extra_json) VALUES (:host, :status, :reason, :collected_at, :collected_at_utc, :source, "
    ":computer_name, :host_json, :os_json, :audit_json, :security_log_json, :sysmon_json, :volume_json, "
    ":cost_json, :caps_json, :warnings_json, :extra_json)"
)
_INSERT_EVENT = (
    "INSERT INTO events (result_id, seq, time, time_utc, event_id, version, new_process_name, "
    "parent_process_name, subject_user_name, command_line, size_bytes, secrets_found, extra_json) "
    "VALUES (:result_id, :seq, :time, :time_utc, :event_id, :version, :new_process_name, "
    ":parent_process_name, :subject_user_name, :command_line, :size_bytes, :secrets_found, :extra_json)"
)


class StoreError(Exception):
    """The store cannot be opened, read or written; the message names the file."""


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def _create_private(path: Path) -> None:
    try:
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, FILE_MODE)
    except FileExistsError:
        return
    except OSError as exc:
        raise StoreError(f"{path}: cannot create the store: {exc.strerror or exc}") from None
    os.close(fd)


class Store:
    """Create or open the store at `path`. Use as a context manager, or call close()."""

    def __init__(self, path: Path) -> None:
        self.path = path
        if path.is_dir():
            raise StoreError(f"{path}: is a directory, not a store file")
        _create_private(path)
        self._lock = threading.RLock()
        try:
            self._conn = sqlite3.connect(
                str(path), timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None, check_same_thread=False
            )
        except sqlite3.Error as exc:
            raise StoreError(f"{path}: cannot open the store: {exc}") from None
        try:
            self._configure()
            self._migrate()
        except sqlite3.DatabaseError as exc:
            self._conn.close()
            if "not a database" in str(exc):
                raise StoreError(f"{path}: not an auditplan store (not an SQLite database)") from None
            raise StoreError(f"{path}: cannot open the store: {exc}") from None
        except StoreError:
            self._conn.close()
            raise

    # -- lifecycle -------------------------------------------------------------------------

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _configure(self) -> None:
        mode = self._switch_to_wal()
        if str(mode).lower() != "wal":
            raise StoreError(f"{self.path}: cannot switch the store to WAL mode (got {mode})")
        self._conn.execute("PRAGMA foreign_keys=ON")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.execute("PRAGMA secure_delete=ON")

    def _switch_to_wal(self) -> str:
        # Switching a new file to WAL takes an exclusive lock, and SQLite can answer
        # SQLITE_BUSY at once, without calling the busy handler, when another connection is
        # switching or reading the same new file (seen with 8 openers: ~7% of runs). So retry
        # here, within the same busy timeout every other statement gets.
        deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
        delay = 0.005
        while True:
            try:
                return str(self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0])
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() + delay > deadline:
                    raise
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def _migrate(self) -> None:
        # Each step re-reads the version inside its transaction, so two processes opening the
        # same new store at once apply every migration exactly once.
        while True:
            with self._transaction():
                version = self._read_version()
                if version > current_version():
                    raise StoreError(
                        f"{self.path}: store schema version {version} is newer than this auditplan "
                        f"supports ({current_version()}); upgrade auditplan"
                    )
                if version == current_version():
                    return
                MIGRATIONS[version](self._conn)
                self._conn.execute("UPDATE schema_version SET version = ?", (version + 1,))

    def _read_version(self) -> int:
        """The stored schema version; creates the version table in an empty database."""
        tables = {row[0] for row in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if SCHEMA_VERSION_TABLE in tables:
            row = self._conn.execute("SELECT max(version) FROM schema_version").fetchone()
            return int(row[0] or 0)
        if tables:
            raise StoreError(f"{self.path}: an SQLite database, but not an auditplan store")
        self._conn.execute("CREATE TABLE schema_version (version INTEGER NOT NULL)")
        self._conn.execute("INSERT INTO schema_version (version) VALUES (0)")
        return 0

    def schema_version(self) -> int:
        with self._lock:
            row = self._conn.execute("SELECT max(version) FROM schema_version").fetchone()
        return int(row[0])

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
                self._conn.execute("COMMIT")
            except BaseException:
                # A failed COMMIT (disk full) leaves the transaction open: end it either way.
                if self._conn.in_transaction:
                    self._conn.execute("ROLLBACK")
                raise

    @contextmanager
    def _write(self, what: str) -> Iterator[sqlite3.Connection]:
        """A write transaction whose sqlite errors become StoreError naming the file."""
        try:
            with self._transaction() as conn:
                yield conn
        except (sqlite3.Error, UnicodeEncodeError) as exc:
            # UnicodeEncodeError: text with a lone surrogate has no UTF-8 form for SQLite.
            raise StoreError(f"{self.path}: cannot save {what}: {exc}") from None

    def _read(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                cursor = self._conn.execute(sql, params)
                cursor.row_factory = sqlite3.Row
                return cursor.fetchall()
            except sqlite3.Error as exc:
                raise StoreError(f"{self.path}: cannot read: {exc}") from None

    # -- host results ----------------------------------------------------------------------

    def save_result(self, result: HostResult) -> None:
        """Replace this host's result of the same source, in one transaction."""
        self.save_results([result])

    def save_results(self, results: Sequence[HostResult]) -> None:
        """Replace each host's result of the same source, all in one transaction (the survey saves
        the hosts that finished together at once): every one of them is saved, or none."""
        if not results:
            return
        prepared = [self._result_rows_of(result) for result in results]
        what = (f"the result of {results[0].host.name}" if len(results) == 1
                else f"the results of {len(results)} hosts ({results[0].host.name}, ...)")
        with self._write(what) as conn:
            for row, events in prepared:
                conn.execute(_DELETE_RESULT, (row["host"], row["source"]))
                cursor = conn.execute(_INSERT_RESULT, row)
                for event in events:
                    event["result_id"] = cursor.lastrowid
                conn.executemany(_INSERT_EVENT, events)

    def _result_rows_of(self, result: HostResult) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        row: dict[str, Any] = {
            "host": result.host.name,
            "status": str(result.status.value),
            "reason": result.reason,
            "collected_at": result.collected_at.isoformat(),
            "collected_at_utc": utc(result.collected_at).isoformat(),
            "source": result.source,
            "computer_name": result.computer_name,
        }
        for name, column in _RESULT_JSON_COLUMNS.items():
            value = getattr(result, name)
            row[column] = None if value is None else _dumps(encode(value))
        known = set(_RESULT_JSON_COLUMNS) | set(_RESULT_PLAIN_COLUMNS) | {"events"}
        extra = {f.name: encode(getattr(result, f.name)) for f in fields(result) if f.name not in known}
        row["extra_json"] = _dumps(extra) if extra else None
        return row, [self._event_row(i, event) for i, event in enumerate(result.events)]

    @staticmethod
    def _event_row(seq: int, event: SampledEvent) -> dict[str, Any]:
        row: dict[str, Any] = {"seq": seq}
        for name in _EVENT_COLUMNS:
            value = getattr(event, name)
            row[name] = value.isoformat() if isinstance(value, datetime) else value
        row["time_utc"] = utc(event.time).isoformat()
        extra = {
            f.name: encode(getattr(event, f.name)) for f in fields(event) if f.name not in _EVENT_COLUMNS
        }
        row["extra_json"] = _dumps(extra) if extra else None
        return row

    def _result_rows(self, source: str | None) -> list[sqlite3.Row]:
        return self._read(
            "SELECT * FROM host_results WHERE ?1 IS NULL OR source = ?1 ORDER BY host, source", (source,)
        )

    def _decode_result(self, row: sqlite3.Row, events: list[sqlite3.Row]) -> HostResult:
        payload: dict[str, Any] = {name: row[name] for name in _RESULT_PLAIN_COLUMNS}
        for name, column in _RESULT_JSON_COLUMNS.items():
            payload[name] = None if row[column] is None else json.loads(row[column])
        if row["extra_json"]:
            payload.update(json.loads(row["extra_json"]))
        try:
            result = decode_as(HostResult, payload)
            return replace(result, events=tuple(_decode_event(event) for event in events)) if events else result
        except (CodecError, ValueError, TypeError, KeyError) as exc:
            raise StoreError(
                f"{self.path}: the stored result of {row['host']} is unreadable: {exc}"
            ) from None

    def load_results(self, source: str | None = None) -> list[HostResult]:
        """Every stored result (of `source` if given), ordered by host name, with its events."""
        return [result for _, result in self._iter_results(source, with_events=True)]

    def _iter_results(self, source: str | None, *, with_events: bool) -> Iterator[tuple[int, HostResult]]:
        """(row id, result) pairs ordered by host name; events only when asked for."""
        rows = self._result_rows(source)
        events: dict[int, list[sqlite3.Row]] = {}
        if with_events:
            for event in self._read(
                "SELECT e.* FROM events e JOIN host_results r ON r.id = e.result_id "
                "WHERE ?1 IS NULL OR r.source = ?1 ORDER BY e.result_id, e.seq",
                (source,),
            ):
                events.setdefault(event["result_id"], []).append(event)
        for row in rows:
            yield row["id"], self._decode_result(row, events.get(row["id"], []))

    def finished_hosts(self, source: str | None = "winrm") -> dict[str, HostStatus]:
        """Host name -> how its last survey ended; for --resume. None: any source, newest wins."""
        rows = self._read(
            "SELECT host, status FROM host_results WHERE ?1 IS NULL OR source = ?1 ORDER BY collected_at_utc",
            (source,),
        )
        finished: dict[str, HostStatus] = {}
        by_key: dict[str, str] = {}
        for row in rows:
            key = row["host"].casefold()
            finished.pop(by_key.get(key, ""), None)
            by_key[key] = row["host"]
            finished[row["host"]] = HostStatus(row["status"])
        return finished

    def delete_results(self, names: Iterable[str], source: str | None = None) -> int:
        """Forget these hosts' results (of `source`, or all sources); for --refresh. Returns rows deleted."""
        deleted = 0
        with self._write("deletions") as conn:
            for name in names:
                if source is None:
                    cursor = conn.execute("DELETE FROM host_results WHERE host = ?", (name,))
                else:
                    cursor = conn.execute(
                        "DELETE FROM host_results WHERE host = ? AND source = ?", (name, source)
                    )
                deleted += cursor.rowcount
        return deleted

    # -- frames ----------------------------------------------------------------------------

    def hosts_frame(self, source: str | None = None) -> pd.DataFrame:
        """One row per stored result, flat columns (rows.HOSTS_COLUMNS); a host surveyed over WinRM and
        ingested from EVTX has a row per source unless `source` picks one."""
        counts = {
            row["result_id"]: row["n"]
            for row in self._read("SELECT result_id, count(*) AS n FROM events GROUP BY result_id")
        }
        records = [
            host_row(result, counts.get(row_id, 0))
            for row_id, result in self._iter_results(source, with_events=False)
        ]
        return typed_frame(records, HOSTS_COLUMNS)

    def events_frame(self, source: str | None = None) -> pd.DataFrame:
        """One row per sampled event: host, source and the SampledEvent fields; times in UTC."""
        rows = self._read(
            "SELECT r.host AS host, r.source AS source, e.time_utc AS time, e.event_id, e.version, "
            "e.new_process_name, e.parent_process_name, e.subject_user_name, e.command_line, "
            "e.size_bytes, e.secrets_found "
            "FROM events e JOIN host_results r ON r.id = e.result_id "
            "WHERE ?1 IS NULL OR r.source = ?1 ORDER BY r.host, r.source, e.seq",
            (source,),
        )
        records = [dict(row) for row in rows]
        for record in records:
            record["time"] = datetime.fromisoformat(record["time"])
        return typed_frame(records, EVENTS_COLUMNS)

    # -- estimates and documents -----------------------------------------------------------

    def save_estimates(self, run_label: str, estimates: Sequence[HostEstimate]) -> None:
        """Replace the whole set of estimates stored under `run_label`."""
        rows = [(run_label, seq, e.host, _dumps(encode(e))) for seq, e in enumerate(estimates)]
        with self._write(f"estimates {run_label!r}") as conn:
            conn.execute("DELETE FROM estimates WHERE run_label = ?", (run_label,))
            conn.executemany(
                "INSERT INTO estimates (run_label, seq, host, payload) VALUES (?, ?, ?, ?)", rows
            )

    def load_estimates(self, run_label: str) -> list[HostEstimate]:
        """The estimates saved under `run_label`, in saved order; [] if there are none."""
        rows = self._read(
            "SELECT host, payload FROM estimates WHERE run_label = ? ORDER BY seq", (run_label,)
        )
        estimates = []
        for row in rows:
            try:
                estimates.append(decode_as(HostEstimate, json.loads(row["payload"])))
            except (CodecError, ValueError, TypeError, KeyError) as exc:
                raise StoreError(
                    f"{self.path}: the stored estimate of {row['host']} ({run_label!r}) is unreadable: {exc}"
                ) from None
        return estimates

    def list_estimate_runs(self) -> list[str]:
        return [row[0] for row in self._read("SELECT DISTINCT run_label FROM estimates ORDER BY run_label")]

    def save_document(self, kind: str, key: str, payload: dict[str, Any]) -> None:
        """Store a JSON document (strict JSON: no NaN) under (kind, key), replacing any previous one's
        payload and saved_at. A re-saved key keeps its row, so it keeps its place in `list_documents`:
        re-running a plan must not make it look newer than the plans saved after it first was."""
        try:
            text = json.dumps(payload, ensure_ascii=False, allow_nan=False, sort_keys=True)
        except (TypeError, ValueError) as exc:
            raise StoreError(f"{self.path}: document {kind}/{key} is not JSON-serialisable: {exc}") from None
        self.save_document_text(kind, key, text)

    def save_document_text(self, kind: str, key: str, text: str) -> None:
        """save_document for a caller that already holds the document's text, as save_document writes
        it (strict JSON, keys sorted): a 100,000-host projection is not serialised twice."""
        saved_at = datetime.now(UTC).isoformat()
        with self._write(f"document {kind}/{key}") as conn:
            conn.execute(
                "INSERT INTO documents (kind, key, saved_at, payload) VALUES (?, ?, ?, ?) "
                "ON CONFLICT (kind, key) DO UPDATE SET saved_at = excluded.saved_at, payload = excluded.payload",
                (kind, key, saved_at, text),
            )

    def load_document(self, kind: str, key: str) -> dict[str, Any] | None:
        rows = self._read("SELECT payload FROM documents WHERE kind = ? AND key = ?", (kind, key))
        if not rows:
            return None
        payload = json.loads(rows[0]["payload"])
        if not isinstance(payload, dict):
            raise StoreError(f"{self.path}: document {kind}/{key} is not a JSON object")
        return payload

    def list_documents(self, kind: str) -> list[str]:
        """Keys of the documents of `kind`, in the order they were first saved (the calibration
        history order; a re-save keeps a key's place)."""
        return [row[0] for row in self._read("SELECT key FROM documents WHERE kind = ? ORDER BY id", (kind,))]


def _decode_event(row: sqlite3.Row) -> SampledEvent:
    if row["extra_json"]:
        # Written by a newer contract with more fields: take the general (slower) path.
        record = {name: row[name] for name in _EVENT_COLUMNS}
        record.update(json.loads(row["extra_json"]))
        return decode_as(SampledEvent, record)
    # The hot path of load_results: events are flat, so build them directly.
    return SampledEvent(
        time=datetime.fromisoformat(row["time"]),
        event_id=int(row["event_id"]),
        version=row["version"],
        new_process_name=row["new_process_name"],
        parent_process_name=row["parent_process_name"],
        subject_user_name=row["subject_user_name"],
        command_line=row["command_line"],
        size_bytes=int(row["size_bytes"]),
        secrets_found=int(row["secrets_found"]),
    )
