"""cattrs converters between wire JSON and the generated attrs message classes.

Wire conventions (Part 4 section 4.1.5 and the schemas):

- field names are camelCase on the wire, snake_case in Python (irregular ones such as
  `limit_L2` come from the field's `wire` metadata written by the generator);
- optional fields are omitted, never sent as `null`; an absent field structures to `None`;
- `date-time` fields become timezone-aware `datetime.datetime` objects; on the way out they are
  written in ISO 8601 with `Z` for UTC and `+hh:mm` otherwise; a naive datetime is refused
  (`ValueError`) because the schemas require an offset;
- enums are `enum.StrEnum` members structured by value and written as their value;
- arrays are tuples in Python and lists in the unstructured output;
- `CustomData` keeps `vendorId` plus every vendor property (Part 4 section 9) in `extra`;
- `DataTransfer.data` is any JSON value and passes through unchanged.

Structuring trusts its input to be schema-valid (the validator runs first), so the hooks do no
checking of their own. Hooks are built per class on first use and cached by the cattrs
converter: unstructure hooks with `cattrs.gen.make_dict_unstructure_fn` (renames, omit-if-None),
structure hooks with a small code generator here (see `_Hooks.make_structure` for why).
"""

from __future__ import annotations

import datetime
import enum
import functools
import types
import typing
from collections.abc import Callable
from typing import Any, TypeVar

import attrs
import cattrs
from cattrs.fns import identity
from cattrs.gen import make_dict_unstructure_fn, override

from ._catalog import Direction, Version, catalog
from ._validation import parse_datetime, validate_payload

__all__ = ["converter", "structure_payload", "unstructure_payload", "wire_name"]

T = TypeVar("T")
StructureHook = Callable[[Any, Any], Any]
UnstructureHook = Callable[[Any], Any]


def wire_name(field: attrs.Attribute[Any]) -> str:
    """The JSON property name of a generated field."""
    explicit: str | None = field.metadata.get("wire")
    if explicit is not None:
        return explicit
    head, *rest = field.name.rstrip("_").split("_")
    return head + "".join(part[:1].upper() + part[1:] for part in rest)


def format_datetime(value: datetime.datetime) -> str:
    if value.tzinfo is None:
        raise ValueError(f"naive datetime {value.isoformat()} has no offset; OCPP requires one")
    text = value.isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def _optional_inner(annotation: Any) -> Any:
    if isinstance(annotation, types.UnionType):
        args = [a for a in typing.get_args(annotation) if a is not type(None)]
        return args[0]
    return annotation


