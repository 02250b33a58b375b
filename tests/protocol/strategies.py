"""Hypothesis strategies that produce payloads from the official JSON schemas.

hypothesis-jsonschema 0.23 cannot draw objects with the installed Hypothesis (it relies on the
removed `many.more()` internal), so this small builder covers exactly the keywords the OCPP
schemas use, and fails loudly on any other keyword so a schema change cannot go unnoticed.
"""

from __future__ import annotations

import datetime
from typing import Any

from hypothesis import strategies as st

_KNOWN = {
    "$schema", "$id", "$ref", "comment", "description", "javaType", "definitions", "type",
    "properties", "required", "additionalProperties", "enum", "maxLength", "minimum", "maximum",
    "items", "minItems", "maxItems", "additionalItems", "format", "default", "title",
}  # fmt: skip

JSON_LEAVES = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**53), max_value=2**53)
    | st.floats(allow_nan=False, allow_infinity=False, width=64)
    | st.text(max_size=8)
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3)
    ),
    max_leaves=6,
)

_OFFSETS = st.sampled_from([0, 60, -180, 330, 720, -690])


@st.composite
def rfc3339(draw: st.DrawFn) -> str:
    """An RFC 3339 date-time with an offset, written the way the converter writes it."""
    minutes = draw(_OFFSETS)
    zone = datetime.timezone(datetime.timedelta(minutes=minutes))
    naive = draw(
        st.datetimes(
            min_value=datetime.datetime(1971, 1, 1), max_value=datetime.datetime(2099, 12, 31)
        )
    )
    text = naive.replace(tzinfo=zone).isoformat()
    return text[:-6] + "Z" if text.endswith("+00:00") else text


def from_schema(schema: dict[str, Any], max_items: int = 2) -> st.SearchStrategy[Any]:
    definitions = schema.get("definitions", {})

    def build(node: dict[str, Any]) -> st.SearchStrategy[Any]:
        unknown = set(node) - _KNOWN
        if unknown:
            raise AssertionError(f"schema keyword(s) not covered: {sorted(unknown)}")
        if "$ref" in node:
            return build(definitions[node["$ref"].rsplit("/", 1)[-1]])
        kind = node.get("type")
        if "enum" in node:
            return st.sampled_from(node["enum"])
        if kind is None:
            return JSON_VALUES
        if kind == "string":
            if node.get("format") == "date-time":
                return rfc3339()
            return st.text(max_size=min(node.get("maxLength", 20), 20))
        if kind == "integer":
            low = int(node["minimum"]) if "minimum" in node else -(2**31)
            high = int(node["maximum"]) if "maximum" in node else 2**31
            return st.integers(min_value=low, max_value=high)
        if kind == "number":
            return st.floats(
                min_value=node.get("minimum"),
                max_value=node.get("maximum"),
                allow_nan=False,
                allow_infinity=False,
            )
        if kind == "boolean":
            return st.booleans()
        if kind == "array":
            low = node.get("minItems", 0)
            high = max(low, min(node.get("maxItems", max_items), max_items))
            return st.lists(build(node["items"]), min_size=low, max_size=high)
        if kind == "object":
            return build_object(node)
        raise AssertionError(f"type not covered: {kind}")

    def build_object(node: dict[str, Any]) -> st.SearchStrategy[dict[str, Any]]:
        props = node.get("properties", {})
        required = {k: build(v) for k, v in props.items() if k in node.get("required", [])}
        optional = {k: build(v) for k, v in props.items() if k not in required}
        base = st.fixed_dictionaries(required, optional=optional)
        if node.get("additionalProperties") is not False:  # CustomDataType (Part 4 section 9)
            extra = st.dictionaries(
                st.text(min_size=1, max_size=6).filter(lambda k: k not in props),
                JSON_VALUES,
                max_size=2,
            )
            return st.builds(lambda b, e: {**e, **b}, base, extra)
        return base

    return build(schema)
