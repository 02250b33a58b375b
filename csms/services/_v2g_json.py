"""Numbers between the V2G policies and JSON: ``Decimal`` inside, plain JSON numbers outside."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = ["decimal_or_none", "json_number"]


def json_number(value: Decimal) -> int | float:
    """``value`` as a JSON number without exponent noise: 7400 -> 7400, 7.4 -> 7.4."""
    return int(value) if value == value.to_integral_value() else float(value)


def decimal_or_none(value: Any) -> Decimal | None:
    """A finite JSON number as ``Decimal``; None for anything else (bool included: ``true`` is
    no number in JSON, although Python's bool is an int)."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None
