"""Survey many hosts at once: bounded concurrent fan-out, results saved as hosts finish.

Each worker thread owns the whole conversation with one host (its own pywinrm Protocol, see
transport.py) and parses the output; a completion callback hands the HostResult to the one
collecting thread, which saves the hosts that finished together in one transaction (ResultSink),
so a killed survey loses at most the hosts in flight and those not yet committed. Re-running
skips hosts already saved, except those whose last survey failed authentication (a fixed
password should reach them without --refresh). The lockout guard (lockout.py) decides how many
hosts may be in flight: one canary first, none after too many authentication failures in a row.
"""

from __future__ import annotations

import functools
import queue
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

from auditplan.collect.winrm import interpret, probe
from auditplan.collect.winrm.interrupt import interrupt_flag
from auditplan.collect.winrm.lockout import DEFAULT_MAX_AUTH_FAILURES, LockoutGuard
from auditplan.collect.winrm.settings import CODEPAGE_UTF8, TransportSettings
from auditplan.collect.winrm.transport import run_command_line
from auditplan.records import Host, HostResult, HostStatus
from auditplan.text import error_line


class ResultStore(Protocol):
    """What the survey needs from store.Store (one transaction per save_results call)."""

    def save_result(self, result: HostResult) -> None: ...
    def save_results(self, results: Sequence[HostResult]) -> None: ...
    def finished_hosts(self) -> dict[str, HostStatus]: ...


@dataclass(frozen=True)
class Progress:
    """Sent to `on_progress` after each host ends."""

    result: HostResult
    done: int
    failed: int
    total: int


@dataclass
class SurveyOutcome:
    """What one run did. `results` holds the hosts surveyed in this run, in finishing order."""

    results: list[HostResult] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)  # already in the store, not re-surveyed
    not_started: list[str] = field(default_factory=list)  # left when interrupted or stopped
    interrupted: bool = False
    # Hosts surveyed again because their saved result was auth_failed (no --refresh needed).
    retried_auth_failed: list[str] = field(default_factory=list)
    # Why the lockout guard stopped the run (one line), or None.
    stopped_reason: str | None = None

    @property
    def counts(self) -> Counter[HostStatus]:
        return Counter(r.status for r in self.results)


def select_hosts(
    hosts: Iterable[Host], finished: dict[str, HostStatus], *, refresh: bool, retry_failed: bool
) -> tuple[list[Host], list[str]]:
    """(hosts to survey, names skipped). Resume skips saved hosts, but not those saved as
    auth_failed (the password may have been fixed since); `retry_failed` re-runs only the saved
    hosts that did not end ok; `refresh` re-runs everything."""
    to_run: list[Host] = []
    skipped: list[str] = []
    # The store compares names case-insensitively, as Windows does.
    saved = {name.casefold(): status for name, status in finished.items()}
    for host in hosts:
        status = saved.get(host.name.casefold())
        if (refresh or status is None or status is HostStatus.AUTH_FAILED
                or (retry_failed and status is not HostStatus.OK)):
            to_run.append(host)
        else:
            skipped.append(host.name)
    return to_run, skipped


def auth_retries(to_run: Iterable[Host], finished: dict[str, HostStatus]) -> list[str]:
    """The names in `to_run` whose saved result is auth_failed (retried without --refresh)."""
    saved = {name.casefold(): status for name, status in finished.items()}
    return [h.name for h in to_run if saved.get(h.name.casefold()) is HostStatus.AUTH_FAILED]


def auth_retries_last(to_run: list[Host], finished: dict[str, HostStatus]) -> list[Host]:
    """`to_run` with the hosts saved as auth_failed moved to the end, so the canary is a host that
    did not reject the account last time (those are the likeliest to reject it for their own reasons)."""
    retried = {name.casefold() for name in auth_retries(to_run, finished)}
    return [h for h in to_run if h.name.casefold() not in retried] + [
        h for h in to_run if h.name.casefold() in retried]



def start_run(store: ResultStore, hosts: Iterable[Host], *, refresh: bool, retry_failed: bool,
              on_start: Callable[[int, int], None] | None) -> tuple[list[Host], SurveyOutcome]:
    """The hosts this run surveys, in order (auth_failed retries last), and its outcome so far;
    shared by every engine so resume and the lockout guard's retries behave the same."""
    finished_before = store.finished_hosts()
    to_run, skipped = select_hosts(hosts, finished_before, refresh=refresh, retry_failed=retry_failed)
    to_run = auth_retries_last(to_run, finished_before)
    retried = [] if refresh else auth_retries(to_run, finished_before)
    if on_start is not None:
        on_start(len(to_run), len(skipped))
    return to_run, SurveyOutcome(skipped=skipped, retried_auth_failed=retried)


