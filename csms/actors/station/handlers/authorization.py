"""Authorization (C): Authorize, and the id-token info other answers carry."""

from __future__ import annotations

from typing import Any

import attrs

from csms.protocol import Version
from csms.services.authorization import UNKNOWN_TOKEN, token_status
from csms.services.pki_contract import contract_answer

from .._context import StationContext
from ._registry import handles


async def id_token_info(st: StationContext, id_token: Any) -> Any:
    """C01: status from the id_tokens table (through the node's cache, csms/actors/id_tokens.py);
    the rules are csms/services/authorization.py."""
    msg = st.messages
    row = await st.services.id_tokens.get(id_token.id_token, str(id_token.type))
    if row is None:
        return msg.IdTokenInfo(status=msg.AuthorizationStatusEnum(UNKNOWN_TOKEN))
    status = token_status(
        row.status, row.expires_at, st.services.now(), unknown_allowed=st.version is Version.V21
    )
    group = None
    if row.group_id:
        # 2.0.1 types the token type as an enum, 2.1 as a free string
        central = msg.IdTokenEnum.CENTRAL if st.version is Version.V201 else "Central"
        group = msg.IdToken(id_token=row.group_id, type=central)
    return msg.IdTokenInfo(
        status=msg.AuthorizationStatusEnum(status),
        cache_expiry_date_time=row.expires_at,
        group_id_token=group,
    )


@handles("Authorize")
async def authorize(st: StationContext, request: Any, raw: dict[str, Any]) -> Any:
    info = await id_token_info(st, request.id_token)
    certificate_status = None
    hash_data = raw.get("iso15118CertificateHashData")
    msg = st.messages
    if hash_data or request.certificate:
        contract = await st.services.certificates.authorize_certificate(
            st.station_id, request.id_token, list(hash_data or []), request.certificate
        )
        # C07.FR.13-17: the contract's status and the token's decide both answers together
        certificate_status, token_status = contract_answer(contract, str(info.status))
        if token_status != str(info.status):
            info = attrs.evolve(info, status=msg.AuthorizationStatusEnum(token_status))
    return msg.AuthorizeResponse(
        id_token_info=info,
        certificate_status=(
            msg.AuthorizeCertificateStatusEnum(certificate_status) if certificate_status else None
        ),
    )
