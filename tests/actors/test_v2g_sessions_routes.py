"""The discharge sessions' routes take the wire JSON alone (``Route.notify(structured=False)``):
a TransactionEvent, stored from its JSON, is not structured for them."""

from __future__ import annotations

import trio.testing

from csms.actors.station import Route
from csms.actors.v2g import FOLLOWED, v2g_session_routes
from csms.protocol import v201
from csms.runtime import ChildSpec, Strategy, Supervisor

from .test_routes import booted, node_with_route
from .test_station import tx_event


async def test_an_unstructured_route_gets_the_wire_json_and_no_request_object(database_url):
    def route(owner):
        return Route.notify("TransactionEvent", owner, name="v2g", structured=False)

    async with node_with_route(database_url, route) as (node, owners, routed):
        [cp] = await booted(node, "CP1")
        answer = await cp.call(tx_event(0, "Started"))
        assert isinstance(answer, v201.TransactionEventResponse)
        await trio.testing.wait_all_tasks_blocked()  # the owner took what it was told
        [message] = owners.seen
        assert message.request is None
        assert (message.action, message.raw["seqNo"]) == ("TransactionEvent", 0)
        assert routed.stats.routed == 1


def test_the_sessions_follow_their_messages_unstructured():
    sup = Supervisor(
        Strategy.ONE_FOR_ONE,
        [ChildSpec.actor("v2g_sessions", lambda: None)],  # type: ignore[arg-type,return-value]
    )
    routes = list(v2g_session_routes(sup))
    assert sorted(r.action for r in routes) == sorted(FOLLOWED)
    assert not any(r.structured or r.ask_timeout is not None for r in routes)
