"""The failure throttle and the accept-rate guard are pure: the caller passes the time."""

import pytest

from csms.transport import AcceptRateGuard, FailureThrottle, ThrottleSettings


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


# --- the accept-rate guard (a token bucket) -------------------------------------------------------


def test_the_burst_passes_then_one_connection_per_token():
    guard = AcceptRateGuard(rate=2.0, burst=3)
    assert [guard.admit(10.0) for _ in range(3)] == [0, 0, 0]
    assert guard.admit(10.0) > 0
    assert guard.admit(10.4) > 0  # 0.8 of a token: not yet
    assert guard.admit(10.5) == 0  # 1.0 token
    assert guard.admit(10.5) > 0
    assert [guard.admit(100.0) for _ in range(3)] == [0, 0, 0]  # refilled to the burst, no more
    assert guard.admit(100.0) > 0


def test_retry_after_spreads_the_refused_over_the_seconds_the_rate_needs():
    guard = AcceptRateGuard(rate=2.0, burst=1)
    assert guard.admit(0.0) == 0
    # The k-th refusal of a storm is told k / rate seconds, rounded up, at least 1.
    assert [guard.admit(0.0) for _ in range(6)] == [1, 1, 2, 2, 3, 3]


def test_the_queue_of_the_refused_drains_at_the_rate():
    guard = AcceptRateGuard(rate=1.0, burst=1)
    assert guard.admit(0.0) == 0
    assert [guard.admit(0.0) for _ in range(5)] == [1, 2, 3, 4, 5]
    # 3 s later three of the five are through (or came back): the next is fourth in line,
    # behind the two left; the bucket has its token back meanwhile.
    assert guard.admit(3.0) == 0
    assert guard.admit(3.0) == 3


def test_refused_stations_that_come_back_and_are_refused_again_wait_longer():
    guard = AcceptRateGuard(rate=2.0, burst=1)
    assert guard.admit(0.0) == 0
    assert [guard.admit(0.0) for _ in range(4)] == [1, 1, 2, 2]
    # At 1 s two new stations and the two told 1 s arrive: one token, three refused.
    assert [guard.admit(1.0) for _ in range(4)] == [0, 2, 2, 3]


def test_retry_after_is_capped():
    guard = AcceptRateGuard(rate=1.0, burst=1, max_retry_after=5)
    guard.admit(0.0)
    assert [guard.admit(0.0) for _ in range(8)] == [1, 2, 3, 4, 5, 5, 5, 5]


def test_a_clock_that_goes_back_refills_nothing():
    guard = AcceptRateGuard(rate=1.0, burst=1)
    assert guard.admit(10.0) == 0
    assert guard.admit(5.0) > 0
    assert guard.admit(10.5) > 0  # time is taken from the latest reading, 10.0
    assert guard.admit(11.0) == 0


@pytest.mark.parametrize(
    ("rate", "burst", "cap"),
    [
        (0.0, 1, 60),
        (-1.0, 1, 60),
        (float("nan"), 1, 60),
        (float("inf"), 1, 60),
        (1.0, 0, 60),
        (1.0, 1, 0),
    ],
)
def test_guard_arguments_are_validated(rate, burst, cap):
    with pytest.raises(ValueError, match="must be"):
        AcceptRateGuard(rate, burst, max_retry_after=cap)
