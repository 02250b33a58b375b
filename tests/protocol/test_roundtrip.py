"""Every action of both versions: schema-generated payloads survive validate -> structure ->
unstructure -> validate unchanged (Part 4 section 4.1.5: optional fields omitted, never null)."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csms.protocol import (
    Direction,
    Version,
    structure_payload,
    unstructure_payload,
    validate_payload,
)
from csms.protocol._catalog import catalog

from .strategies import from_schema

CASES = [
    (version, action, direction)
    for version in Version
    for action in catalog(version).actions
    for direction in (Direction.REQUEST, Direction.RESPONSE)
] + [
    (version, action, Direction.SEND)
    for version in Version
    for action in catalog(version).send_actions
]

ROUND_TRIP = settings(
    max_examples=5,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)


def expected_json(action: str, payload: dict[str, Any]) -> dict[str, Any]:
    # DataTransfer.data accepts any JSON value; null is read as "absent" and so omitted.
    if action == "DataTransfer" and payload.get("data", 0) is None:
        return {k: v for k, v in payload.items() if k != "data"}
    return payload


def test_every_action_is_covered() -> None:
    assert len(catalog(Version.V201).actions) == 64
    assert len(catalog(Version.V21).actions) == 90
    assert len(CASES) == 2 * (64 + 90) + 1


@pytest.mark.parametrize(
    ("version", "action", "direction"),
    CASES,
    ids=[f"{v.name}-{a}-{d.name}" for v, a, d in CASES],
)
def test_round_trip(version: Version, action: str, direction: Direction) -> None:
    schema = catalog(version).schema(action, direction)
    cls = catalog(version).message_class(action, direction)

    @ROUND_TRIP
    @given(from_schema(schema))
    def check(payload: dict[str, Any]) -> None:
        wire = orjson.loads(orjson.dumps(payload))
        validate_payload(version, action, direction, wire)
        message = structure_payload(version, action, direction, wire)
        assert type(message) is cls
        back = orjson.loads(orjson.dumps(unstructure_payload(version, message, validate=True)))
        assert back == expected_json(action, wire)
        assert structure_payload(version, action, direction, back) == message

    check()


@settings(max_examples=30, deadline=None, database=None)
@given(st.sampled_from(CASES), st.data())
def test_structured_messages_are_frozen(case: Any, data: st.DataObject) -> None:
    version, action, direction = case
    payload = data.draw(from_schema(catalog(version).schema(action, direction)))
    message = structure_payload(version, action, direction, payload)
    with pytest.raises(AttributeError):
        message.custom_data = None
