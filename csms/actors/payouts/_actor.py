"""The money actor (``v2g_money``): a compensation for every discharge session that ends, and
payouts of them to the owners' wallets.

Compensation: it follows ``v2g.session.completed`` on the node's bus and records the session's
compensation (``_compute``), once: the table is unique on the session, so a second node, a
repeated event or a restart records nothing more. The bus drops events for a slow subscriber,
and a node may stop between a session's end and its compensation, so a sweep at start and every
``sweep_interval_s`` records the ended sessions still without one. ``v2g.compensation.recorded``
is published for each recorded here.

Payouts: a run claims the due payouts (``payouts.claim_due``: they become ``sent``, one more
attempt counted) and pays them with at most ``concurrency`` requests in flight; each outcome
goes through the state machine (``services/payout.py``) and is recorded only on the attempt it
answers. Runs follow every recorded compensation, ``interval_s``, the earliest retry due, and
``RunPayouts`` (``POST /api/v1/v2g/payouts/run``). Without a wallet URL nothing is paid (payouts
stay pending). ``v2g.payout.paid`` or ``v2g.payout.failed`` ends each payout.

Its mailbox never waits on the database or the wallet: both run in tasks of their own.
"""

from __future__ import annotations

import datetime as dt
import logging
import math
from collections.abc import Callable
from typing import Any

import attrs
import trio

from csms.actors.database import Database
from csms.actors.events import EventBus, Subscription
from csms.domain.events import (
    V2GCompensationRecorded,
    V2GPayoutFailed,
    V2GPayoutPaid,
    V2GSessionCompleted,
)
from csms.runtime import Actor, ActorContext, Reply
from csms.services.compensation import plain
from csms.services.payout import Outcome, PayoutState, after_attempt, classify
from csms.storage import compensations, payouts, v2g_sessions
from csms.storage.compensations import CompensationRow
from csms.storage.payouts import PayoutRow

from ._compute import record_session
from ._config import MoneyConfig
from ._wallet import Attempt, WalletClient

__all__ = ["MoneyActor", "PayoutRun", "RunPayouts", "Sweep"]

log = logging.getLogger("csms.payouts")
_KILO = 1000


@attrs.frozen
class RunPayouts:
    """Ask: pay the due payouts now; answered with the ``PayoutRun``."""


@attrs.frozen
class Sweep:
    """Ask: record the ended sessions still without a compensation; answered with how many."""


