"""The store's SQLite schema and its forward migrations.

MIGRATIONS[n] takes a store from version n to n + 1; each runs in its own transaction
together with the schema_version update, so a crash leaves the store at a whole version.
Never edit a released migration: add the next one.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable

SCHEMA_VERSION_TABLE = "schema_version"

_V1 = """
CREATE TABLE host_results (
    id INTEGER PRIMARY KEY,
    host TEXT NOT NULL COLLATE NOCASE,  -- Host.name, compared case-insensitively as Windows does
    source TEXT NOT NULL,               -- "winrm" | "evtx"
    status TEXT NOT NULL,
    reason TEXT NOT NULL,
    collected_at TEXT NOT NULL,         -- ISO 8601 as given (tz-aware)
    collected_at_utc TEXT NOT NULL,     -- ISO 8601 UTC, for ordering
    computer_name TEXT,
    host_json TEXT NOT NULL,
    os_json TEXT,
    audit_json TEXT,
    security_log_json TEXT,
    sysmon_json TEXT,
    volume_json TEXT,
    cost_json TEXT,
    caps_json TEXT,
    warnings_json TEXT NOT NULL,
    extra_json TEXT,                    -- HostResult fields added after this schema
    UNIQUE (host, source)
);
CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    result_id INTEGER NOT NULL REFERENCES host_results (id) ON DELETE CASCADE,
    seq INTEGER NOT NULL,               -- position in HostResult.events
    time TEXT NOT NULL,                 -- ISO 8601 as given
    time_utc TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    version INTEGER,
    new_process_name TEXT,
    parent_process_name TEXT,
    subject_user_name TEXT,
    command_line TEXT,                  -- already redacted by collect
    size_bytes INTEGER NOT NULL,
    secrets_found INTEGER NOT NULL,
    extra_json TEXT                     -- SampledEvent fields added after this schema
);
CREATE INDEX events_by_result ON events (result_id, seq);
CREATE TABLE estimates (
    run_label TEXT NOT NULL,
    seq INTEGER NOT NULL,
    host TEXT NOT NULL COLLATE NOCASE,
    payload TEXT NOT NULL,
    PRIMARY KEY (run_label, seq)
);
CREATE TABLE documents (
    id INTEGER PRIMARY KEY,
    kind TEXT NOT NULL,
    key TEXT NOT NULL,
    saved_at TEXT NOT NULL,
    payload TEXT NOT NULL,
    UNIQUE (kind, key)
);
"""


def _to_v1(conn: sqlite3.Connection) -> None:
    # Statements are split on ";": the DDL above keeps ";" out of its comments.
    for statement in _V1.split(";"):
        if statement.strip():
            conn.execute(statement)


MIGRATIONS: list[Callable[[sqlite3.Connection], None]] = [_to_v1]


def current_version() -> int:
    """The schema version this code writes."""
    return len(MIGRATIONS)
