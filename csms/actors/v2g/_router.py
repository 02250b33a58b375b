"""The discharge sessions' index: which session actors follow which station.

The router hands each station message, disconnect and reconnect to the sessions of that
station, without waiting (a session that cannot take it loses it, counted: its own policy
stops it at the next reading or tick). Stations without a session cost one dict lookup.
"""

from __future__ import annotations

import uuid

from csms.runtime import ActorRef, ActorStopped

__all__ = ["SessionIndex"]


class SessionIndex:
    """Session actors by station and by session id."""

    __slots__ = ("_by_id", "_by_station", "dropped")

    def __init__(self) -> None:
        self._by_station: dict[str, dict[uuid.UUID, ActorRef]] = {}
        self._by_id: dict[uuid.UUID, tuple[str, ActorRef]] = {}
        #: Messages a session could not take (its mailbox full or it stopped).
        self.dropped = 0

    def add(self, session_id: uuid.UUID, station_id: str, ref: ActorRef) -> None:
        self._by_station.setdefault(station_id, {})[session_id] = ref
        self._by_id[session_id] = (station_id, ref)

    def remove(self, session_id: uuid.UUID) -> None:
        entry = self._by_id.pop(session_id, None)
        if entry is None:
            return
        station_id, _ = entry
        sessions = self._by_station.get(station_id)
        if sessions is not None:
            sessions.pop(session_id, None)
            if not sessions:
                del self._by_station[station_id]

    def get(self, session_id: uuid.UUID) -> ActorRef | None:
        entry = self._by_id.get(session_id)
        if entry is None:
            return None
        if not entry[1].alive:
            self.remove(session_id)
            return None
        return entry[1]

    def take_station(self, station_id: str) -> list[tuple[uuid.UUID, ActorRef]]:
        """Remove the sessions of ``station_id`` (handed over to another node) and return them."""
        sessions = self._by_station.pop(station_id, {})
        for session_id in sessions:
            self._by_id.pop(session_id, None)
        return list(sessions.items())

    def stations(self) -> list[str]:
        return list(self._by_station)

    def has_station(self, station_id: str) -> bool:
        return station_id in self._by_station

    def __len__(self) -> int:
        return len(self._by_id)

    def deliver(self, station_id: str, message: object) -> None:
        """Hand ``message`` to every session of ``station_id``; never waits."""
        sessions = self._by_station.get(station_id)
        if not sessions:
            return
        for session_id, ref in list(sessions.items()):
            try:
                if not ref.tell_or_drop(message):
                    self.dropped += 1
            except ActorStopped:
                self.remove(session_id)
