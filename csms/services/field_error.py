"""A bad input value with the name of the field it came in (the API answers 422 naming it)."""

from __future__ import annotations

__all__ = ["FieldError"]


class FieldError(ValueError):
    """``field`` names the value (``v2g.prices.icms``, ``DIA``), ``message`` says what is wrong."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