@attrs.frozen
class PayoutRun:
    claimed: int = 0
    paid: int = 0
    failed: int = 0
    #: Left pending for a later attempt (a transient failure).
    retrying: int = 0
    #: False: no wallet URL is configured, nothing was claimed.
    enabled: bool = True


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class MoneyActor(Actor):
    background_tasks = True

    def __init__(
        self,
        *,
        database: Database,
        events: EventBus,
        config: MoneyConfig,
        wallet: Callable[[], WalletClient] | None,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self.database = database
        self.events = events
        self.config = config
        self._make_wallet = wallet
        self._wallet: WalletClient | None = None
        self.clock = clock
        self._subscription: Subscription | None = None
        self._ctx: ActorContext | None = None
        self._pay_lock = trio.Lock()
        self._sweep_lock = trio.Lock()
        self._wake = trio.Event()

    async def on_start(self, ctx: ActorContext) -> None:
        self._ctx = ctx
        self._subscription = self.events.subscribe(V2GSessionCompleted.subject)
        if self._make_wallet is not None:
            self._wallet = self._make_wallet()
        ctx.nursery.start_soon(self._follow, self._subscription)
        ctx.nursery.start_soon(self._sweeper)
        ctx.nursery.start_soon(self._payer)

    async def on_stop(self, reason: BaseException | None) -> None:
        if self._subscription is not None:
            self.events.unsubscribe(self._subscription)
        if self._wallet is not None:
            await self._wallet.aclose()

    async def receive(self, message: Any) -> Any:
        if isinstance(message, RunPayouts | Sweep):
            assert self._ctx is not None
            try:
                reply: Reply | None = self._ctx.defer_reply()
            except RuntimeError:  # told: nobody waits
                reply = None
            run = self.run_payouts if isinstance(message, RunPayouts) else self.sweep
            self._ctx.nursery.start_soon(self._answer, run, reply)
            return None
        log.warning("v2g_money: unknown message ignored", extra={"kind": type(message).__name__})
        return None

    async def _answer(self, run: Callable[[], Any], reply: Reply | None) -> None:
        try:
            result = await run()
        except Exception as exc:  # the database away: the asker hears it, the actor goes on
            log.exception("v2g money run failed", extra={"error": repr(exc)})
            result = exc
        if reply is not None:
            if isinstance(result, Exception):
                reply.fail(result)
            else:
                reply.resolve(result)

    # -- compensation ----------------------------------------------------------------------------

    async def _follow(self, subscription: Subscription) -> None:
        async for event in subscription:
            assert isinstance(event, V2GSessionCompleted)
            try:
                session = await self.database.run(v2g_sessions.get, event.session_id)
                if session is not None and session.ended_at is not None:
                    await self._record(session)
            except Exception as exc:  # the sweep records it later
                log.warning(
                    "compensation not recorded yet",
                    extra={"session_id": event.session_id, "error": repr(exc)},
                )

    async def _sweeper(self) -> None:
        while True:
            try:
                await self.sweep()
            except Exception as exc:
                log.warning("compensation sweep failed", extra={"error": repr(exc)})
            await trio.sleep(self.config.compensation.sweep_interval_s)

    async def sweep(self) -> int:
        recorded = 0
        async with self._sweep_lock:
            while True:
                sessions = await self.database.run(compensations.uncompensated_sessions, limit=100)
                for session in sessions:
                    recorded += await self._record(session)
                if len(sessions) < 100:
                    return recorded

    async def _record(self, session: v2g_sessions.SessionRow) -> bool:
        row, created = await self.database.run(record_session, self.config, session)
        if created:
            log.info(
                "compensation recorded",
                extra={"session_id": str(row.session_id), "net_brl": str(row.net_brl)},
            )
            self.events.publish(_recorded(row))
            self._wake.set()
        return created

    # -- payouts ---------------------------------------------------------------------------------

    async def _payer(self) -> None:
        wallet = self.config.wallet
        while True:
            wait = wallet.interval_s or math.inf
            try:
                run, soonest = await self._run()
                if run.claimed >= wallet.batch_size:
                    wait = 0  # more are due
                elif soonest is not None:
                    wait = min(wait, max((soonest - self.clock()).total_seconds(), 0))
            except Exception as exc:
                log.warning("payout run failed", extra={"error": repr(exc)})
                wait = min(wait, wallet.policy.backoff_s or 1.0)
            with trio.move_on_after(wait):
                await self._wake.wait()
            self._wake = trio.Event()

    async def run_payouts(self) -> PayoutRun:
        run, _ = await self._run()
        return run

    async def _run(self) -> tuple[PayoutRun, dt.datetime | None]:
        wallet, client = self.config.wallet, self._wallet
        if client is None:
            return PayoutRun(enabled=False), None
        async with self._pay_lock:
            claimed = await self.database.run(
                payouts.claim_due,
                self.clock(),
                limit=wallet.batch_size,
                stale_after_s=wallet.policy.stale_after_s,
            )
            ends: list[PayoutRow | None] = []
            limiter = trio.CapacityLimiter(wallet.concurrency)
            async with trio.open_nursery() as nursery:
                for payout in claimed:
                    nursery.start_soon(self._pay, client, payout, limiter, ends)
        done = [e for e in ends if e is not None]
        retries = [e.next_attempt_at for e in done if e.state == PayoutState.PENDING]
        run = PayoutRun(
            claimed=len(claimed),
            paid=sum(e.state == PayoutState.PAID for e in done),
            failed=sum(e.state == PayoutState.FAILED for e in done),
            retrying=len(retries),
        )
        if claimed:
            log.info("payout run", extra=attrs.asdict(run))
        return run, min(retries, default=None)

    async def _pay(
        self,
        client: WalletClient,
        payout: PayoutRow,
        limiter: trio.CapacityLimiter,
        ends: list[PayoutRow | None],
    ) -> None:
        if payout.wallet_id is None:
            attempt, outcome = Attempt(None, error="no_wallet"), Outcome.REFUSED
        else:
            async with limiter:
                attempt = await client.pay(payout)
            outcome = classify(attempt.status)
        step = after_attempt(
            payout.attempts, outcome, self.clock(), self.config.wallet.policy, attempt.error
        )
        try:
            row = await self.database.run(
                payouts.finish,
                payout.compensation_id,
                attempts=payout.attempts,
                state=step.state.value,
                next_attempt_at=step.next_attempt_at,
                paid_at=step.paid_at,
                wallet_reference=attempt.reference,
                error=step.error,
            )
        except Exception as exc:  # left sent: sent again with its key once stale
            log.warning(
                "payout outcome not recorded",
                extra={"compensation_id": str(payout.compensation_id), "error": repr(exc)},
            )
            row = None
        ends.append(row)
        if row is not None and row.state == PayoutState.PAID:
            self.events.publish(_paid(row))
        elif row is not None and row.state == PayoutState.FAILED:
            log.warning(
                "payout failed",
                extra={"compensation_id": str(row.compensation_id), "error": row.last_error},
            )
            self.events.publish(_failed(row))


def _recorded(row: CompensationRow) -> V2GCompensationRecorded:
    return V2GCompensationRecorded(
        compensation_id=str(row.id),
        session_id=str(row.session_id),
        station_id=row.station_id,
        user_id=row.user_id,
        price_source=row.price_source,
        exported_kwh=plain(row.exported_wh / _KILO),
        gross_rs=str(row.gross_brl),
        margin_rs=str(row.margin_brl),
        net_rs=str(row.net_brl),
        simulated=row.simulated,
    )


def _paid(row: PayoutRow) -> V2GPayoutPaid:
    return V2GPayoutPaid(
        compensation_id=str(row.compensation_id),
        session_id=str(row.session_id),
        user_id=row.user_id,
        wallet_id=row.wallet_id,
        amount_rs=str(row.amount_brl),
        attempts=row.attempts,
        wallet_reference=row.wallet_reference,
    )


def _failed(row: PayoutRow) -> V2GPayoutFailed:
    return V2GPayoutFailed(
        compensation_id=str(row.compensation_id),
        session_id=str(row.session_id),
        user_id=row.user_id,
        amount_rs=str(row.amount_brl),
        attempts=row.attempts,
        error=row.last_error or "failed",
    )
