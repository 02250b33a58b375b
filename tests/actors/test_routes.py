"""Routes: station messages another actor owns reach it without the station waiting for it.

A slow, full or crashed owner never delays another station and never turns a committed message
into an error; a REFUSE route asks the station to retry before anything is stored; an ask route
lets the owner decide the answer, and the handler's default applies when it does not in time.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest
import trio
import trio.testing

from csms.actors.station import Overflow, Route, StationMessage, StationRoutes
from csms.protocol import CallErrorReceived, ErrorCode, v201
from csms.runtime import Actor, ActorCrashed, ChildSpec, RestartType, Strategy, Supervisor

from .station_peer import Node, StationPeer, running_node
from .test_station import tx_event


class Owner(Actor):
    """Takes one message at a time and holds it until ``gate`` is set; answers ``answer``."""

    def __init__(self, seen: list[StationMessage], gate: trio.Event, answer: Any = None) -> None:
        self.seen = seen
        self.gate = gate
        self.answer = answer

    async def receive(self, message: Any) -> Any:
        if message == "crash":
            raise RuntimeError("the owner crashed")
        self.seen.append(message)
        await self.gate.wait()
        return self.answer


class Owners:
    def __init__(self) -> None:
        self.seen: list[StationMessage] = []
        self.gate = trio.Event()


@contextlib.asynccontextmanager
async def node_with_route(
    database_url: str, make_route: Any, *, answer: Any = None, **services: Any
) -> AsyncIterator[tuple[Node, Owners, Route]]:
    """A node whose stations route one action to an ``Owner`` (mailbox of one message)."""
    owners = Owners()
    sup = Supervisor(
        Strategy.ONE_FOR_ONE,
        [
            ChildSpec.actor(
                "owner",
                lambda: Owner(owners.seen, owners.gate, answer),
                mailbox_size=1,
                restart=RestartType.TEMPORARY,
            )
        ],
        name="owners",
    )
    route = make_route(sup.ref("owner"))
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        async with running_node(database_url, routes=StationRoutes([route]), **services) as node:
            yield node, owners, route
            owners.gate.set()
        await sup.stop()


async def booted(node: Node, *station_ids: str) -> list[StationPeer]:
    peers = []
    for station_id in station_ids:
        node.register(station_id)
        _, cp = await node.connect(station_id)
        await cp.boot()
        peers.append(cp)
    return peers


async def test_a_slow_owner_delays_no_station_and_its_overflow_is_counted(database_url):
    """The owner holds the first TransactionEvent and has room for one more: the third is
    dropped and counted. Every event is stored and answered CALLRESULT, another station's too."""

    def route(owner):
        return Route.notify("TransactionEvent", owner, name="v2g")

    async with node_with_route(database_url, route) as (node, owners, routed):
        cp1, cp2 = await booted(node, "CP1", "CP2")
        for seq_no in range(3):
            answer = await cp1.call(tx_event(seq_no, "Started" if seq_no == 0 else "Updated"))
            assert isinstance(answer, v201.TransactionEventResponse)
        answer = await cp2.call(tx_event(0, "Started"))
        assert isinstance(answer, v201.TransactionEventResponse)
        assert (await cp2.call(v201.HeartbeatRequest())).current_time is not None
        assert node.query("SELECT count(*) FROM transaction_events") == [(4,)]
        assert (routed.stats.routed, routed.stats.dropped) == (2, 2)
        assert [(m.station_id, m.action, m.raw["seqNo"]) for m in owners.seen] == [
            ("CP1", "TransactionEvent", 0)
        ]
        assert isinstance(owners.seen[0].request, v201.TransactionEventRequest)
        assert node.services.routes.received["TransactionEvent"] == 4


async def test_a_refuse_route_asks_the_station_to_retry_before_anything_is_stored(database_url):
    """Overflow.REFUSE: with the owner's mailbox full the station gets a retryable CALLERROR
    and nothing is stored; once the owner catches up the retry is stored and answered."""

    def route(owner):
        return Route.notify("TransactionEvent", owner, name="v2g", overflow=Overflow.REFUSE)

    async with node_with_route(database_url, route) as (node, owners, routed):
        (cp,) = await booted(node, "CP1")
        await cp.call(tx_event(0, "Started"))  # the owner holds it
        await cp.call(tx_event(1, "Updated"))  # queued: the mailbox is full
        refused = await cp.call(tx_event(2, "Updated"))
        assert isinstance(refused, CallErrorReceived)
        assert refused.code == ErrorCode.INTERNAL_ERROR
        assert node.query("SELECT seq_no FROM transaction_events ORDER BY 1") == [(0,), (1,)]
        assert routed.stats.refused == 1
        owners.gate.set()
        await trio.testing.wait_all_tasks_blocked()
        retried = await cp.call(tx_event(2, "Updated"))
        assert isinstance(retried, v201.TransactionEventResponse)
        assert node.query("SELECT seq_no FROM transaction_events ORDER BY 1") == [
            (0,),
            (1,),
            (2,),
        ]
        assert (routed.stats.routed, routed.stats.dropped, routed.stats.refused) == (3, 0, 1)


