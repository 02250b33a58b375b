"""The wire fuzzer's frames, pure and seeded: each with what OCPP-J Part 4 (and RFC 6455) make
the CSMS do with it.

Expectations:
- ``reply``: a CALL whose id the CSMS can read: a CALLRESULT or CALLERROR with that id;
- ``callerror``: a frame that is no readable CALL: a CALLERROR (id ``-1`` when unreadable);
- ``answered``: either (deep nesting: parsed, or refused as unreadable, by the JSON parser);
- ``any``: a CALLRESULT/CALLERROR/SEND from the station: nothing is owed;
- ``close:<code>``: the WebSocket is closed with that code (1003 binary, 1007 bad UTF-8, 1009
  too big).
"""

from __future__ import annotations

import functools
import json
import random
from collections.abc import Callable
from typing import Any, Final

import attrs

from csms.protocol import Direction, Version
from csms.protocol._catalog import catalog

__all__ = ["KINDS", "Frame", "FrameMaker", "valid_payload"]

#: An opcode of the WebSocket: 1 text, 2 binary (0 continuation, for fragments).
TEXT: Final = 1
BINARY: Final = 2


@attrs.frozen
class Frame:
    kind: str
    #: (opcode, fin, payload) per WebSocket frame: several for a fragmented message
    parts: tuple[tuple[int, bool, bytes], ...]
    expect: str
    message_id: str | None = None


def _text(kind: str, text: bytes, expect: str, message_id: str | None = None) -> Frame:
    return Frame(kind, ((TEXT, True, text),), expect, message_id)


@functools.cache
def _actions() -> tuple[str, ...]:
    return tuple(sorted(catalog(Version.V201).actions))


def valid_payload(action: str) -> dict[str, Any]:
    """A payload with every required field of the action's request schema (first enum value,
    placeholder strings and numbers): valid, or close to it, for the mutations to start from."""
    schema = catalog(Version.V201).schema(action, Direction.REQUEST)
    out = _instance(schema, schema, 0)
    return out if isinstance(out, dict) else {}


def _instance(node: dict[str, Any], root: dict[str, Any], depth: int) -> Any:
    if "$ref" in node:
        node = root["definitions"][node["$ref"].rsplit("/", 1)[1]]
    if "enum" in node:
        return node["enum"][0]
    kind = node.get("type")
    if kind == "object" or "properties" in node:
        props = node.get("properties", {})
        return {
            key: _instance(props[key], root, depth + 1)
            for key in node.get("required", ())
            if key in props and depth < 8
        }
    if kind == "array":
        return [_instance(node.get("items", {}), root, depth + 1)] * max(node.get("minItems", 1), 1)
    if kind == "integer":
        return max(int(node.get("minimum", 1)), 1)
    if kind == "number":
        return 1.5
    if kind == "boolean":
        return True
    if node.get("format") == "date-time":
        return "2026-12-01T00:00:00Z"
    return "x" * max(int(node.get("minLength", 1)), 1)


_JUNK: Final[tuple[Any, ...]] = (
    None, -1, 0, 10**40, -(10**40), 1e308, -1e-308, "", "x" * 5000, "\u202e\u0000\ud7ff", [],
    {}, [[[]]], {"a": {"b": {"c": None}}}, True, 3.14159, "2026-13-45T99:99:99Z",
)  # fmt: skip


