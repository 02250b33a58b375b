"""The errors that end a simulated station's connection attempt or connection, and bounded
closing: the station reconnects after each (with the Part 4 back-off)."""

from __future__ import annotations

import trio
from trio_websocket import ConnectionClosed, HandshakeError, WebSocketConnection
from wsproto.utilities import LocalProtocolError as WebSocketStateError

__all__ = ["NETWORK_ERRORS", "HandshakeTimeout", "close", "first_leaf", "timed_out"]

NETWORK_ERRORS = (
    OSError,
    HandshakeError,
    ConnectionClosed,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    # trio-websocket answering a ping while the station closes (a reboot): the connection's
    # end, not a crash (which would lose what the actor runs, a firmware update say)
    WebSocketStateError,
)


class HandshakeTimeout(ConnectionError):
    """The opening handshake did not end in time. trio-websocket's client waits for the
    handshake's answer with no bound, even after the socket closed (a CSMS closes handshakes
    it cannot finish within its own timeout): without this the station would wait forever."""


async def close(ws: WebSocketConnection) -> None:
    # Bounded: trio-websocket's aclose waits for the CSMS's closing frame with no timeout.
    with trio.move_on_after(1.0):
        await ws.aclose()


def timed_out(group: BaseExceptionGroup[BaseException]) -> bool:
    return group.subgroup(HandshakeTimeout) is not None


def first_leaf(group: BaseExceptionGroup[BaseException]) -> BaseException:
    """The first exception of ``group`` that is not a group itself."""
    head = group.exceptions[0]
    return first_leaf(head) if isinstance(head, BaseExceptionGroup) else head