def probe_command(settings: TransportSettings, probe_options: probe.ProbeOptions | None) -> probe.ProbeCommand:
    """The probe's command line, with the caps the transport enforces recorded in it."""
    options = replace(
        probe_options or probe.ProbeOptions(), max_bytes=settings.max_output_bytes, deadline_seconds=settings.deadline
    )
    return probe.build_probe(options, datetime.now(UTC))

def survey_host(host: Host, settings: TransportSettings, command: probe.ProbeCommand) -> HostResult:
    """Run the probe on one host and turn its output into a HostResult. Never raises for
    anything the host sends."""
    caps = command.caps
    run = run_command_line(host, settings, command.command_line)
    collected_at = datetime.now(UTC)
    if run.status is not HostStatus.OK:
        return HostResult(
            host=host,
            status=run.status,
            reason=run.reason,
            collected_at=collected_at,
            cost=run.cost,
            caps=caps,
            warnings=run.warnings,
        )
    try:
        sections = probe.split_sections(run.stdout, CODEPAGE_UTF8)
        parsed = interpret.interpret(sections, command)
    except Exception as exc:  # the parsers are meant to be total; a bug must not sink the survey
        return HostResult(
            host=host,
            status=HostStatus.UNPARSEABLE,
            reason=f"output could not be parsed ({type(exc).__name__}: {error_line(exc, 200, empty='')})",
            collected_at=collected_at,
            cost=run.cost,
            caps=caps,
            warnings=run.warnings,
        )
    warnings = run.warnings + tuple(parsed.warnings)
    if run.cost.truncated:
        warnings += (f"output cut at {settings.max_output_bytes} bytes",)
    status, reason = HostStatus.OK, ""
    if parsed.unparseable:
        status = HostStatus.UNPARSEABLE
        reason = "no section of the probe's output could be read" + (
            f" (output cut at {settings.max_output_bytes} bytes)" if run.cost.truncated else ""
        )
    elif parsed.access_denied:
        status = HostStatus.ACCESS_DENIED
        reason = "the account lacks rights on the host: auditpol and the Security log both refused"
    return HostResult(
        host=host,
        status=status,
        reason=reason,
        collected_at=collected_at,
        computer_name=parsed.computer_name,
        os=parsed.os,
        audit=parsed.audit,
        security_log=parsed.security_log,
        sysmon=parsed.sysmon,
        volume=parsed.volume,
        events=tuple(parsed.events),
        cost=run.cost,
        caps=caps,
        warnings=warnings,
        trace=parsed.trace,
        security_channel_access=parsed.security_channel_access,
        audit_policy_source=parsed.audit_policy_source,
    )


def run_survey(
    hosts: Iterable[Host],
    settings: TransportSettings,
    store: ResultStore,
    *,
    concurrency: int,
    probe_options: probe.ProbeOptions | None = None,
    refresh: bool = False,
    retry_failed: bool = False,
    on_progress: Callable[[Progress], None] | None = None,
    on_start: Callable[[int, int], None] | None = None,
    max_auth_failures: int = DEFAULT_MAX_AUTH_FAILURES,
) -> SurveyOutcome:
    """Survey `hosts` with at most `concurrency` conversations at a time.

    Results are saved as each host ends. On KeyboardInterrupt no more hosts start, hosts in
    flight finish (each bounded by its own deadline) and are saved, and the outcome is
    returned with `interrupted` set. `on_start(to_run, skipped)` is called once before work.
    The lockout guard (`max_auth_failures`, 0 = off) runs a canary first and stops starting hosts
    after that many authentication failures in a row; `stopped_reason` then says why.
    """
    if concurrency < 1:
        raise ValueError("concurrency must be at least 1")
    to_run, outcome = start_run(store, hosts, refresh=refresh, retry_failed=retry_failed, on_start=on_start)
    if not to_run:
        return outcome
    guard = LockoutGuard(max_auth_failures)
    command = probe_command(settings, probe_options)
    sink = ResultSink(store, outcome, guard, len(to_run), on_progress)
    executor = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="survey")
    # Completion callbacks put each finished host here; this thread takes whatever has finished,
    # saves it in one transaction and tops the pool up (no wait() over every future per host).
    finished: queue.SimpleQueue[tuple[Host, Future[HostResult]]] = queue.SimpleQueue()
    pending = iter(to_run)
    in_flight = 0

    def submit_more() -> None:
        # Keep only `concurrency` hosts queued, so an interrupt leaves the rest unstarted; the
        # guard narrows that to one canary, or to none once it has stopped the run.
        nonlocal in_flight
        while in_flight < guard.allowed_in_flight(concurrency):
            host = next(pending, None)
            if host is None:
                return
            future = executor.submit(survey_host, host, settings, command)
            future.add_done_callback(functools.partial(_put_finished, finished, host))
            in_flight += 1

    def take_finished() -> None:
        nonlocal in_flight
        batch = [finished.get()]
        while True:
            try:
                batch.append(finished.get_nowait())
            except queue.Empty:
                break
        in_flight -= len(batch)
        results = [(_result_of(f, h), f.exception() is None) for h, f in batch]
        sink.take([r for r, ok in results if ok], unsaved=[r for r, ok in results if not ok])

    try:
        with interrupt_flag() as interrupted:
            submit_more()
            while in_flight:
                take_finished()
                if interrupted():
                    break
                submit_more()
            if interrupted():
                # No more hosts start; hosts in flight finish within their own deadline and are saved.
                outcome.interrupted = True
                outcome.not_started = [h.name for h in pending]
                while in_flight:
                    take_finished()
            elif guard.stopped:
                outcome.stopped_reason = guard.reason
                outcome.not_started = [h.name for h in pending]
    except KeyboardInterrupt:  # a second Ctrl-C, or a survey run outside the main thread
        outcome.interrupted = True
        outcome.not_started += [h.name for h in pending]
        sink.retry_unsaved()  # a batch the interrupt cut off mid-transaction was rolled back
        # Hosts in flight finish within their own deadline and are saved.
        try:
            while in_flight:
                take_finished()
        except KeyboardInterrupt:
            pass
    finally:
        executor.shutdown(wait=not outcome.interrupted, cancel_futures=True)
    return outcome


