"""The EVCCIDs 2.1 stations send with an EV's id token (Q01.FR.02: ``idToken.additionalInfo``
of type ``EVCCID``), as Authorize brings them, so that the EV's capability is stored per EV
(``v2g_capabilities.ev_id``) when its needs come."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final

__all__ = ["EvccIds"]

#: Tokens remembered at most (the oldest go first): a station's EVs come and go.
_SIZE: Final = 10_000


class EvccIds:
    __slots__ = ("_known",)

    def __init__(self) -> None:
        self._known: dict[tuple[str, str], str] = {}

    def __len__(self) -> int:
        return len(self._known)

    def note(self, station_id: str, id_token: Mapping[str, Any]) -> None:
        """Remember the EVCCID in an idToken (wire JSON), if it carries one."""
        token = id_token.get("idToken")
        for info in id_token.get("additionalInfo") or ():
            if info.get("type") == "EVCCID" and info.get("additionalIdToken") and token:
                key = (station_id, token)
                self._known.pop(key, None)  # the latest goes last: the oldest are dropped
                self._known[key] = info["additionalIdToken"]
                if len(self._known) > _SIZE:
                    del self._known[next(iter(self._known))]
                return

    def of(self, station_id: str, id_token: str | None) -> str | None:
        return None if id_token is None else self._known.get((station_id, id_token))

    def forget_station(self, station_id: str) -> None:
        for key in [k for k in self._known if k[0] == station_id]:
            del self._known[key]
