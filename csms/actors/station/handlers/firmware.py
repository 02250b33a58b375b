"""Firmware management (L): the status of an update, and of a published firmware."""

from __future__ import annotations

from typing import Any

from csms.domain.events import FirmwarePublishStatus, FirmwareStatus

from .._context import StationContext
from ._registry import acknowledge, handles

acknowledge(FirmwarePublishStatus)


@handles("FirmwareStatusNotification")
async def firmware_status(st: StationContext, request: Any, raw: dict[str, Any]) -> Any:
    # the job of the requestId (csms/actors/firmware, a notify route) records it
    status = str(request.status)
    st.services.events.publish(
        FirmwareStatus(station_id=st.station_id, request_id=request.request_id, status=status)
    )
    return st.messages.FirmwareStatusNotificationResponse()
