"""The station's Basic-auth password as SetVariables carries it
(``SecurityCtrlr.BasicAuthPassword``, A01): which entries set it, whether the station accepted
it, and the payload with it masked (A01.FR.09: it never reaches a log line, an event, the
command audit or a REST answer)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["COMPONENT", "MASK", "VARIABLE", "accepted", "entries", "masked", "names_password"]

COMPONENT = "SecurityCtrlr"
VARIABLE = "BasicAuthPassword"
MASK = "***"


def names_password(entry: Any) -> bool:
    """Whether a SetVariables entry (or result) is about the BasicAuthPassword."""
    if not isinstance(entry, Mapping):
        return False
    component, variable = entry.get("component"), entry.get("variable")
    return (
        isinstance(component, Mapping)
        and isinstance(variable, Mapping)
        and component.get("name") == COMPONENT
        and variable.get("name") == VARIABLE
    )


def entries(action: str, payload: Mapping[str, Any]) -> list[Any]:
    """The ``setVariableData`` entries of a SetVariables payload (none for other actions)."""
    if action != "SetVariables":
        return []
    data = payload.get("setVariableData")
    return data if isinstance(data, list) else []


def masked(action: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """``payload`` with the value of every BasicAuthPassword entry replaced by ``***``."""
    found = entries(action, payload)
    if not any(names_password(entry) for entry in found):
        return payload
    return {
        **payload,
        "setVariableData": [
            {**entry, "attributeValue": MASK} if names_password(entry) else entry for entry in found
        ],
    }


def accepted(response: Mapping[str, Any]) -> bool:
    """Whether a SetVariables answer accepts the BasicAuthPassword entry."""
    results = response.get("setVariableResult")
    return isinstance(results, list) and any(
        names_password(result) and result.get("attributeStatus") == "Accepted" for result in results
    )
