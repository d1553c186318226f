"""The lockout guard: a survey must not lock out its own account on a domain.

A wrong password tried on every host at full concurrency is, on a domain, as many failed logons
as there are hosts: past the domain's lockout threshold the account is locked (and with it every
other tool that uses it). The guard is the survey's brake, kept apart from any engine so each
engine (the thread pool in survey.py, or any other) asks it the same two questions: how many
hosts may be in flight now, and is the run stopped. The engine tells it every finished host.

1. Canary: the first host runs alone. If it fails authentication the run stops there. If it ends
   without telling whether the credentials work (unreachable, timeout, TLS, a broken listener),
   the next host is the canary, at most CANARY_ATTEMPTS hosts; then the fan-out starts anyway.
2. During the fan-out, after `max_auth_failures` authentication failures in a row (in finishing
   order) no new host starts; hosts in flight finish. A host whose status proves the credentials
   were accepted (ok, access denied after logon, unparseable output) resets the count; hosts that
   never reached authentication (unreachable, timeout, ...) leave it as it is.

`max_auth_failures` 0 turns the guard off (no canary either): every host starts as before.
"""

from __future__ import annotations

from auditplan.records import HostResult, HostStatus

DEFAULT_MAX_AUTH_FAILURES = 3
# Hosts tried one at a time while none has said whether the credentials work.
CANARY_ATTEMPTS = 3

# The host took the credentials: it answered after logon (AccessDenied is the WinRM
# authorisation check, after authentication; output only comes after a logon).
AUTH_ACCEPTED = frozenset({HostStatus.OK, HostStatus.ACCESS_DENIED, HostStatus.UNPARSEABLE})


class LockoutGuard:
    """Decides, host by host, whether the survey may start more hosts. Not thread-safe: call it
    from the one thread that collects finished hosts."""

    def __init__(self, max_auth_failures: int = DEFAULT_MAX_AUTH_FAILURES, *,
                 canary_attempts: int = CANARY_ATTEMPTS) -> None:
        if max_auth_failures < 0:
            raise ValueError("max_auth_failures must be 0 (off) or more")
        self.max_auth_failures = max_auth_failures
        self._canaries_left = canary_attempts if max_auth_failures else 0
        self._in_a_row = 0
        self.reason: str | None = None  # set once the run is stopped; one line, names the host

    @property
    def enabled(self) -> bool:
        return self.max_auth_failures > 0

    @property
    def stopped(self) -> bool:
        return self.reason is not None

    @property
    def in_canary(self) -> bool:
        """Whether hosts still run one at a time (no host has yet said if the credentials work)."""
        return self._canaries_left > 0

    def allowed_in_flight(self, concurrency: int) -> int:
        """How many hosts may be in flight now: 0 once stopped, 1 while a canary runs."""
        if self.stopped:
            return 0
        return 1 if self.in_canary else concurrency

    def record(self, result: HostResult) -> None:
        """Take one finished host into account (in the order hosts finish)."""
        if not self.enabled or self.stopped:
            return
        status = result.status
        name = result.host.name
        if self.in_canary:
            if status is HostStatus.AUTH_FAILED:
                self._canaries_left = 0
                self.reason = (f"the first host, {name}, rejected the credentials ({result.reason}); no other host "
                               "was tried, so the account cannot be locked out by this run: check the "
                               "username and password (or, if only this host rejects them, leave it out or "
                               "use --max-auth-failures 0)")
                return
            if status in AUTH_ACCEPTED:
                self._canaries_left = 0
            else:
                self._canaries_left -= 1
            return
        if status is HostStatus.AUTH_FAILED:
            self._in_a_row += 1
            if self._in_a_row >= self.max_auth_failures:
                self.reason = (f"{self._in_a_row} hosts in a row rejected the credentials (the last: {name}); "
                               "no new host was started so the account is not locked out: check the "
                               "password, then run again (hosts that failed authentication are retried; "
                               "--max-auth-failures N changes the limit, 0 turns it off)")
        elif status in AUTH_ACCEPTED:
            self._in_a_row = 0
