"""Payment (2.1): settlements of local payment terminals, VAT number validation."""

from __future__ import annotations

from typing import Any

from csms.domain.events import Settlement

from .._context import StationContext
from ._registry import acknowledge, handles

acknowledge(Settlement)


@handles("VatNumberValidation")
async def vat_number_validation(st: StationContext, request: Any, raw: dict[str, Any]) -> Any:
    msg = st.messages
    return msg.VatNumberValidationResponse(
        vat_number=request.vat_number, status=msg.GenericStatusEnum.REJECTED
    )
