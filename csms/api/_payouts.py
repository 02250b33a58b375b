"""V2G payouts: run a batch now (operator), list them (viewer).

A payout goes pending -> sent -> paid | failed (docs/V2G.md "Compensation and payouts"); every
attempt carries the compensation's idempotency key, so the wallet pays it once.
"""

from __future__ import annotations

import datetime as dt

import attrs
from starlette.responses import Response

from csms.storage import payouts

from ._auth import Role
from ._compensation import PayoutRunResult, money_text, parse_uuid
from ._errors import Conflict, NotFound
from ._routing import Call, Endpoint, Param, json_response

__all__ = ["ENDPOINTS"]

_STATES = ("pending", "sent", "paid", "failed")


@attrs.frozen
class PayoutView:
    """``state``: pending (waiting for its next attempt at ``nextAttemptAt``), sent (an
    attempt in flight), paid or failed (``lastError`` says why; not retried by itself)."""

    compensation_id: str
    session_id: str
    user_id: str | None
    wallet_id: str | None
    amount_rs: str
    state: str
    idempotency_key: str
    attempts: int
    next_attempt_at: dt.datetime
    sent_at: dt.datetime | None
    paid_at: dt.datetime | None
    wallet_reference: str | None
    last_error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime


@attrs.frozen
class PayoutList:
    items: list[PayoutView]


def payout_view(row: payouts.PayoutRow) -> PayoutView:
    return PayoutView(
        compensation_id=str(row.compensation_id),
        session_id=str(row.session_id),
        user_id=row.user_id,
        wallet_id=row.wallet_id,
        amount_rs=money_text(row.amount_brl),
        state=row.state,
        idempotency_key=row.idempotency_key,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        sent_at=row.sent_at,
        paid_at=row.paid_at,
        wallet_reference=row.wallet_reference,
        last_error=row.last_error,
        created_at=row.created_at,
        updated_at=row.updated_at,
    )


async def run(call: Call) -> Response:
    result: PayoutRunResult = await call.control.money.run_payouts()
    return json_response(result)


async def retry(call: Call) -> Response:
    text = call.path("compensationId")
    compensation_id = parse_uuid(text)
    if compensation_id is None:
        raise NotFound(f"no payout {text!r}")
    row = await call.control.database.run(payouts.retry, compensation_id)
    if row is None:
        if await call.control.database.run(payouts.get, compensation_id) is None:
            raise NotFound(f"no payout {text!r}")
        raise Conflict("only a failed payout is retried", code="not_failed")
    return json_response(payout_view(row))


async def list_all(call: Call) -> Response:
    q = call.query
    rows = await call.control.database.run(
        payouts.list_payouts, state=q["state"], user_id=q["userId"], limit=q["limit"]
    )
    return json_response(PayoutList([payout_view(r) for r in rows]))


ENDPOINTS = (
    Endpoint(
        "POST",
        "/api/v1/v2g/payouts/run",
        run,
        Role.OPERATOR,
        "Pay the due payouts now",
        "v2g",
        body=None,
        response=PayoutRunResult,
        errors=(503,),
        description=(
            "Claims the due payouts (pending whose time has come, or sent without an answer "
            "for too long) and pays them, at most `concurrency` at once; answers when the "
            "batch is done. `enabled` is false when no wallet URL is configured."
        ),
    ),
    Endpoint(
        "POST",
        "/api/v1/v2g/payouts/{compensationId}/retry",
        retry,
        Role.OPERATOR,
        "Retry a failed payout",
        "v2g",
        body=None,
        response=PayoutView,
        errors=(404, 409),
        path_docs={"compensationId": "The compensation whose payout failed."},
        description=(
            "The payout becomes pending, due at the next run (`POST /api/v1/v2g/payouts/run` "
            "for one now), with the same idempotency key and its attempts counted afresh. "
            "409 `not_failed` when it is not failed."
        ),
    ),
    Endpoint(
        "GET",
        "/api/v1/v2g/payouts",
        list_all,
        Role.VIEWER,
        "List payouts, newest first",
        "v2g",
        response=PayoutList,
        query=(
            Param("state", description="Only payouts in this state.", enum=_STATES),
            Param("userId", description="Only this user's.", pattern=r"^[^\u0000]{1,100}$"),
            Param("limit", int, "At most this many.", minimum=1, maximum=1000, default=100),
        ),
        errors=(422,),
    ),
)
