"""A local fake of the wallet service: a real HTTP server on loopback (``POST /payouts``, the
contract of ``csms/actors/payouts/_wallet.py``).

It keeps a ledger of payments by idempotency key: a request with a key it has seen pays nothing
more and answers the first payment. ``fail_first`` makes it record the first attempt of each key
and then answer 503, as a wallet that paid but whose answer was lost, so a retry with the same
key must find the payment and not make a second one. ``refuse`` answers 422 to those wallets.
``hold`` keeps each request waiting until the test releases it (``release_one``), counting how
many wait at once (``max_held``). ``down`` answers 503 to everything and pays nothing, as a
wallet service in an outage.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator
from decimal import Decimal
from typing import Any

import attrs
import trio
from hypercorn.config import Config
from hypercorn.trio import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

__all__ = ["FakeWallet", "Payment", "running_fake_wallet"]


@attrs.frozen
class Payment:
    id: str
    key: str
    wallet_id: str
    amount: Decimal
    body: dict[str, Any]


@attrs.define
class FakeWallet:
    base_url: str = ""
    fail_first: bool = False
    down: bool = False
    refuse: set[str] = attrs.Factory(set)
    #: Every request: (idempotency key, body).
    requests: list[tuple[str | None, dict[str, Any]]] = attrs.Factory(list)
    #: key -> the payment made under it (once).
    ledger: dict[str, Payment] = attrs.Factory(dict)
    hold: bool = False
    held: int = 0
    max_held: int = 0
    _releases: int = 0
    _changed: trio.Event = attrs.Factory(trio.Event)

    def _signal(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def wait_held(self, count: int) -> None:
        """Until at least ``count`` requests are held."""
        while self.held < count:
            await self._changed.wait()

    def release_one(self) -> None:
        self._releases += 1
        self._signal()

    async def _held(self) -> None:
        self.held += 1
        self.max_held = max(self.max_held, self.held)
        self._signal()
        while self._releases == 0:
            await self._changed.wait()
        self._releases -= 1
        self.held -= 1

    @property
    def payments(self) -> list[Payment]:
        return list(self.ledger.values())

    async def payouts(self, request: Request) -> Response:
        key = request.headers.get("idempotency-key")
        body = await request.json()
        self.requests.append((key, body))
        if self.hold:
            await self._held()
        if self.down:
            return JSONResponse({"error": "unavailable"}, status_code=503)
        if not key:
            return JSONResponse({"error": "Idempotency-Key is required"}, status_code=400)
        if body.get("walletId") in self.refuse:
            return JSONResponse({"error": "unknown wallet"}, status_code=422)
        known = self.ledger.get(key)
        if known is not None:
            return JSONResponse({"id": known.id, "status": "paid", "replayed": True})
        payment = Payment(
            f"pay-{len(self.ledger) + 1:06d}", key, body["walletId"], Decimal(body["amount"]), body
        )
        self.ledger[key] = payment
        if self.fail_first:
            # paid, but the answer is lost: only the key keeps the retry from paying again
            return JSONResponse({"error": "try again"}, status_code=503)
        return JSONResponse({"id": payment.id, "status": "paid"}, status_code=201)

    def app(self) -> Starlette:
        return Starlette(routes=[Route("/payouts", self.payouts, methods=["POST"])])


async def _serve(fake: FakeWallet, stop: trio.Event, *, task_status: Any) -> None:
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.graceful_timeout = 1
    config.keep_alive_timeout = 60
    await serve(fake.app(), config, shutdown_trigger=stop.wait, task_status=task_status)


async def running_fake_wallet(nursery: trio.Nursery, **kwargs: Any) -> AsyncIterator[FakeWallet]:
    """Serves a ``FakeWallet`` on a free loopback port for the length of a test."""
    fake, stop = FakeWallet(**kwargs), trio.Event()
    binds = await nursery.start(functools.partial(_serve, fake, stop))
    fake.base_url = binds[0]
    try:
        yield fake
    finally:
        stop.set()
