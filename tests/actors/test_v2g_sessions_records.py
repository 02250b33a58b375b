"""What a running discharge session stores and publishes per meter reading (SPEC section 6: "writes
``v2g_events`` and ``v2g.session.updated`` at most every few seconds", "reacts to the first
meter reading at or below the floor"): a record (row, trail entry, event) at most every
``update_interval_s``, however often the EV reports; the first reading at or below the SoC
floor ends the session in its own step, without waiting for a tick or the interval."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Any

import trio.testing

from csms.actors.station import StationMessage
from csms.actors.v2g import V2G_SESSIONS
from csms.services.v2g_session import SessionPolicy
from csms.storage import connect
from csms.storage import v2g_sessions as repo

from ..services.v2g_examples import SP
from ..simulator.v2g_end_to_end import hang_guard
from .v2g_sessions_rig import BASE, discharging, resumed, sessions_node, store

#: Long enough that the station's absence (no station is connected here) ends nothing.
POLICY = SessionPolicy(tz=SP, disconnect_grace_s=3600, update_interval_s=5)


def reading(station_id: str, transaction_id: str, *, soc: int, export_wh: int) -> StationMessage:
    raw: dict[str, Any] = {
        "eventType": "Updated",
        "triggerReason": "MeterValuePeriodic",
        "seqNo": 1,
        "timestamp": BASE.isoformat(),
        "transactionInfo": {"transactionId": transaction_id},
        "meterValue": [
            {
                "timestamp": BASE.isoformat(),
                "sampledValue": [
                    {"value": soc, "measurand": "SoC"},
                    {"value": export_wh, "measurand": "Energy.Active.Export.Register"},
                    {"value": 7000, "measurand": "Power.Active.Export"},
                ],
            }
        ],
    }
    return StationMessage(station_id, "ocpp2.1", "TransactionEvent", None, raw, BASE)


async def test_readings_are_recorded_at_most_every_update_interval_and_the_floor_stops_at_once(
    database_url, mock_clock
):
    state = discharging("CP1", POLICY)  # recorded when it started discharging, at BASE
    store(database_url, [state])
    async with hang_guard(60), sessions_node(database_url, POLICY) as s:
        await resumed(s, 1)
        sessions = s.root.ref(V2G_SESSIONS)

        async def report(after_s: float, soc: int, export_wh: int) -> None:
            mock_clock.jump(after_s)
            sessions.tell_nowait(reading("CP1", state.transaction_id, soc=soc, export_wh=export_wh))
            await trio.testing.wait_all_tasks_blocked()

        await report(0, 70, 1000)  # 0 s: within the interval of the last record
        await report(5, 69, 1010)  # 5 s: recorded
        updated = await s.events.receive()
        assert (updated.subject, updated.last_soc, updated.exported_wh) == (
            "v2g.session.updated",
            69.0,
            10.0,
        )
        for second in range(6, 10):  # every second: none recorded
            await report(1, 75 - second, 1000 + 10 * (second - 4))
            assert s.events.statistics().current_buffer_used == 0
        await report(1, 64, 1060)  # 10 s: recorded
        updated = await s.events.receive()
        assert (updated.last_soc, updated.exported_wh) == (64.0, 60.0)
        await report(1, 30, 1070)  # 11 s: at the floor, within the interval: ends now
        completed = await s.events.receive()
        assert completed.subject == "v2g.session.completed"
        assert completed.end_reason == "soc_floor"
        assert completed.ended_at == BASE + dt.timedelta(seconds=11)
        assert completed.exported_wh == 70.0
    with connect(database_url) as conn:
        trail = repo.events(conn, uuid.UUID(state.session_id))
        row = repo.get(conn, state.session_id)
    assert [kind for _, kind in trail] == ["updated", "updated", "completed"]
    assert row is not None
    assert (row.state, row.soc_percent, row.energy_exported_wh) == (
        "completed",
        Decimal(30),
        Decimal(70),
    )
