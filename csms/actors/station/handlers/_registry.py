"""The one registry of message handlers: ``HANDLERS``, filled by the modules of this package."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from csms.domain.events import StationMessage

from .._context import StationContext

#: A handler gets the station's context, the request (the generated class of the station's
#: version; None for a handler registered with ``structured=False``) and its wire JSON, and
#: returns the response object (None for a SEND).
Handler = Callable[[StationContext, Any, dict[str, Any]], Awaitable[Any]]
HANDLERS: dict[str, Handler] = {}
#: Actions whose handler works from the (schema-valid) wire JSON alone: the station's
#: connection structures their request only when a route's owner needs it.
UNSTRUCTURED: set[str] = set()


def handles(*actions: str, structured: bool = True) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        for action in actions:
            if action in HANDLERS:
                raise ValueError(f"{action} has two handlers")
            HANDLERS[action] = fn
            if not structured:
                UNSTRUCTURED.add(action)
        return fn

    return register


def acknowledge(*events: type[StationMessage]) -> None:
    """Register, for the action of each event class, a handler that puts the message on the
    event stream as that event and answers with an empty response."""
    for event in events:
        handles(event.action)(_acknowledge(event))


def _acknowledge(event: type[StationMessage]) -> Handler:
    action = event.action

    async def handler(st: StationContext, request: Any, raw: dict[str, Any]) -> Any:
        st.services.events.publish(event(station_id=st.station_id, payload=raw))
        return st.response_message(action)

    handler.__name__ = f"acknowledge_{action}"
    return handler


def text(value: Any) -> str | None:
    return None if value is None else str(value)
