"""The survey on Dask workers (`--scheduler tcp://HOST:PORT`, or `--processes N` for a local cluster).

Each worker runs the same per-host conversation as the threaded engine (survey.survey_host: one
pywinrm Protocol per host, the per-host deadline and caps); the client keeps at most `concurrency`
hosts in flight and saves each result in the one store as it arrives, one transaction per host, so
resume, SIGKILL safety and an interrupt behave as with threads.

Credentials: the password travels only inside the pickled task, over the Dask connection (use
`tls://` where the network is not trusted), and lives in the worker's memory for that task. It is never
in argv, an environment variable, a file or a log line: `_SealedSettings` pickles it and nothing else
does (Secret refuses to be pickled), and its repr hides it (Dask logs a failed task's arguments).

Sites: a worker started with the Dask resource `site-NAME` (``dask worker ... --resources
"site-lon=64"``) takes the hosts whose inventory `site` is NAME; when any worker declares a site, hosts
of a site no worker serves end `unreachable` without being tried. Hosts without a site go anywhere.

A worker that dies mid-host: the scheduler runs the host again elsewhere (`--processes` allows that
once; a remote scheduler per its `distributed.scheduler.allowed-failures`); if that fails too the host
is saved as protocol_error naming the lost workers, so it is never lost nor saved twice.
"""

from __future__ import annotations

import itertools
import logging
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, fields, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from auditplan import __version__
from auditplan.collect.errors import CollectError
from auditplan.collect.winrm import probe
from auditplan.collect.winrm.lockout import DEFAULT_MAX_AUTH_FAILURES, LockoutGuard
from auditplan.collect.winrm.settings import Secret, TransportSettings
from auditplan.collect.winrm.survey import (
    Progress,
    ResultSink,
    ResultStore,
    SurveyOutcome,
    probe_command,
    start_run,
    survey_host,
)
from auditplan.records import Host, HostResult, HostStatus
from auditplan.text import error_line

CONNECT_TIMEOUT_SECONDS = 20.0
WORKERS_TIMEOUT_SECONDS = 60.0
SITE_RESOURCE_PREFIX = "site-"
# A host whose worker died is run again once elsewhere, then given up (the local cluster's setting).
LOCAL_ALLOWED_FAILURES = 1


class DaskEngineError(CollectError):
    """The Dask engine cannot start: no extra installed, no scheduler, TLS, versions. One line."""


def _distributed() -> Any:
    try:
        import distributed
    except ImportError:
        raise DaskEngineError("the Dask engine needs the optional extra: pip install 'auditplan[dask]'") from None
    return distributed


class _SealedSettings:
    """TransportSettings on their way to a worker. The only pickleable form of the password: it is
    pickled into the task and nowhere else; repr shows no value."""

    __slots__ = ("_fields", "_password")

    def __init__(self, settings: TransportSettings) -> None:
        self._fields = {f.name: getattr(settings, f.name) for f in fields(settings) if f.name != "password"}
        self._password = None if settings.password is None else settings.password.reveal()

    def open(self) -> TransportSettings:
        password = None if self._password is None else Secret(self._password)
        return TransportSettings(password=password, **self._fields)

    def __repr__(self) -> str:
        return f"SealedSettings(username={self._fields.get('username')!r}, password='***')"

    __str__ = __repr__

    def __reduce__(self) -> tuple[Any, ...]:
        return (_unseal, (self._fields, self._password))


def _unseal(fields_: dict[str, Any], password: str | None) -> _SealedSettings:
    sealed = _SealedSettings.__new__(_SealedSettings)
    sealed._fields = fields_
    sealed._password = password
    return sealed


def _worker_label() -> str:
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return "?"
    name = str(worker.name)
    return worker.address if name == worker.address else f"{name} ({worker.address})"


def survey_on_worker(host: Host, sealed: _SealedSettings, command: probe.ProbeCommand,
                     stop: str | None = None) -> HostResult | None:
    """The task each worker runs: one host's conversation. A host the worker cannot reach names the
    worker, so a site's routing mistake is visible in the result. None, without contacting the host,
    once the client has stopped the run `stop` on this worker (stop_run: the lockout guard stopped
    it, or Ctrl-C): a host queued on a worker is not started after that, as with the threaded engine."""
    if stop is not None and stop in _STOPPED_RUNS:
        return None
    result = survey_host(host, sealed.open(), command)
    if result.status in (HostStatus.UNREACHABLE, HostStatus.TIMEOUT):
        result = replace(result, reason=f"{result.reason} (from Dask worker {_worker_label()})")
    return result


