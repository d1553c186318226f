"""The lockout guard's decisions, host by host (collect/winrm/lockout.py), without a network:
the engine's use of it is tested through the simulator in tests/integration/test_lockout.py."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from auditplan.collect.api import LockoutGuard
from auditplan.records import Host, HostResult, HostStatus

OK, AUTH, DOWN = HostStatus.OK, HostStatus.AUTH_FAILED, HostStatus.UNREACHABLE


def _result(name: str, status: HostStatus) -> HostResult:
    return HostResult(host=Host(name, name), status=status, reason="401" if status is AUTH else "",
                      collected_at=datetime(2026, 1, 1, tzinfo=UTC))


def _feed(guard: LockoutGuard, statuses: list[HostStatus]) -> list[int]:
    """The hosts allowed in flight (at concurrency 8) after each finished host."""
    allowed = []
    for i, status in enumerate(statuses):
        guard.record(_result(f"h{i}", status))
        allowed.append(guard.allowed_in_flight(8))
    return allowed


def test_a_canary_that_rejects_the_credentials_stops_everything() -> None:
    guard = LockoutGuard(3)
    assert guard.allowed_in_flight(8) == 1  # the canary runs alone
    assert _feed(guard, [AUTH]) == [0]
    assert guard.reason is not None and "h0" in guard.reason and "rejected the credentials" in guard.reason


def test_canaries_that_say_nothing_about_the_credentials_are_followed_by_another_then_the_fan_out() -> None:
    assert _feed(LockoutGuard(3), [DOWN, HostStatus.TIMEOUT, HostStatus.TLS_ERROR, AUTH]) == [1, 1, 8, 8]
    assert _feed(LockoutGuard(3), [DOWN, AUTH]) == [1, 0]  # the second canary rejected them
    assert _feed(LockoutGuard(3), [DOWN, HostStatus.ACCESS_DENIED]) == [1, 8]  # logged on, then refused


def test_n_failures_in_a_row_stop_hosts_that_took_the_credentials_reset_the_count() -> None:
    assert _feed(LockoutGuard(3), [OK, AUTH, AUTH, OK, AUTH, AUTH, HostStatus.UNPARSEABLE, AUTH]) == [8] * 8
    # A host that never reached authentication neither counts nor resets.
    guard = LockoutGuard(3)
    assert _feed(guard, [OK, AUTH, DOWN, AUTH, HostStatus.TIMEOUT, AUTH, OK]) == [8, 8, 8, 8, 8, 0, 0]
    assert guard.reason is not None and guard.reason.startswith("3 hosts in a row") and "h5" in guard.reason
    assert _feed(LockoutGuard(1), [OK, AUTH]) == [8, 0]


def test_zero_turns_the_guard_off_canary_included() -> None:
    guard = LockoutGuard(0)
    assert guard.allowed_in_flight(8) == 8
    assert _feed(guard, [AUTH] * 20) == [8] * 20 and guard.reason is None
    with pytest.raises(ValueError, match="0"):
        LockoutGuard(-1)
