"""Fuzzing `OcppConnection.receive_text`: no input makes it raise; every input yields either a
well-formed reply frame or a documented drop (`reply is None`), or a regular event."""

from __future__ import annotations

import json
from typing import Any

import orjson
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from csms.protocol import (
    BootState,
    CallErrorReceived,
    CallReceived,
    CallResultErrorReceived,
    CallResultReceived,
    ErrorCode,
    OcppConnection,
    ProtocolViolation,
    Role,
    SendReceived,
    UnmatchedResponse,
    Version,
)
from csms.protocol._catalog import Direction, catalog

from .strategies import JSON_VALUES, from_schema

FUZZ = settings(
    max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)
CODES = {code.value for code in ErrorCode}
ACTIONS = sorted({a for v in Version for a in catalog(v).actions} | {"NotifyPeriodicEventStream"})

connections = st.builds(
    OcppConnection,
    st.sampled_from(Role),
    st.sampled_from(Version),
    boot_state=st.sampled_from(BootState),
)
message_ids = st.one_of(
    st.text(max_size=40), st.integers(), st.none(), st.just("c1"), st.just("-1")
)


@st.composite
def frame_like(draw: st.DrawFn) -> Any:
    """Arrays that look like OCPP-J frames, valid or nearly so."""
    type_id = draw(st.one_of(st.integers(min_value=0, max_value=8), JSON_VALUES))
    message_id = draw(message_ids)
    action = draw(st.one_of(st.sampled_from(ACTIONS), st.text(max_size=10), JSON_VALUES))
    payload = draw(st.one_of(JSON_VALUES, st.dictionaries(st.text(max_size=8), JSON_VALUES)))
    if isinstance(action, str) and draw(st.booleans()):
        version = draw(st.sampled_from(Version))
        cat = catalog(version)
        if action in cat.actions:
            direction = draw(st.sampled_from([Direction.REQUEST, Direction.RESPONSE]))
            payload = draw(from_schema(cat.schema(action, direction)))
    shapes = [
        [type_id, message_id, action, payload],
        [type_id, message_id, payload],
        [type_id, message_id, action, draw(st.text(max_size=20)), payload],
        [type_id, message_id],
        draw(st.lists(JSON_VALUES, max_size=6)),
    ]
    return draw(st.sampled_from(shapes))


def check_events(conn: OcppConnection, events: list[Any]) -> None:
    assert len(events) == 1
    (event,) = events
    if isinstance(event, ProtocolViolation):
        assert event.code in ErrorCode
        if event.reply is not None:
            reply = orjson.loads(event.reply)
            assert isinstance(reply, list)
            assert len(reply) == 5
            type_id, message_id, code, description, details = reply
            assert type_id in (4, 5)
            if type_id == 5:
                assert conn.version is Version.V21
            assert isinstance(message_id, str)
            assert len(message_id) <= 36
            assert code in CODES
            assert isinstance(description, str)
            assert len(description) <= 255
            assert details == {}
    else:
        assert isinstance(
            event,
            CallReceived
            | CallResultReceived
            | CallErrorReceived
            | CallResultErrorReceived
            | SendReceived
            | UnmatchedResponse,
        )


@FUZZ
@given(connections, st.text())
def test_arbitrary_text(conn: OcppConnection, text: str) -> None:
    check_events(conn, conn.receive_text(text))


@FUZZ
@given(connections, st.binary())
def test_arbitrary_bytes(conn: OcppConnection, data: bytes) -> None:
    check_events(conn, conn.receive_text(data))


@FUZZ
@given(connections, JSON_VALUES)
def test_arbitrary_json(conn: OcppConnection, value: Any) -> None:
    check_events(conn, conn.receive_text(json.dumps(value)))


@FUZZ
@given(connections, st.lists(frame_like(), min_size=1, max_size=4))
def test_frame_shaped_json(conn: OcppConnection, frames: list[Any]) -> None:
    for frame in frames:
        check_events(conn, conn.receive_text(json.dumps(frame)))  # any int size


@FUZZ
@given(st.sampled_from(Version), st.text(min_size=1))
def test_unreadable_frames_are_answered_with_minus_one(version: Version, text: str) -> None:
    """Part 4 section 4.2.3: when the MessageId cannot be read the CALLERROR carries "-1"."""
    try:
        orjson.loads(text)
    except orjson.JSONDecodeError:
        conn = OcppConnection(Role.SERVER, version, boot_state=BootState.ACCEPTED)
        (event,) = conn.receive_text(text)
        assert isinstance(event, ProtocolViolation)
        assert orjson.loads(event.reply or "")[:3] == [4, "-1", "RpcFrameworkError"]
