"""Pure handshake rules: the station id in the URL (Part 4 §3.1.1), subprotocol choice (§3.1.2)."""

from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csms.transport import (
    AuthResult,
    StaticAuthenticator,
    parse_basic_authorization,
    select_subprotocol,
    station_id_from_path,
)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/ocpp/CS001", "CS001"),
        ("/ocpp/RDAM%20123", "RDAM 123"),  # Part 4 §3.1.1, example 2 (2.0.1)
        ("/ocpp/RDAM%7C123", "RDAM|123"),  # Part 4 §3.1.1, example 2 (2.1)
        ("/ocpp/CS001?x=1", "CS001"),
        ("/ocpp/" + "A" * 48, "A" * 48),
        ("/ocpp/" + "A" * 49, None),  # at most 48 characters
        ("/ocpp/" + "%41" * 48, "A" * 48),  # counted after decoding
        ("/ocpp/CS:1", None),  # no ':' (Basic-auth separator)
        ("/ocpp/CS%3A1", None),
        ("/ocpp/CS%2F1", None),
        ("/ocpp/CS%0A1", None),
        ("/ocpp/%FF", None),  # not UTF-8
        ("/ocpp/", None),
        ("/ocpp", None),
        ("/ocpp/a/b", None),
        ("/other/CS001", None),
        ("/CS001", None),
    ],
)
def test_station_id_from_path(path, expected):
    assert station_id_from_path(path, "/ocpp") == expected


def test_prefix_is_configurable():
    assert station_id_from_path("/webServices/ocpp/CS3211", "/webServices/ocpp") == "CS3211"
    assert station_id_from_path("/CS3211", "") == "CS3211"
    assert station_id_from_path("/ocpp/CS3211", "") is None


@settings(max_examples=100)
@given(
    st.text(
        st.characters(exclude_categories=("C",), exclude_characters=":/"), min_size=1, max_size=48
    )
)
def test_any_valid_id_survives_percent_encoding(station_id):
    assert station_id_from_path("/ocpp/" + quote(station_id, safe=""), "/ocpp") == station_id


@pytest.mark.parametrize(
    ("offered", "expected"),
    [
        (["ocpp2.1", "ocpp2.0.1", "ocpp1.6"], "ocpp2.1"),  # Part 4 (2.1) §3.1.3 example
        (["ocpp2.0.1", "ocpp2.1"], "ocpp2.0.1"),  # the client's order wins
        (["ocpp1.6", "ocpp2.0.1"], "ocpp2.0.1"),
        (["ocpp1.6"], None),
        ([], None),
    ],
)
def test_select_subprotocol_honours_the_clients_preference(offered, expected):
    assert select_subprotocol(offered, ("ocpp2.0.1", "ocpp2.1")) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("Basic Q1MwMDE6cGFzcw==", ("CS001", "pass")),
        ("basic Q1MwMDE6cGFzcw==", ("CS001", "pass")),
        ("Basic Q1MwMDE6YTpiOmM=", ("CS001", "a:b:c")),  # the password may contain ':'
        ("Basic Q1MwMDE=", None),  # no colon
        ("Basic !!!", None),
        ("Basic /w==", None),  # not UTF-8
        ("Bearer abc", None),
        ("", None),
    ],
)
def test_parse_basic_authorization(header, expected):
    assert parse_basic_authorization(header) == expected


async def test_static_authenticator():
    auth = StaticAuthenticator.from_passwords({"CS001": "Secret-password-0123456789"})
    assert await auth.check("CS001", "Secret-password-0123456789") is AuthResult.OK
    assert await auth.check("CS001", "wrong-password-000000") is AuthResult.BAD_PASSWORD
    assert await auth.check("CS002", "Secret-password-0123456789") is AuthResult.UNKNOWN_STATION
    assert await auth.check("CS001", None) is AuthResult.OK  # certificate-authenticated
    auth.remove("CS001")
    assert await auth.check("CS001", None) is AuthResult.UNKNOWN_STATION
