"""Metering (J): MeterValues outside transactions, answered only once committed."""

from __future__ import annotations

from typing import Any

from csms.domain.metering import meter_rows

from .._context import StationContext
from ._registry import handles


@handles("MeterValues")
async def meter_values(st: StationContext, request: Any, raw: dict[str, Any]) -> Any:
    rows = meter_rows(st.station_id, request.evse_id, request.meter_value)
    await st.services.store(*rows)
    return st.messages.MeterValuesResponse()
