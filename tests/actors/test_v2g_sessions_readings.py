"""What a discharge session takes from its station's messages (csms/actors/v2g/_readings.py),
and the index that hands them to the sessions of that station (_router.py)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

from csms.actors.v2g._readings import Reading, evse_faulted, readings, transaction_ended
from csms.actors.v2g._router import SessionIndex
from csms.runtime import ActorRef
from csms.runtime._mailbox import Mailbox

AT = "2026-03-02T12:00:00Z"
LATER = "2026-03-02T12:00:10Z"


def test_readings_take_totals_of_soc_export_register_and_power_per_timestamp():
    meter_values = [
        {
            "timestamp": LATER,
            "sampledValue": [
                {"value": 41, "measurand": "SoC"},
                {
                    "value": 3.5,
                    "measurand": "Energy.Active.Export.Register",
                    "unitOfMeasure": {"unit": "kWh", "multiplier": 3},
                },
            ],
        },
        {
            "timestamp": AT,
            "sampledValue": [
                {"value": 42, "measurand": "SoC"},
                {"value": 2000, "measurand": "Energy.Active.Export.Register"},
                {"value": 600, "measurand": "Energy.Active.Export.Register", "phase": "L1"},
                {"value": 7000, "measurand": "Power.Active.Export"},
                {"value": 230, "measurand": "Voltage"},
            ],
        },
        {"timestamp": AT, "sampledValue": [{"value": 5}]},  # import register only
    ]
    found = readings("CP1", 1, meter_values)
    at = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
    assert found == [
        Reading(at, Decimal(42), Decimal(2000), Decimal(7000)),
        Reading(at + dt.timedelta(seconds=10), Decimal(41), Decimal("3500"), None),
    ]


def test_an_import_power_is_a_negative_export():
    [reading] = readings(
        "CP1",
        1,
        [{"timestamp": AT, "sampledValue": [{"value": 3000, "measurand": "Power.Active.Import"}]}],
    )
    assert reading.export_power_w == Decimal(-3000)


def test_ended_transactions_and_faulted_evses():
    assert transaction_ended({"eventType": "Ended", "transactionInfo": {"transactionId": "t"}})
    assert not transaction_ended(
        {"eventType": "Updated", "transactionInfo": {"transactionId": "t"}}
    )
    assert evse_faulted({"evseId": 1, "connectorStatus": "Faulted"}, 1)
    assert not evse_faulted({"evseId": 2, "connectorStatus": "Faulted"}, 1)
    assert not evse_faulted({"evseId": 1, "connectorStatus": "Occupied"}, 1)


def test_the_index_hands_a_message_to_the_sessions_of_its_station_only():
    one, two, other = (ActorRef("v2g_session", n, Mailbox(1)) for n in ("a", "b", "c"))
    index = SessionIndex()
    ids = [uuid.uuid4() for _ in range(3)]
    index.add(ids[0], "CP1", one)
    index.add(ids[1], "CP1", two)
    index.add(ids[2], "CP2", other)
    index.deliver("CP1", "m1")
    index.deliver("CP1", "m2")  # their mailboxes hold one: dropped, counted
    assert (one.mailbox_depth, two.mailbox_depth, other.mailbox_depth) == (1, 1, 0)
    assert index.dropped == 2
    two._mailbox.close()
    assert index.get(ids[1]) is None
    index.deliver("CP2", "m3")
    index.remove(ids[2])
    assert not index.has_station("CP2")
    assert len(index) == 1
