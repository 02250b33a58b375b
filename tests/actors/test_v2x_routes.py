"""Routes limited to OCPP versions: the V2X owner decides a 2.1 Authorize (Q01.FR.01) while a
2.0.1 Authorize never reaches it (the transaction path stays the handler's alone)."""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio

from csms.actors.station import Route, StationMessage, StationRoutes
from csms.protocol import Version, v21, v201
from csms.runtime import Actor, ChildSpec, Strategy, Supervisor

from .station_peer import running_node


class Amending(Actor):
    """Answers an ask with the handler's default, amended with an allowed transfer list."""

    def __init__(self, seen: list[StationMessage]) -> None:
        self.seen = seen

    async def receive(self, message: StationMessage) -> Any:
        self.seen.append(message)
        return attrs.evolve(
            message.response,
            allowed_energy_transfer=(v21.EnergyTransferModeEnum.AC_BPT,),
        )


async def test_a_route_for_ocpp21_takes_no_ocpp201_message(database_url):
    """Q01.FR.01: the 2.1 Authorize is answered with the owner's allowedEnergyTransfer, amended
    from the handler's answer (``StationMessage.response``); the 2.0.1 Authorize of another
    station is the handler's, and the owner never sees it."""
    seen: list[StationMessage] = []
    sup = Supervisor(
        Strategy.ONE_FOR_ONE, [ChildSpec.actor("v2x", lambda: Amending(seen))], name="owners"
    )
    route = Route.ask("Authorize", sup.ref("v2x"), name="v2x", timeout=5, versions=[Version.V21])
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        async with running_node(database_url, routes=StationRoutes([route])) as node:
            node.register("CP201")
            node.register("CP21")
            _, cp201 = await node.connect("CP201", Version.V201)
            _, cp21 = await node.connect("CP21", Version.V21)
            await cp201.boot()
            await cp21.boot()
            answer201 = await cp201.call(
                v201.AuthorizeRequest(
                    id_token=v201.IdToken(id_token="TAG1", type=v201.IdTokenEnum.ISO14443)
                )
            )
            assert isinstance(answer201, v201.AuthorizeResponse)
            assert route.stats.routed == 0
            assert seen == []
            answer21 = await cp21.call(
                v21.AuthorizeRequest(id_token=v21.IdToken(id_token="TAG1", type="ISO14443"))
            )
            assert answer21.allowed_energy_transfer == (v21.EnergyTransferModeEnum.AC_BPT,)
            assert answer21.id_token_info.status == answer201.id_token_info.status
            assert [(m.station_id, m.version) for m in seen] == [("CP21", "ocpp2.1")]
            assert isinstance(seen[0].response, v21.AuthorizeResponse)
            assert route.stats.routed == 1
        await sup.stop()


def test_two_ask_routes_of_one_action_are_allowed_only_for_different_versions():
    sup = Supervisor(
        Strategy.ONE_FOR_ONE, [ChildSpec.actor("v2x", lambda: Amending([]))], name="owners"
    )

    def ask(versions: list[Version] | None) -> Route:
        return Route.ask("Authorize", sup.ref("v2x"), name="v2x", timeout=1, versions=versions)

    table = StationRoutes([ask([Version.V21]), ask([Version.V201])])
    assert [r.versions for r in table] == [frozenset({Version.V21}), frozenset({Version.V201})]
    first, _ = table
    assert table.owners("Authorize", Version.V21) == (first,)
    assert table.owners("Heartbeat", Version.V21) is None
    with pytest.raises(ValueError, match=r"two ask routes in ocpp2\.1"):
        StationRoutes([ask([Version.V21]), ask(None)])
