"""Schema validation: the keyword -> error code mapping, the faster compiled validators, the
date-time rules and the converter's wire conventions."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import fastjsonschema
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csms.protocol import (
    Direction,
    ErrorCode,
    PayloadError,
    Version,
    structure_payload,
    unstructure_payload,
    v201,
    validate_payload,
)
from csms.protocol._catalog import catalog
from csms.protocol._validation import _FORMATS, detailed_source, fast_source, parse_datetime

from .strategies import from_schema

MONITORING = {"requestId": 1, "monitoringCriteria": ["ThresholdMonitoring"]}


@pytest.mark.parametrize(
    ("action", "payload", "code", "path"),
    [
        ("Heartbeat", {"customData": {}}, "OccurrenceConstraintViolation", "customData.vendorId"),
        ("Heartbeat", {"customData": {"vendorId": 5}}, "TypeConstraintViolation",
         "customData.vendorId"),
        ("Heartbeat", {"customData": {"vendorId": "v" * 256}}, "PropertyConstraintViolation",
         "customData.vendorId"),
        ("GetMonitoringReport", {**MONITORING, "monitoringCriteria": ["DeltaMonitoring"] * 4},
         "OccurrenceConstraintViolation", "monitoringCriteria"),
        ("GetMonitoringReport", {**MONITORING, "monitoringCriteria": []},
         "OccurrenceConstraintViolation", "monitoringCriteria"),
        ("GetMonitoringReport", {**MONITORING, "monitoringCriteria": ["Nope"]},
         "PropertyConstraintViolation", "monitoringCriteria[0]"),
        ("GetMonitoringReport", {**MONITORING, "requestId": 1.5}, "TypeConstraintViolation",
         "requestId"),
        ("GetMonitoringReport", {**MONITORING, "requestId": True}, "TypeConstraintViolation",
         "requestId"),
        ("GetMonitoringReport", {**MONITORING, "extra": 1}, "ProtocolError", "extra"),
        ("SetNetworkProfile", {"configurationSlot": 1, "connectionData": {}},
         "OccurrenceConstraintViolation", "connectionData."),
    ],
)  # fmt: skip
def test_keyword_to_error_code(action: str, payload: Any, code: str, path: str) -> None:
    with pytest.raises(PayloadError) as info:
        validate_payload(Version.V201, action, Direction.REQUEST, payload)
    assert info.value.code.value == code
    assert info.value.path.startswith(path)
    assert info.value.description.startswith(path)
    assert info.value.details["field"] == info.value.path


def test_custom_data_may_carry_vendor_properties() -> None:
    """Part 4 section 9: CustomDataType is extensible; the extra properties are kept."""
    payload = {"customData": {"vendorId": "com.example", "mainMeterValue": 12345, "x": [1]}}
    message = structure_payload(Version.V201, "Heartbeat", Direction.REQUEST, payload)
    assert message.custom_data == v201.CustomData(
        vendor_id="com.example", extra={"mainMeterValue": 12345, "x": [1]}
    )
    assert unstructure_payload(Version.V201, message, validate=True) == payload


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-05-01T10:00:00Z", datetime.datetime(2024, 5, 1, 10, tzinfo=datetime.UTC)),
        ("2024-05-01t10:00:00.5z", datetime.datetime(2024, 5, 1, 10, 0, 0, 500000, datetime.UTC)),
        ("2024-05-01T10:00:00.123456789+02:00",
         datetime.datetime(2024, 5, 1, 10, 0, 0, 123456,
                           datetime.timezone(datetime.timedelta(hours=2)))),
        ("2024-05-01T10:00:00-03:00",
         datetime.datetime(2024, 5, 1, 10, tzinfo=datetime.timezone(datetime.timedelta(hours=-3)))),
    ],
)  # fmt: skip
def test_date_times_are_parsed_aware(text: str, expected: datetime.datetime) -> None:
    assert parse_datetime(text) == expected
    assert parse_datetime(text).utcoffset() == expected.utcoffset()


@pytest.mark.parametrize(
    "text", ["2024-05-01T10:00:00", "2024-02-30T10:00:00Z", "yesterday", "2024-05-01"]
)
def test_date_times_without_offset_or_invalid_are_format_violations(text: str) -> None:
    with pytest.raises(PayloadError) as info:
        validate_payload(Version.V201, "Heartbeat", Direction.RESPONSE, {"currentTime": text})
    assert (info.value.code, info.value.path) == (ErrorCode.FORMAT_VIOLATION, "currentTime")


def test_date_times_are_written_with_z_or_offset() -> None:
    brt = datetime.timezone(datetime.timedelta(hours=-3))
    for moment, text in [
        (datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.UTC), "2025-01-02T03:04:05Z"),
        (datetime.datetime(2025, 1, 2, 3, 4, 5, 600, brt), "2025-01-02T03:04:05.000600-03:00"),
    ]:  # fmt: skip
        message = v201.HeartbeatResponse(current_time=moment)
        assert unstructure_payload(Version.V201, message) == {"currentTime": text}
    with pytest.raises(ValueError, match="offset"):
        unstructure_payload(
            Version.V201, v201.HeartbeatResponse(current_time=datetime.datetime(2025, 1, 1))
        )


def test_schema_defaults_are_not_written_into_payloads() -> None:
    payload = {
        "evseId": 1,
        "meterValue": [{"timestamp": "2024-01-01T00:00:00Z", "sampledValue": [{"value": 1}]}],
    }
    before = copy.deepcopy(payload)
    message = structure_payload(Version.V201, "MeterValues", Direction.REQUEST, payload)
    assert payload == before
    assert message.meter_value[0].sampled_value[0].measurand is None


# --- the rewritten validators agree with plain fastjsonschema -----------------------------------


def test_speed_rewrites_still_apply() -> None:
    schema = catalog(Version.V201).schema("MeterValues", Direction.REQUEST)
    assert fast_source(schema)[1] >= 10
    assert detailed_source(schema)[1] >= 2


MUTATION_CASES = [
    (version, action, direction)
    for version in Version
    for action in ("MeterValues", "TransactionEvent", "BootNotification", "SetChargingProfile",
                   "NotifyReport", "GetVariables", "SetVariables", "NotifyEVChargingNeeds")
    for direction in (Direction.REQUEST, Direction.RESPONSE)
]  # fmt: skip
WRONG_VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=300),
    st.lists(st.integers(), max_size=2), st.dictionaries(st.text(max_size=3), st.integers()),
)  # fmt: skip


def mutate(data: st.DataObject, payload: Any) -> Any:
    """Replace, drop or add one thing somewhere in the payload."""
    if isinstance(payload, dict):
        keys = sorted(payload)
        choice = data.draw(st.integers(0, len(keys) + 1))
        if choice < len(keys):
            key = keys[choice]
            action = data.draw(st.sampled_from(["descend", "replace", "drop"]))
            if action == "descend":
                return {**payload, key: mutate(data, payload[key])}
            if action == "replace":
                return {**payload, key: data.draw(WRONG_VALUES)}
            return {k: v for k, v in payload.items() if k != key}
        return {**payload, data.draw(st.text(min_size=1, max_size=5)): 1}
    if isinstance(payload, list) and payload:
        index = data.draw(st.integers(0, len(payload) - 1))
        return [*payload[:index], mutate(data, payload[index]), *payload[index + 1 :]]
    return data.draw(WRONG_VALUES)


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(st.sampled_from(MUTATION_CASES), st.data())
def test_errors_match_plain_fastjsonschema(case: Any, data: st.DataObject) -> None:
    version, action, direction = case
    schema = catalog(version).schema(action, direction)
    payload = mutate(data, data.draw(from_schema(schema)))
    plain = fastjsonschema.compile(
        {k: v for k, v in schema.items() if k != "$id"}, formats=_FORMATS, use_default=False
    )
    expected: fastjsonschema.JsonSchemaValueException | None = None
    try:
        plain(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        expected = exc
    if expected is None:
        validate_payload(version, action, direction, payload)
        return
    with pytest.raises(PayloadError) as info:
        validate_payload(version, action, direction, payload)
    assert info.value.rule == expected.rule
    assert (expected.name or "").removeprefix("data").lstrip(".") in info.value.path
