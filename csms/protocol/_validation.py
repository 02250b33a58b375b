"""JSON-schema validation of payloads, with violations mapped to CALLERROR codes.

Validators are compiled with fastjsonschema on first use per (version, action, direction) and
cached, so importing the package costs nothing and a node starts fast; `warm_up` compiles all of
them ahead of time when that is preferred. Schema defaults are never written into the payload.

The first violation is reported as a `PayloadError` whose description starts with the field path
(`meterValue[0].sampledValue[2].value`). The schema keyword decides the code (Part 4 table 8):

================================  ===============================================================
keyword                           error code
================================  ===============================================================
type                              TypeConstraintViolation ("somestring": 12, the table's example)
required, minItems, maxItems      OccurrenceConstraintViolation (cardinality: a missing 1..1 field,
                                  too few or too many list elements; see also B06.FR.16)
enum, maxLength, minLength,       PropertyConstraintViolation (syntactically correct, the value
minimum, maximum, multipleOf,     itself is not allowed)
pattern, const, exclusive*
additionalProperties              ProtocolError (a property the PDU does not define: the payload
                                  does not conform to the PDU structure)
format (date-time)                FormatViolation (the value is syntactically incorrect)
anything else                     FormatViolation
================================  ===============================================================

A payload that is not a JSON object at all is rejected earlier, by the frame parser, as a
FormatViolation.
"""

from __future__ import annotations

import datetime
import functools
import re
from collections.abc import Callable
from typing import Any, Final

import fastjsonschema

from ._catalog import Direction, Version, catalog
from ._errors import ErrorCode, PayloadError

__all__ = ["parse_datetime", "payload_error", "validate_payload", "validator", "warm_up"]

_CODES: Final = {
    "type": ErrorCode.TYPE_CONSTRAINT_VIOLATION,
    "required": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    "minItems": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    "maxItems": ErrorCode.OCCURRENCE_CONSTRAINT_VIOLATION,
    "enum": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "const": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "maxLength": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "minLength": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "minimum": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "maximum": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "exclusiveMinimum": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "exclusiveMaximum": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "multipleOf": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "pattern": ErrorCode.PROPERTY_CONSTRAINT_VIOLATION,
    "additionalProperties": ErrorCode.PROTOCOL_ERROR,
    "format": ErrorCode.FORMAT_VIOLATION,
}

Validator = Callable[[Any], Any]
_validators: dict[tuple[Version, str, Direction], Validator] = {}

# Speed (measured on MeterValues with 10 sampled values; see scripts/bench/protocol.py).
# Each schema gets two validators compiled from fastjsonschema's generated source:
# - the *fast* one runs on every payload. Its source is rewritten so that the happy path does
#   less work: (1) sub-validator calls no longer build the field path argument (it is only used
#   in error messages); (2) an enum check `isinstance(x, str) and x == 'A' or ...` becomes a
#   membership test in a set literal (a frozenset constant); (3) the required-keys set is a set
#   literal instead of `set([...])`.
# - the *detailed* one, compiled on the first failure, re-validates a failing payload so the error
#   names the right path. Its only rewrite is (4): `"...[{i}]".format(**locals())` -> f-string.
# All rewrites keep the meaning of the code; if a future fastjsonschema emits different code a
# pattern simply stops matching. Tests check the patterns still apply and that every error path
# is reported as before.
_NAME_ARG = re.compile(r"^(\s*validate\w*\(\w+, custom_formats), .*\)$", re.MULTILINE)
_STR = r"'(?:[^'\\]|\\.)*'"
_ENUM_CHAIN = re.compile(
    rf"\((isinstance\((\w+), str\) and \2 == {_STR}"
    rf"(?: or isinstance\(\2, str\) and \2 == {_STR})*)\)"
)
_REQUIRED = re.compile(rf"set\(\[((?:{_STR}(?:, )?)+)\]\)")
_FORMAT_LOCALS = re.compile(
    r'"((?:[^"{}\\]|\{[A-Za-z_][A-Za-z0-9_]*\})*)"\.format\(\*\*locals\(\)\)'
)


def _enum_as_set(match: re.Match[str]) -> str:
    var = match.group(2)
    values = re.findall(rf"== ({_STR})", match.group(1))
    return f"(isinstance({var}, str) and {var} in {{{', '.join(values)}}})"


def _generated_source(schema: dict[str, Any]) -> str:
    # Without `$id` (2.1's "urn:OCPP:..." names; every `$ref` is local) the entry point is
    # always called `validate`.
    schema = {key: value for key, value in schema.items() if key != "$id"}
    return fastjsonschema.compile_to_code(schema, formats=_FORMATS, use_default=False)


