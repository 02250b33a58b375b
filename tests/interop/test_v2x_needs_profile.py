"""K15 "charging with load leveling" at the wire: the profile an `ocpp`-package station (2.1
and 2.0.1, which validate every message the CSMS sends) receives after NotifyEVChargingNeeds
spreads the EV's energy to its departure, within the EV's and the EVSE's maximum."""

from __future__ import annotations

import datetime as dt
from typing import Any

from ocpp.v21 import call as call21
from ocpp.v201 import call as call201

from csms.protocol import parse_datetime
from csms.storage import connect as db_connect

from .peer import interop_node
from .test_v2x_station import (
    OTHER,
    no_more_after_a_round_trip,
    prepare,
    start_transaction,
    station201_in_transaction,
    v2x_station,
)

HOURS = 4


def departure_in(hours: int) -> dt.datetime:
    """A whole-second departure ``hours`` from now."""
    return (dt.datetime.now(dt.UTC) + dt.timedelta(hours=hours)).replace(microsecond=0)


def schedule_of(sent: dict[str, Any]) -> tuple[dt.datetime, list[tuple[int, float]]]:
    """The only chargingSchedule's start and its periods ``(startPeriod, limit)``."""
    (schedule,) = sent["charging_profile"]["charging_schedule"]
    start = parse_datetime(schedule["start_schedule"])
    return start, [(p["start_period"], p["limit"]) for p in schedule["charging_schedule_period"]]


def assert_departure_shaped(
    sent: dict[str, Any], departure: dt.datetime, energy_wh: float, max_w: float
) -> None:
    """Two periods: an even power below the maximum that delivers ``energy_wh`` by the
    departure, then the maximum from the departure on (startSchedule is now to the second,
    so the departure lies within the second after the second period's start)."""
    start, [(first_start, spread), (at, full)] = schedule_of(sent)
    assert first_start == 0
    assert full == max_w
    assert 0 < spread < max_w
    assert spread * at >= energy_wh * 3600  # the energy by the departure
    assert start + dt.timedelta(seconds=at) <= departure <= start + dt.timedelta(seconds=at + 1)


async def test_ocpp21_needs_get_a_profile_spread_to_the_departure(database_url):
    """K15.FR.03/07 (2.1): Accepted needs with energyAmount 20 kWh and a departure in 4 h are
    followed by one ChargingOnly chargingSchedule of two periods: about 5 kW to the departure,
    then the EV's 11 040 W (16 A, three phases at 230 V). K17.FR.07: renegotiated needs (less
    energy) get a new spread, lower; the station validated every profile."""
    async with v2x_station(database_url, "K15A") as (_node, bridge, peer):
        await start_transaction(peer, OTHER, "tx-k15a")
        departure = departure_in(HOURS)

        def needs(energy: int) -> call21.NotifyEVChargingNeeds:
            return call21.NotifyEVChargingNeeds(
                evse_id=1,
                charging_needs={
                    "requested_energy_transfer": "AC_three_phase",
                    "departure_time": departure.isoformat(),
                    "ac_charging_parameters": {
                        "energy_amount": energy,
                        "ev_min_current": 6,
                        "ev_max_current": 16,
                        "ev_max_voltage": 400,
                    },
                },
            )

        assert (await peer.call(needs(20000))).status == "Accepted"
        (first,) = await bridge.run(peer.cp.wait_for, "SetChargingProfile")
        profile = first["charging_profile"]
        assert profile["charging_profile_purpose"] == "TxProfile"
        assert profile["transaction_id"] == "tx-k15a"
        (schedule,) = profile["charging_schedule"]
        assert {p["operation_mode"] for p in schedule["charging_schedule_period"]} == {
            "ChargingOnly"
        }
        assert_departure_shaped(first, departure, 20000, 11040)
        assert (await peer.call(needs(10000))).status == "Accepted"
        second = (await bridge.run(peer.cp.wait_for, "SetChargingProfile", 2))[1]
        assert_departure_shaped(second, departure, 10000, 11040)
        assert schedule_of(second)[1][0][1] < schedule_of(first)[1][0][1]
        await no_more_after_a_round_trip(peer)
        assert len([a for a, _ in peer.received if a == "SetChargingProfile"]) == 2


async def test_ocpp201_needs_get_a_profile_spread_to_the_departure_within_the_evse(
    database_url,
):
    """K15.FR.07 (2.0.1): the EV asks 30 kWh by its departure in 4 h at up to 40 kW; the EVSE
    reported (NotifyReport, EVSE.Power maxLimit) 22 kW: 7.5 kW to the departure, then 22 kW,
    plain periods (no operationMode in 2.0.1)."""
    prepare(database_url, "K15B")
    with db_connect(database_url) as conn:
        conn.execute(
            "INSERT INTO device_variables (station_id, component, evse_id, variable,"
            " attribute_type, max_limit, unit, updated_at)"
            " VALUES ('K15B', 'EVSE', 1, 'Power', 'Actual', 22, 'kW', now())"
        )
        conn.commit()
    async with interop_node(database_url) as (node, bridge):
        peer = await station201_in_transaction(bridge, node.ocpp_port, "K15B", "tx-k15b")
        departure = departure_in(HOURS)
        needs = {
            "requested_energy_transfer": "DC",
            "departure_time": departure.isoformat(),
            "dc_charging_parameters": {
                "ev_max_current": 100,
                "ev_max_voltage": 400,
                "ev_max_power": 40000,
                "energy_amount": 30000,
            },
        }
        answer = await peer.call(call201.NotifyEVChargingNeeds(evse_id=1, charging_needs=needs))
        assert answer.status == "Accepted"
        (sent,) = await bridge.run(peer.cp.wait_for, "SetChargingProfile")
        assert sent["charging_profile"]["transaction_id"] == "tx-k15b"
        assert_departure_shaped(sent, departure, 30000, 22000)
        (schedule,) = sent["charging_profile"]["charging_schedule"]
        assert all("operation_mode" not in p for p in schedule["charging_schedule_period"])
        await peer.close()
