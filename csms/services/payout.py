"""A compensation's payout to its owner's wallet, as a state machine (pure).

::

    pending --send--> sent --paid--> paid
                        |--refused--> failed
                        |--transient--> pending (again after a backoff) | failed (attempts used up)
    failed --operator's retry--> pending (attempts counted afresh, the same key)

A payout exists only once its compensation is recorded (both are written in one transaction),
so a compensation still being computed is never paid. Every request for a payout carries the
same idempotency key (``Idempotency-Key``, the compensation's), so a retry, or a node that
crashed between sending and hearing the answer, never pays twice: the wallet answers a repeated
key with the first payment. A payout left ``sent`` (its answer lost with the node) becomes due
again after ``stale_after_s`` and is sent again, with the same key.

Outcomes of an attempt: 2xx is paid; 408, 409 (the same key still in progress), 425, 429 and
5xx, a timeout or a broken connection are transient; any other 4xx is a refusal (a bad
wallet, an amount refused) and ends the payout failed.
"""

from __future__ import annotations

import datetime as dt
import enum
from collections.abc import Mapping
from typing import Any, Final

import attrs

from ._v2g_json import decimal_or_none
from .field_error import FieldError

__all__ = [
    "PREFIX",
    "Outcome",
    "PayoutError",
    "PayoutPolicy",
    "PayoutState",
    "Step",
    "WalletSettings",
    "after_attempt",
    "classify",
    "due",
    "parse_wallet_settings",
]

PREFIX: Final = "v2g.wallet"


class PayoutState(enum.StrEnum):
    PENDING = "pending"
    SENT = "sent"
    PAID = "paid"
    FAILED = "failed"


class Outcome(enum.StrEnum):
    PAID = "paid"
    TRANSIENT = "transient"
    REFUSED = "refused"


_TRANSIENT_4XX: Final = frozenset({408, 409, 425, 429})


def classify(status: int | None) -> Outcome:
    """An attempt's outcome from the wallet's HTTP status (None: no answer)."""
    if status is None or status >= 500 or status in _TRANSIENT_4XX:
        return Outcome.TRANSIENT
    if 200 <= status < 300:
        return Outcome.PAID
    return Outcome.REFUSED


@attrs.frozen
class PayoutPolicy:
    """Transient failures are retried by the node itself, with the same key; a payout fails for
    good after ``max_attempts`` (then only an operator's retry sends it again). The defaults
    ride out a wallet outage of about three hours (waits of 30 s, 1, 2, 4, 8, 16, 32 min, then
    an hour twice) before giving up and saying so (``v2g.payout.failed``)."""

    max_attempts: int = 10
    #: The first retry's wait; doubled at each attempt, up to ``backoff_max_s``.
    backoff_s: float = 30.0
    backoff_max_s: float = 3600.0
    #: A payout ``sent`` this long without an answer recorded is sent again (same key).
    stale_after_s: float = 120.0

    def backoff(self, attempts: int) -> dt.timedelta:
        """The wait after the ``attempts``-th failed attempt (1, 2, ...)."""
        seconds = min(self.backoff_s * 2 ** max(attempts - 1, 0), self.backoff_max_s)
        return dt.timedelta(seconds=seconds)


@attrs.frozen
class Step:
    """What a payout becomes after an attempt."""

    state: PayoutState
    next_attempt_at: dt.datetime | None
    paid_at: dt.datetime | None = None
    error: str | None = None


def due(
    state: str, next_attempt_at: dt.datetime, sent_at: dt.datetime | None, now: dt.datetime,
    policy: PayoutPolicy,
) -> bool:  # fmt: skip
    """Whether a payout is to be sent now: pending and its time come, or sent and stale."""
    if state == PayoutState.PENDING:
        return next_attempt_at <= now
    if state == PayoutState.SENT:
        return sent_at is None or now - sent_at >= dt.timedelta(seconds=policy.stale_after_s)
    return False


def after_attempt(
    attempts: int, outcome: Outcome, now: dt.datetime, policy: PayoutPolicy, error: str | None
) -> Step:
    """The state after the ``attempts``-th attempt (counted, 1 for the first) ended so."""
    if outcome is Outcome.PAID:
        return Step(PayoutState.PAID, None, paid_at=now)
    if outcome is Outcome.REFUSED or attempts >= policy.max_attempts:
        return Step(PayoutState.FAILED, None, error=error)
    return Step(PayoutState.PENDING, now + policy.backoff(attempts), error=error)


class PayoutError(FieldError):
    """A bad ``[v2g.wallet]`` setting."""


@attrs.frozen
class WalletSettings:
    """``[v2g.wallet]`` (``WALLET_SERVICE_URL`` sets ``url``)::

    [v2g.wallet]
    url = "https://wallet.example/api"   # empty: payouts stay pending
    timeout_s = 10
    concurrency = 8        # payouts in flight at once
    batch_size = 500       # payouts taken per run
    interval_s = 60        # a run every so often (0: only when asked, POST /v2g/payouts/run)
    max_attempts = 10      # then failed for good (an operator's retry sends it again)
    backoff_s = 30         # doubled per attempt, at most backoff_max_s (about 3 h in all)
    backoff_max_s = 3600
    stale_after_s = 120
    """

    url: str = ""
    timeout_s: float = 10.0
    concurrency: int = 8
    batch_size: int = 500
    interval_s: float = 60.0
    policy: PayoutPolicy = attrs.field(factory=PayoutPolicy)


_NUMBERS: Final = {
    "timeout_s": (float, 0.001),
    "concurrency": (int, 1),
    "batch_size": (int, 1),
    "interval_s": (float, 0.0),
    "max_attempts": (int, 1),
    "backoff_s": (float, 0.0),
    "backoff_max_s": (float, 0.0),
    "stale_after_s": (float, 0.001),
}


def parse_wallet_settings(raw: Mapping[str, Any]) -> WalletSettings:
    """The settings from the ``[v2g.wallet]`` table (numbers may come as text, from the
    environment)."""
    for key in raw:
        if key != "url" and key not in _NUMBERS:
            known = ", ".join(sorted({"url", *_NUMBERS}))
            raise PayoutError(f"{PREFIX}.{key}", f"unknown setting (known: {known})")
    url = raw.get("url", "")
    if not isinstance(url, str) or (url and not url.startswith(("http://", "https://"))):
        raise PayoutError(f"{PREFIX}.url", f"{url!r} is not an http(s) URL")
    values: dict[str, Any] = {}
    for key, (kind, low) in _NUMBERS.items():
        if key not in raw:
            continue
        number = decimal_or_none(raw[key])
        if number is None or number < low or (kind is int and number != int(number)):
            what = "an integer" if kind is int else "a number"
            raise PayoutError(f"{PREFIX}.{key}", f"{raw[key]!r} is not {what} >= {low:g}")
        values[key] = kind(number)
    policy_keys = {"max_attempts", "backoff_s", "backoff_max_s", "stale_after_s"}
    policy = PayoutPolicy(**{k: v for k, v in values.items() if k in policy_keys})
    rest = {k: v for k, v in values.items() if k not in policy_keys}
    return WalletSettings(url=url.rstrip("/"), policy=policy, **rest)
