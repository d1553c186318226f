"""The collect stage's front door: everything outside collect imports this module, nothing deeper.

    from auditplan.collect import api
    settings = api.TransportSettings(username="CORP\\\\auditor", password=api.Secret(pw), ca_bundle=ca)
    results = api.survey(hosts, Path("auditplan.db"), settings)
    report = api.ingest([Path("Security.evtx")], Path("auditplan.db"))

`survey` probes hosts over WinRM, `ingest` reads exported .evtx files; both save into the store
(SQLite) as they go and return what they did. They raise the library's own errors, each with a
one-line message: CollectError's subclasses (CredentialsError, SettingsError, ProbeOptionsError)
before any host is contacted or the store is touched, and store.StoreError when the store cannot be
opened. Nothing a host or a file does raises: every host ends with a HostStatus, every file with a
FileSummary (its `error` says why it was not stored).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from auditplan.collect.connection import (
    DEFAULT_MAX_OUTPUT_BYTES,
    DEFAULT_TIMEOUT,
    PASSWORD_ENV_DEFAULT,
    TRACE_DEADLINE_MARGIN,
    USERNAME_ENV,
    AskPassword,
    ConnectionOptions,
    CredentialsFile,
    connection_settings,
    read_credentials_file,
)
from auditplan.collect.errors import CollectError, CredentialsError, ProbeOptionsError, SettingsError
from auditplan.collect.evtx import (
    DEFAULT_MAX_FILE_BYTES,
    DEFAULT_SAMPLE_SIZE,
    FileSummary,
    IngestOutcome,
    merge_results,
)
from auditplan.collect.evtx import ingest_file as read_evtx
from auditplan.collect.evtx.file import EVTX_HEADER_SIZE
from auditplan.collect.redact import redact
from auditplan.collect.winrm.lockout import DEFAULT_MAX_AUTH_FAILURES, LockoutGuard
from auditplan.collect.winrm.probe import (
    DEFAULT_SAMPLE_EVENTS,
    MAX_TRACE_SECONDS,
    ProbeCommand,
    ProbeOptions,
    build_probe,
)
from auditplan.collect.winrm.settings import CLEANUP_GRACE_SECONDS, AuthTransport, Secret, TransportSettings
from auditplan.records import Host, HostResult, HostStatus
from auditplan.store import Store, StoreError

# The survey engine pulls in pywinrm, requests and the auth stack; an offline `ingest` needs none of
# them, so they load when a survey runs (and these names on first use, below).
if TYPE_CHECKING:
    from auditplan.collect.winrm.survey import Progress as Progress
    from auditplan.collect.winrm.survey import SurveyOutcome as SurveyOutcome

_LAZY = {"Progress": "auditplan.collect.winrm.survey", "SurveyOutcome": "auditplan.collect.winrm.survey"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "CLEANUP_GRACE_SECONDS",
    "DEFAULT_CONCURRENCY",
    "DEFAULT_MAX_AUTH_FAILURES",
    "DEFAULT_MAX_FILE_BYTES",
    "DEFAULT_MAX_OUTPUT_BYTES",
    "DEFAULT_SAMPLE_EVENTS",
    "DEFAULT_SAMPLE_SIZE",
    "DEFAULT_TIMEOUT",
    "EVTX_HEADER_SIZE",
    "MAX_TRACE_SECONDS",
    "PASSWORD_ENV_DEFAULT",
    "TRACE_DEADLINE_MARGIN",
    "USERNAME_ENV",
    "AskPassword",
    "AuthTransport",
    "CollectError",
    "ConnectionOptions",
    "CredentialsError",
    "CredentialsFile",
    "FileSummary",
    "HostIngest",
    "IngestOutcome",
    "IngestResults",
    "LockoutGuard",
    "ProbeCommand",
    "ProbeOptions",
    "ProbeOptionsError",
    "Progress",
    "Secret",
    "SettingsError",
    "SurveyOutcome",
    "SurveyResults",
    "TransportSettings",
    "build_probe",
    "connection_settings",
    "ingest",
    "read_credentials_file",
    "read_evtx",
    "redact",
    "survey",
]

DEFAULT_CONCURRENCY = 32


@dataclass(frozen=True)
class SurveyResults:
    """What one survey run did, and the latest result of every inventory host."""

    results: tuple[HostResult, ...]  # per inventory host, in its order: this run's result, else the stored one
    outcome: SurveyOutcome  # this run: results in finishing order, hosts skipped, not started, interrupted
    hosts: int  # inventory hosts asked for
    # Hosts whose TLS certificate did not verify when no CA bundle was named (and checks were on):
    # Python requests trusts only certifi's public CAs, not the machine's store.
    unverified_certificates: int = 0

    @property
    def counts(self) -> Counter[str]:
        return Counter(str(r.status) for r in self.results)

    @property
    def stopped(self) -> str | None:
        """Why the lockout guard stopped the run (one line), or None."""
        return self.outcome.stopped_reason

    @property
    def all_ok(self) -> bool:
        """Every inventory host has a result and it is ok (and the run was neither interrupted nor stopped)."""
        return (not self.outcome.interrupted and not self.stopped and len(self.results) == self.hosts
                and all(r.status is HostStatus.OK for r in self.results))


def _open_store(db: Path) -> Store:
    """The store at `db` (created with its folder if missing); StoreError names the file."""
    try:
        db.parent.mkdir(parents=True, exist_ok=True)
        return Store(db)
    except OSError as exc:
        raise StoreError(f"{db}: cannot open the store: {exc.strerror or exc}") from None


def survey(
    hosts: Sequence[Host],
    db: Path,
    connection: TransportSettings | ConnectionOptions,
    *,
    probe: ProbeOptions | None = None,
    concurrency: int = DEFAULT_CONCURRENCY,
    refresh: bool = False,
    retry_failed: bool = False,
    ask_password: AskPassword | None = None,
    on_warning: Callable[[str], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
    on_progress: Callable[[Progress], None] | None = None,
    scheduler: str | None = None,
    processes: int | None = None,
    max_auth_failures: int = DEFAULT_MAX_AUTH_FAILURES,
) -> SurveyResults:
    """Survey `hosts` over WinRM into the store at `db`, at most `concurrency` at a time.

    `connection` is either finished TransportSettings or a user's ConnectionOptions (credentials
    file, password source; `ask_password(username)` is asked only when no other source has one).
    A re-run skips hosts already stored, unless `refresh` (all again) or `retry_failed` (those not
    ok); hosts stored as auth_failed are always tried again (`outcome.retried_auth_failed`).
    The lockout guard surveys one canary host first and starts no new host after
    `max_auth_failures` authentication failures in a row (0 = off); `stopped` then says why.
    `on_start(to_run, skipped)` is called once before work, `on_progress` after each host;
    `on_warning` gets one line per warning about the inputs (a credentials file others can read).
    On KeyboardInterrupt the hosts in flight finish and the results say `interrupted`.
    `scheduler` (a Dask address, tcp:// or tls://) runs the hosts on that cluster's workers, `processes`
    on a new local cluster of that many worker processes (the extra auditplan[dask]); either way the
    results come back to the one store here (collect/winrm/dask_engine.py). A scheduler that cannot be
    reached or workers of another auditplan version raise CollectError before any host is tried.
    """
    if not hosts:
        raise CollectError("no hosts to survey")
    if concurrency < 1:
        raise CollectError("concurrency must be at least 1")
    if scheduler is not None and processes is not None:
        raise CollectError("choose one of a Dask scheduler and local worker processes")
    if processes is not None and processes < 1:
        raise CollectError("processes must be at least 1")
    if max_auth_failures < 0:
        raise CollectError("max_auth_failures must be 0 (off) or more")
    options = probe or ProbeOptions()
    if isinstance(connection, ConnectionOptions):
        settings = connection_settings(connection, hosts, trace_seconds=options.trace_seconds,
                                       ask_password=ask_password, on_warning=on_warning)
    else:
        settings = connection
    settings.check()
    # The same line every host gets: refuse it here if cmd.exe would (ProbeOptionsError).
    build_probe(replace(options, max_bytes=settings.max_output_bytes, deadline_seconds=settings.deadline),
                datetime.now(UTC))
    with ExitStack() as stack:
        client = None
        if scheduler is not None or processes is not None:
            from auditplan.collect.winrm.dask_engine import dask_cluster

            # Connected and checked (or refused) before the store is created or any host is tried.
            client = stack.enter_context(dask_cluster(scheduler, processes, -(-concurrency // (processes or 1)),
                                                      settings))
        store = stack.enter_context(_open_store(db))
        if client is None:
            from auditplan.collect.winrm.survey import run_survey

            outcome = run_survey(hosts, settings, store, concurrency=concurrency, probe_options=options,
                                 refresh=refresh, retry_failed=retry_failed, on_progress=on_progress,
                                 on_start=on_start, max_auth_failures=max_auth_failures)
        else:
            from auditplan.collect.winrm.dask_engine import run_survey_dask

            outcome = run_survey_dask(hosts, settings, store, client, concurrency=concurrency, probe_options=options,
                                      refresh=refresh, retry_failed=retry_failed, on_progress=on_progress,
                                      on_start=on_start, max_auth_failures=max_auth_failures)
        results = _results_for_inventory(hosts, outcome, store)
    unverified = 0
    if settings.ca_bundle is None and not settings.insecure:
        from auditplan.collect.winrm.faults import CERT_VERIFY_FAILED

        unverified = sum(1 for r in results if r.status is HostStatus.TLS_ERROR and CERT_VERIFY_FAILED in r.reason)
    return SurveyResults(results=tuple(results), outcome=outcome, hosts=len(hosts),
                         unverified_certificates=unverified)


def _results_for_inventory(hosts: Sequence[Host], outcome: SurveyOutcome, store: Store) -> list[HostResult]:
    """One result per inventory host, in inventory order: this run's result, else the stored one."""
    latest: dict[str, HostResult] = {}
    if outcome.skipped or outcome.not_started:
        for result in store.load_results(source="winrm"):
            latest[result.host.name.casefold()] = result
    for result in outcome.results:
        latest[result.host.name.casefold()] = result
    return [latest[h.name.casefold()] for h in hosts if h.name.casefold() in latest]


@dataclass(frozen=True)
class HostIngest:
    """One host's ingested result: how many files made it, and why it was not stored (if not)."""

    name: str
    files: int
    error: str | None = None


@dataclass(frozen=True)
class IngestResults:
    """What one ingest did: one summary per file, in the order given (`error` set for a file that
    could not be read or whose host could not be stored), and one entry per host."""

    files: tuple[FileSummary, ...]
    hosts: tuple[HostIngest, ...]

    @property
    def failed(self) -> int:
        return sum(1 for s in self.files if s.error)


def ingest(
    files: Sequence[Path],
    db: Path,
    *,
    host_name: str | None = None,
    role: str | None = None,
    sample_size: int = DEFAULT_SAMPLE_SIZE,
    max_file_bytes: int = DEFAULT_MAX_FILE_BYTES,
    on_file: Callable[[FileSummary], None] | None = None,
) -> IngestResults:
    """Read exported .evtx files into the store at `db`, beside surveyed hosts (source "evtx").

    Files naming the same host (its Computer field, or `host_name` for all of them) are merged into
    one result, which replaces that host's earlier ingested one. `on_file` gets each file's summary
    as soon as it is read. Raises StoreError if the store cannot be opened; a bad file only gets an
    `error` in its summary.
    """
    # An existing store is opened first, so a store that cannot be opened is reported before any
    # file is read; a new one is created only once there is a host to save (a run whose every file
    # fails must not leave an empty store that the later commands would then pick as the default).
    store = _open_store(db) if db.exists() else None
    summaries: list[FileSummary] = []
    by_host: dict[str, list[tuple[int, HostResult]]] = {}
    try:
        for path in files:
            outcome = read_evtx(path, host_name, role=role, sample_size=sample_size, max_file_bytes=max_file_bytes)
            if outcome.result is not None:
                by_host.setdefault(outcome.result.host.name.lower(), []).append((len(summaries), outcome.result))
            summaries.append(outcome.summary)
            if on_file is not None:
                on_file(outcome.summary)
        hosts: list[HostIngest] = []
        for group in by_host.values():
            store = store or _open_store(db)
            merged = merge_results([r for _, r in group], sample_size=sample_size)
            try:
                store.save_result(merged)
            except StoreError as exc:
                for i, _ in group:
                    summaries[i] = replace(summaries[i], error=f"not stored: {exc}")
                hosts.append(HostIngest(merged.host.name, len(group), str(exc)))
            else:
                hosts.append(HostIngest(merged.host.name, len(group)))
    finally:
        if store is not None:
            store.close()
    return IngestResults(files=tuple(summaries), hosts=tuple(hosts))
