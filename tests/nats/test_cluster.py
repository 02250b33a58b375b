"""Two nodes on one PostgreSQL and one nats-server, in one test process (SPEC section 9): a
station whose socket node B holds is commanded through node A's REST API over NATS
request/reply, with the same answers, errors, deadline and audit as a local command; a station
held by nobody is 409; a station that reconnects to the other node is taken over there."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import trio

from csms.actors import Node
from csms.api import BOOTSTRAP_NAME
from csms.node import open_node
from csms.runtime import AsyncioThread
from csms.transport.nats_server import EmbeddedNats
from tests.api.chargepoint import TestChargePoint, connect_charge_point
from tests.api.conftest import PASSWORD, client, node_settings
from tests.api.test_device_commands import wait_audit
from tests.api.test_errors import error_of

STATION = "CP-CLUSTER-1"


@contextlib.asynccontextmanager
async def two_nodes(
    database_url: str, nats: EmbeddedNats, **overrides: Any
) -> AsyncIterator[tuple[Node, Node]]:
    def settings(node_id: str) -> Any:
        return node_settings(
            database_url, **{"node.id": node_id, "nats.url": nats.url, **overrides}
        )

    async with (
        open_node(settings("node-a"), http=True, validate_outbound=True) as a,
        open_node(settings("node-b"), http=True, validate_outbound=True) as b,
    ):
        yield a, b


async def until(predicate: Callable[[], bool]) -> None:
    """Until what the nodes show makes ``predicate`` true (their state changes on messages
    from NATS, which the test has no hook into); fails after 30 s."""
    with trio.fail_after(30):
        while True:
            if predicate():
                return
            await trio.sleep(0.01)


async def held_by(node: Node, station_id: str, *, seen_from: Node) -> None:
    """Until ``seen_from`` knows the station is held by ``node`` (presence over NATS)."""
    await until(
        lambda: (
            node.stations.registry.lookup(station_id) is not None
            and seen_from.gateway.is_connected(station_id)
        )
    )


async def on_node(node: Node, api: httpx.AsyncClient, bridge: AsyncioThread) -> TestChargePoint:
    cp = await connect_charge_point(bridge, node.ocpp_port, STATION, PASSWORD)
    assert (await cp.boot()).status == "Accepted"
    return cp


async def test_a_station_on_node_b_is_commanded_through_node_a(
    database_url: str, nats: EmbeddedNats, admin_env: str, bridge: AsyncioThread
) -> None:
    async with two_nodes(database_url, nats) as (a, b), client(a) as api:
        r = await api.post("/api/v1/stations", json={"id": STATION, "password": PASSWORD})
        assert r.status_code == 201, r.text
        cp = await on_node(b, api, bridge)
        await held_by(b, STATION, seen_from=a)
        assert a.stations.registry.lookup(STATION) is None  # A holds no socket for it

        r = await api.post(f"/api/v1/devices/{STATION}/reset", json={"type": "OnIdle"})
        assert r.status_code == 200, r.text
        reply = r.json()
        assert reply["response"] == {"status": "Scheduled"}
        assert cp.received == [("Reset", {"type": "OnIdle"})]  # delivered once
        audit = await wait_audit(api, reply["commandId"])
        assert audit["status"] == "responded"
        assert audit["requestedBy"] == BOOTSTRAP_NAME  # who asked node A, as a local one
        assert audit["nodeId"] == "node-b"  # audited where it was sent

        r = await api.post(f"/api/v1/devices/{STATION}/ocpp/BootNotification", json={})
        assert error_of(r, 422)["field"] == "action"  # the holding node's refusal, as is
        assert [action for action, _ in cp.received] == ["Reset"]
        await cp.close()


async def test_a_remote_station_that_does_not_answer_is_504_and_gets_it_once(
    database_url: str, nats: EmbeddedNats, admin_env: str, bridge: AsyncioThread
) -> None:
    async with (
        two_nodes(database_url, nats, **{"ocpp.response_timeout": 0.5}) as (a, b),
        client(a) as api,
    ):
        await api.post("/api/v1/stations", json={"id": STATION, "password": PASSWORD})
        cp = await on_node(b, api, bridge)
        await held_by(b, STATION, seen_from=a)
        await cp.hold_resets()
        r = await api.post(f"/api/v1/devices/{STATION}/reset", json={})
        error = error_of(r, 504)
        assert error["code"] == "station_timeout"
        audit = await wait_audit(api, error["commandId"])
        assert audit["status"] == "timeout"
        await cp.release_resets()
        assert [action for action, _ in cp.received] == ["Reset"]
        await cp.close()


async def test_a_station_held_by_no_node_is_409(
    database_url: str, nats: EmbeddedNats, admin_env: str, bridge: AsyncioThread
) -> None:
    async with two_nodes(database_url, nats) as (a, b), client(a) as api:
        await api.post("/api/v1/stations", json={"id": STATION, "password": PASSWORD})
        r = await api.post(f"/api/v1/devices/{STATION}/reset", json={})
        assert error_of(r, 409)["code"] == "station_disconnected"
        cp = await on_node(b, api, bridge)
        await held_by(b, STATION, seen_from=a)
        await cp.close()
        await until(lambda: not a.gateway.is_connected(STATION))  # B's presence goes
        r = await api.post(f"/api/v1/devices/{STATION}/reset", json={})
        assert error_of(r, 409)["code"] == "station_disconnected"


async def test_a_station_that_moves_to_the_other_node_is_taken_over(
    database_url: str, nats: EmbeddedNats, admin_env: str, bridge: AsyncioThread
) -> None:
    """Its old connection on B is still open (B has not noticed anything): when it connects
    to A, B drops its stale actor, and commands through either node reach the new one."""
    async with two_nodes(database_url, nats) as (a, b), client(b) as api_b:
        await api_b.post("/api/v1/stations", json={"id": STATION, "password": PASSWORD})
        old = await on_node(b, api_b, bridge)
        await held_by(b, STATION, seen_from=a)
        new = await on_node(a, api_b, bridge)
        await until(lambda: b.stations.registry.lookup(STATION) is None)
        await held_by(a, STATION, seen_from=b)
        r = await api_b.post(f"/api/v1/devices/{STATION}/reset", json={})
        assert r.status_code == 200, r.text
        assert [action for action, _ in new.received] == ["Reset"]
        assert old.received == []
        await new.close()
        await old.close()
