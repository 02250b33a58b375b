"""The station actor's view of its connection: text in, text out, close.

The WebSocket listener adapts its connections to ``StationLink``; ``memory_link`` gives a
connected pair in memory (the transport seam for tests and for the simulator's self-checks).
"""

from __future__ import annotations

import math
from typing import Protocol

import trio


class LinkClosed(ConnectionError):
    """The connection is gone; ``code`` is the WebSocket close code when there was one.

    The station actor catches ``ConnectionError``: links may raise this or their own subclass
    (the transport's ``ConnectionClosed``), as long as it carries a ``code``."""

    def __init__(self, reason: str = "connection closed", code: int | None = None) -> None:
        super().__init__(reason)
        self.code = code


class StationLink(Protocol):
    station_id: str
    subprotocol: str

    async def receive_text(self) -> str:
        """The next text message; raises a ``ConnectionError`` once closed."""
        ...

    async def send_text(self, text: str) -> None:
        """Raises a ``ConnectionError`` once closed."""
        ...

    async def close(self, code: int = 1000, reason: str = "") -> None: ...


class MemoryLink:
    """One end of an in-memory link."""

    def __init__(
        self,
        station_id: str,
        subprotocol: str,
        send: trio.MemorySendChannel[str],
        receive: trio.MemoryReceiveChannel[str],
    ) -> None:
        self.station_id = station_id
        self.subprotocol = subprotocol
        self._send = send
        self._receive = receive
        self.close_code: int | None = None

    async def receive_text(self) -> str:
        try:
            return await self._receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise LinkClosed("peer closed") from None

    async def send_text(self, text: str) -> None:
        try:
            await self._send.send(text)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise LinkClosed("peer closed") from None

    async def close(self, code: int = 1000, reason: str = "") -> None:
        if self.close_code is None:
            self.close_code = code
        await self._send.aclose()
        await self._receive.aclose()


def memory_link(station_id: str, subprotocol: str = "ocpp2.0.1") -> tuple[MemoryLink, MemoryLink]:
    """(CSMS end, station end) of a connected in-memory link."""
    to_station, from_csms = trio.open_memory_channel[str](math.inf)
    to_csms, from_station = trio.open_memory_channel[str](math.inf)
    return (
        MemoryLink(station_id, subprotocol, to_station, from_station),
        MemoryLink(station_id, subprotocol, to_csms, from_csms),
    )
