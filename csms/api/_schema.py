"""Bodies: attrs classes, the cattrs converter that structures them, and their JSON Schemas.

One description serves three ends: ``spec(...)`` puts a field's constraints in its attrs
metadata, ``structure`` enforces them (after a strict cattrs pass: no type coercion, no unknown
keys), and ``json_schema`` writes them into the OpenAPI document, so the document and the checks
cannot drift apart. Field names are snake_case in Python and camelCase on the wire.
"""

from __future__ import annotations

import datetime as dt
import re
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar, get_args, get_origin

import attrs
import cattrs
from cattrs.errors import (
    AttributeValidationNote,
    ClassValidationError,
    ForbiddenExtraKeysError,
    IterableValidationError,
    IterableValidationNote,
)
from cattrs.gen import make_dict_structure_fn, make_dict_unstructure_fn, override

from ._errors import InvalidBody

__all__ = [
    "camel",
    "converter",
    "json_schema",
    "parse_datetime",
    "spec",
    "structure",
    "unstructure",
]

T = TypeVar("T")
_NOTHING: Any = attrs.NOTHING


def spec(
    default: Any = _NOTHING,
    *,
    description: str = "",
    pattern: str | None = None,
    min_length: int | None = None,
    max_length: int | None = None,
    minimum: float | None = None,
    maximum: float | None = None,
    exclusive_minimum: float | None = None,
    enum: tuple[str, ...] | None = None,
    example: Any = None,
    code: str | None = None,
) -> Any:
    """An attrs field with its wire constraints (checked by ``structure``, documented by
    ``json_schema``)."""
    meta = {
        "description": description,
        "pattern": pattern,
        "minLength": min_length,
        "maxLength": max_length,
        "minimum": minimum,
        "maximum": maximum,
        "exclusiveMinimum": exclusive_minimum,
        "enum": list(enum) if enum else None,
        "examples": [example] if example is not None else None,
    }
    checks = {k: v for k, v in meta.items() if v not in (None, "")}
    if code is not None:
        checks["x-code"] = code
    return attrs.field(default=default, metadata={"api": checks})


def camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


# -- the converter ---------------------------------------------------------------------------


def _strict(kind: type, name: str) -> Any:
    def hook(value: Any, _: Any) -> Any:
        if type(value) is bool and kind is not bool:
            raise TypeError(f"expected {name}, got a boolean")
        if kind is float and isinstance(value, int):
            return float(value)
        if kind is int and isinstance(value, float) and value.is_integer():
            return int(value)  # JSON Schema: 2.0 is an integer
        if not isinstance(value, kind):
            raise TypeError(f"expected {name}, got {_json_type(value)}")
        return value

    return hook


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    return {
        bool: "a boolean",
        int: "a number",
        float: "a number",
        str: "a string",
        list: "an array",
        dict: "an object",
    }.get(type(value), type(value).__name__)


_RFC3339 = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?([Zz]|[+-]\d{2}:\d{2})"
)


def parse_datetime(value: str) -> dt.datetime:
    """An RFC 3339 date-time (with its offset); ValueError otherwise. A leap second is read as
    the last microsecond before it (Python has no 60th second)."""
    match = _RFC3339.fullmatch(value)
    if match is None:
        raise ValueError("not an RFC 3339 date-time (e.g. 2025-01-01T00:00:00Z)")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction = int(((match[7] or "") + "000000")[:6])
    if second == 60:
        second, fraction = 59, 999_999
    offset = match[8]
    if offset in ("Z", "z"):
        tz = dt.UTC
    else:
        sign = -1 if offset[0] == "-" else 1
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            raise ValueError("not an RFC 3339 date-time: bad offset")
        tz = dt.timezone(sign * dt.timedelta(hours=hours, minutes=minutes))
    try:
        return dt.datetime(year, month, day, hour, minute, second, fraction, tzinfo=tz)
    except ValueError:
        raise ValueError("not an RFC 3339 date-time: no such date or time") from None


def _structure_datetime(value: Any, _: Any) -> dt.datetime:
    if not isinstance(value, str):
        raise TypeError(f"expected a date-time string, got {_json_type(value)}")
    return parse_datetime(value)


