"""The payout state machine (csms/services/payout.py) and the [v2g.wallet] settings."""

from __future__ import annotations

import datetime as dt

import pytest

from csms.services.payout import (
    Outcome,
    PayoutError,
    PayoutPolicy,
    PayoutState,
    after_attempt,
    classify,
    due,
    parse_wallet_settings,
)

NOW = dt.datetime(2026, 6, 10, 12, tzinfo=dt.UTC)
POLICY = PayoutPolicy(max_attempts=3, backoff_s=2, backoff_max_s=5, stale_after_s=60)


@pytest.mark.parametrize(
    ("status", "outcome"),
    [
        (200, Outcome.PAID),
        (201, Outcome.PAID),
        (None, Outcome.TRANSIENT),
        (500, Outcome.TRANSIENT),
        (503, Outcome.TRANSIENT),
        (409, Outcome.TRANSIENT),
        (429, Outcome.TRANSIENT),
        (400, Outcome.REFUSED),
        (404, Outcome.REFUSED),
        (422, Outcome.REFUSED),
    ],
)
def test_an_attempts_outcome_from_the_wallets_status(status, outcome):
    assert classify(status) is outcome


def test_paid_refused_and_transient_with_backoff_until_the_attempts_are_used_up():
    assert after_attempt(1, Outcome.PAID, NOW, POLICY, None).state is PayoutState.PAID
    assert after_attempt(1, Outcome.PAID, NOW, POLICY, None).paid_at == NOW
    refused = after_attempt(1, Outcome.REFUSED, NOW, POLICY, "HTTP 422")
    assert (refused.state, refused.error) == (PayoutState.FAILED, "HTTP 422")
    waits = [after_attempt(n, Outcome.TRANSIENT, NOW, POLICY, "HTTP 503") for n in (1, 2)]
    assert [w.state for w in waits] == [PayoutState.PENDING] * 2
    assert [w.next_attempt_at - NOW for w in waits] == [dt.timedelta(seconds=s) for s in (2, 4)]
    assert POLICY.backoff(5) == dt.timedelta(seconds=5)  # capped
    assert after_attempt(3, Outcome.TRANSIENT, NOW, POLICY, "x").state is PayoutState.FAILED


def test_the_default_policy_rides_out_a_wallet_outage_of_about_three_hours():
    """A wallet that keeps failing: retried by the node itself, then failed for good."""
    policy, now, attempts = PayoutPolicy(), NOW, 0
    while True:
        attempts += 1
        step = after_attempt(attempts, Outcome.TRANSIENT, now, policy, "HTTP 503")
        if step.state is PayoutState.FAILED:
            break
        assert step.next_attempt_at is not None
        now = step.next_attempt_at
    assert attempts == 10
    assert now - NOW == dt.timedelta(seconds=30 * (1 + 2 + 4 + 8 + 16 + 32 + 64) + 2 * 3600)


def test_due_pending_when_its_time_has_come_and_sent_when_its_answer_is_overdue():
    later = NOW + dt.timedelta(seconds=1)
    assert due("pending", NOW, None, NOW, POLICY)
    assert not due("pending", later, None, NOW, POLICY)
    assert not due("sent", NOW, NOW - dt.timedelta(seconds=59), NOW, POLICY)
    assert due("sent", NOW, NOW - dt.timedelta(seconds=60), NOW, POLICY)
    assert not due("paid", NOW, None, NOW, POLICY)
    assert not due("failed", NOW, None, NOW, POLICY)


def test_wallet_settings():
    parsed = parse_wallet_settings(
        {"url": "http://127.0.0.1:8099/", "concurrency": "16", "max_attempts": 2, "backoff_s": 0.5}
    )
    assert parsed.url == "http://127.0.0.1:8099"
    assert parsed.concurrency == 16
    assert parsed.policy == PayoutPolicy(max_attempts=2, backoff_s=0.5)
    assert parse_wallet_settings({}).url == ""
    for raw, field in (
        ({"url": "ftp://x"}, "v2g.wallet.url"),
        ({"concurrency": 0}, "v2g.wallet.concurrency"),
        ({"concurrency": 1.5}, "v2g.wallet.concurrency"),
        ({"timeout_s": "soon"}, "v2g.wallet.timeout_s"),
        ({"token": "x"}, "v2g.wallet.token"),
    ):
        with pytest.raises(PayoutError) as caught:
            parse_wallet_settings(raw)
        assert caught.value.field == field
