"""The failure throttle is pure: the caller passes the time."""

import pytest

from csms.transport import FailureThrottle, ThrottleSettings


def make(max_failures=3, window=60.0, lockout=30.0, max_entries=100):
    return FailureThrottle(ThrottleSettings(max_failures, window, lockout, max_entries))


def test_blocks_after_max_failures_within_the_window_for_the_lockout():
    throttle = make()
    assert throttle.retry_after("k", 0.0) is None
    assert not throttle.record_failure("k", 0.0)
    assert not throttle.record_failure("k", 10.0)
    assert throttle.retry_after("k", 10.0) is None
    assert throttle.record_failure("k", 20.0)
    assert throttle.retry_after("k", 20.0) == pytest.approx(30.0)
    assert throttle.retry_after("k", 49.0) == pytest.approx(1.0)
    assert throttle.retry_after("k", 50.0) is None


def test_failures_in_an_old_window_do_not_count():
    throttle = make()
    throttle.record_failure("k", 0.0)
    throttle.record_failure("k", 1.0)
    assert not throttle.record_failure("k", 61.0)  # a new window starts here
    assert throttle.retry_after("k", 61.0) is None


def test_keys_are_independent_and_success_forgets():
    throttle = make(max_failures=2)
    throttle.record_failure("a", 0.0)
    throttle.record_failure("b", 0.0)
    throttle.record_success("a")
    assert not throttle.record_failure("a", 1.0)
    assert throttle.record_failure("b", 1.0)
    assert throttle.retry_after("a", 1.0) is None
    assert throttle.retry_after("b", 1.0) is not None


def test_memory_is_bounded_stale_entries_first():
    throttle = make(max_failures=2, max_entries=3)
    throttle.record_failure("old", 0.0)
    throttle.record_failure("blocked", 100.0)
    throttle.record_failure("blocked", 100.0)
    throttle.record_failure("fresh", 100.0)
    throttle.record_failure("new", 100.0)  # table full: "old" is stale and goes
    assert len(throttle) == 3
    assert throttle.retry_after("blocked", 101.0) is not None
    throttle.record_failure("newer", 101.0)  # nothing stale: the oldest-inserted goes
    assert len(throttle) == 3


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_failures": 0, "window": 1, "lockout": 1},
        {"max_failures": 1, "window": 0, "lockout": 1},
        {"max_failures": 1, "window": 1, "lockout": -1},
    ],
)
def test_settings_are_validated(kwargs):
    with pytest.raises(ValueError, match="must be"):
        ThrottleSettings(**kwargs)
