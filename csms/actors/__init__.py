"""Thin trio shells that wire the pure layers to the outside world, one actor per concern.

The node's supervision tree (``build_node``, ``open_node``, ``serve``), the event bus, the
command gateway, the id-token cache and its listener, the OCPP listener, the persistence actor
and its database pool; the station actors are in ``csms.actors.station``.
"""

from .events import EventBus, Subscription
from .gateway import LocalStationGateway, StationGateway, queued_too_long
from .id_tokens import IdTokenListener, IdTokens, id_token_listener_spec
from .listener import ListenerActor, LoginReadFailed, LoginReads, read_logins, websocket_settings
from .node import (
    ChildFactory,
    Node,
    RouteFactory,
    build_node,
    open_node,
    raise_open_file_limit,
    serve,
    tune_garbage_collector,
)
from .persistence import (
    PersistenceActor,
    PersistenceSettings,
    PersistenceStatus,
    ReadPool,
    Write,
    persistence_spec,
    store,
    submit,
)

__all__ = [
    "ChildFactory",
    "EventBus",
    "IdTokenListener",
    "IdTokens",
    "ListenerActor",
    "LocalStationGateway",
    "LoginReadFailed",
    "LoginReads",
    "Node",
    "PersistenceActor",
    "PersistenceSettings",
    "PersistenceStatus",
    "ReadPool",
    "RouteFactory",
    "StationGateway",
    "Subscription",
    "Write",
    "build_node",
    "id_token_listener_spec",
    "open_node",
    "persistence_spec",
    "queued_too_long",
    "raise_open_file_limit",
    "read_logins",
    "serve",
    "store",
    "submit",
    "tune_garbage_collector",
    "websocket_settings",
]
