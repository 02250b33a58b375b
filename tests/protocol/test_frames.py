"""Frame parsing and serialization (Part 4 section 4.2)."""

from __future__ import annotations

import uuid

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csms.protocol import (
    CallErrorFrame,
    CallFrame,
    CallResultErrorFrame,
    CallResultFrame,
    ErrorCode,
    Frame,
    RemoteProtocolError,
    SendFrame,
    Version,
    new_message_id,
    parse_frame,
    random_uuid,
    serialize_frame,
)

ids = st.text(max_size=36)
values = st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.text(max_size=5)
payloads = st.dictionaries(st.text(max_size=5), values, max_size=3)
frames = st.one_of(
    st.builds(CallFrame, ids, st.text(min_size=1, max_size=20), payloads),
    st.builds(CallResultFrame, ids, payloads),
    st.builds(CallErrorFrame, ids, st.text(max_size=20), st.text(max_size=255), payloads),
    st.builds(CallResultErrorFrame, ids, st.text(max_size=20), st.text(max_size=255), payloads),
    st.builds(SendFrame, ids, st.text(min_size=1, max_size=20), payloads),
)


@settings(max_examples=100, deadline=None, database=None)
@given(frames)
def test_serialize_then_parse_is_identity(frame: Frame) -> None:
    assert parse_frame(serialize_frame(frame), Version.V21) == frame
    assert parse_frame(serialize_frame(frame).encode(), Version.V21) == frame


def test_wire_shapes() -> None:
    assert serialize_frame(CallFrame("1", "Heartbeat", {})) == '[2,"1","Heartbeat",{}]'
    assert serialize_frame(CallResultFrame("1", {"a": 1})) == '[3,"1",{"a":1}]'
    assert serialize_frame(CallErrorFrame("1", "NotSupported")) == '[4,"1","NotSupported","",{}]'
    assert serialize_frame(SendFrame("1", "X", {})) == '[6,"1","X",{}]'
    long = serialize_frame(CallResultErrorFrame("1", "GenericError", "d" * 999))
    assert len(orjson.loads(long)[3]) == 255


def test_2_1_message_types_are_unknown_in_2_0_1() -> None:
    """Part 4 (2.0.1) table 3 has only CALL, CALLRESULT and CALLERROR."""
    for text in ('[5, "1", "GenericError", "", {}]', '[6, "1", "X", {}]'):
        with pytest.raises(RemoteProtocolError) as info:
            parse_frame(text, Version.V201)
        assert (info.value.code, info.value.message_id) == (
            ErrorCode.MESSAGE_TYPE_NOT_SUPPORTED, "1"
        )  # fmt: skip


def test_message_id_is_at_most_36_characters() -> None:
    """Part 4 table 4: messageId is string[36]."""
    assert parse_frame(f'[3, "{"a" * 36}", {{}}]', Version.V201).message_id == "a" * 36
    with pytest.raises(RemoteProtocolError) as info:
        parse_frame(f'[3, "{"a" * 37}", {{}}]', Version.V201)
    assert (info.value.code, info.value.message_id) == (ErrorCode.RPC_FRAMEWORK_ERROR, "-1")


def test_call_errors_are_read_leniently() -> None:
    frame = parse_frame('[4, "1", "OddCode", null, []]', Version.V201)
    assert frame == CallErrorFrame("1", "OddCode", "", {})


def test_new_message_ids_are_unique_uuids() -> None:
    made = {new_message_id() for _ in range(100)}
    assert len(made) == 100
    assert {len(m) for m in made} == {36}


def test_random_uuids_are_version_4_in_canonical_form() -> None:
    for _ in range(200):
        text = random_uuid()
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == text  # lower-case hex, dashes where RFC 4122 has them
