"""The failed-login throttle on its own, with a hand-moved clock."""

from __future__ import annotations

from fustor_registry.throttle import MAX_TRACKED_SUBJECTS, LoginThrottle


def test_sliding_window() -> None:
    now = [0.0]
    throttle = LoginThrottle(max_failures=3, window_s=10, clock=lambda: now[0])
    for t in (0.0, 1.0, 2.0):
        now[0] = t
        assert throttle.retry_after("user:a") == 0
        throttle.record_failure("user:a", "addr:x")
    assert throttle.retry_after("user:a") == 8.0  # until the first failure leaves the window
    assert throttle.retry_after("user:b", "addr:x") == 8.0  # the address is throttled too
    assert throttle.retry_after("user:b") == 0
    now[0] = 10.0
    assert throttle.retry_after("user:a") == 0  # the failure at t=0 left the window
    throttle.record_failure("user:a")
    assert throttle.retry_after("user:a") == 1.0  # failures at 1, 2, 10: wait for the one at 1
    throttle.reset("user:a")
    assert throttle.retry_after("user:a") == 0


def test_memory_stays_bounded() -> None:
    now = [0.0]
    throttle = LoginThrottle(max_failures=3, window_s=1, clock=lambda: now[0])
    for i in range(MAX_TRACKED_SUBJECTS):
        throttle.record_failure(f"user:{i}")
    now[0] = 5.0  # every entry is stale now
    throttle.record_failure("user:last")
    throttle.record_failure("user:one-more")
    assert len(throttle._failures) <= 2