def fast_source(schema: dict[str, Any]) -> tuple[str, int]:
    """The fast validator's source and how many rewrites applied (for the tests)."""
    code, names = _NAME_ARG.subn(r"\1)", _generated_source(schema))
    code, enums = _ENUM_CHAIN.subn(_enum_as_set, code)
    code, required = _REQUIRED.subn(r"{\1}", code)
    return code, names + enums + required


def detailed_source(schema: dict[str, Any]) -> tuple[str, int]:
    return _FORMAT_LOCALS.subn(r'f"\1"', _generated_source(schema))


def _load(code: str, name: str) -> Validator:
    namespace: dict[str, Any] = {}
    exec(compile(code, f"<schema {name}>", "exec"), namespace)
    return functools.partial(namespace["validate"], custom_formats=_FORMATS)


def _compile(schema: dict[str, Any], name: str) -> Validator:
    fast = _load(fast_source(schema)[0], name)
    detailed: list[Validator] = []

    def validate(data: Any) -> Any:
        try:
            return fast(data)
        except fastjsonschema.JsonSchemaValueException:
            if not detailed:
                detailed.append(_load(detailed_source(schema)[0], name))
            detailed[0](data)  # raises the same violation, with its path
            raise  # pragma: no cover - both validators implement the same schema

    return validate


def parse_datetime(text: str) -> datetime.datetime:
    """Parse an RFC 3339 date-time; raises ValueError unless it is valid and carries an offset."""
    try:
        value = datetime.datetime.fromisoformat(text)
    except ValueError:
        value = datetime.datetime.fromisoformat(text.upper())  # RFC 3339 allows 't' and 'z'
    if value.tzinfo is None:
        raise ValueError(f"date-time without offset: {text!r}")
    return value


def _is_datetime(value: str) -> bool:
    # fastjsonschema's own date-time regex accepts "2024-02-30"; the converter must not fail later.
    try:
        parse_datetime(value)
    except ValueError:
        return False
    return True


_FORMATS: Final = {"date-time": _is_datetime}


def validator(version: Version, action: str, direction: Direction) -> Validator:
    """The compiled validator for one schema; KeyError if the version has no such schema."""
    key = (version, action, direction)
    found = _validators.get(key)
    if found is None:
        cat = catalog(version)
        cat.message_class(action, direction)  # KeyError for unknown actions
        found = _compile(cat.schema(action, direction), action + direction.value)
        _validators[key] = found
    return found


def warm_up(version: Version) -> None:
    """Compile every validator of `version` now instead of on first use."""
    cat = catalog(version)
    for action in cat.actions:
        validator(version, action, Direction.REQUEST)
        validator(version, action, Direction.RESPONSE)
    for action in cat.send_actions:
        validator(version, action, Direction.SEND)


def validate_payload(version: Version, action: str, direction: Direction, payload: Any) -> None:
    """Check parsed JSON against the official schema; raise `PayloadError` if it is invalid."""
    try:
        validator(version, action, direction)(payload)
    except fastjsonschema.JsonSchemaValueException as exc:
        raise payload_error(exc) from None


def payload_error(exc: fastjsonschema.JsonSchemaValueException) -> PayloadError:
    rule = exc.rule or ""
    path = (exc.name or "data").removeprefix("data").removeprefix(".")
    definition = exc.definition if isinstance(exc.definition, dict) else {}
    value = exc.value
    if rule == "required" and isinstance(value, dict):
        missing = [name for name in definition.get("required", []) if name not in value]
        path = _join(path, missing[0] if missing else "?")
        reason = "required field is missing"
    elif rule == "additionalProperties" and isinstance(value, dict):
        known = definition.get("properties", {})
        extra = [name for name in value if name not in known]
        path = _join(path, extra[0] if extra else "?")
        reason = "field is not defined by the schema"
    elif rule == "type":
        reason = f"must be of type {definition.get('type')}, got {_json_type(value)}"
    elif rule in ("minItems", "maxItems"):
        reason = f"{len(value) if isinstance(value, list) else '?'} elements violate {rule}"
        reason += f" {definition.get(rule)}"
    elif rule == "format":
        reason = f"{_short(value)} is not a valid {definition.get('format')}"
    elif rule in definition:
        reason = f"{_short(value)} violates {rule} {_short(definition[rule])}"
    else:
        reason = exc.message
    code = _CODES.get(rule, ErrorCode.FORMAT_VIOLATION)
    return PayloadError(code, f"{path or '<payload>'}: {reason}", path=path, rule=rule)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


def _json_type(value: Any) -> str:
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "array"}
    return "null" if value is None else names.get(type(value), "object")


def _short(value: Any, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
