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

from csms.services.basic_auth import COMPONENT, VARIABLE, accepted, entries, masked, names_password
from csms.storage import stations
from csms.transport import MAX_PASSWORD_LENGTH, hash_password, is_strong_password

from ._commands import CommandError, InvalidCommand

if TYPE_CHECKING:
    from ._actor import StationActor

__all__ = [
    "COMPONENT",
    "VARIABLE",
    "PasswordNotStored",
    "accepted",
    "adopt",
    "masked",
    "new_password",
]

log = logging.getLogger("csms.station")


class PasswordNotStored(CommandError):
    """The station accepted a new password but the CSMS could not store it."""

    code = "password_not_stored"


def new_password(action: str, payload: Mapping[str, Any]) -> str | None:
    """The password ``payload`` sets; raises InvalidCommand naming the field if it is weak or
    set twice."""
    found: str | None = None
    for index, entry in enumerate(entries(action, payload)):
        if not names_password(entry):
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


async def adopt(st: StationActor, password: str, command_id: str) -> None:
    """Store ``password`` as the station's (it accepted it); committed when this returns."""
    try:
        await st.services.database.run(
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
