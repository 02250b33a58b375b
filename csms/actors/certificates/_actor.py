"""The certificates owner (``certificates``): the station-facing half of the PKI.

Its ask routes bring it SignCertificate (A02/A03: the CSR checked, Accepted or Rejected; the
certificate signed by the configured CA, or by an external CA over HTTP, and sent in
CertificateSigned through the gateway once the answer went out), GetCertificateStatus (M06:
OCSP to a vouched responder, cached until ``nextUpdate``) and Get15118EVCertificate (M01/M02:
the exiRequest forwarded to the contract-certificate provider). A station's Authorize handler
asks it ``VerifyContract`` (C07). Its mailbox never waits for HTTP, a station or the database:
each ask is answered from a task of its own, and a failure there answers the route's default.
"""

from __future__ import annotations

import base64
import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable
from typing import Any, ClassVar

import httpx
import trio

from csms.actors.database import Database
from csms.actors.events import EventBus
from csms.actors.station import StationMessage
from csms.commands import CommandError, StationGateway
from csms.config import Settings
from csms.domain.events import CertificateSigned
from csms.runtime import ActorContext
from csms.services.ocsp_check import (
    OcspResponseError,
    OcspResult,
    check_responder_url,
    vouched_responder_urls,
)
from csms.services.pki_contract import parse_chain, request_data_list
from csms.services.pki_csr import (
    CHARGING_STATION,
    V2G,
    V2G20,
    CsrRejected,
    check_csr,
    pem_chain,
    sign_csr,
    stored_columns,
)
from csms.services.pki_material import PkiMaterial
from csms.services.x509_chain import CertificateError
from csms.storage import certificates as repo

from ._base import OwnerBase
from ._chain_status import ChainStatusChecker
from ._contract import ContractChecker
from ._http import HttpPeerError, OcspClient, post_json
from ._messages import VerifyContract
from ._renewal import Renewals

__all__ = ["CertificatesOwner"]

log = logging.getLogger("csms.certificates")

STATION_EVENT = "InvalidChargingStationCertificate"
CONTRACT_EVENT = "InvalidContractCertificate"


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


