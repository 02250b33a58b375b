"""OCPP versions and what each one defines: actions, their message classes and their schemas."""

from __future__ import annotations

import enum
import functools
import json
from collections.abc import Mapping
from importlib import resources
from types import ModuleType
from typing import Any, Final

import attrs

from ._generated import v21 as _v21
from ._generated import v201 as _v201

__all__ = ["Direction", "Version", "catalog"]


class Version(enum.Enum):
    """An OCPP-J version; the value is its WebSocket subprotocol (Part 4 section 3.1.2)."""

    V201 = "ocpp2.0.1"
    V21 = "ocpp2.1"

    @property
    def subprotocol(self) -> str:
        return self.value

    @classmethod
    def from_subprotocol(cls, name: str) -> Version:
        return cls(name)


class Direction(enum.Enum):
    """Which schema of an action applies: the CALL payload, the CALLRESULT payload, or SEND."""

    REQUEST = "Request"
    RESPONSE = "Response"
    SEND = ""


@attrs.frozen
class Catalog:
    """Everything one version defines, with reverse lookups from class to action."""

    version: Version
    schema_folder: str
    actions: Mapping[str, tuple[type[Any], type[Any]]]
    send_actions: Mapping[str, type[Any]]
    module: ModuleType
    request_action: Mapping[type[Any], str] = attrs.field(init=False)
    response_action: Mapping[type[Any], str] = attrs.field(init=False)
    send_action: Mapping[type[Any], str] = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        set_ = object.__setattr__  # frozen: derived lookups are filled in once here
        set_(self, "request_action", {req: a for a, (req, _) in self.actions.items()})
        set_(self, "response_action", {res: a for a, (_, res) in self.actions.items()})
        set_(self, "send_action", {cls: a for a, cls in self.send_actions.items()})

    def message_class(self, action: str, direction: Direction) -> type[Any]:
        if direction is Direction.SEND:
            return self.send_actions[action]
        request, response = self.actions[action]
        return request if direction is Direction.REQUEST else response

    def schema(self, action: str, direction: Direction) -> dict[str, Any]:
        return _load_schema(self.schema_folder, action + direction.value)


_CATALOGS: Final = {
    Version.V201: Catalog(Version.V201, "v201", _v201.ACTIONS, _v201.SEND_ACTIONS, _v201),
    Version.V21: Catalog(Version.V21, "v21", _v21.ACTIONS, _v21.SEND_ACTIONS, _v21),
}


def catalog(version: Version) -> Catalog:
    return _CATALOGS[version]


@functools.cache
def _load_schema(folder: str, name: str) -> dict[str, Any]:
    """The official schema as shipped in the `ocpp` package (the generator reads the same files)."""
    text = (resources.files("ocpp") / folder / "schemas" / f"{name}.json").read_text("utf-8")
    schema: dict[str, Any] = json.loads(text)
    return schema
