"""The NATS subject layout (docs/NATS.md): station ids made subject tokens, reversibly."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from csms.services.nats_subjects import (
    command_subject,
    decode_token,
    event_subject,
    events_wildcard,
    message_id,
    station_events_wildcard,
    station_token,
)


def test_event_subjects_put_the_station_before_the_catalog_subject() -> None:
    assert event_subject("csms", "transaction.started", "CP1") == (
        "csms.events.CP1.transaction.started"
    )
    assert event_subject("a.b", "v2g.session.completed", None) == (
        "a.b.events._.v2g.session.completed"
    )
    assert events_wildcard("csms") == "csms.events.>"
    assert station_events_wildcard("csms", "CP1") == "csms.events.CP1.>"
    assert command_subject("csms", "CP1") == "csms.station.CP1.cmd"


def test_characters_a_token_cannot_hold_are_escaped() -> None:
    assert station_token("CP.1") == "CP%2E1"
    assert station_token("a*b>c d%") == "a%2Ab%3Ec%20d%25"
    assert station_token("_") == "%5F"  # not "no station"
    assert decode_token("_") is None


@given(st.text(min_size=1, max_size=48))
def test_a_station_token_is_one_token_and_reads_back(station_id: str) -> None:
    token = station_token(station_id)
    assert "." not in token
    assert token not in ("*", ">", "_")
    assert not any(c.isspace() for c in token if ord(c) < 256)
    assert decode_token(token) == station_id


def test_the_message_id_is_the_body_s() -> None:
    assert message_id(b'{"a":1}') == message_id(b'{"a":1}')
    assert message_id(b'{"a":1}') != message_id(b'{"a":2}')
