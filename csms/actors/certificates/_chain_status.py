"""GetCertificateChainStatus (OCPP 2.1 M07): the revocation status of up to four certificates of
an EV's chain, each by OCSP with the owner's machinery (vouched responders only, answers checked
against a configured CA and cached until ``nextUpdate``).

The station names the URLs (``urls``); the CSMS asks the first one a trust anchor or the
operator vouches for and never fetches any other (the SSRF guard of M06 holds here too). A
certificate whose status cannot be had is ``Failed`` (M07.FR.02); each is logged and published
with its reason. CRL sources (M07.FR.04-07) are answered ``Failed``: the CSMS downloads no CRL.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable, Mapping
from typing import Any

import trio

from csms.services.ocsp_check import OcspResponseError, check_responder_url
from csms.services.pki_contract import IssuerIndex, request_data_list
from csms.services.x509_chain import CertificateError

from ._http import HttpPeerError, OcspClient

__all__ = ["ChainStatusChecker"]

FAILED = "Failed"


class StatusFailed(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclasses.dataclass(frozen=True, slots=True)
class Checked:
    """One entry's answer (wire JSON) and, when it failed or is revoked, why."""

    entry: dict[str, Any]
    problem: str | None


class ChainStatusChecker:
    def __init__(
        self,
        *,
        issuers: IssuerIndex,
        vouched: frozenset[str],
        ocsp: OcspClient,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.issuers = issuers
        self.vouched = vouched
        self.ocsp = ocsp
        self.clock = clock

    async def statuses(self, requests: list[Mapping[str, Any]]) -> list[Checked]:
        """The entries of ``certificateStatus``, in the order asked (checked concurrently: the
        station waits for the slowest responder, not for their sum)."""
        results: list[Checked | None] = [None] * len(requests)

        async def one(index: int, request: Mapping[str, Any]) -> None:
            results[index] = await self._one(request)

        async with trio.open_nursery() as nursery:
            for index, request in enumerate(requests):
                nursery.start_soon(one, index, request)
        return [r for r in results if r is not None]

    async def _one(self, request: Mapping[str, Any]) -> Checked:
        hash_data = dict(request.get("certificateHashData") or {})
        source = str(request.get("source", "OCSP"))
        now = self.clock()
        try:
            status, next_update = await self._status(source, hash_data, request.get("urls"))
        except StatusFailed as failed:
            # nextUpdate is required: now, so that nothing keeps a failure (M07.FR.09)
            return Checked(_entry(hash_data, source, FAILED, now), failed.reason)
        problem = "revoked according to OCSP" if status == "Revoked" else None
        return Checked(_entry(hash_data, source, status, next_update or now), problem)

    async def _status(
        self, source: str, hash_data: dict[str, Any], urls: Any
    ) -> tuple[str, dt.datetime]:
        if source != "OCSP":
            raise StatusFailed(f"{source}: the CSMS checks revocation by OCSP only")
        return await self._ocsp(hash_data, list(urls or ()))

    async def _ocsp(self, hash_data: dict[str, Any], urls: list[Any]) -> tuple[str, dt.datetime]:
        url = next((str(u) for u in urls if str(u) in self.vouched), None)
        try:
            if url is None:
                # raises with the reason naming the first URL (none is vouched for)
                check_responder_url(str(urls[0]) if urls else "", self.vouched)
            (data,) = request_data_list([{**hash_data, "responderURL": url}])
            issuer = self.issuers.find(data)
            if issuer is None:
                raise StatusFailed("the certificate's issuer is not a configured CA")
            result = await self.ocsp.status(data, issuer)
        except (CertificateError, OcspResponseError, HttpPeerError) as error:
            raise StatusFailed(getattr(error, "reason", str(error))) from None
        next_update = result.next_update or self.clock()
        return str(result.status), next_update


def _entry(
    hash_data: dict[str, Any], source: str, status: str, next_update: dt.datetime
) -> dict[str, Any]:
    return {
        "certificateHashData": hash_data,
        "source": source,
        "status": status,
        "nextUpdate": next_update.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
    }
