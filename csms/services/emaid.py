"""EMAID (e-mobility account identifier) syntax and its check digit.

Syntax (ISO 15118-2 Annex H, DIN SPEC 91286): a two-letter country code, a three-character
provider id, a nine-character instance, then an optional check digit; the parts may be
separated by hyphens (``DE-8AA-CA2B3C4D5-L``) or not (``DE8AACA2B3C4D5L``). Comparison is
case-insensitive and ignores the hyphens, so ``Emaid.body`` is the canonical 14 characters.

The check digit is the OCHP / eMI3 algorithm ("Check Digit Calculation for Contract-IDs"):
each of the 36 characters is a value ``v = 9q + r`` split into a vector over Z2 (the two bits
of ``q``) and one over Z3 (the two trits of ``r``); position ``i`` (1-based) multiplies them
by ``P1**i`` resp. ``P2**i`` and the check digit is the one character that makes both sums
zero over all 15 positions. Because every power is invertible, changing any single character
of the body changes the sums, hence the check digit: single errors are always caught.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

__all__ = ["Emaid", "EmaidError", "check_digit", "parse_emaid"]

_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
_BODY_LENGTH = 14
_PLAIN = re.compile(r"([A-Z]{2})([A-Z0-9]{3})([A-Z0-9]{9})([A-Z0-9])?")
_HYPHENATED = re.compile(r"([A-Z]{2})-([A-Z0-9]{3})-([A-Z0-9]{9})(?:-?([A-Z0-9]))?")

_Matrix = tuple[tuple[int, int], tuple[int, int]]

_P1: _Matrix = ((0, 1), (1, 1))  # over Z2, order 3
_P2: _Matrix = ((0, 1), (1, 2))  # over Z3, order 8


class EmaidError(ValueError):
    """The text is not an EMAID, or its check digit is wrong; ``reason`` says which."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Emaid:
    """A parsed EMAID: the canonical body (14 characters, upper case, no hyphens) and the
    check digit when the text carried one (already verified)."""

    body: str
    check: str | None

    @property
    def country(self) -> str:
        return self.body[:2]

    @property
    def provider(self) -> str:
        return self.body[2:5]

    @property
    def instance(self) -> str:
        return self.body[5:]

    def same_account(self, other: Emaid) -> bool:
        """Same body; a missing check digit on either side is not a difference."""
        if self.body != other.body:
            return False
        return self.check is None or other.check is None or self.check == other.check

    def __str__(self) -> str:
        return self.body + (self.check or "")


def _power(matrix: _Matrix, exponent: int, modulus: int) -> _Matrix:
    result: _Matrix = ((1, 0), (0, 1))
    for _ in range(exponent):
        (a, b), (c, d) = result
        (e, f), (g, h) = matrix
        result = (
            ((a * e + b * g) % modulus, (a * f + b * h) % modulus),
            ((c * e + d * g) % modulus, (c * f + d * h) % modulus),
        )
    return result


# The powers repeat (P1 has order 3, P2 order 8), so 15 of each cover every position.
_P1_POWERS = tuple(_power(_P1, i, 2) for i in range(1, 16))
_P2_POWERS = tuple(_power(_P2, i, 3) for i in range(1, 16))


def _vectors(char: str) -> tuple[tuple[int, int], tuple[int, int]]:
    q, r = divmod(_ALPHABET.index(char), 9)
    return (q // 2, q % 2), (r // 3, r % 3)


def _times(vector: tuple[int, int], matrix: _Matrix, modulus: int) -> tuple[int, int]:
    # The powers of the symmetric P1 and P2 are symmetric: row or column vector is the same.
    (a, b), (c, d) = matrix
    return ((vector[0] * a + vector[1] * c) % modulus, (vector[0] * b + vector[1] * d) % modulus)


def _sums(text: str) -> tuple[tuple[int, int], tuple[int, int]]:
    q_sum, r_sum = (0, 0), (0, 0)
    for i, char in enumerate(text):
        q, r = _vectors(char)
        qq, rr = _times(q, _P1_POWERS[i], 2), _times(r, _P2_POWERS[i], 3)
        q_sum = ((q_sum[0] + qq[0]) % 2, (q_sum[1] + qq[1]) % 2)
        r_sum = ((r_sum[0] + rr[0]) % 3, (r_sum[1] + rr[1]) % 3)
    return q_sum, r_sum


def check_digit(body: str) -> str:
    """The check digit of a 14-character body (hyphens and case ignored)."""
    canonical = body.replace("-", "").upper()
    if len(canonical) != _BODY_LENGTH or any(c not in _ALPHABET for c in canonical):
        raise EmaidError(f"an EMAID body is 14 letters or digits, got {body!r}")
    # Exactly one of the 36 characters zeroes both sums (the last powers are invertible);
    # trying them all is clearer than solving the two small linear systems by hand. The body's
    # sums are the same for every candidate: only the 15th position's term is added to them.
    (q0, q1), (r0, r1) = _sums(canonical)
    for candidate in _ALPHABET:
        q, r = _vectors(candidate)
        qq, rr = _times(q, _P1_POWERS[14], 2), _times(r, _P2_POWERS[14], 3)
        if (q0 + qq[0]) % 2 == (q1 + qq[1]) % 2 == 0 and (r0 + rr[0]) % 3 == (r1 + rr[1]) % 3 == 0:
            return candidate
    raise AssertionError("unreachable: the position-15 powers are invertible")


def parse_emaid(text: str, *, require_check_digit: bool = False) -> Emaid:
    """Parse ``text`` as an EMAID; a check digit, when present, must be right."""
    upper = text.strip().upper()
    match = _HYPHENATED.fullmatch(upper) if "-" in upper else _PLAIN.fullmatch(upper)
    if match is None:
        raise EmaidError(f"not an EMAID: {text!r}")
    body = "".join(match.group(1, 2, 3))
    given = match.group(4)
    if given is None:
        if require_check_digit:
            raise EmaidError(f"EMAID {text!r} has no check digit")
        return Emaid(body, None)
    expected = check_digit(body)
    if given != expected:
        raise EmaidError(f"EMAID {text!r} has check digit {given}, expected {expected}")
    return Emaid(body, given)
