"""Build attrs settings classes from TOML and environment variables, naming the key on any error.

Each field may carry ``metadata={"check": fn}``; ``fn(value)`` raises ``ValueError`` with a short
reason ("must be between 1 and 65535"), and the loader prefixes the dotted key. Strings from the
environment are coerced to the field's type.
"""

from __future__ import annotations

import enum
import pathlib
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import attrs

T = TypeVar("T")


class ConfigError(ValueError):
    """A setting is missing, unknown or invalid; the message starts with its dotted key."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


def between(low: float, high: float) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if not low <= value <= high:
            raise ValueError(f"must be between {low:g} and {high:g}, got {value!r}")

    return check


def positive(value: Any) -> None:
    if value <= 0:
        raise ValueError(f"must be greater than 0, got {value!r}")


def one_of(*allowed: Any) -> Callable[[Any], None]:
    def check(value: Any) -> None:
        if value not in allowed:
            raise ValueError(f"must be one of {', '.join(map(repr, allowed))}, got {value!r}")

    return check


def setting(default: Any = attrs.NOTHING, *, check: Callable[[Any], None] | None = None) -> Any:
    """An attrs field with an optional check the loader runs (with the key in its message)."""
    metadata = {"check": check} if check else {}
    if default is attrs.NOTHING:
        return attrs.field(metadata=metadata)
    if attrs.has(type(default)):
        return attrs.field(factory=lambda: default, metadata=metadata)
    return attrs.field(default=default, metadata=metadata)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def _coerce(tp: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        options = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None or (isinstance(value, str) and value == "" and len(options) < 2):
            return None
        return _coerce(options[0], value, key)
    if attrs.has(tp):
        if not isinstance(value, Mapping):
            raise ConfigError(key, f"must be a table, got {type(value).__name__}")
        return build(tp, value, key)
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in _TRUE | _FALSE:
            return value.lower() in _TRUE
        raise ConfigError(key, f"must be true or false, got {value!r}")
    if tp in (int, float):
        if isinstance(value, bool):
            raise ConfigError(key, f"must be a number, got {value!r}")
        if isinstance(value, int | float) and (tp is float or isinstance(value, int)):
            return tp(value)
        if isinstance(value, str):
            try:
                return tp(value)
            except ValueError:
                pass
        kind = "an integer" if tp is int else "a number"
        raise ConfigError(key, f"must be {kind}, got {value!r}")
    if tp is str:
        if isinstance(value, str):
            return value
        raise ConfigError(key, f"must be a string, got {value!r}")
    if origin is dict:  # a free table checked by its own parser (``v2g.prices``)
        if not isinstance(value, Mapping):
            raise ConfigError(key, f"must be a table, got {type(value).__name__}")
        return dict(value)
    if tp is pathlib.Path:
        if isinstance(value, str):
            return pathlib.Path(value)
        raise ConfigError(key, f"must be a path, got {value!r}")
    if isinstance(tp, type) and issubclass(tp, enum.Enum):
        try:
            return tp(value)
        except ValueError:
            allowed = ", ".join(repr(m.value) for m in tp)
            raise ConfigError(key, f"must be one of {allowed}, got {value!r}") from None
    if origin is tuple or origin is list:
        (item,) = typing.get_args(tp)[:1]
        if isinstance(value, str):
            value = [v.strip() for v in value.split(",") if v.strip()]
        if not isinstance(value, list | tuple):
            raise ConfigError(key, f"must be a list, got {value!r}")
        items = [_coerce(item, v, f"{key}[{i}]") for i, v in enumerate(value)]
        return tuple(items) if origin is tuple else items
    raise ConfigError(key, f"has an unsupported type {tp!r}")  # a bug in a settings class


def build(cls: type[T], data: Mapping[str, Any], prefix: str = "") -> T:
    """Instantiate ``cls`` from ``data``; unknown keys and bad values raise ``ConfigError``."""
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in attrs.fields(cls)}  # type: ignore[arg-type]
    for name in data:
        if name not in fields:
            key = f"{prefix}.{name}" if prefix else name
            raise ConfigError(key, f"unknown setting (known here: {', '.join(sorted(fields))})")
    kwargs: dict[str, Any] = {}
    for name, field in fields.items():
        key = f"{prefix}.{name}" if prefix else name
        if name in data:
            value = _coerce(hints[name], data[name], key)
        elif field.default is attrs.NOTHING:
            raise ConfigError(key, "is required")
        elif isinstance(field.default, attrs.Factory):  # type: ignore[arg-type]
            value = field.default.factory()
        else:
            value = field.default
        check = field.metadata.get("check")
        if check is not None and value is not None:
            try:
                check(value)
            except ValueError as exc:
                raise ConfigError(key, str(exc)) from None
        kwargs[name] = value
    return cls(**kwargs)