# Runs stopped by their client, in this worker process (a set read by every task: no round trip).
_STOPPED_RUNS: set[str] = set()


def stop_run(run: str) -> None:
    """Run on every worker when the client stops run `run`: its queued hosts return unstarted."""
    _STOPPED_RUNS.add(run)


def worker_facts(paths: list[str]) -> tuple[str, list[str]]:
    """Run on each worker before any host: its auditplan version and which of `paths` it lacks."""
    return __version__, [p for p in paths if not Path(p).is_file()]


@dataclass(frozen=True)
class DaskCluster:
    """A connected, checked cluster: the Client and the sites its workers serve (casefolded site ->
    resource name)."""

    client: Any
    sites: dict[str, str]


@contextmanager
def dask_cluster(scheduler: str | None, processes: int | None, threads_per_worker: int,
                 settings: TransportSettings) -> Iterator[DaskCluster]:
    """Connect to `scheduler`, or start a local cluster of `processes` worker processes, and check its
    workers (check_workers). DaskEngineError (one line) when either fails, before any host is tried."""
    distributed = _distributed()
    import dask

    if scheduler is not None:
        try:
            client = distributed.Client(scheduler, timeout=CONNECT_TIMEOUT_SECONDS, set_as_default=False)
        except Exception as exc:  # OSError, TimeoutError, ssl errors, a malformed address
            raise DaskEngineError(f"cannot reach the Dask scheduler at {scheduler}: "
                                  f"{error_line(exc, 200, empty=type(exc).__name__)}") from None
        try:
            yield DaskCluster(client, check_workers(client, settings))
        finally:
            client.close()
        return
    with dask.config.set({"distributed.scheduler.allowed-failures": LOCAL_ALLOWED_FAILURES}):
        cluster = distributed.LocalCluster(
            n_workers=processes, threads_per_worker=threads_per_worker, processes=True,
            dashboard_address=None, silence_logs=logging.ERROR, host="127.0.0.1",
        )
    try:
        client = distributed.Client(cluster, set_as_default=False)
        try:
            yield DaskCluster(client, check_workers(client, settings))
        finally:
            client.close()
    finally:
        cluster.close()


def check_workers(client: Any, settings: TransportSettings) -> dict[str, str]:
    """Refuse (DaskEngineError) a cluster with no worker, or whose workers run another auditplan or
    lack the CA bundle / client certificate files named. Returns worker address -> site resources."""
    try:
        client.wait_for_workers(1, timeout=WORKERS_TIMEOUT_SECONDS)
    except Exception:
        raise DaskEngineError(f"no Dask worker joined the scheduler within {WORKERS_TIMEOUT_SECONDS:g}s") from None
    paths = [str(p) for p in (settings.ca_bundle, settings.client_cert, settings.client_key) if p is not None]
    try:
        facts: dict[str, tuple[str, list[str]]] = client.run(worker_facts, paths)
    except Exception as exc:
        raise DaskEngineError(f"a Dask worker cannot run auditplan: {error_line(exc, 200, empty=type(exc).__name__)}"
                              ) from None
    for address, (version, missing) in sorted(facts.items()):
        if version != __version__:
            raise DaskEngineError(f"Dask worker {address} runs auditplan {version}, this client {__version__}; "
                                  "install the same version on every worker")
        if missing:
            raise DaskEngineError(f"Dask worker {address} has no file {missing[0]} (CA bundle and client "
                                  "certificate paths are read on the workers)")
    sites: dict[str, str] = {}
    for info in client.scheduler_info(n_workers=-1)["workers"].values():
        for resource in info.get("resources", {}):
            if str(resource).startswith(SITE_RESOURCE_PREFIX):
                sites.setdefault(str(resource)[len(SITE_RESOURCE_PREFIX):].casefold(), str(resource))
    return sites


def _lost_result(host: Host, exc: BaseException) -> HostResult:
    return HostResult(
        host=host,
        status=HostStatus.PROTOCOL_ERROR,
        reason=("the Dask workers surveying this host died (" + error_line(exc, 160, empty=type(exc).__name__)
                + "); not retried again: survey it with --retry-failed"),
        collected_at=datetime.now(UTC),
    )


def _unserved_result(host: Host) -> HostResult:
    return HostResult(
        host=host,
        status=HostStatus.UNREACHABLE,
        reason=f"no Dask worker serves site {host.site!r} (start one with --resources \"site-{host.site}=N\")",
        collected_at=datetime.now(UTC),
    )


