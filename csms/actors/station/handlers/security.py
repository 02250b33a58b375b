"""Security (A) and ISO 15118 certificates (M).

Until Plug & Charge is configured the certificate requests answer "Failed"/"Rejected", which
tells the station that the CSMS cannot provide the certificate service (M02, M05, M06, A02); the
owner of a route for them (the Plug & Charge actor, later) answers instead.
"""

from __future__ import annotations

from typing import Any

from csms.domain.events import SecurityEvent
from csms.domain.records import SecurityEventRecord

from .._context import StationContext
from ._registry import handles


@handles("SecurityEventNotification")
async def security_event(st: StationContext, request: Any, raw: dict[str, Any]) -> Any:
    await st.services.submit(
        SecurityEventRecord(st.station_id, request.type, request.timestamp, request.tech_info)
    )
    st.services.events.publish(SecurityEvent(station_id=st.station_id, type=request.type))
    return st.messages.SecurityEventNotificationResponse()


@handles("Get15118EVCertificate")
async def get_15118_ev_certificate(st: StationContext, request: Any, raw: dict[str, Any]) -> Any:
    msg = st.messages
    return msg.Get15118EVCertificateResponse(
        status=msg.Iso15118EVCertificateStatusEnum.FAILED, exi_response=""
    )


@handles("GetCertificateStatus")
async def get_certificate_status(st: StationContext, request: Any, raw: dict[str, Any]) -> Any:
    msg = st.messages
    return msg.GetCertificateStatusResponse(status=msg.GetCertificateStatusEnum.FAILED)


@handles("GetCertificateChainStatus")
async def get_certificate_chain_status(
    st: StationContext, request: Any, raw: dict[str, Any]
) -> Any:
    # M07 error handling: without the certificates owner's answer no status could be had, so
    # each certificate asked about is Failed (the schema wants one entry per request)
    msg = st.messages
    now = st.services.now()
    return msg.GetCertificateChainStatusResponse(
        certificate_status=tuple(
            msg.CertificateStatus(
                certificate_hash_data=r.certificate_hash_data,
                source=r.source,
                status=msg.CertificateStatusEnum.FAILED,
                next_update=now,
            )
            for r in request.certificate_status_requests
        )
    )


@handles("SignCertificate")
async def sign_certificate(st: StationContext, request: Any, raw: dict[str, Any]) -> Any:
    msg = st.messages
    return msg.SignCertificateResponse(status=msg.GenericStatusEnum.REJECTED)
