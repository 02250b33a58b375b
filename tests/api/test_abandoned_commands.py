"""A command the REST API has already answered 504 for (its caller's deadline passed while the
command waited in the station's mailbox) is never sent: audited ``abandoned``."""

from __future__ import annotations

import functools
from typing import Any

import httpx
import trio
import trio.testing

from csms.runtime import AsyncioThread

from .conftest import api_node, client
from .test_device_commands import STATION, connected_station, wait_audit


async def assert_clear_cache_abandoned(api: httpx.AsyncClient, cp: Any) -> None:
    """The ClearCache is on record as abandoned, never sent: the station saw only the Reset."""
    with trio.fail_after(10):
        while True:
            r = await api.get("/api/v1/commands", params={"action": "ClearCache"})
            if r.json()["items"]:
                break
            await trio.lowlevel.checkpoint()
    audit = await wait_audit(api, r.json()["items"][0]["id"])
    assert audit["status"] == "abandoned"
    assert audit["sentAt"] is None
    assert [action for action, _ in cp.received] == ["Reset"]  # ClearCache never went out
    await cp.close()


async def test_a_command_whose_rest_caller_timed_out_is_never_sent(
    database_url: str, admin_env: str, bridge: AsyncioThread, mock_clock: trio.testing.MockClock
) -> None:
    mock_clock.rate = 1.0  # real time, plus the jump below
    async with (
        api_node(database_url, **{"ocpp.response_timeout": 1.0}) as node,
        client(node) as api,
    ):
        cp = await connected_station(node, api, bridge)
        await cp.hold_resets()
        answers: dict[str, httpx.Response] = {}

        async def post(name: str, path: str) -> None:
            answers[name] = await api.post(f"/api/v1/devices/{STATION}/{path}", json={})

        async with trio.open_nursery() as nursery:
            nursery.start_soon(post, "reset", "reset")
            await cp.wait_for_reset()  # the station thinks about the Reset
            nursery.start_soon(post, "clear", "ocpp/ClearCache")
            station = node.stations.registry.lookup(STATION)
            assert station is not None
            with trio.fail_after(10):
                while station.mailbox_depth == 0:  # the ClearCache waits behind the Reset
                    await trio.lowlevel.checkpoint()
            # past the Reset's response timeout (1 s) and the ClearCache caller's deadline
            # (response timeout + 5 s of queueing): both callers get 504
            mock_clock.jump(7)
        assert answers["reset"].status_code == 504
        assert answers["clear"].status_code == 504
        await cp.release_resets()
        await assert_clear_cache_abandoned(api, cp)


async def test_a_command_whose_rest_client_went_away_is_never_sent(
    database_url: str, admin_env: str, bridge: AsyncioThread
) -> None:
    """The ClearCache waits behind a Reset the station thinks about; its HTTP client closes
    the connection. The node sees the disconnect, gives the command up, and the station actor
    drops it unsent when it reaches the front of the mailbox."""
    async with api_node(database_url) as node, client(node) as api:
        cp = await connected_station(node, api, bridge)
        await cp.hold_resets()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(
                functools.partial(api.post, f"/api/v1/devices/{STATION}/reset", json={})
            )
            await cp.wait_for_reset()
            station = node.stations.registry.lookup(STATION)
            assert station is not None
            leaving = client(node)
            request = trio.CancelScope()

            async def post_then_go() -> None:
                with request:
                    await leaving.post(f"/api/v1/devices/{STATION}/ocpp/ClearCache", json={})

            nursery.start_soon(post_then_go)
            with trio.fail_after(10):
                while station.mailbox_depth == 0:  # the ClearCache waits behind the Reset
                    await trio.lowlevel.checkpoint()
            request.cancel()
            await leaving.aclose()  # the client is gone: its connection is closed
            with trio.fail_after(10):  # the node's own word that it gave the command up
                while (
                    'action="ClearCache",outcome="abandoned"'
                    not in (await api.get("/metrics")).text
                ):
                    await trio.lowlevel.checkpoint()
            await cp.release_resets()
        await assert_clear_cache_abandoned(api, cp)
