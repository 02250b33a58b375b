"""Body structuring: strict types, unknown fields refused, the bad field named by its path;
and fuzzing: any JSON gives a body or InvalidBody, never another exception."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csms.api import InvalidBody
from csms.api._schema import parse_datetime, structure
from csms.api.bodies import IdTokenBody, RemoteStart, SetVariablesBody, StationRegistration

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=10,
)


def test_camel_case_fields_and_defaults() -> None:
    body = structure({"idToken": "TAG1", "evseId": 2}, RemoteStart)
    assert body == RemoteStart(id_token="TAG1", evse_id=2)
    assert body.id_token_type == "Central"


@pytest.mark.parametrize(
    ("data", "cls", "field"),
    [
        ({"idToken": 5}, RemoteStart, "idToken"),
        ({"idToken": "T", "evseId": True}, RemoteStart, "evseId"),
        ({"idToken": "T", "evseId": "1"}, RemoteStart, "evseId"),
        ({"idToken": "T", "evseId": 0}, RemoteStart, "evseId"),
        ({"idToken": "T", "evse_id": 1}, RemoteStart, "evse_id"),
        ({}, RemoteStart, "idToken"),
        ({"variables": []}, SetVariablesBody, "variables"),
        (
            {"variables": [{"component": "C", "variable": "V", "value": 1}]},
            SetVariablesBody,
            "variables.0.value",
        ),
        ({"variables": "x"}, SetVariablesBody, "variables"),
        (
            {"idToken": "T", "type": "ISO14443", "cacheExpiryDateTime": "2030-01-01T00:00:00"},
            IdTokenBody,
            "cacheExpiryDateTime",
        ),
        ({"idToken": "T\x00", "type": "ISO14443"}, IdTokenBody, "idToken"),
        ({"id": "A/B", "password": "x" * 16}, StationRegistration, "id"),
    ],
)
def test_bad_field_is_named_by_its_path(data: dict[str, Any], cls: type, field: str) -> None:
    with pytest.raises(InvalidBody) as caught:
        structure(data, cls)
    assert caught.value.field == field
    assert caught.value.body()["error"]["field"] == field


def test_integral_floats_are_integers_as_json_schema_has_it() -> None:
    assert structure({"idToken": "T", "evseId": 2.0}, RemoteStart).evse_id == 2


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2025-01-01T00:00:00Z", dt.datetime(2025, 1, 1, tzinfo=dt.UTC)),
        ("2025-01-01t00:00:00.1234567z", dt.datetime(2025, 1, 1, 0, 0, 0, 123456, dt.UTC)),
        (
            "2016-12-31T23:59:60-03:00",
            dt.datetime(2016, 12, 31, 23, 59, 59, 999999, dt.timezone(-dt.timedelta(hours=3))),
        ),
    ],
)
def test_rfc3339_date_times(text: str, expected: dt.datetime) -> None:
    assert parse_datetime(text) == expected


@pytest.mark.parametrize(
    "text", ["2025-01-01", "2025-02-30T00:00:00Z", "0000-01-01T00:00:00Z", "2025-01-01T00:00:00"]
)
def test_not_rfc3339(text: str) -> None:
    with pytest.raises(ValueError, match="RFC 3339"):
        parse_datetime(text)


@settings(max_examples=200, deadline=None)
@given(
    data=json_values,
    cls=st.sampled_from([RemoteStart, SetVariablesBody, IdTokenBody, StationRegistration]),
)
def test_any_json_gives_a_body_or_invalid_body(data: Any, cls: type) -> None:
    try:
        value: Any = structure(data, cls)
    except InvalidBody as exc:
        value = exc
    assert isinstance(value, (cls, InvalidBody))