class CertificatesOwner(OwnerBase):
    def __init__(
        self,
        *,
        settings: Settings,
        material: PkiMaterial,
        gateway: StationGateway,
        database: Database,
        events: EventBus,
        command_timeout: float,
        clock: Callable[[], dt.datetime] = _utc_now,
    ) -> None:
        self.config = settings.certificates
        self.material = material
        self.gateway = gateway
        self.database = database
        self.events = events
        self.command_timeout = command_timeout
        self.clock = clock
        # connections kept for reuse: a burst of OCSP requests to one responder must not open
        # (and close) a connection each
        limits = httpx.Limits(max_connections=10, max_keepalive_connections=10)
        self.http = httpx.AsyncClient(follow_redirects=False, limits=limits)
        chains = [c for c in (material.v2g_sub_cas, material.mo_sub_cas) if c]
        # what a station may name as its responder: the anchors' (and the configured sub-CAs')
        # own AIA, and the operator's list; never a URL only the station vouches for
        self.vouched = vouched_responder_urls(material.anchors, chains, clock()) | frozenset(
            self.config.ocsp_responders
        )
        self.ocsp = OcspClient(self.http, timeout=self.config.ocsp_timeout_s, clock=clock)
        self.renewals = Renewals(
            gateway=gateway,
            database=database,
            config=self.config,
            clock=clock,
            command_timeout=command_timeout,
        )
        self.contracts = ContractChecker(
            material=material,
            vouched=self.vouched,
            ocsp=self.ocsp,
            database=database,
            clock=clock,
        )
        self.chain_status = ChainStatusChecker(
            issuers=self.contracts.issuers, vouched=self.vouched, ocsp=self.ocsp, clock=clock
        )

    async def on_start(self, ctx: ActorContext) -> None:
        await super().on_start(ctx)
        if self.config.renew_interval_s > 0:
            ctx.nursery.start_soon(self.renewals.run)

    async def on_stop(self, reason: BaseException | None) -> None:
        await self.http.aclose()

    async def receive(self, message: Any) -> Any:
        if isinstance(message, VerifyContract):
            return self._defer(self._verify, message)
        if isinstance(message, StationMessage):
            work = self._work.get(message.action)
            if work is not None:
                return self._defer(functools.partial(work, self), message)
        log.warning("certificates owner: unknown message", extra={"kind": type(message).__name__})
        return None

    # -- SignCertificate (A02/A03) ---------------------------------------------------------------

    async def _sign_certificate(self, message: StationMessage) -> Any:
        raw = message.raw
        kind = raw.get("certificateType") or CHARGING_STATION
        signer = (
            self.material.station_signer if kind == CHARGING_STATION else self.material.v2g_signer
        )
        try:
            csr = self._checked_csr(
                message, kind, has_ca=signer is not None or bool(self.config.ca_url)
            )
        except CsrRejected as error:
            # recorded before it is published: whoever sees the event finds the record
            await self._signing(message.station_id, kind, "Rejected", error.reason)
            self._rejected(
                message.station_id, "SignCertificate", "Rejected", error.reason, STATION_EVENT
            )
            return self._response(
                message,
                {
                    "status": "Rejected",
                    "statusInfo": {
                        "reasonCode": "InvalidCSR",
                        "additionalInfo": error.reason[:512],
                    },
                },
            )
        self._start(self._issue, message, kind, csr)
        return self._response(message, {"status": "Accepted"})

    def _checked_csr(self, message: StationMessage, kind: str, *, has_ca: bool) -> Any:
        if not has_ca:
            raise CsrRejected(f"no CA is configured for {kind}")
        return check_csr(
            str(message.raw.get("csr", "")),
            certificate_type=kind,
            station_id=message.station_id,
            organisation=self.config.organisation,
        )

    async def _issue(self, message: StationMessage, kind: str, csr: Any) -> None:
        """Sign (or have the external CA sign) and send CertificateSigned (A02.FR.14: with the
        certificateType asked for); record the station's answer."""
        station = message.station_id
        signer = (
            self.material.station_signer if kind == CHARGING_STATION else self.material.v2g_signer
        )
        try:
            if signer is not None:
                chain = sign_csr(
                    csr,
                    signer,
                    certificate_type=kind,
                    now=self.clock(),
                    validity=dt.timedelta(days=self.config.validity_days),
                )
            else:
                assert self.config.ca_url is not None
                answer = await post_json(
                    self.http,
                    self.config.ca_url,
                    {"stationId": station, "certificateType": kind, "csr": message.raw["csr"]},
                    self.config.ocsp_timeout_s,
                )
                chain = parse_chain(str(answer.get("certificateChain", "")))
        except (CsrRejected, HttpPeerError, CertificateError) as error:
            reason = getattr(error, "reason", str(error))
            await self._signing(station, kind, "Failed", reason)
            self._rejected(station, "SignCertificate", "Failed", reason, STATION_EVENT)
            return
        pem = pem_chain(chain)
        try:
            result = await self.gateway.send(
                station,
                "CertificateSigned",
                {"certificateChain": pem, "certificateType": kind},
                requested_by="certificates",
                deadline=trio.current_time() + self.command_timeout,
            )
            status = str(result.response.get("status"))
        except CommandError as error:
            status = "Failed"
            log.warning(
                "CertificateSigned not answered", extra={"station": station, "error": repr(error)}
            )
        leaf = chain[0]
        serial = format(leaf.serial_number, "X")
        outcome = {"Accepted": "Accepted", "Rejected": "StationRejected"}.get(status, "Failed")
        await self._signing(
            station, kind, outcome, None, serial=serial, valid_to=leaf.not_valid_after_utc
        )
        if status == "Accepted":
            await self._record(station, kind, chain)
        else:
            self._rejected(
                station,
                "CertificateSigned",
                status,
                "the station did not accept the certificate",
                STATION_EVENT,
            )
        self.events.publish(
            CertificateSigned(
                station_id=station,
                certificate_type=kind,
                serial_number=serial,
                valid_to=leaf.not_valid_after_utc,
                status=status,
            )
        )

    async def _signing(
        self,
        station: str,
        kind: str,
        outcome: str,
        reason: str | None,
        *,
        serial: str | None = None,
        valid_to: dt.datetime | None = None,
    ) -> None:
        if kind not in (CHARGING_STATION, V2G, V2G20):
            return  # a type nothing can sign: the rejection event is its record
        kind = V2G if kind == V2G20 else kind  # one V2G kind in certificate_signings
        await self.database.run(
            repo.record_signing,
            station,
            kind,
            outcome,
            reason=reason,
            serial_number=serial,
            valid_to=valid_to,
        )

    async def _record(self, station: str, kind: str, chain: list[Any]) -> None:
        await self.database.run(
            repo.insert,
            kind=CHARGING_STATION if kind == CHARGING_STATION else "V2GCertificateChain",
            station_id=station,
            **stored_columns(chain[0], chain[1] if len(chain) > 1 else None),
        )

    # -- GetCertificateStatus (M06) --------------------------------------------------------------

    async def _certificate_status(self, message: StationMessage) -> Any:
        try:
            result = await self._ocsp_answer(message.raw.get("ocspRequestData") or {})
        except (CertificateError, OcspResponseError, HttpPeerError) as error:
            reason = getattr(error, "reason", str(error))
            self._rejected(
                message.station_id, "GetCertificateStatus", "Failed", reason, STATION_EVENT
            )
            return self._response(
                message,
                {
                    "status": "Failed",
                    "statusInfo": {"reasonCode": "OCSPFailed", "additionalInfo": reason[:512]},
                },
            )
        ocsp_result = base64.b64encode(result.response_der).decode()
        return self._response(message, {"status": "Accepted", "ocspResult": ocsp_result})

    async def _ocsp_answer(self, wire: dict[str, Any]) -> OcspResult:
        (data,) = request_data_list([wire])
        check_responder_url(data.responder_url, self.vouched)
        issuer = self.contracts.issuers.find(data)
        if issuer is None:
            raise OcspResponseError("the certificate's issuer is not a configured CA")
        return await self.ocsp.status(data, issuer)

    # -- GetCertificateChainStatus (2.1 M07) ---------------------------------------------------

    async def _chain_status(self, message: StationMessage) -> Any:
        checked = await self.chain_status.statuses(
            list(message.raw.get("certificateStatusRequests") or ())
        )
        for one in checked:
            if one.problem is not None:
                serial = str(one.entry["certificateHashData"].get("serialNumber", ""))
                self._rejected(
                    message.station_id,
                    "GetCertificateChainStatus",
                    str(one.entry["status"]),
                    f"{one.problem} ({serial})",
                    CONTRACT_EVENT,
                )
        return self._response(message, {"certificateStatus": [c.entry for c in checked]})

    # -- Get15118EVCertificate (M01/M02) ---------------------------------------------------------

    async def _ev_certificate(self, message: StationMessage) -> Any:
        try:
            answer, exi = await self._forward(message)
        except HttpPeerError as error:
            self._rejected(
                message.station_id, "Get15118EVCertificate", "Failed", error.reason, CONTRACT_EVENT
            )
            return self._response(
                message,
                {
                    "status": "Failed",
                    "exiResponse": "",
                    "statusInfo": {
                        "reasonCode": "ProviderFailed",
                        "additionalInfo": error.reason[:512],
                    },
                },
            )
        status = "Accepted" if answer.get("status", "Accepted") == "Accepted" else "Failed"
        return self._response(message, {"status": status, "exiResponse": exi})

    async def _forward(self, message: StationMessage) -> tuple[dict[str, Any], str]:
        """The provider's answer to the station's request (its wire JSON and the station id)."""
        url = self.config.contract_provider_url
        if not url:
            raise HttpPeerError("no contract-certificate provider is configured")
        body = {"stationId": message.station_id, **message.raw}
        answer = await post_json(self.http, url, body, self.config.provider_timeout_s)
        exi = answer.get("exiResponse")
        if not isinstance(exi, str) or not exi:
            raise HttpPeerError("the provider answered without an exiResponse")
        return answer, exi

    # -- Authorize with a contract (C07) ---------------------------------------------------------

    async def _verify(self, request: VerifyContract) -> str:
        try:
            return await self.contracts.status(request)
        except CertificateError as error:
            self._rejected(
                request.station_id, "Authorize", error.status, str(error), CONTRACT_EVENT
            )
            return error.status

    _work: ClassVar[dict[str, Callable[[CertificatesOwner, StationMessage], Awaitable[Any]]]] = {
        "SignCertificate": _sign_certificate,
        "GetCertificateStatus": _certificate_status,
        "Get15118EVCertificate": _ev_certificate,
        "GetCertificateChainStatus": _chain_status,
    }
