"""Q02.FR.05 when a discharge window opens: an EV that charges unidirectionally although it
listed a BPT mode, whose owner opted in for a window that starts later, is sent
NotifyAllowedEnergyTransfer (with the BPT modes) when the window starts, and not before. An
`ocpp`-package 2.1 station against a whole node whose trio clock the test moves."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from csms.services.v2g_preferences import (
    DEFAULT_TIME_ZONE,
    DischargeWindow,
    V2GPreferences,
    time_zone,
)
from csms.storage import connect as db_connect
from csms.storage import users

from .peer import interop_node
from .test_v2x_station import (
    TOKEN,
    ac_needs,
    booted,
    no_more_after_a_round_trip,
    periods,
    prepare,
    start_transaction,
    variables_read,
)

#: A jump of minutes must not end the connection on a keepalive deadline.
NODE = {"ocpp.ping_interval": 3600.0}


def window_ahead(now: dt.datetime) -> tuple[DischargeWindow, dt.datetime]:
    """A one-hour window in the operator's zone starting at the minute after next, and its
    start (UTC)."""
    local = now.astimezone(time_zone(DEFAULT_TIME_ZONE)).replace(second=0, microsecond=0)
    start = local + dt.timedelta(minutes=2)
    end = start + dt.timedelta(hours=1)
    window = DischargeWindow(frozenset({start.weekday()}), start.time(), end.time())
    return window, start.astimezone(dt.UTC)


async def test_v2x_is_offered_when_the_owners_window_opens(database_url, wall_clock):
    """Q02.FR.01/02: the needs (AC_three_phase, AC_BPT available) get a ChargingOnly profile
    while the window is ahead; Q02.FR.05: at its start NotifyAllowedEnergyTransfer names the
    transaction and allows AC_BPT."""
    prepare(database_url, "V2XW")
    window, start = window_ahead(dt.datetime.now(dt.UTC))
    with db_connect(database_url) as conn:
        prefs = V2GPreferences(
            user_id="ana",
            opt_in=True,
            min_soc_percent=Decimal(30),
            max_discharge_w=Decimal(7000),
            windows=(window,),
        )
        users.upsert_preferences(conn, prefs)
        conn.commit()
    async with interop_node(database_url, **NODE) as (node, bridge):
        peer = await booted(node, bridge, "V2XW")
        await variables_read(node, "V2XW")
        await start_transaction(peer, TOKEN, "tx-window")
        assert (await peer.call(ac_needs(["AC_three_phase", "AC_BPT"]))).status == "Accepted"
        (sent,) = await bridge.run(peer.cp.wait_for, "SetChargingProfile")
        assert {p["operation_mode"] for p in periods(sent["charging_profile"])} == {"ChargingOnly"}
        await no_more_after_a_round_trip(peer)
        assert not [a for a, _ in peer.received if a == "NotifyAllowedEnergyTransfer"]
        wall_clock.jump((start - dt.datetime.now(dt.UTC)).total_seconds() + 5)
        (notified,) = await bridge.run(peer.cp.wait_for, "NotifyAllowedEnergyTransfer")
        assert notified["transaction_id"] == "tx-window"
        assert "AC_BPT" in notified["allowed_energy_transfer"]
        await peer.close()
