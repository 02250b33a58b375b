"""The actor layer's public names are a contract: adding or removing one is a deliberate change."""

import csms.actors

from ..public_names import exported


def test_public_names_are_pinned():
    assert exported(csms.actors) == [
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