def _structure_object(value: Any, _: Any) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise TypeError(f"expected an object, got {_json_type(value)}")
    return value


def _is_object(t: Any) -> bool:
    return get_origin(t) in (dict, Mapping) and get_args(t)[1:] == (Any,)


def _renames(cls: type) -> dict[str, Any]:
    return {a.name: override(rename=camel(a.name)) for a in attrs.fields(cls)}


def _is_list(t: Any) -> bool:
    return get_origin(t) is list


def _list_hook_factory(conv: cattrs.Converter) -> Any:
    def factory(t: Any) -> Any:
        item_type = get_args(t)[0]
        item_hook = conv.get_structure_hook(item_type)

        def hook(value: Any, _: Any) -> list[Any]:
            if not isinstance(value, list):
                raise TypeError(f"expected an array, got {_json_type(value)}")
            items: list[Any] = []
            for index, item in enumerate(value):
                try:
                    items.append(item_hook(item, item_type))
                except Exception as exc:
                    note = IterableValidationNote(f"@ index {index}", index, item_type)
                    exc.__notes__ = [*getattr(exc, "__notes__", []), note]
                    raise IterableValidationError("in an array", [exc], t) from None
            return items

        return hook

    return factory


def _make_converter() -> cattrs.Converter:
    conv = cattrs.Converter(forbid_extra_keys=True)
    conv.register_structure_hook(str, _strict(str, "a string"))
    conv.register_structure_hook(int, _strict(int, "an integer"))
    conv.register_structure_hook(float, _strict(float, "a number"))
    conv.register_structure_hook(bool, _strict(bool, "a boolean"))
    conv.register_structure_hook(dt.datetime, _structure_datetime)
    conv.register_unstructure_hook(dt.datetime, lambda d: d.isoformat())
    conv.register_structure_hook_func(_is_object, _structure_object)
    conv.register_structure_hook_factory(_is_list, _list_hook_factory(conv))

    def structure_factory(cls: type) -> Any:
        renames = _renames(cls)
        return make_dict_structure_fn(cls, conv, _cattrs_forbid_extra_keys=True, **renames)

    def unstructure_factory(cls: type) -> Any:
        renames = _renames(cls)
        return make_dict_unstructure_fn(cls, conv, **renames)

    conv.register_structure_hook_factory(attrs.has, structure_factory)
    conv.register_unstructure_hook_factory(attrs.has, unstructure_factory)
    return conv


converter = _make_converter()


def unstructure(value: Any) -> Any:
    return converter.unstructure(value)


def structure(data: Any, cls: type[T]) -> T:
    """``data`` (parsed JSON) as a ``cls``, or ``InvalidBody`` naming the first bad field."""
    if not isinstance(data, dict):
        raise InvalidBody(f"the body must be a JSON object, got {_json_type(data)}", field="")
    try:
        value = converter.structure(data, cls)
    except Exception as exc:
        path, message = _first_problem(exc, [])
        raise InvalidBody(message, field=".".join(path)) from None
    _check(value, [])
    return value


def _first_problem(exc: BaseException, path: list[str]) -> tuple[list[str], str]:
    if isinstance(exc, ForbiddenExtraKeysError):
        extra = sorted(exc.extra_fields)
        return [*path, extra[0]], f"unknown field {extra[0]!r}"
    if isinstance(exc, (ClassValidationError, IterableValidationError)):
        with_notes, without = exc.group_exceptions()
        for sub, note in with_notes:
            if isinstance(note, AttributeValidationNote):
                step = camel(note.name)
                if isinstance(sub, KeyError):
                    return [*path, step], "this field is required"
                return _first_problem(sub, [*path, step])
            if isinstance(note, IterableValidationNote):
                return _first_problem(sub, [*path, str(note.index)])
        if without:
            return _first_problem(without[0], path)
    return path, str(exc) or type(exc).__name__