def run_survey_dask(
    hosts: Iterable[Host],
    settings: TransportSettings,
    store: ResultStore,
    cluster: DaskCluster,
    *,
    concurrency: int,
    probe_options: probe.ProbeOptions | None = None,
    refresh: bool = False,
    retry_failed: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
    queue_ahead: bool = True,
    max_auth_failures: int = DEFAULT_MAX_AUTH_FAILURES,
) -> SurveyOutcome:
    """run_survey on the workers of `cluster` (see the module docstring); the same outcome."""
    distributed = _distributed()
    client, sites = cluster.client, cluster.sites
    # Host selection and the lockout guard exactly as run_survey (survey.py, lockout.py).
    to_run, outcome = start_run(store, hosts, refresh=refresh, retry_failed=retry_failed, on_start=on_start)
    if not to_run:
        return outcome
    guard = LockoutGuard(max_auth_failures)
    command = probe_command(settings, probe_options)
    sealed = _SealedSettings(settings)
    sink = ResultSink(store, outcome, guard, len(to_run), on_progress)

    run_token, serial = uuid.uuid4().hex[:12], itertools.count()
    stopping = False

    def stop() -> None:
        # Once, on every worker at once (client.run), so hosts queued there start no conversation.
        nonlocal stopping
        if not stopping:
            stopping = True
            try:
                client.run(stop_run, run_token, on_error="ignore")  # a worker that died has nothing queued
            except Exception:  # noqa: S110 - the scheduler went away: nothing is queued anywhere either
                pass
    pending = iter(to_run)
    in_flight: dict[Any, Host] = {}
    # Results are fetched by Dask's event loop as they finish (with_results): a blocking
    # future.result() per host costs a round trip to that loop each, which starves under load.
    completed = distributed.as_completed(loop=client.loop, with_results=True, raise_errors=False)
    # Hosts handed out beyond `concurrency` wait in the workers' queues, so a worker is not idle while a
    # result travels back and the next host travels out; only `concurrency` threads talk to hosts.
    limit = concurrency + concurrency // 2 if queue_ahead else concurrency

    def submit_more() -> None:
        groups: dict[str | None, list[Host]] = {}
        # The guard narrows the hosts handed out to one canary, or to none once it has stopped the run.
        while len(in_flight) + sum(map(len, groups.values())) < guard.allowed_in_flight(limit):
            host = next(pending, None)
            if host is None:
                break
            resource = None
            if sites and host.site:
                resource = sites.get(host.site.casefold())
                if resource is None:  # never tried: says nothing about the credentials
                    sink.take([_unserved_result(host)], tried=False)
                    continue
            groups.setdefault(resource, []).append(host)
        for resource, batch in groups.items():
            # One message to the scheduler per batch; each key names its host (dashboards,
            # `client.processing()`), the run token keeps re-runs apart.
            futures = client.map(survey_on_worker, batch, sealed=sealed, command=command, stop=run_token,
                                 resources=None if resource is None else {resource: 1},
                                 key=[f"auditplan-survey-{run_token}-{next(serial)}-{h.name}" for h in batch])
            in_flight.update(zip(futures, batch, strict=True))
            completed.update(futures)

    def collect(batch: list[tuple[Any, Any]]) -> None:
        """The hosts that came back together: saved in one transaction (ResultSink)."""
        results: list[HostResult] = []
        unsaved: list[HostResult] = []
        for future, value in batch:
            host = in_flight.pop(future)
            if future.status == "finished":
                if value is None:  # stopped before it started
                    outcome.not_started.append(host.name)
                else:
                    results.append(value)
                continue
            exc = value[1] if isinstance(value, tuple) and len(value) == 3 else value  # (type, exception, traceback)
            if isinstance(exc, distributed.KilledWorker):
                results.append(_lost_result(host, exc))
            else:  # a bug, or the scheduler went away: reported, not saved, surveyed again on resume
                unsaved.append(HostResult(
                    host=host, status=HostStatus.PROTOCOL_ERROR, collected_at=datetime.now(UTC),
                    reason=f"internal error: {type(exc).__name__}: {error_line(exc, 200, empty='')}"))
        sink.take(results, unsaved=unsaved)
        if guard.stopped:
            stop()

    try:
        submit_more()
        for batch in completed.batches():
            collect(batch)
            submit_more()
        if guard.stopped:
            outcome.stopped_reason = guard.reason
            outcome.not_started += [h.name for h in pending]
    except KeyboardInterrupt:
        outcome.interrupted = True
        stop()
        outcome.not_started += [h.name for h in pending]
        sink.retry_unsaved()  # a batch the interrupt cut off mid-transaction was rolled back
        try:  # the hosts handed out finish (each within its deadline) and are saved
            for batch in completed.batches():
                collect(batch)
        except KeyboardInterrupt:
            pass
    return outcome
