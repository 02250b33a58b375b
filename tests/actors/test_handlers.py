"""The handler registry and the context handlers get."""

from __future__ import annotations

import attrs

from csms.actors.station import HANDLERS, StationContext, StationServices, handlers


def test_every_action_has_one_handler_in_the_module_of_its_functional_block():
    owners: dict[str, str] = {}
    for name in handlers.__all__:
        module = getattr(handlers, name)
        if not hasattr(module, "__file__"):
            continue
        for action, handler in HANDLERS.items():
            if handler.__module__ == module.__name__:
                owners[action] = name
    # the acknowledging handlers are made in _registry, for the module that registers them
    made = {a for a, h in HANDLERS.items() if h.__module__.endswith("._registry")}
    assert set(owners) | made == set(HANDLERS) == handlers.SUPPORTED_ACTIONS
    assert owners["BootNotification"] == "provisioning"
    assert owners["TransactionEvent"] == "transactions"
    assert owners["Get15118EVCertificate"] == "security"


def test_the_handler_context_has_no_way_to_send_a_command():
    """No link, no OCPP connection, no actor address: a handler cannot wait for its own
    station's mailbox loop (commands go through the gateway, from an actor of their own)."""
    forbidden = {"link", "conn", "ref", "actor", "gateway", "stations"}
    assert {f.name for f in attrs.fields(StationContext)}.isdisjoint(forbidden)
    assert {f.name for f in attrs.fields(StationServices)}.isdisjoint(forbidden | {"hooks"})