def _check(value: Any, path: list[str]) -> None:
    """The constraints of ``spec`` fields, recursively."""
    if isinstance(value, list):
        for index, item in enumerate(value):
            _check(item, [*path, str(index)])
        return
    if not attrs.has(type(value)):
        return
    for name, wire, meta in _fields(type(value)):
        item = getattr(value, name)
        if item is None:
            continue
        if meta:
            problem = _violation(item, meta)
            if problem is not None:
                raise InvalidBody(problem, field=".".join([*path, wire]), code=meta.get("x-code"))
        if isinstance(item, list) or attrs.has(type(item)):
            _check(item, [*path, wire])


_FieldPlan = tuple[tuple[str, str, Mapping[str, Any]], ...]
_field_plans: dict[type, _FieldPlan] = {}


def _fields(cls: type) -> _FieldPlan:
    """(attribute, wire name, constraints) of each field: worked out once per class, not once
    per request."""
    plan = _field_plans.get(cls)
    if plan is None:
        plan = _field_plans[cls] = tuple(
            (f.name, camel(f.name), f.metadata.get("api", {})) for f in attrs.fields(cls)
        )
    return plan


def _violation(value: Any, meta: Mapping[str, Any]) -> str | None:
    if isinstance(value, str):
        if "enum" in meta and value not in meta["enum"]:
            return f"must be one of {', '.join(meta['enum'])}"
        if "minLength" in meta and len(value) < meta["minLength"]:
            return f"must be at least {meta['minLength']} characters"
        if "maxLength" in meta and len(value) > meta["maxLength"]:
            return f"must be at most {meta['maxLength']} characters"
        if "pattern" in meta and re.search(meta["pattern"], value) is None:
            return f"must match {meta['pattern']}"
    if isinstance(value, int | float):
        if "minimum" in meta and value < meta["minimum"]:
            return f"must be at least {meta['minimum']}"
        if "exclusiveMinimum" in meta and value <= meta["exclusiveMinimum"]:
            return f"must be greater than {meta['exclusiveMinimum']}"
        if "maximum" in meta and value > meta["maximum"]:
            return f"must be at most {meta['maximum']}"
    if isinstance(value, list) and "minLength" in meta and len(value) < meta["minLength"]:
        return f"must have at least {meta['minLength']} items"
    return None


# -- JSON Schema ------------------------------------------------------------------------------


def json_schema(cls: type, components: dict[str, Any]) -> dict[str, Any]:
    """A ``$ref`` to ``cls`` in ``components`` (added, with its nested classes, if missing)."""
    name = cls.__name__
    if name not in components:
        components[name] = {}  # placeholder first: recursive classes terminate
        hints = typing.get_type_hints(cls)
        properties: dict[str, Any] = {}
        required: list[str] = []
        for field in attrs.fields(cls):
            meta = dict(field.metadata.get("api", {}))
            meta.pop("x-code", None)
            prop = _type_schema(hints[field.name], components)
            if "minLength" in meta and prop.get("type") == "array":
                prop["minItems"] = meta.pop("minLength")
            prop.update(meta)
            if "enum" in prop and isinstance(prop.get("type"), list):
                prop["enum"] = [*prop["enum"], None]  # the field may be null
            properties[camel(field.name)] = prop
            if field.default is attrs.NOTHING:
                required.append(camel(field.name))
        schema: dict[str, Any] = {
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
        }
        if required:
            schema["required"] = required
        schema.update(getattr(cls, "__api_schema__", {}))
        doc = (cls.__doc__ or "").strip()
        if doc:
            schema["description"] = doc
        components[name] = schema
    return {"$ref": f"#/components/schemas/{name}"}


def _type_schema(t: Any, components: dict[str, Any]) -> dict[str, Any]:
    origin = get_origin(t)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in get_args(t) if a is not type(None)]
        inner = _type_schema(args[0], components)
        if "$ref" in inner:
            return {"anyOf": [inner, {"type": "null"}]}
        return {**inner, "type": [inner["type"], "null"]}
    if origin is list:
        return {"type": "array", "items": _type_schema(get_args(t)[0], components)}
    if _is_object(t):
        return {"type": "object"}
    if attrs.has(t):
        return json_schema(t, components)
    simple = {
        str: {"type": "string"},
        int: {"type": "integer"},
        float: {"type": "number"},
        bool: {"type": "boolean"},
        dt.datetime: {"type": "string", "format": "date-time"},
    }
    return dict(simple[t])
