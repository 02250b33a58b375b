"""The command link between nodes (SPEC section 9) against a real nats-server: a request
answered through a queue-group subscription, nobody subscribed (no responders), no answer in
time, a message larger than a read, the link connecting again, with its subscriptions, after
the server went away and came back on the same port, and credentials in the URL."""

from __future__ import annotations

import contextlib
import subprocess
from collections.abc import AsyncIterator, Callable, Iterator

import pytest
import trio

from csms.actors.remote_gateway import CommandLink, NoResponders
from csms.actors.remote_gateway._link import Incoming
from csms.soak._node import free_port
from csms.transport.nats_server import EmbeddedNats, nats_server_binary

SUBJECT = "t.station.CP1.cmd"


class Answerer:
    """A link that answers every request on its subscriptions with the request's bytes
    reversed (or holds them unanswered)."""

    def __init__(self, link: CommandLink) -> None:
        self.link = link
        self.received: list[Incoming] = []
        self.silent = False

    def __call__(self, item: Incoming) -> None:
        self.received.append(item)
        _, data, reply = item
        if reply and not self.silent:
            self.link.reply_nowait(reply, data[::-1])


@contextlib.asynccontextmanager
async def links(nats: EmbeddedNats) -> AsyncIterator[tuple[CommandLink, Answerer]]:
    """An asking link and an answering one, both connected; the answerer subscribes SUBJECT."""
    asker, holder = CommandLink(nats.url, name="asker"), CommandLink(nats.url, name="holder")
    answerer = Answerer(holder)
    async with trio.open_nursery() as nursery:
        for link in (asker, holder):
            await link.start(nursery)
        await asker.connect(lambda item: None)
        await holder.connect(answerer)
        await holder.subscribe([SUBJECT])
        try:
            yield asker, answerer
        finally:
            await asker.stop()
            await holder.stop()


async def until(predicate: Callable[[], bool]) -> None:
    """Until the links show it (they change on the server's going and coming back, which the
    test has no hook into); fails after 30 s."""
    with trio.fail_after(30):
        while True:
            if predicate():
                return
            await trio.sleep(0.01)


async def test_a_request_is_answered_by_the_subscriber(nats: EmbeddedNats) -> None:
    async with links(nats) as (asker, answerer):
        assert await asker.request(SUBJECT, b"abc", 5) == b"cba"
        (subject, data, reply) = answerer.received[0]
        assert (subject, data) == (SUBJECT, b"abc")
        assert reply.startswith("_INBOX.")
        big = bytes(range(256)) * 1024  # several reads of the socket
        assert await asker.request(SUBJECT, big, 5) == big[::-1]


async def test_nobody_subscribed_is_no_responders(nats: EmbeddedNats) -> None:
    async with links(nats) as (asker, _):
        with pytest.raises(NoResponders):
            await asker.request("t.station.NOBODY.cmd", b"x", 5)


async def test_no_answer_in_time_is_a_timeout_and_a_late_answer_is_dropped(
    nats: EmbeddedNats,
) -> None:
    async with links(nats) as (asker, answerer):
        answerer.silent = True
        with pytest.raises(TimeoutError):
            await asker.request(SUBJECT, b"x", 0.2)
        (_, _, reply) = answerer.received[0]
        answerer.link.reply_nowait(reply, b"late")  # its asker gave up: nothing is woken
        answerer.silent = False
        assert await asker.request(SUBJECT, b"yz", 5) == b"zy"


async def test_after_the_server_comes_back_the_links_connect_and_subscribe_again(
    nats: EmbeddedNats,
) -> None:
    async with links(nats) as (asker, answerer):
        await trio.to_thread.run_sync(nats.stop)
        await until(lambda: not asker.connected and not answerer.link.connected)
        with pytest.raises(ConnectionError):
            await asker.request(SUBJECT, b"x", 1)
        await trio.to_thread.run_sync(nats.start)  # same port
        await until(lambda: asker.connected and answerer.link.connected)
        assert answerer.link.subscribed() == {SUBJECT}
        with trio.fail_after(30):  # until the holder's subscription is on the new server
            while True:
                with contextlib.suppress(NoResponders):
                    assert await asker.request(SUBJECT, b"back", 5) == b"kcab"
                    break
                await trio.sleep(0.05)
        await answerer.link.unsubscribe([SUBJECT])  # returns once the server has it
        assert answerer.link.subscribed() == set()
        with pytest.raises(NoResponders):
            await asker.request(SUBJECT, b"x", 5)


@pytest.fixture
def secured_port() -> Iterator[int]:
    """The port of a nats-server of this test's own that wants a user and password."""
    port = free_port()
    command = [str(nats_server_binary()), "-a", "127.0.0.1", "-p", str(port)]
    server = subprocess.Popen(
        [*command, "--user", "node", "--pass", "s3cret"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        yield port
    finally:
        server.terminate()
        server.wait()


async def test_credentials_in_the_url_are_sent_and_wrong_ones_refused(secured_port: int) -> None:
    async with trio.open_nursery() as nursery:
        wrong = CommandLink(f"nats://node:wrong@127.0.0.1:{secured_port}", name="wrong")
        await wrong.start(nursery)
        with trio.fail_after(30):  # until the server listens and refuses
            while True:
                try:
                    await wrong.connect(lambda item: None)
                except ConnectionError as exc:
                    if "Authorization" in str(exc):
                        break
                await trio.sleep(0.05)
        assert not wrong.connected
        link = CommandLink(f"nats://node:s3cret@127.0.0.1:{secured_port}", name="right")
        await link.start(nursery)
        await link.connect(lambda item: None)
        with pytest.raises(NoResponders):  # a working connection: the server answers
            await link.request("t.station.NOBODY.cmd", b"x", 5)
        await link.stop()
