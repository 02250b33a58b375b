"""The station actors' ``CertificateVerifier`` (Plug & Charge Authorize, C07): it asks the
certificates owner, with a deadline below the station's response timeout."""

from __future__ import annotations

import logging
from typing import Any

from csms.runtime import ActorError, ActorRef

from ._messages import VerifyContract

__all__ = ["OwnerVerifier"]

log = logging.getLogger("csms.certificates")

#: The answer when the owner cannot decide in time: the contract cannot be verified (C07.FR.17).
UNVERIFIED = "CertChainError"


class OwnerVerifier:
    def __init__(self, owner: ActorRef, timeout: float) -> None:
        self.owner = owner
        self.timeout = timeout

    async def authorize_certificate(
        self,
        station_id: str,
        id_token: Any,
        hash_data: list[dict[str, Any]],
        certificate: str | None = None,
    ) -> str:
        request = VerifyContract(
            station_id,
            str(id_token.id_token),
            str(getattr(id_token.type, "value", id_token.type)),
            tuple(hash_data),
            certificate,
        )
        try:
            answer = await self.owner.ask(request, timeout=self.timeout)
        except (ActorError, TimeoutError) as exc:
            log.warning(
                "contract not verified in time", extra={"station": station_id, "error": repr(exc)}
            )
            return UNVERIFIED
        return answer if isinstance(answer, str) else UNVERIFIED
