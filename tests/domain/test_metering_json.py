"""The TransactionEvent record built from the wire JSON (the handler's path) is the record built
from the structured request (`transaction_record`), for every schema-valid payload."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csms.domain.metering import (
    meter_rows,
    meter_rows_from_json,
    transaction_record,
    transaction_record_from_json,
)
from csms.protocol import Direction, Version, structure_payload, validate_payload
from csms.protocol._catalog import catalog

from ..protocol.strategies import from_schema, rfc3339

ACTION = "TransactionEvent"
SETTINGS = settings(
    max_examples=60,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def both(version: Version, raw: dict[str, Any]) -> tuple[Any, Any]:
    """((record, meter rows) from the structured request, the same from the JSON), or the
    exception types. The rows are those of the payload's meter values, linked to the event's
    EVSE and transaction (the database makes them from the payload as the JSON path does)."""
    validate_payload(version, ACTION, Direction.REQUEST, raw)
    request = structure_payload(version, ACTION, Direction.REQUEST, raw, validate=False)
    kept = copy.deepcopy(raw)
    evse = raw.get("evse")
    evse_id = evse["id"] if evse is not None else 0
    transaction_id = raw["transactionInfo"]["transactionId"]
    results: list[Any] = []
    for build in (
        lambda: (
            transaction_record("CP-1", request, raw),
            meter_rows("CP-1", evse_id, request.meter_value or (), transaction_id=transaction_id),
        ),
        lambda: (
            transaction_record_from_json("CP-1", raw),
            meter_rows_from_json(
                "CP-1", evse_id, raw.get("meterValue") or (), transaction_id=transaction_id
            ),
        ),
    ):
        try:
            results.append(build())
        except (ValueError, ArithmeticError) as exc:  # e.g. a multiplier of 10^6: Overflow
            results.append(type(exc))
    assert raw == kept  # neither path writes into the payload
    return results[0], results[1]


def assert_same(structured: Any, from_json: Any) -> None:
    assert structured == from_json
    if isinstance(structured, type):
        return
    (structured, structured_rows), (from_json, json_rows) = structured, from_json
    for name in ("event_type", "trigger_reason", "id_token_type", "charging_state"):
        assert type(getattr(from_json, name)) is type(getattr(structured, name)), name
    for a, b in zip(structured_rows, json_rows, strict=True):
        assert (a.timestamp, a.timestamp.utcoffset()) == (b.timestamp, b.timestamp.utcoffset())
        assert str(a.value) == str(b.value)  # the same scale, not only the same number
        assert (a.measurand, a.phase, a.location, a.context) == (
            b.measurand,
            b.phase,
            b.location,
            b.context,
        )
        assert all(type(x) is str for x in (b.measurand, b.location, b.context))


def _usable(draw: st.DrawFn, version: Version) -> dict[str, Any]:
    """A schema payload whose record passes its checks most of the time."""
    payload: dict[str, Any] = draw(from_schema(catalog(version).schema(ACTION, Direction.REQUEST)))
    payload["seqNo"] = draw(st.integers(0, 2**31))
    payload["transactionInfo"]["transactionId"] = draw(st.text(min_size=1, max_size=36))
    if "evse" in payload:
        payload["evse"]["id"] = draw(st.integers(0, 10))
        if "connectorId" in payload["evse"]:
            payload["evse"]["connectorId"] = draw(st.integers(0, 10))
    return payload


@pytest.mark.parametrize("version", list(Version))
@SETTINGS
@given(data=st.data())
def test_any_schema_payload_gives_the_same_record_or_the_same_refusal(
    version: Version, data: st.DataObject
) -> None:
    raw = data.draw(from_schema(catalog(version).schema(ACTION, Direction.REQUEST), max_items=3))
    assert_same(*both(version, raw))


@pytest.mark.parametrize("version", list(Version))
@SETTINGS
@given(data=st.data())
def test_usable_schema_payloads_give_the_same_record(version: Version, data: st.DataObject) -> None:
    raw = _usable(data.draw, version)
    structured, from_json = both(version, raw)
    assert_same(structured, from_json)


SAMPLED = st.fixed_dictionaries(
    {"value": st.one_of(st.integers(-(10**9), 10**9), st.floats(-1e9, 1e9), st.just(-0.0))},
    optional={
        "measurand": st.sampled_from(
            [
                "Energy.Active.Import.Register",
                "Power.Active.Import",
                "Current.Import",
                "Voltage",
                "SoC",
                "Current.Offered",
            ]
        ),
        "phase": st.sampled_from(["L1", "L2", "L3", "N", "L1-N", "L2-N", "L3-N", "L1-L2"]),
        "context": st.sampled_from(
            [
                "Transaction.Begin",
                "Sample.Periodic",
                "Transaction.End",
                "Sample.Clock",
                "Trigger",
                "Interruption.Begin",
            ]
        ),
        "location": st.sampled_from(["Outlet", "Inlet", "EV", "Body", "Cable"]),
        "unitOfMeasure": st.fixed_dictionaries(
            {},
            optional={
                "unit": st.sampled_from(["Wh", "kWh", "W", "A", "V", "Percent", ""]),
                "multiplier": st.integers(-3, 3),
            },
        ),
        "signedMeterValue": st.fixed_dictionaries(
            {
                "signedMeterData": st.just("AAEC"),
                "signingMethod": st.just("ECDSA"),
                "encodingMethod": st.just("OCMF"),
                "publicKey": st.just("BQY="),
            }
        ),
    },
)
EVENTS = st.fixed_dictionaries(
    {
        "eventType": st.sampled_from(["Started", "Updated", "Ended"]),
        "timestamp": rfc3339(),
        "triggerReason": st.sampled_from(["Authorized", "MeterValuePeriodic", "EVDeparted"]),
        "seqNo": st.integers(0, 10_000),
        "transactionInfo": st.fixed_dictionaries(
            {"transactionId": st.uuids().map(str)},
            optional={
                "chargingState": st.sampled_from(["Charging", "EVConnected", "Idle"]),
                "stoppedReason": st.sampled_from(["Local", "EVDisconnected", "Remote"]),
            },
        ),
    },
    optional={
        "offline": st.booleans(),
        "evse": st.fixed_dictionaries(
            {"id": st.integers(0, 4)}, optional={"connectorId": st.integers(1, 3)}
        ),
        "idToken": st.fixed_dictionaries(
            {"idToken": st.text("ABCDEF0123456789", min_size=1, max_size=20)},
            optional={"type": st.sampled_from(["ISO14443", "Central", "eMAID"])},
        ).map(lambda t: {"type": "ISO14443", **t}),
        "meterValue": st.lists(
            st.fixed_dictionaries(
                {"timestamp": rfc3339(), "sampledValue": st.lists(SAMPLED, min_size=1, max_size=10)}
            ),
            min_size=1,
            max_size=3,
        ),
    },
)


@pytest.mark.parametrize("version", list(Version))
@settings(max_examples=150, deadline=None, database=None)
@given(raw=EVENTS)
def test_transaction_flow_events_give_the_same_record(
    version: Version, raw: dict[str, Any]
) -> None:
    structured, from_json = both(version, raw)
    assert not isinstance(structured, type)
    assert_same(structured, from_json)


@pytest.mark.parametrize(
    "text",
    [
        "2026-02-01T08:00:00Z",
        "2026-02-01t08:00:00.123456z",
        "2026-02-01T08:00:00.5+05:30",
        "2026-02-01T08:00:00-00:00",
        "2026-12-31T23:59:59.999-11:00",
    ],
)
def test_timestamps_are_parsed_as_the_structured_path_does(text: str) -> None:
    raw = {
        "eventType": "Updated",
        "timestamp": text,
        "triggerReason": "MeterValuePeriodic",
        "seqNo": 1,
        "transactionInfo": {"transactionId": "tx-1"},
        "evse": {"id": 1},
        "meterValue": [
            {
                "timestamp": text,
                "sampledValue": [
                    {"value": 12, "unitOfMeasure": {"unit": "kWh", "multiplier": 3}},
                    {"value": -1.25, "phase": "L2", "context": "Transaction.Begin"},
                ],
            }
        ],
    }
    structured, from_json = both(Version.V201, raw)
    assert_same(structured, from_json)
    (record, rows), (structured_record, _) = from_json, structured
    assert record.timestamp.utcoffset() == structured_record.timestamp.utcoffset()
    assert str(rows[0].value) == "12000.0"  # 12 -> 12.0, scaled, as before


def test_meter_rows_from_json_equal_meter_rows() -> None:
    raw = [
        {
            "timestamp": "2026-02-01T08:00:00+01:00",
            "sampledValue": [
                {"value": 7.5, "unitOfMeasure": {"unit": "kWh", "multiplier": 3}},
                {"value": 230, "measurand": "Voltage", "phase": "L1-N", "location": "Inlet"},
            ],
        }
    ]
    request = structure_payload(
        Version.V201,
        "MeterValues",
        Direction.REQUEST,
        {"evseId": 2, "meterValue": raw},
    )
    assert meter_rows_from_json("CP-1", 2, raw, transaction_id="t") == meter_rows(
        "CP-1", 2, request.meter_value, transaction_id="t"
    )
