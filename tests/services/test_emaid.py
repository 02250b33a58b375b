"""EMAID syntax and the OCHP / eMI3 check digit (the published vectors, then properties)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.services.emaid import EmaidError, check_digit, parse_emaid

ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


@pytest.mark.parametrize(
    ("body", "digit"),
    [
        ("DE83DUIEN83QGZ", "D"),
        ("DE-8AA-CA2B3C4D5", "L"),
        ("NL-TNM-012345678", "W"),
        ("GBTWK012345678", "V"),
        # the further examples of the eMI3 paper and of Gireve
        ("FRXYZ123456789", "2"),
        ("DE83DUIEN83ZGQ", "M"),
        ("DE8AA001234567", "0"),
    ],
)
def test_check_digit_vectors(body: str, digit: str) -> None:
    assert check_digit(body) == digit
    assert check_digit(body.lower()) == digit
    assert parse_emaid(body + digit).check == digit


def test_parse_with_and_without_hyphens() -> None:
    plain = parse_emaid("DE8AACA2B3C4D5L")
    assert parse_emaid("DE-8AA-CA2B3C4D5-L") == plain
    assert parse_emaid("de-8aa-ca2b3c4d5l") == plain
    assert (plain.country, plain.provider, plain.instance) == ("DE", "8AA", "CA2B3C4D5")
    assert str(plain) == "DE8AACA2B3C4D5L"
    bare = parse_emaid("DE-8AA-CA2B3C4D5")
    assert bare.check is None
    assert bare.same_account(plain)
    assert plain.same_account(bare)
    assert not parse_emaid("DE8AACA2B3C4D5").same_account(parse_emaid("DE8AACA2B3C4D6"))


@pytest.mark.parametrize(
    "text",
    [
        "",
        "DE8AACA2B3C4D",  # 13 characters
        "DE8AACA2B3C4D5LX",  # 16
        "D18AACA2B3C4D5",  # country code with a digit
        "DE-8AACA2B3C4D5",  # one hyphen only
        "DE_8AA_CA2B3C4D5",
        "DE8AACA2B3C4D5Ä",
    ],
)
def test_syntax_errors(text: str) -> None:
    with pytest.raises(EmaidError, match="not an EMAID"):
        parse_emaid(text)


def test_wrong_check_digit() -> None:
    with pytest.raises(EmaidError, match="expected L"):
        parse_emaid("DE-8AA-CA2B3C4D5-M")


def test_check_digit_required() -> None:
    with pytest.raises(EmaidError, match="no check digit"):
        parse_emaid("DE8AACA2B3C4D5", require_check_digit=True)


def test_check_digit_rejects_bad_body() -> None:
    with pytest.raises(EmaidError, match="14 letters or digits"):
        check_digit("DE8AA")


bodies = st.text(alphabet=ALPHABET, min_size=14, max_size=14).map(
    lambda s: "DE" + s[2:]  # the country code is letters
)


@given(bodies)
def test_computed_check_digit_validates(body: str) -> None:
    digit = check_digit(body)
    assert parse_emaid(body + digit, require_check_digit=True).check == digit
    hyphenated = f"{body[:2]}-{body[2:5]}-{body[5:]}-{digit}"
    assert parse_emaid(hyphenated).body == body


@given(bodies, st.integers(min_value=0, max_value=13), st.sampled_from(ALPHABET))
def test_single_character_change_is_caught(body: str, position: int, replacement: str) -> None:
    changed = body[:position] + replacement + body[position + 1 :]
    if changed == body:
        return
    # The check digit of the original no longer validates the changed body.
    assert check_digit(changed) != check_digit(body)
    if position < 2:  # a digit in the country code is a syntax error anyway
        return
    with pytest.raises(EmaidError, match="check digit"):
        parse_emaid(changed + check_digit(body))
