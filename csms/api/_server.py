"""The ``http_control`` actor: serves the control API with hypercorn on trio.

Stopping is graceful. The server runs shielded from the actor's own cancellation; when the
actor stops, a watcher notices the cancellation and starts the drain instead: new commands are
refused (503), commands in flight get ``DRAIN_GRACE`` seconds to be answered (then 503 saying
the audit has the outcome), hypercorn stops accepting and lets open requests finish. Nothing is
cut off mid-response, and the whole stop is bounded.

Besides serving, the actor feeds the API's metrics: it counts the command outcomes published on
the node's events (the stations count the messages they handle themselves).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable
from typing import Any

import trio
from hypercorn.config import Config
from hypercorn.trio import serve

from csms.domain.events import (
    CommandAbandoned,
    CommandResponse,
    CommandSent,
    CommandTimeout,
    Event,
)
from csms.runtime import Actor, ActorContext

from ._app import create_app
from ._control import ControlPlane, EventFeed
from ._metrics import Metrics
from ._routing import ApiState

__all__ = ["ADMIN_TOKEN_ENV", "COUNT_BATCH", "DRAIN_GRACE", "HttpControlActor"]

log = logging.getLogger("csms.http")

#: The bootstrap admin token (SPEC section 3): accepted as an admin bearer token.
ADMIN_TOKEN_ENV = "CSMS_ADMIN_TOKEN"
#: How long commands in flight may still be answered once the actor stops.
DRAIN_GRACE = 3.0
#: Command events are counted in batches gathered over this long (one wake-up per batch rather
#: than two per command); /metrics counts what is waiting before it answers.
COUNT_BATCH = 0.05


def _address(bind: str) -> tuple[str, int]:
    """("127.0.0.1", 8080) from hypercorn's "http://127.0.0.1:8080" (or "http://[::1]:8080")."""
    hostport = bind.split("://", 1)[-1]
    host, _, port = hostport.rpartition(":")
    return host.strip("[]"), int(port)


class HttpControlActor(Actor):
    background_tasks = True

    def __init__(
        self,
        control: ControlPlane,
        *,
        host: str,
        port: int,
        admin_token: str | None = None,
        on_listening: Callable[[list[tuple[str, int]]], None] = lambda addresses: None,
    ) -> None:
        self.control = control
        self.host = host
        self.port = port
        self.admin_token = admin_token
        #: Told the addresses the server is bound to once it listens, and [] once it stopped.
        self.on_listening = on_listening
        self.metrics = Metrics()
        self.state: ApiState | None = None
        self._stopping = trio.Event()
        self._served = trio.Event()
        self._shield: trio.CancelScope | None = None

    async def on_start(self, ctx: ActorContext) -> None:
        app = create_app(self.control, admin_token=self.admin_token, metrics=self.metrics)
        self.state = app.state.api
        config = Config()
        host = self.host
        config.bind = [f"[{host}]:{self.port}" if ":" in host else f"{host}:{self.port}"]
        config.graceful_timeout = DRAIN_GRACE + 1
        config.backlog = 1024
        # Hypercorn closes a keep-alive connection after this many requests; its default (1000)
        # makes busy API clients reconnect every few seconds, and the close races a response
        # still being written (BusyResourceError in hypercorn's trio worker).
        config.keep_alive_max_requests = 1_000_000
        config.accesslog = None
        config.errorlog = log
        config.include_server_header = False
        binds: list[str] = await ctx.nursery.start(functools.partial(self._serve, app, config))
        addresses = [_address(b) for b in binds]
        self.on_listening(addresses)
        ctx.nursery.start_soon(self._watch)
        ctx.nursery.start_soon(self._count_commands)
        for host_, port in addresses:
            log.info("control API listening", extra={"host": host_, "port": port})

    async def _serve(self, app: Any, config: Config, *, task_status: Any) -> None:
        try:
            with trio.CancelScope(shield=True) as self._shield:
                await serve(
                    app, config, shutdown_trigger=self._stopping.wait, task_status=task_status
                )
        finally:
            self._served.set()

    async def _watch(self) -> None:
        """Turns the actor's cancellation (its stop) into a graceful drain of the server."""
        try:
            await trio.sleep_forever()
        finally:
            self._drain()

    def _drain(self) -> None:
        if self._stopping.is_set():
            return
        if self.state is not None:
            self.state.drain(DRAIN_GRACE)
        self._stopping.set()
        if self._shield is not None:  # the hard bound, should hypercorn not finish by itself
            self._shield.deadline = trio.current_time() + DRAIN_GRACE + 2

    async def on_stop(self, reason: BaseException | None) -> None:
        self._drain()
        await self._served.wait()
        self.on_listening([])

    # -- metrics feeds --------------------------------------------------------------------

    async def _count_commands(self) -> None:
        """Counts the command events of the bus in batches: woken by the first event, it waits
        ``COUNT_BATCH`` seconds for more, then takes them all at once. A scrape of /metrics
        takes what is waiting first (``Metrics.collect``), so the counts are never behind."""
        sub = self.control.subscribe("ocpp.command.")
        drain = functools.partial(self._drain_commands, sub)
        self.metrics.collectors.append(drain)
        try:
            while True:
                try:
                    self._count_command(await sub.receive.receive())
                except trio.EndOfChannel:
                    return
                await trio.sleep(COUNT_BATCH)
                drain()
        finally:
            self.metrics.collectors.remove(drain)
            self.control.unsubscribe(sub)

    def _drain_commands(self, sub: EventFeed) -> None:
        receive = sub.receive.receive_nowait
        count = self._count_command
        while True:
            try:
                count(receive())
            except (trio.WouldBlock, trio.EndOfChannel, trio.ClosedResourceError):
                break
        self.metrics.events_dropped = sub.dropped

    def _count_command(self, event: Event) -> None:
        metrics = self.metrics
        if isinstance(event, CommandSent):
            metrics.inc("csms_ocpp_commands_sent_total", action=event.action)
        elif isinstance(event, CommandTimeout):
            metrics.inc("csms_ocpp_command_results_total", action=event.action, outcome="timeout")
        elif isinstance(event, CommandAbandoned):  # never sent: its asker had given up
            metrics.inc("csms_ocpp_command_results_total", action=event.action, outcome="abandoned")
        elif isinstance(event, CommandResponse):
            if event.outcome == "callerror":
                metrics.inc("csms_ocpp_callerrors_total", code=str(event.error_code))
            metrics.inc(
                "csms_ocpp_command_results_total", action=event.action, outcome=event.outcome
            )