class _Hooks:
    """Builds the per-class hooks of one version's converter."""

    def __init__(self, conv: cattrs.Converter, custom_data: type[Any]) -> None:
        self.conv = conv
        self.custom_data = custom_data

    def structure_expr(self, annotation: Any, var: str, env: dict[str, Any]) -> str:
        """A Python expression structuring the (schema-valid) JSON value held in `var`."""
        if annotation in (str, bool) or annotation is Any:
            return var
        if annotation is int:
            return f"int({var})"
        if annotation is float:
            return f"float({var})"
        if annotation is datetime.datetime:
            env["parse_datetime"] = parse_datetime
            return f"parse_datetime({var})"
        name = f"h{len(env)}"
        if isinstance(annotation, type) and issubclass(annotation, enum.Enum):
            env[name] = annotation._value2member_map_
            return f"{name}[{var}]"
        if typing.get_origin(annotation) is tuple:
            element = self.structure_expr(typing.get_args(annotation)[0], "e", env)
            return f"tuple({var})" if element == "e" else f"tuple([{element} for e in {var}])"
        env[name] = self.conv.get_structure_hook(annotation)
        return f"{name}({var}, None)"

    def unstructure_field(self, annotation: Any) -> UnstructureHook:
        if annotation in (str, bool, int, float) or annotation is Any:
            return identity
        if isinstance(annotation, type) and issubclass(annotation, enum.StrEnum):
            return identity  # a str subclass; orjson writes it as its value
        if annotation is datetime.datetime:
            return format_datetime
        if typing.get_origin(annotation) is tuple:
            element = self.unstructure_field(typing.get_args(annotation)[0])
            if element is identity:
                return list
            return lambda value: [element(item) for item in value]
        hook: UnstructureHook = self.conv.get_unstructure_hook(annotation)
        return hook

    def make_structure(self, cls: type[Any]) -> StructureHook:
        """Generate `structure_<Class>(o, _)`.

        Unlike `cattrs.gen.make_dict_structure_fn`, the generated function fills the slots of a
        new instance directly instead of calling the frozen attrs `__init__` with keyword
        arguments: the generated classes have no validators, converters or post-init hooks, and
        this halves the cost of structuring a MeterValues request (see the protocol benchmark).
        """
        if cls is self.custom_data:
            return self.structure_custom_data
        env: dict[str, Any] = {"new": object.__new__, "cls": cls}
        lines = [f"def structure_{cls.__name__}(o, _=None):", "    self = new(cls)"]
        for index, field in enumerate(attrs.fields(cls)):
            env[f"set{index}"] = getattr(cls, field.name).__set__  # the slot, past frozen
            wire = wire_name(field)
            annotation = _optional_inner(field.type)
            if field.default is attrs.NOTHING:
                value = self.structure_expr(annotation, "x", env)
                lines += [f"    x = o[{wire!r}]", f"    set{index}(self, {value})"]
            else:
                value = self.structure_expr(annotation, "x", env)
                lines.append(f"    x = o.get({wire!r})")
                if value != "x":
                    lines.append(f"    if x is not None: x = {value}")
                lines.append(f"    set{index}(self, x)")
        lines.append("    return self")
        source = "\n".join(lines) + "\n"
        exec(compile(source, f"<structure {cls.__qualname__}>", "exec"), env)
        hook: StructureHook = env[f"structure_{cls.__name__}"]
        return hook

    def make_unstructure(self, cls: type[Any]) -> UnstructureHook:
        if cls is self.custom_data:
            return self.unstructure_custom_data
        overrides: dict[str, Any] = {
            f.name: override(
                rename=wire_name(f), unstruct_hook=self.unstructure_field(_optional_inner(f.type))
            )
            for f in attrs.fields(cls)
        }
        return make_dict_unstructure_fn(cls, self.conv, _cattrs_omit_if_default=True, **overrides)

    def structure_custom_data(self, value: dict[str, Any], _: Any) -> Any:
        extra = {k: v for k, v in value.items() if k != "vendorId"}
        return self.custom_data(vendor_id=value["vendorId"], extra=extra)

    @staticmethod
    def unstructure_custom_data(value: Any) -> dict[str, Any]:
        return {**value.extra, "vendorId": value.vendor_id}


@functools.cache
def converter(version: Version) -> cattrs.Converter:
    """The converter for the message classes of `version` (hooks are built lazily per class)."""
    conv = cattrs.Converter()
    hooks = _Hooks(conv, catalog(version).module.CustomData)
    conv.register_structure_hook_factory(attrs.has, hooks.make_structure)
    conv.register_unstructure_hook_factory(attrs.has, hooks.make_unstructure)
    return conv


def structure_payload(
    version: Version, action: str, direction: Direction, payload: Any, *, validate: bool = True
) -> Any:
    """Validate (unless told not to) and structure a parsed payload into its message class.

    Raises `PayloadError` when the payload does not match the schema and KeyError when the
    version does not define `action`.
    """
    cls = catalog(version).message_class(action, direction)
    if validate:
        validate_payload(version, action, direction, payload)
    return converter(version).structure(payload, cls)


def unstructure_payload(version: Version, message: Any, *, validate: bool = False) -> Any:
    """The wire JSON (dict) of a message object; optionally checked against its schema."""
    payload = converter(version).unstructure(message)
    if validate:
        cat = catalog(version)
        cls = type(message)
        for direction, lookup in (
            (Direction.REQUEST, cat.request_action),
            (Direction.RESPONSE, cat.response_action),
            (Direction.SEND, cat.send_action),
        ):
            if cls in lookup:
                validate_payload(version, lookup[cls], direction, payload)
                break
        else:
            raise TypeError(f"{cls.__name__} is not a {version.value} message class")
    return payload
