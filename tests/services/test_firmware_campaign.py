"""The firmware campaign policy: slots, the failure threshold, pause / resume / cancel, skips."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from csms.services.firmware_campaign import (
    Campaign,
    Cancel,
    Counts,
    Deferred,
    Ended,
    Launched,
    Opened,
    Pause,
    Resume,
    Skipped,
    in_window,
    launchable,
    settled,
    should_skip,
    step,
)


def campaign(stations: int, concurrent: int = 5, threshold: int | None = None) -> Campaign:
    return Campaign("running", concurrent, threshold, Counts(pending=stations))


def test_slots_never_exceed_the_concurrency():
    c = campaign(12, concurrent=5)
    assert launchable(c) == 5
    for _ in range(7):
        c = step(c, Launched())
    assert (c.counts.running, c.counts.pending) == (5, 7)  # the two extra launches were refused
    c = step(c, Ended(installed=True))
    assert launchable(c) == 1


def test_the_threshold_halts_and_running_jobs_still_count():
    c = campaign(10, concurrent=4, threshold=2)
    for _ in range(4):
        c = step(c, Launched())
    c = step(c, Ended(installed=False))
    assert c.state == "running"
    c = step(c, Ended(installed=False))
    assert (c.state, launchable(c)) == ("halted", 0)
    assert c.reason == "2 stations failed (threshold 2)"
    assert not settled(c)
    c = step(step(c, Ended(installed=True)), Ended(installed=False))
    assert (c.counts.installed, c.counts.failed, c.state) == (1, 3, "halted")
    assert settled(c)


def test_pause_resume_and_cancel():
    c = step(campaign(3), Pause())
    assert (c.state, launchable(c)) == ("paused", 0)
    c = step(c, Resume())
    assert launchable(c) == 3
    c = step(c, Cancel())
    assert (c.state, launchable(c)) == ("canceled", 0)
    assert step(c, Resume()).state == "canceled"  # final


def test_a_halted_campaign_resumed_halts_again_at_its_next_failure():
    c = campaign(5, concurrent=1, threshold=1)
    c = step(step(c, Launched()), Ended(installed=False))
    assert c.state == "halted"
    c = step(c, Resume())
    assert c.state == "running"
    c = step(step(c, Launched()), Ended(installed=True))
    assert c.state == "running"
    c = step(step(c, Launched()), Ended(installed=False))
    assert c.state == "halted"


def test_a_deferred_station_is_pending_again_and_keeps_the_campaign_open():
    c = step(campaign(1, concurrent=1), Launched())
    c = step(c, Deferred())
    assert (c.state, c.counts.pending, c.counts.running, launchable(c)) == ("running", 1, 0, 1)


def test_a_campaign_with_no_station_completes_when_opened():
    assert step(campaign(0), Opened()).state == "completed"
    assert step(campaign(2), Opened()).state == "running"
    assert step(step(campaign(0), Pause()), Opened()).state == "paused"


def test_skips_and_completion():
    assert should_skip("2.0", "2.0")
    assert not should_skip("1.0", "2.0")
    assert not should_skip("2.0", None)
    c = step(step(campaign(2), Skipped()), Skipped())
    assert (c.state, c.counts.skipped) == ("completed", 2)
    assert settled(c)


INPUTS = st.sampled_from(
    [
        Opened(),
        Launched(),
        Launched(),
        Skipped(),
        Deferred(),
        Ended(True),
        Ended(False),
        Pause(),
        Resume(),
        Cancel(),
    ]
)


@given(
    st.integers(0, 30),
    st.integers(1, 6),
    st.one_of(st.none(), st.integers(1, 5)),
    st.lists(INPUTS, max_size=80),
)
def test_counts_are_conserved_and_the_limit_holds(stations, concurrent, threshold, inputs):
    c = campaign(stations, concurrent, threshold)
    for event in inputs:
        before = c
        c = step(c, event)
        assert c.counts.total == stations
        assert c.counts.running <= concurrent
        assert min(c.counts.pending, c.counts.running, c.counts.failed) >= 0
        if before.state == "canceled" or before.state == "completed":
            assert c.state == before.state
        if isinstance(event, Launched) and before.state != "running":
            assert c == before


def test_the_window_is_open_from_its_start_until_its_end_and_may_span_midnight():
    t = dt.time
    assert in_window(None, None, t(3, 0))
    day = (t(9, 0), t(17, 0))
    assert [in_window(*day, at) for at in (t(8, 59), t(9, 0), t(16, 59), t(17, 0))] == [
        False,
        True,
        True,
        False,
    ]
    night = (t(22, 0), t(5, 0))
    assert [in_window(*night, at) for at in (t(21, 59), t(22, 0), t(0, 0), t(4, 59), t(5, 0))] == [
        False,
        True,
        True,
        True,
        False,
    ]
