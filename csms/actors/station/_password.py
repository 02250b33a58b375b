"""The station's Basic-auth password set through SetVariables ``SecurityCtrlr.BasicAuthPassword``
(A01), whichever way the SetVariables came (the REST variables endpoint, the generic one).

- Before sending: the new password must be a passwordString of 16 to 40 characters, the rule the
  listener applies, so a station is never asked to adopt a password the CSMS would then refuse;
  one request sets it at most once (otherwise its answer would be ambiguous).
- The station answers Accepted for it (A01.FR.03): its stored hash becomes the new password's,
  before the command's answer is returned, so its next connection must use the new one. Any
  other status changes nothing (A01.FR.04). The listener reads the hash on every connection
  attempt (it caches no credentials), so nothing else needs to be told.
- The password never reaches a log line, an event or the command audit (A01.FR.09): the
  audited payload carries ``***`` in its place.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from csms.storage import stations
from csms.transport import MAX_PASSWORD_LENGTH, hash_password, is_strong_password

from ._commands import CommandError, InvalidCommand

if TYPE_CHECKING:
    from ._actor import StationActor

log = logging.getLogger("csms.station")

COMPONENT = "SecurityCtrlr"
VARIABLE = "BasicAuthPassword"
MASK = "***"


class PasswordNotStored(CommandError):
    """The station accepted a new password but the CSMS could not store it."""

    code = "password_not_stored"


def _names_password(entry: Any) -> bool:
    if not isinstance(entry, Mapping):
        return False
    component, variable = entry.get("component"), entry.get("variable")
    return (
        isinstance(component, Mapping)
        and isinstance(variable, Mapping)
        and component.get("name") == COMPONENT
        and variable.get("name") == VARIABLE
    )


def _entries(action: str, payload: Mapping[str, Any]) -> list[Any]:
    if action != "SetVariables":
        return []
    data = payload.get("setVariableData")
    return data if isinstance(data, list) else []


def new_password(action: str, payload: Mapping[str, Any]) -> str | None:
    """The password ``payload`` sets; raises InvalidCommand naming the field if it is weak or
    set twice."""
    found: str | None = None
    for index, entry in enumerate(_entries(action, payload)):
        if not _names_password(entry):
            continue
        field = f"setVariableData[{index}].attributeValue"
        if found is not None:
            raise InvalidCommand(
                f"{COMPONENT}.{VARIABLE} is set more than once in one request", field=field
            )
        value = entry.get("attributeValue")
        if not isinstance(value, str) or not is_strong_password(value):
            raise InvalidCommand(
                f"{COMPONENT}.{VARIABLE} must have 16 to {MAX_PASSWORD_LENGTH} characters: "
                "letters, digits and * - _ = : + | @ .",
                field=field,
            )
        found = value
    return found


def masked(action: str, payload: Mapping[str, Any]) -> Mapping[str, Any]:
    """``payload`` with the value of every BasicAuthPassword entry replaced by ``***``."""
    entries = _entries(action, payload)
    if not any(_names_password(entry) for entry in entries):
        return payload
    return {
        **payload,
        "setVariableData": [
            {**entry, "attributeValue": MASK} if _names_password(entry) else entry
            for entry in entries
        ],
    }


def accepted(response: Mapping[str, Any]) -> bool:
    """Whether a SetVariables answer accepts the BasicAuthPassword entry."""
    results = response.get("setVariableResult")
    return isinstance(results, list) and any(
        _names_password(result) and result.get("attributeStatus") == "Accepted"
        for result in results
    )


async def adopt(st: StationActor, password: str, command_id: str) -> None:
    """Store ``password`` as the station's (it accepted it); committed when this returns."""
    try:
        await st.services.reads.run(
            stations.set_password_hash, st.station_id, hash_password(password)
        )
    except Exception as exc:
        log.error(
            "the station accepted a new BasicAuthPassword that could not be stored; it cannot "
            "connect again until its password is set once more",
            extra={"station": st.station_id, "command_id": command_id, "error": type(exc).__name__},
        )
        raise PasswordNotStored(
            f"{st.station_id} accepted the new password but the CSMS could not store it",
            command_id=command_id,
        ) from None
    log.info(
        "station password changed (BasicAuthPassword accepted)",
        extra={"station": st.station_id, "command_id": command_id},
    )