class ResultSink:
    """Where finished hosts go, in an engine's one collecting thread: the hosts that finished
    together are saved in one transaction, then each is counted and told to the lockout guard, then
    each is reported to `on_progress` (a host is reported only once it is saved)."""

    def __init__(self, store: ResultStore, outcome: SurveyOutcome, guard: LockoutGuard, total: int,
                 on_progress: Callable[[Progress], None] | None) -> None:
        self._store = store
        self._outcome = outcome
        self._guard = guard
        self._total = total
        self._on_progress = on_progress
        self._failed = 0
        self._saving: list[HostResult] = []

    def take(self, results: Sequence[HostResult], *, unsaved: Sequence[HostResult] = (),
             tried: bool = True) -> None:
        """Save `results`, then report them and `unsaved` (hosts reported but not saved: an internal
        error). `tried` False: hosts never contacted, which say nothing about the credentials."""
        self._saving = list(results)
        saved = self._save(self._saving)
        self._saving = []
        # Every host of the batch enters the outcome before any is reported: on_progress may raise
        # (Ctrl-C in a callback), and a host already saved must not be missing from the outcome.
        events = []
        for result in (*saved, *unsaved):
            self._outcome.results.append(result)
            if result.status is not HostStatus.OK:
                self._failed += 1
            if tried:
                self._guard.record(result)
            events.append(Progress(result, len(self._outcome.results), self._failed, self._total))
        if self._on_progress is not None:
            for event in events:
                self._on_progress(event)

    def retry_unsaved(self) -> None:
        """Save again a batch whose transaction an interrupt rolled back."""
        if self._saving:
            self.take(self._saving)

    def _save(self, results: list[HostResult]) -> list[HostResult]:
        if not results:
            return []
        try:
            self._store.save_results(results)
            return results
        except Exception:  # find the host the store refuses; save the others
            if len(results) == 1:
                return [_internal_error(results[0].host, sys.exc_info()[1])]
        out = []
        for result in results:
            try:
                self._store.save_results([result])
                out.append(result)
            except Exception as exc:  # a failing store: the host is reported, not saved
                out.append(_internal_error(result.host, exc))
        return out


def _put_finished(finished: queue.SimpleQueue[tuple[Host, Future[HostResult]]], host: Host,
                  future: Future[HostResult]) -> None:
    finished.put((host, future))


def _result_of(future: Future[HostResult], host: Host) -> HostResult:
    exc = future.exception()
    if exc is None:
        return future.result()
    # Only a bug gets here; the host is reported, not saved.
    return _internal_error(host, exc)


def _internal_error(host: Host, exc: BaseException | None) -> HostResult:
    return HostResult(
        host=host,
        status=HostStatus.PROTOCOL_ERROR,
        reason=f"internal error: {type(exc).__name__}: {error_line(exc, 200, empty='') if exc else ''}",
        collected_at=datetime.now(UTC),
    )
