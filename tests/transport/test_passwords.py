"""Station passwords: the passwordString rules (A00.FR.205) and the salted hash (A01.FR.08)."""

import string

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from csms.transport import (
    PASSWORD_ALPHABET,
    generate_password,
    hash_password,
    is_strong_password,
    verify_password,
)

ALPHABET = "".join(sorted(PASSWORD_ALPHABET))


def test_alphabet_is_part2_password_string():
    """Part 2 §2.1.4: a-z, A-Z, 0-9 and the symbols * - _ = : + | @ ."""
    assert set(string.ascii_letters + string.digits + "*-_=:+|@.") == PASSWORD_ALPHABET


@settings(max_examples=50)
@given(st.text(alphabet=ALPHABET, min_size=16, max_size=40))
def test_any_16_to_40_characters_of_the_alphabet_are_strong(password):
    """A00.FR.205: 16 to 40 characters of passwordString."""
    assert is_strong_password(password)


@settings(max_examples=50)
@given(
    st.text(alphabet=ALPHABET, min_size=15, max_size=39),
    st.characters(exclude_characters=ALPHABET),
)
def test_one_character_outside_the_alphabet_makes_it_weak(prefix, outsider):
    assert not is_strong_password(prefix + outsider)


@pytest.mark.parametrize("length", [0, 1, 15, 41, 64])
def test_length_outside_16_to_40_is_weak(length):
    assert not is_strong_password("a" * length)


def test_the_errata_longer_limit_is_a_parameter():
    """Errata 2025-01: BasicAuthPassword.maxLimit may be raised to 64."""
    assert is_strong_password("a" * 64, max_length=64)
    assert not is_strong_password("a" * 65, max_length=64)


def test_generated_passwords_are_strong_and_distinct():
    passwords = {generate_password() for _ in range(20)}
    assert len(passwords) == 20
    assert all(is_strong_password(p) and len(p) == 32 for p in passwords)
    with pytest.raises(ValueError, match="between"):
        generate_password(8)


@settings(max_examples=25)
@given(st.text(alphabet=ALPHABET, min_size=16, max_size=40), st.text(max_size=40))
def test_hash_verifies_its_password_and_nothing_else(password, other):
    stored = hash_password(password)
    assert verify_password(stored, password)
    assert verify_password(stored, other) == (other == password)


def test_hash_is_salted_and_in_the_stored_format():
    first, second = hash_password("same-password-1234"), hash_password("same-password-1234")
    assert first != second
    scheme, salt, digest = first.split("$")
    assert scheme == "sha256"
    assert len(bytes.fromhex(salt)) == 16
    assert len(bytes.fromhex(digest)) == 32
    assert "same-password" not in first


@pytest.mark.parametrize(
    "stored",
    ["", "plain", "md5$00$00", "sha256$zz$" + "00" * 32, "sha256$$" + "00" * 32, "sha256$00$0011"],
)
def test_malformed_stored_hash_is_an_error_not_a_mismatch(stored):
    with pytest.raises(ValueError, match="malformed"):
        verify_password(stored, "whatever-password-1")