async def test_a_crashed_owner_never_turns_a_committed_message_into_an_error(database_url):
    def route(owner):
        return Route.notify("TransactionEvent", owner, name="v2g")

    async with node_with_route(database_url, route) as (node, _, routed):
        with pytest.raises(ActorCrashed):
            await routed.owner.ask("crash", timeout=5)
        await trio.testing.wait_all_tasks_blocked()
        assert not routed.owner.alive  # temporary: not restarted
        (cp,) = await booted(node, "CP1")
        answer = await cp.call(tx_event(0, "Started"))
        assert isinstance(answer, v201.TransactionEventResponse)
        assert node.query("SELECT count(*) FROM transaction_events") == [(1,)]
        assert (routed.stats.routed, routed.stats.dropped) == (0, 1)


def certificate_request() -> v201.Get15118EVCertificateRequest:
    return v201.Get15118EVCertificateRequest(
        iso15118_schema_version="urn:iso:15118:2:2013:MsgDef",
        action=v201.CertificateActionEnum.INSTALL,
        exi_request="AAAA",
    )


async def test_an_ask_route_past_its_deadline_gives_the_default_answer(database_url, mock_clock):
    """The owner must decide Get15118EVCertificate within 5 s; it does not, so the handler's
    default (Failed) goes out. Meanwhile another station is answered at once."""
    mock_clock.rate = 1.0  # real time, plus the jump below

    def route(owner):
        return Route.ask("Get15118EVCertificate", owner, name="pnc", timeout=5)

    async with node_with_route(database_url, route) as (node, owners, routed):
        cp1, cp2 = await booted(node, "CP1", "CP2")
        answers: list[Any] = []
        async with trio.open_nursery() as nursery:

            async def ask_certificate() -> None:
                answers.append(await cp1.call(certificate_request()))

            nursery.start_soon(ask_certificate)
            await trio.testing.wait_all_tasks_blocked()
            assert len(owners.seen) == 1  # the owner thinks about it
            assert (await cp2.call(v201.HeartbeatRequest())).current_time is not None
            assert answers == []
            mock_clock.jump(6)
        assert answers[0].status == v201.Iso15118EVCertificateStatusEnum.FAILED
        assert (routed.stats.routed, routed.stats.defaulted) == (0, 1)


async def test_an_ask_route_owner_decides_the_answer(database_url):
    decided = v201.Get15118EVCertificateResponse(
        status=v201.Iso15118EVCertificateStatusEnum.ACCEPTED, exi_response="BBBB"
    )

    def route(owner):
        return Route.ask("Get15118EVCertificate", owner, name="pnc", timeout=5)

    async with node_with_route(database_url, route, answer=decided) as (node, owners, routed):
        owners.gate.set()
        (cp,) = await booted(node, "CP1")
        answer = await cp.call(certificate_request())
        assert answer.status == v201.Iso15118EVCertificateStatusEnum.ACCEPTED
        assert answer.exi_response == "BBBB"
        assert owners.seen[0].version == "ocpp2.0.1"
        assert (routed.stats.routed, routed.stats.defaulted) == (1, 0)


class Answers(Actor):
    def __init__(self, answers: list[Any]) -> None:
        self.answers = answers

    async def receive(self, message: Any) -> Any:
        return self.answers.pop(0)


async def test_an_ask_route_keeps_the_default_unless_the_owner_answers_a_response(
    autojump_clock,
):
    """``None`` accepts the default (routed); an answer of another type is a mistake of the
    owner's and the default goes out (defaulted)."""
    default = v201.SignCertificateResponse(status=v201.GenericStatusEnum.REJECTED)
    accepted = v201.SignCertificateResponse(status=v201.GenericStatusEnum.ACCEPTED)
    answers: list[Any] = [None, "Accepted", accepted]
    sup = Supervisor(
        Strategy.ONE_FOR_ONE, [ChildSpec.actor("pki", lambda: Answers(answers), mailbox_size=1)]
    )
    message = StationMessage(
        "CP1", "ocpp2.0.1", "SignCertificate", None, {"csr": "x"}, dt.datetime.now(dt.UTC)
    )
    async with trio.open_nursery() as nursery:
        await nursery.start(sup.run)
        route = Route.ask("SignCertificate", sup.ref("pki"), name="pki", timeout=5)
        assert await route.decide(message, default) is default
        assert await route.decide(message, default) is default
        assert await route.decide(message, default) is accepted
        assert (route.stats.routed, route.stats.defaulted) == (2, 1)
        await sup.stop()