class FrameMaker:
    """Frames of every kind, from one seed (the same seed, the same frames)."""

    def __init__(self, seed: int, *, max_message_size: int) -> None:
        self.rng = random.Random(seed)
        self.max_message_size = max_message_size
        self.count = 0

    def next_id(self) -> str:
        self.count += 1
        return f"f{self.count}"

    def make(self) -> Frame:
        kind = self.rng.choices(KIND_NAMES, weights=KIND_WEIGHTS)[0]
        return KINDS[kind][1](self)

    # --- the kinds ------------------------------------------------------------------------

    def mutated(self) -> Frame:
        action = self.rng.choice(_actions())
        payload: Any = valid_payload(action)
        for _ in range(self.rng.randint(0, 3)):
            payload = self._mutate(payload)
        mid = self.next_id()
        text = _dumps([2, mid, action, payload])
        # repeated lists of long junk can outgrow the listener's limit: then 1009 is the answer
        expect = "close:1009" if len(text) > self.max_message_size else "reply"
        return _text("mutated", text, expect, mid)

    def _mutate(self, value: Any) -> Any:
        rng = self.rng
        if isinstance(value, dict) and value and rng.random() < 0.7:
            key = rng.choice(sorted(value))
            choice = rng.random()
            out = dict(value)
            if choice < 0.3:
                del out[key]
            elif choice < 0.5:
                out[f"unknown{rng.randint(0, 9)}"] = rng.choice(_JUNK)
            else:
                out[key] = self._mutate(out[key]) if rng.random() < 0.5 else rng.choice(_JUNK)
            return out
        if isinstance(value, list) and value and rng.random() < 0.5:
            return [self._mutate(value[0]), *value[1:]] * rng.randint(0, 3)
        return rng.choice(_JUNK)

    def random_text(self) -> Frame:
        raw = bytes(self.rng.getrandbits(8) for _ in range(self.rng.randint(0, 300)))
        return _text("random_text", raw.decode("latin-1").encode(), "callerror")

    def shapes(self) -> Frame:
        mid = self.next_id()
        text, expect = self.rng.choice(
            (
                (b"[]", "callerror"),
                (b"[2]", "callerror"),
                (b'{"a": 1}', "callerror"),
                (b'"a string"', "callerror"),
                (b"null", "callerror"),
                (f'[9, "{mid}", "Heartbeat", {{}}]'.encode(), "callerror"),
                (b'[2, 5, "Heartbeat", {}]', "callerror"),
                (f'[2, "{mid}", "Heartbeat", []]'.encode(), "reply"),
                (f'[2, "{mid}", "Heartbeat"]'.encode(), "callerror"),
                (f'[2, "{mid}", 7, {{}}]'.encode(), "callerror"),
                (f'[2, "{mid}", "NoSuchAction", {{}}]'.encode(), "reply"),
                (f'[3, "{mid}", {{}}]'.encode(), "any"),
                (f'[4, "{mid}", "GenericError", "", {{}}]'.encode(), "any"),
                (f'[6, "{mid}", "Heartbeat", {{}}]'.encode(), "any"),
                (f'[2, "{mid}", "Heartbeat", {{}}, "extra"]'.encode(), "callerror"),
            )
        )
        return _text("shape", text, expect, mid if expect == "reply" else None)

    def long_id(self) -> Frame:
        mid = "i" * self.rng.randint(37, 4000)
        return _text("long_id", _dumps([2, mid, "Heartbeat", {}]), "callerror")

    def deep(self) -> Frame:
        depth = self.rng.randint(100, 20000)
        nested = b"[" * depth + b"]" * depth
        mid = self.next_id()
        text = b'[2, "' + mid.encode() + b'", "DataTransfer", {"vendorId": "v", "data": '
        return _text("deep", text + nested + b"}]", "answered", mid)

    def huge_number(self) -> Frame:
        mid = self.next_id()
        number = self.rng.choice(
            (b"1e400", b"-1e400", b"9" * 400, b"1" + b"0" * 5000, b"1.0e-99999", b"NaN")
        )
        text = b'[2, "' + mid.encode() + b'", "Heartbeat", {"n": ' + number + b"}]"
        return _text("huge_number", text, "callerror")

    def fragmented(self) -> Frame:
        mid = self.next_id()
        data = _dumps([2, mid, "Heartbeat", {}])
        count = min(self.rng.randint(1, 6), len(data) - 1)
        cuts = sorted(self.rng.sample(range(1, len(data)), count))
        pieces = [data[a:b] for a, b in zip([0, *cuts], [*cuts, len(data)], strict=True)]
        parts = tuple(
            (TEXT if i == 0 else 0, i == len(pieces) - 1, piece) for i, piece in enumerate(pieces)
        )
        return Frame("fragmented", parts, "reply", mid)

    def bad_utf8(self) -> Frame:
        mid = self.next_id()
        text = b'[2, "' + mid.encode() + b'", "Heartbeat", {"x": "\xc3\x28\xff"}]'
        return _text("bad_utf8", text, "close:1007")

    def binary(self) -> Frame:
        data = _dumps([2, self.next_id(), "Heartbeat", {}])
        return Frame("binary", ((BINARY, True, data),), "close:1003")

    def oversized(self) -> Frame:
        mid = self.next_id()
        filler = b"x" * (self.max_message_size + 1)
        text = b'[2, "' + mid.encode() + b'", "DataTransfer", {"vendorId": "' + filler + b'"}]'
        return _text("oversized", text, "close:1009")


def _dumps(value: Any) -> bytes:
    # the standard library, not orjson: the junk includes integers beyond 64 bits
    return json.dumps(value, ensure_ascii=False).encode()


#: kind -> (weight, maker). Frames that close the connection are rare: each costs a reconnect.
KINDS: Final[dict[str, tuple[float, Callable[[FrameMaker], Frame]]]] = {
    "mutated": (40, FrameMaker.mutated),
    "random_text": (12, FrameMaker.random_text),
    "shape": (14, FrameMaker.shapes),
    "long_id": (6, FrameMaker.long_id),
    "deep": (5, FrameMaker.deep),
    "huge_number": (6, FrameMaker.huge_number),
    "fragmented": (12, FrameMaker.fragmented),
    "bad_utf8": (1, FrameMaker.bad_utf8),
    "binary": (1, FrameMaker.binary),
    "oversized": (0.2, FrameMaker.oversized),
}
KIND_NAMES: Final = tuple(KINDS)
KIND_WEIGHTS: Final = tuple(w for w, _ in KINDS.values())
