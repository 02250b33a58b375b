"""Transactions (E): TransactionEvent, answered only once it is committed."""

from __future__ import annotations

from typing import Any

from csms.domain.events import TRANSACTION_EVENTS
from csms.domain.metering import transaction_record

from .._context import StationContext
from ._registry import handles
from .authorization import id_token_info


@handles("TransactionEvent")
async def transaction_event(st: StationContext, request: Any, raw: dict[str, Any]) -> Any:
    """E01-E15: stored (with its meter values) before it is acknowledged; a retried event (same
    seqNo) is acknowledged again without a second row. The id token is authorized in the reply."""
    record = transaction_record(st.station_id, request, raw)
    await st.services.store(record)
    st.state.apply_transaction_event(record)
    st.services.events.publish(
        TRANSACTION_EVENTS[record.event_type](
            station_id=st.station_id,
            transaction_id=record.transaction_id,
            seq_no=record.seq_no,
            trigger_reason=record.trigger_reason,
            evse_id=record.evse_id,
            offline=record.offline,
        )
    )
    info = await id_token_info(st, request.id_token) if request.id_token is not None else None
    return st.messages.TransactionEventResponse(id_token_info=info)
