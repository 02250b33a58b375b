"""The latency criterion of a fault's recovery, on crafted series: the baseline is the quiet
window's p99, the latency has recovered at the end of the first window after the fault (and
after the fleet's recovery) whose p99 is within the threshold; a latency that stays high is not
recovered, and a fault without a baseline is not judged."""

from __future__ import annotations

from csms.soak._latency import (
    ALLOWANCE_S,
    BASELINE_SECONDS,
    FACTOR,
    WINDOW_SECONDS,
    LatencySeries,
    SoakStats,
    baseline_ready,
    latency_recovery,
)

T0 = 1_800_000_000  # a wall-clock second


def series(latency_of_second: dict[int, float], per_second: int = 20) -> LatencySeries:
    out = LatencySeries()
    for offset, latency in latency_of_second.items():
        for i in range(per_second):
            out.add(T0 + offset + i / per_second, latency)
    return out


def judge(s: LatencySeries, **kw: float):
    args = {
        "quiet_since": T0,
        "fault_start": T0 + 30,
        "fault_end": T0 + 35,
        "fleet_recovered": T0 + 38,
        "complete_until": T0 + 100,
    }
    args.update({k: T0 + v for k, v in kw.items()})
    return latency_recovery(s, **args)


def test_recovered_at_the_end_of_the_first_window_back_within_the_threshold():
    quiet = dict.fromkeys(range(30), 0.010)  # 10 ms before the fault
    slow = dict.fromkeys(range(30, 50), 3.0)  # 3 s answers during and after it
    normal = dict.fromkeys(range(50, 100), 0.050)  # within 10 ms + 100 ms
    verdict = judge(series({**quiet, **slow, **normal}))
    assert verdict.judged
    assert verdict.baseline_p99_ms == 10.0
    assert verdict.threshold_ms == round(max(FACTOR * 0.010, 0.010 + ALLOWANCE_S) * 1000, 1)
    # the first window holding only normal seconds is [50, 55): 20 s after the fault's end
    assert verdict.recovered_s == 50 + WINDOW_SECONDS - 35


def test_a_window_before_the_fleet_recovered_does_not_count():
    quiet = dict.fromkeys(range(100), 0.010)  # the latency never rose
    verdict = judge(series(quiet), fleet_recovered=60)
    assert verdict.recovered_s == 60 - 35  # the first window ending once the fleet is whole


def test_a_latency_that_stays_high_is_not_recovered():
    quiet = dict.fromkeys(range(30), 0.010)
    slow = dict.fromkeys(range(30, 100), 0.5)
    verdict = judge(series({**quiet, **slow}))
    assert verdict.judged
    assert verdict.recovered_s is None


def test_windows_not_reported_yet_are_not_looked_at():
    quiet = dict.fromkeys(range(100), 0.010)
    assert judge(series(quiet), complete_until=39).recovered_s is None


def test_a_fault_without_transaction_events_before_it_is_not_judged():
    verdict = judge(series(dict.fromkeys(range(40, 100), 0.010)))
    assert not verdict.judged
    assert verdict.recovered_s is None


def test_soak_stats_keep_transaction_event_latencies_by_second_and_hand_them_on():
    stats = SoakStats()
    stats.call_done("TransactionEvent", 0.02)
    stats.call_done("Heartbeat", 0.01)
    assert sum(h.count for h in stats.series.seconds.values()) == 1
    merged = LatencySeries()
    merged.merge(stats.series.take_complete(now=2 * T0))
    assert stats.series.seconds == {}
    assert [h.count for h in merged.seconds.values()] == [1]


def test_the_quiet_window_is_ready_once_it_holds_a_baseline_or_is_as_long_as_it_gets():
    s = series(dict.fromkeys(range(10, 20), 0.010))
    assert not baseline_ready(s, T0, T0 + 2)  # too short
    assert not baseline_ready(s, T0, T0 + 5)  # no events in it yet
    assert baseline_ready(s, T0, T0 + 12)  # two whole seconds of 20 events
    assert baseline_ready(series({}), T0, T0 + BASELINE_SECONDS)  # none will come
