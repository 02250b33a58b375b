"""What a message handler may use: ``StationContext``.

A handler answers one message a station sent; it runs in the station's reader, so it must not
wait for the station (a command would wait for the mailbox loop, which waits for the reader).
The context therefore carries no way to send: no link, no OCPP connection, no actor address.
Commands go through the node's ``StationGateway`` (from an actor of their own, told to by a
route), never from a handler.
"""

from __future__ import annotations

from types import ModuleType
from typing import Any

import attrs

from csms.domain.station import StationState
from csms.protocol import Version
from csms.services.message_limits import LimitKey

from ._services import StationServices

__all__ = ["StationContext"]


@attrs.frozen(weakref_slot=False)
class StationContext:
    """One connection's station, as its handlers see it."""

    station_id: str
    version: Version
    #: The generated message classes of the station's version (``csms.protocol.v201``/``v21``).
    messages: ModuleType
    #: The live state (connectors, transactions, boot), updated by the handlers.
    state: StationState
    #: The station's message limits known on this connection (see ``_split``).
    limits: dict[LimitKey, int | None]
    #: The node's side: store/submit (the writer), the event bus, the id-token cache, the
    #: clock, settings, the route table.
    services: StationServices

    def response_message(self, action: str, **fields: Any) -> Any:
        """Build the response class of ``action`` for this station's version."""
        return getattr(self.messages, f"{action}Response")(**fields)
