"""Transactions (E): TransactionEvent, answered only once it is committed."""

from __future__ import annotations

from typing import Any

from csms.domain.events import TRANSACTION_EVENTS
from csms.domain.metering import transaction_record_from_json
from csms.protocol import converter

from .._context import StationContext
from ._registry import handles
from .authorization import id_token_info


@handles("TransactionEvent", structured=False)
async def transaction_event(st: StationContext, request: None, raw: dict[str, Any]) -> Any:
    """E01-E15: stored (with its meter values) before it is acknowledged; a retried event (same
    seqNo) is acknowledged again without a second row. The id token is authorized in the reply.

    Works from the schema-valid wire JSON (the most frequent message: structuring all of it cost
    as much as its schema validation); only the id token becomes an object. The meter values
    stay in the payload: the database makes their rows from it, and the live state reads only
    its energy registers."""
    record = transaction_record_from_json(st.station_id, raw)
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
    token = raw.get("idToken")
    info = None
    if token is not None:
        id_token = converter(st.version).structure(token, st.messages.IdToken)
        info = await id_token_info(st, id_token)
    return st.messages.TransactionEventResponse(id_token_info=info)
