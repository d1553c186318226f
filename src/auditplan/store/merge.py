"""`auditplan merge`: the union of per-site stores into one new store.

For collectors that cannot reach one scheduler: each site surveys into its own store, and the stores
are merged afterwards. Rules:

- host results: one per (host name compared case-insensitively, source), the newest
  `collected_at` wins; on a tie the store listed first wins (MergeSummary.ties names them);
- sampled events travel with their host result;
- estimates: each store's estimate runs are kept under ``<run label>@<origin>``, so no store's
  estimates pass for the union's (run `auditplan estimate` on the merged store);
- documents (plans, projections, calibration history): kept under their own key (plan and
  projection ids are content hashes); where two stores hold the same key with different content
  the newest saved wins and the others stay under ``<key>@<origin>``;
- one document of kind ``merge`` records the inputs, their schema versions and which store each
  host result came from.

Inputs are read from a consistent read-only snapshot (SQLite's backup API), so a site still
writing is not disturbed and no input is migrated in place. The output is built beside OUT under a
temporary name and linked into place only when complete: any refusal (an input of a newer schema,
not a store, corrupt, the output among the inputs, an output that already exists or is a link)
leaves OUT untouched.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from auditplan.safe_write import UnsafePathError, check_target
from auditplan.store.db import Store, StoreError
from auditplan.store.schema import SCHEMA_VERSION_TABLE, current_version

MERGE_KIND = "merge"
_REQUIRED_TABLES = frozenset({SCHEMA_VERSION_TABLE, "host_results", "events", "estimates", "documents"})
_RESULT_COLUMNS = (
    "host", "source", "status", "reason", "collected_at", "collected_at_utc", "computer_name", "host_json",
    "os_json", "audit_json", "security_log_json", "sysmon_json", "volume_json", "cost_json", "caps_json",
    "warnings_json", "extra_json",
)
_EVENT_COLUMNS = (
    "seq", "time", "time_utc", "event_id", "version", "new_process_name", "parent_process_name",
    "subject_user_name", "command_line", "size_bytes", "secrets_found", "extra_json",
)


class MergeError(StoreError):
    """The merge was refused; the message names the file. The output was not written."""


@dataclass(frozen=True)
class Tie:
    """Two stores hold a result of the same host and source collected at the same instant."""

    host: str
    source: str
    kept: str  # origin whose result was kept (the store listed first)
    dropped: str


@dataclass
class MergeSummary:
    """What `merge_stores` wrote."""

    out: Path
    inputs: list[str] = field(default_factory=list)  # origins, in the order given
    results: int = 0  # host results in the output
    superseded: int = 0  # older results of a host left out
    ties: list[Tie] = field(default_factory=list)
    per_origin: dict[str, int] = field(default_factory=dict)  # results kept from each input
    estimate_runs: list[str] = field(default_factory=list)  # run labels written, with their origin
    documents: int = 0


@dataclass
class _Candidate:
    origin: str
    order: int  # position of the input on the command line
    collected: datetime
    row: tuple[object, ...]
    events: list[tuple[object, ...]]


def _origins(paths: Sequence[Path]) -> list[str]:
    """A short name per input: its file name, or the path as given where two share a name."""
    names = [p.name for p in paths]
    return [p.name if names.count(p.name) == 1 else str(p) for p in paths]


def _check_paths(out: Path, inputs: Sequence[Path]) -> None:
    if not inputs:
        raise MergeError("merge needs at least one input store")
    try:
        check_target(out)
    except UnsafePathError as exc:
        raise MergeError(str(exc)) from None
    for path in inputs:
        if not path.is_file():
            raise MergeError(f"{path}: no such store file")
        if os.path.lexists(out) and out.exists() and os.path.samefile(path, out):
            raise MergeError(f"{path}: the output is also an input; merge writes a new store")
    seen: dict[tuple[int, int], Path] = {}
    for path in inputs:
        st = path.stat()
        key = (st.st_dev, st.st_ino)
        if key in seen:
            raise MergeError(f"{path}: the same store as {seen[key]}, given twice")
        seen[key] = path
    if os.path.lexists(out):
        raise MergeError(f"{out}: already exists; merge writes a new store (name another file, or remove it)")


@contextmanager
def _snapshot(path: Path, workdir: Path, index: int) -> Iterator[sqlite3.Connection]:
    """A private, consistent copy of the store at `path`, checked and read-only in spirit."""
    copy = workdir / f"input-{index}.db"
    try:
        with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as source, \
                closing(sqlite3.connect(copy)) as target:
            source.backup(target)
    except sqlite3.DatabaseError as exc:
        raise MergeError(f"{path}: cannot read the store ({exc})") from None
    with closing(sqlite3.connect(copy)) as conn:
        try:
            check = conn.execute("PRAGMA quick_check").fetchone()[0]
            if check != "ok":
                raise MergeError(f"{path}: the store is corrupt (SQLite quick_check: {str(check)[:120]})")
            tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if SCHEMA_VERSION_TABLE not in tables:
                raise MergeError(f"{path}: an SQLite database, but not an auditplan store")
            version = int(conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] or 0)
        except sqlite3.DatabaseError as exc:
            raise MergeError(f"{path}: the store is corrupt ({exc})") from None
        if version > current_version():
            raise MergeError(f"{path}: store schema version {version} is newer than this auditplan supports "
                             f"({current_version()}); merge with the newer auditplan")
    if version < current_version():
        # An older store: bring the private copy (never the input) up to date.
        Store(copy).close()
    with closing(sqlite3.connect(copy)) as conn:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not _REQUIRED_TABLES <= tables:
            raise MergeError(f"{path}: not an auditplan store (missing {', '.join(sorted(_REQUIRED_TABLES - tables))})")
        yield conn


def _parse_time(value: object, path: Path, host: object) -> datetime:
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        raise MergeError(f"{path}: the stored result of {host} has an unreadable time {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def merge_stores(out: Path, inputs: Sequence[Path]) -> MergeSummary:
    """Merge the stores `inputs` into a new store at `out` (see the module docstring). Raises
    MergeError (one line, naming the file) and leaves `out` untouched when it refuses."""
    out, inputs = Path(out), [Path(p) for p in inputs]
    _check_paths(out, inputs)
    origins = _origins(inputs)
    summary = MergeSummary(out=out, inputs=origins)
    best: dict[tuple[str, str], _Candidate] = {}
    estimates: list[tuple[str, int, str, str]] = []
    documents: dict[tuple[str, str], list[tuple[str, str, str]]] = {}  # (kind, key) -> [(saved_at, payload, origin)]
    versions: dict[str, int] = {}
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".auditplan-merge-", dir=out.parent) as work:
        workdir = Path(work)
        for index, (path, origin) in enumerate(zip(inputs, origins, strict=True)):
            with _snapshot(path, workdir, index) as conn:
                versions[origin] = int(conn.execute("SELECT max(version) FROM schema_version").fetchone()[0])
                _read_results(conn, path, origin, index, best, summary)
                for run_label, seq, host, payload in conn.execute(
                        "SELECT run_label, seq, host, payload FROM estimates ORDER BY run_label, seq"):
                    estimates.append((f"{run_label}@{origin}", seq, host, payload))
                for kind, key, saved_at, payload in conn.execute(
                        "SELECT kind, key, saved_at, payload FROM documents ORDER BY id"):
                    documents.setdefault((kind, key), []).append((saved_at, payload, origin))
        built = workdir / "merged.db"
        Store(built).close()  # the current schema, created the one way every store is
        with closing(sqlite3.connect(built, isolation_level=None)) as conn:
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("BEGIN")
            _write_results(conn, best, summary)
            conn.executemany("INSERT INTO estimates (run_label, seq, host, payload) VALUES (?, ?, ?, ?)", estimates)
            summary.estimate_runs = sorted({label for label, *_ in estimates})
            origin_of_docs = _write_documents(conn, documents, summary)
            record = {
                "merged_at": datetime.now(UTC).isoformat(),
                "inputs": [{"origin": o, "path": str(p), "schema_version": versions[o]} for o, p in zip(
                    origins, inputs, strict=True)],
                "tie_rule": "the store listed first",
                "ties": [{"host": t.host, "source": t.source, "kept": t.kept, "dropped": t.dropped}
                         for t in summary.ties],
                "host_origin": {f"{c.row[0]}|{c.row[1]}": c.origin for c in best.values()},
                "document_origin": origin_of_docs,
            }
            conn.execute("INSERT INTO documents (kind, key, saved_at, payload) VALUES (?, ?, ?, ?)",
                         (MERGE_KIND, record["merged_at"], record["merged_at"],
                          json.dumps(record, ensure_ascii=False, sort_keys=True)))
            conn.execute("COMMIT")
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try:
            # link() never replaces: a file that appeared at OUT meanwhile is not overwritten.
            os.link(built, out)
        except FileExistsError:
            raise MergeError(f"{out}: already exists; merge writes a new store (name another file, or remove it)") \
                from None
        except OSError as exc:
            raise MergeError(f"{out}: cannot write the merged store: {exc.strerror or exc}") from None
    return summary


def _read_results(conn: sqlite3.Connection, path: Path, origin: str, index: int,
                  best: dict[tuple[str, str], _Candidate], summary: MergeSummary) -> None:
    columns = ", ".join(_RESULT_COLUMNS)
    events: dict[int, list[tuple[object, ...]]] = {}
    for row in conn.execute(f"SELECT result_id, {', '.join(_EVENT_COLUMNS)} FROM events "  # noqa: S608
                            "ORDER BY result_id, seq"):
        events.setdefault(int(row[0]), []).append(tuple(row[1:]))
    for row in conn.execute(f"SELECT id, {columns} FROM host_results ORDER BY id"):  # noqa: S608
        values = tuple(row[1:])
        host, source = str(values[0]), str(values[1])
        candidate = _Candidate(origin, index, _parse_time(values[5], path, host), values, events.get(int(row[0]), []))
        key = (host.casefold(), source)
        current = best.get(key)
        if current is None:
            best[key] = candidate
            continue
        summary.superseded += 1
        if candidate.collected > current.collected:
            best[key] = candidate
        elif candidate.collected == current.collected and current.origin != origin:
            summary.ties.append(Tie(str(current.row[0]), source, kept=current.origin, dropped=origin))


def _write_results(conn: sqlite3.Connection, best: dict[tuple[str, str], _Candidate], summary: MergeSummary) -> None:
    insert = (f"INSERT INTO host_results ({', '.join(_RESULT_COLUMNS)}) "  # noqa: S608
              f"VALUES ({', '.join('?' for _ in _RESULT_COLUMNS)})")
    insert_event = (f"INSERT INTO events (result_id, {', '.join(_EVENT_COLUMNS)}) "  # noqa: S608
                    f"VALUES (?, {', '.join('?' for _ in _EVENT_COLUMNS)})")
    for key in sorted(best):
        candidate = best[key]
        cursor = conn.execute(insert, candidate.row)
        conn.executemany(insert_event, [(cursor.lastrowid, *event) for event in candidate.events])
        summary.per_origin[candidate.origin] = summary.per_origin.get(candidate.origin, 0) + 1
    summary.results = len(best)


def _write_documents(conn: sqlite3.Connection, documents: dict[tuple[str, str], list[tuple[str, str, str]]],
                     summary: MergeSummary) -> dict[str, str]:
    """Insert the documents; returns "kind/key" -> origin for each one written."""
    origin_of: dict[str, str] = {}
    rows: list[tuple[str, str, str, str]] = []
    for (kind, key), copies in documents.items():
        # Newest saved first; identical content from several stores is one document.
        copies = sorted(copies, key=lambda c: c[0], reverse=True)
        saved_at, payload, origin = copies[0]
        rows.append((kind, key, saved_at, payload))
        origin_of[f"{kind}/{key}"] = origin
        for other_saved, other_payload, other_origin in copies[1:]:
            if other_payload != payload:
                rows.append((kind, f"{key}@{other_origin}", other_saved, other_payload))
                origin_of[f"{kind}/{key}@{other_origin}"] = other_origin
    # In saved order, so the calibration history (list_documents) stays in time order.
    rows.sort(key=lambda r: r[2])
    conn.executemany("INSERT INTO documents (kind, key, saved_at, payload) VALUES (?, ?, ?, ?)", rows)
    summary.documents = len(rows)
    return origin_of
