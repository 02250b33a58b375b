"""The command gateway: the caller's deadline travels with the command, and a command whose
caller has given up before it reaches the front of the station's mailbox is never sent."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator

import pytest
import trio
import trio.testing

from csms.actors.gateway import LocalStationGateway
from csms.actors.station import CommandResult, StationNotConnected, StationTimeout
from csms.protocol import v201

from .station_peer import Node, StationPeer, running_node
from .test_station import tx_event

CLEAR_CACHE = v201.ClearCacheResponse(status=v201.ClearCacheStatusEnum.ACCEPTED)


async def audited(node: Node, cp: StationPeer, seq_no: int) -> list[tuple[str, str, str]]:
    await cp.call(tx_event(seq_no, "Started" if seq_no == 0 else "Updated"))  # a durable write
    return [
        (action, status, requested_by)
        for action, status, requested_by in node.query(
            "SELECT action, status, requested_by FROM commands ORDER BY requested_at"
        )
    ]


async def send(
    gateway: LocalStationGateway, action: str, *, by: str, within: float, **payload: object
) -> CommandResult:
    deadline = trio.current_time() + within
    return await gateway.send("CP1", action, payload, requested_by=by, deadline=deadline)


async def the_next_command_is(gateway: LocalStationGateway, cp: StationPeer) -> None:
    """Sends ClearCache and checks it is the first command the station sees from now on."""
    async with trio.open_nursery() as nursery:
        nursery.start_soon(functools.partial(send, gateway, "ClearCache", by="bob", within=30))
        call = await cp.next_call()
        assert call.action == "ClearCache"
        await cp.answer(call, CLEAR_CACHE)


async def connected(node: Node) -> tuple[StationPeer, LocalStationGateway]:
    node.register("CP1")
    _, cp = await node.connect("CP1")
    await cp.boot()
    return cp, LocalStationGateway(node.stations)


@contextlib.asynccontextmanager
async def busy(gateway: LocalStationGateway, cp: StationPeer) -> AsyncIterator[trio.Nursery]:
    """CP1 thinks about a ClearCache (alice's) until the block ends: a command sent in the
    block waits in its mailbox. Afterwards ClearCache is the next command the station sees."""
    async with trio.open_nursery() as nursery:
        first = functools.partial(send, gateway, "ClearCache", by="alice", within=100)
        nursery.start_soon(first)
        held = await cp.next_call()
        yield nursery
        await trio.testing.wait_all_tasks_blocked()
        await cp.answer(held, CLEAR_CACHE)
    await the_next_command_is(gateway, cp)


async def test_a_command_whose_caller_timed_out_in_the_mailbox_is_never_sent(
    database_url, mock_clock
):
    """The station is busy with an earlier command; the second waits in the mailbox past its
    caller's deadline: the caller gets StationTimeout then, and the station never gets it; the
    audit says ``abandoned``."""
    mock_clock.rate = 1.0  # real time, plus the jump below
    late: list[BaseException] = []

    async def reset() -> None:
        try:
            await send(gateway, "Reset", by="alice", within=5, type="Immediate")
        except StationTimeout as exc:
            late.append(exc)

    async with running_node(database_url, response_timeout=120) as node:
        cp, gateway = await connected(node)
        async with busy(gateway, cp) as nursery:
            nursery.start_soon(reset)
            await trio.testing.wait_all_tasks_blocked()
            assert node.stations.registry.lookup("CP1").mailbox_depth == 1
            mock_clock.jump(6)  # past the second caller's deadline, not the first's
            await trio.testing.wait_all_tasks_blocked()
            assert len(late) == 1  # told at its deadline, while the command still waited
        assert await audited(node, cp, 0) == [
            ("ClearCache", "responded", "alice"),
            ("Reset", "abandoned", "alice"),
            ("ClearCache", "responded", "bob"),
        ]


async def test_a_command_whose_caller_went_away_is_never_sent(database_url):
    """The caller's cancel scope is cancelled (an HTTP client that disconnected) while its
    command waits behind another: it is dropped when its turn comes."""
    caller = trio.CancelScope()

    async def reset() -> None:
        with caller:
            await send(gateway, "Reset", by="carol", within=30, type="Immediate")

    async with running_node(database_url) as node:
        cp, gateway = await connected(node)
        async with busy(gateway, cp) as nursery:
            nursery.start_soon(reset)
            await trio.testing.wait_all_tasks_blocked()
            assert node.stations.registry.lookup("CP1").mailbox_depth == 1
            caller.cancel()  # the client went away
        assert caller.cancelled_caught
        assert await audited(node, cp, 0) == [
            ("ClearCache", "responded", "alice"),
            ("Reset", "abandoned", "carol"),
            ("ClearCache", "responded", "bob"),
        ]


async def test_a_station_that_is_not_connected_gets_nothing(database_url):
    async with running_node(database_url) as node:
        gateway = LocalStationGateway(node.stations)
        assert not gateway.is_connected("CP9")
        with pytest.raises(StationNotConnected):
            await gateway.send(
                "CP9", "ClearCache", {}, requested_by="x", deadline=trio.current_time() + 5
            )
