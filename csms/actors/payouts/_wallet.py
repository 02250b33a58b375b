"""The wallet service's HTTP API, as payouts use it (httpx).

``POST {url}/payouts`` with the header ``Idempotency-Key`` (the compensation's key, the same on
every attempt) and the JSON body ``{"paymentId", "walletId", "userId", "amount", "currency",
"sessionId"}`` (``amount`` a decimal string in BRL, ``paymentId`` the compensation's id). A 2xx
is a payment made, or found already made under that key; its JSON ``id``, if any, is kept as
the wallet's reference. What the status means for the payout is ``services.payout.classify``.
"""

from __future__ import annotations

import logging

import attrs
import httpx

from csms.storage.payouts import PayoutRow

__all__ = ["Attempt", "WalletClient"]

log = logging.getLogger("csms.payouts")


@attrs.frozen
class Attempt:
    """One request's end: the HTTP status (None: no answer), the wallet's reference, and what
    went wrong, in words."""

    status: int | None
    reference: str | None = None
    error: str | None = None


class WalletClient:
    def __init__(self, base_url: str, *, timeout: float, connections: int) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            timeout=timeout,
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def pay(self, payout: PayoutRow) -> Attempt:
        body = {
            "paymentId": str(payout.compensation_id),
            "walletId": payout.wallet_id,
            "userId": payout.user_id,
            "amount": str(payout.amount_brl),
            "currency": "BRL",
            "sessionId": str(payout.session_id),
        }
        try:
            response = await self._http.post(
                "/payouts", json=body, headers={"Idempotency-Key": payout.idempotency_key}
            )
        except httpx.HTTPError as exc:
            # the wallet may have paid before the answer was lost: the key makes a retry safe
            return Attempt(None, error=f"{type(exc).__name__}: {exc}"[:500])
        if not response.is_success:
            return Attempt(response.status_code, error=f"HTTP {response.status_code}")
        reference = None
        try:
            answer = response.json()
            if isinstance(answer, dict) and isinstance(answer.get("id"), str | int):
                reference = str(answer["id"])
        except ValueError:
            log.warning("wallet answer without JSON", extra={"status": response.status_code})
        return Attempt(response.status_code, reference)
