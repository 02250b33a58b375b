"""Transactions: list (filter by station, state and start time; keyset pages) and get one with
its events and meter values."""

from __future__ import annotations

import datetime as dt
import functools

from starlette.responses import Response

from csms.storage import Connection, transactions

from ._auth import Role
from ._errors import NotFound
from ._queries import decode_cursor, split_page, transaction_key
from ._routing import Call, Endpoint, Param, json_response
from ._send import valid_station_id
from .bodies import (
    STATION_ID_PATTERN,
    MeterReading,
    Transaction,
    TransactionDetail,
    TransactionEvent,
    TransactionPage,
)

__all__ = ["ENDPOINTS"]


def transaction_view(row: transactions.TransactionRow) -> Transaction:
    return Transaction(
        station_id=row.station_id,
        transaction_id=row.transaction_id,
        state=row.state,
        evse_id=row.evse_id,
        connector_id=row.connector_id,
        id_token=row.id_token,
        id_token_type=row.id_token_type,
        charging_state=row.charging_state,
        started_at=row.started_at,
        ended_at=row.ended_at,
        stopped_reason=row.stopped_reason,
        last_seq_no=row.last_seq_no,
    )


async def list_all(call: Call) -> Response:
    q = call.query
    limit = q["limit"]
    fetch = functools.partial(
        transactions.list_transactions,
        station_id=q["stationId"],
        active=q["active"],
        since=q["since"],
        until=q["until"],
        after=transaction_key(decode_cursor(q["cursor"], 3)),
        limit=limit + 1,
    )
    page, cursor = split_page(
        await call.control.database.run(fetch),
        limit,
        lambda row: (row.started_at.isoformat(), row.station_id, row.transaction_id),
    )
    return json_response(TransactionPage([transaction_view(r) for r in page], cursor))


def _detail(conn: Connection, station_id: str, transaction_id: str) -> TransactionDetail | None:
    row = transactions.get(conn, station_id, transaction_id)
    if row is None:
        return None
    events = transactions.events(conn, station_id, transaction_id)
    readings = transactions.meter_values_by_transaction(
        conn,
        station_id,
        transaction_id,
    )
    return TransactionDetail(
        transaction_view(row),
        [
            TransactionEvent(e.seq_no, e.event_type, e.timestamp, e.trigger_reason, e.offline)
            for e in events
        ],
        [
            MeterReading(
                m.timestamp,
                m.evse_id,
                m.measurand,
                m.phase,
                m.location,
                m.context,
                m.unit,
                float(m.value),
            )
            for m in readings
        ],
    )


async def get_one(call: Call) -> Response:
    station_id = call.path("stationId")
    transaction_id = call.path("transactionId")
    detail = None
    if (
        valid_station_id(station_id)
        and 1 <= len(transaction_id) <= 36
        and "\x00" not in (transaction_id)
    ):
        detail = await call.control.database.run(_detail, station_id, transaction_id)
    if detail is None:
        raise NotFound(f"no transaction {transaction_id!r} of station {station_id!r}")
    return json_response(detail)


ENDPOINTS = (
    Endpoint(
        "GET",
        "/api/v1/transactions",
        list_all,
        Role.VIEWER,
        "List transactions, newest first",
        "transactions",
        response=TransactionPage,
        query=(
            Param("stationId", description="Only this station's.", pattern=STATION_ID_PATTERN),
            Param("active", bool, "Only active (true) or ended (false) ones."),
            Param("since", dt.datetime, "Started at or after (RFC 3339)."),
            Param("until", dt.datetime, "Started before (RFC 3339)."),
            Param("limit", int, "Page size.", minimum=1, maximum=1000, default=100),
            Param("cursor", description="The `next` of the previous page."),
        ),
        errors=(422,),
    ),
    Endpoint(
        "GET",
        "/api/v1/transactions/{stationId}/{transactionId}",
        get_one,
        Role.VIEWER,
        "Get a transaction with its events and meter values",
        "transactions",
        response=TransactionDetail,
        errors=(404,),
        path_docs={
            "stationId": "The station.",
            "transactionId": "The station's transaction id.",
        },
    ),
)
