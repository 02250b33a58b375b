"""The command server (``nats_commands``): this node's side of commands between nodes.

It subscribes ``<prefix>.station.<id>.cmd`` (in a queue group, so one node answers even while
a station moves) for every station whose socket this node holds, from the bus's
``station.connected`` / ``station.disconnected`` and a periodic check against the stations
registry, and answers each request through the local gateway with the deadline the request
carries. It also keeps the cluster gateway's map of the stations other nodes hold, from their
presence events (``<prefix>.events.*.station.connected|disconnected``) and PostgreSQL, and
takes a station over: a node that accepts a station's connection tells the others
(``<prefix>.takeover``), and one that still has an actor for it stops that stale actor.
"""

from __future__ import annotations

import json
import logging
import random
from typing import Any

import trio

from csms.actors.database import Database
from csms.actors.events import EventBus, Subscription
from csms.actors.gateway import LocalStationGateway
from csms.commands import CommandError
from csms.domain.events import StationConnected, StationDisconnected
from csms.protocol import Version
from csms.runtime import Actor, ActorContext, Backoff, DynamicSupervisor
from csms.services.nats_subjects import command_subject, decode_token
from csms.storage import nodes

from ._codec import decode_request, encode_error, encode_result
from ._gateway import ClusterGateway, preferences_subject
from ._link import CommandLink, Incoming

__all__ = ["CommandServer"]

log = logging.getLogger("csms.nats")

#: How often the command subjects are checked against the stations registry, and other
#: nodes' presence reread from PostgreSQL.
RECONCILE_INTERVAL = 5.0


class CommandServer(Actor):
    background_tasks = True

    def __init__(
        self,
        *,
        gateway: ClusterGateway,
        stations: DynamicSupervisor,
        events: EventBus,
        database: Database,
        node_id: str,
        database_url: str,
        reap_interval: float = 5.0,
    ) -> None:
        self.gateway = gateway
        self.link: CommandLink = gateway.link
        self.local: LocalStationGateway = gateway.local
        self.stations = stations
        self.events = events
        self.database = database
        self.node_id = node_id
        self.prefix = gateway.prefix
        self._incoming_send, self._incoming = trio.open_memory_channel[Incoming](10_000)
        self._sub: Subscription | None = None
        self._wake = trio.Event()
        self.database_url = database_url
        self.reap_interval = reap_interval
        self._lock: Any = None  # the connection holding this node's liveness lock
        self.served = 0
        self.lost_requests = 0
        #: Nodes this one found dead and reaped.
        self.reaped: list[nodes.Reaped] = []
        #: What other nodes announced lately: station -> (node, connected, when).
        self._heard: dict[str, tuple[str, bool, float]] = {}

    async def on_start(self, ctx: ActorContext) -> None:
        self._sub = self.events.subscribe("station.", capacity=50_000)
        # alive from now on for the other nodes; a second node with this id fails here
        self._lock = await trio.to_thread.run_sync(nodes.hold, self.database_url, self.node_id)
        await self.link.start()
        ctx.nursery.start_soon(self._run, ctx.nursery)
        ctx.nursery.start_soon(self._liveness)

    async def receive(self, message: Any) -> Any:
        log.warning("nats_commands: unknown message ignored", extra={"kind": type(message)})

    async def on_stop(self, reason: BaseException | None) -> None:
        if self._sub is not None:
            self.events.unsubscribe(self._sub)
        await self.link.stop()
        if self._lock is not None:
            await trio.to_thread.run_sync(self._lock.close)  # reaped only if presence remains

    # -- liveness -----------------------------------------------------------------------------

    async def _liveness(self) -> None:
        """Keep this node's lock held; reap the nodes that hold theirs no more."""
        while True:
            await trio.sleep(self.reap_interval)
            try:
                await trio.to_thread.run_sync(self._check_lock)
                for node in await self.database.run(nodes.suspects, self.node_id):
                    await self._reap(node)
            except Exception as exc:  # the database away: next time
                log.warning("node liveness check failed", extra={"error": repr(exc)})

    def _check_lock(self) -> None:  # worker thread
        try:
            self._lock.execute("SELECT 1")
        except Exception:  # its session ended (a database restart): take the lock again
            self._lock.close()
            self._lock = nodes.hold(self.database_url, self.node_id)
            log.warning("node liveness lock taken again", extra={"node": self.node_id})

    async def _reap(self, node: str) -> None:
        reaped = await self.database.run(nodes.reap, node)
        if reaped is None:
            return  # another node did
        self.reaped.append(reaped)
        self.gateway.remote = {s: n for s, n in self.gateway.remote.items() if n != node}
        log.warning(
            "node lost",
            extra={"node": node, "stations": reaped.stations, "commands": reaped.commands},
        )

    # -- connection ---------------------------------------------------------------------------

    async def _run(self, nursery: trio.Nursery) -> None:
        backoff, rng, attempt = Backoff(initial=0.05, maximum=5.0, jitter=0.2), random.Random(), 0
        while True:
            try:
                await self.link.connect(self._deliver)
                await self.link.subscribe(
                    [
                        f"{self.prefix}.events.*.station.connected",
                        f"{self.prefix}.events.*.station.disconnected",
                        f"{self.prefix}.takeover",
                        preferences_subject(self.prefix),
                    ]
                )
                break
            except Exception as exc:  # NATS not there yet: local commands work meanwhile
                attempt += 1
                if attempt == 1:
                    log.warning("nats_commands: NATS not reachable", extra={"error": repr(exc)})
                await trio.sleep(backoff.delay(attempt, rng))
        log.info("nats_commands: connected", extra={"url": self.link.url})
        nursery.start_soon(self._serve_incoming, nursery)
        nursery.start_soon(self._follow_bus)
        while True:
            await self._reconcile()
            with trio.move_on_after(RECONCILE_INTERVAL):
                await self._wake.wait()
            self._wake = trio.Event()

    def _deliver(self, item: Incoming) -> None:  # trio thread, from the asyncio thread
        try:
            self._incoming_send.send_nowait(item)
        except trio.WouldBlock:
            self.lost_requests += 1  # its sender times out; nothing is sent twice

    # -- this node's stations -----------------------------------------------------------------

    async def _follow_bus(self) -> None:
        assert self._sub is not None
        receive = self._sub.receive
        while True:
            batch = [await receive.receive()]
            while len(batch) < 1000:  # a reconnect storm: one crossing per batch of stations
                try:
                    batch.append(receive.receive_nowait())
                except trio.WouldBlock:
                    break
            came = [e.station_id for e in batch if isinstance(e, StationConnected)]
            went = [
                e.station_id
                for e in batch
                if isinstance(e, StationDisconnected) and not self.local.is_connected(e.station_id)
            ]
            try:
                if came:
                    await self.link.subscribe([self._cmd(s) for s in came])
                    for station_id in came:  # no crossing back each: a storm has thousands
                        body = {"stationId": station_id, "nodeId": self.node_id}
                        self.link.reply_nowait(f"{self.prefix}.takeover", json.dumps(body).encode())
                if went:
                    await self.link.unsubscribe([self._cmd(s) for s in went])
            except Exception as exc:  # NATS away: the periodic check catches up
                log.warning("nats_commands: subscriptions not updated", extra={"error": repr(exc)})
            if self._sub.dropped:
                self._wake.set()  # events were lost: check against the registry now

    async def _reconcile(self) -> None:
        held = {self._cmd(s) for s in self.stations.registry.names()}
        subscribed = {s for s in self.link.subscribed() if s.endswith(".cmd")}
        try:
            if held - subscribed:
                await self.link.subscribe(sorted(held - subscribed))
            if subscribed - held:
                await self.link.unsubscribe(sorted(subscribed - held))
            rows = await self.database.run(_presence)
        except Exception as exc:  # NATS or the database away: next time
            log.warning("nats_commands: reconcile failed", extra={"error": repr(exc)})
            return
        self.gateway.remote = self._recent(
            {sid: node for sid, node in rows if node != self.node_id}
        )

    def _cmd(self, station_id: str) -> str:
        return command_subject(self.prefix, station_id)

    # -- what arrives -------------------------------------------------------------------------

    async def _serve_incoming(self, nursery: trio.Nursery) -> None:
        async for subject, data, reply in self._incoming:
            if subject.endswith(".cmd"):
                nursery.start_soon(self._serve, subject, data, reply)
            else:
                try:
                    if subject == f"{self.prefix}.takeover":
                        await self._takeover(data)
                    elif subject == preferences_subject(self.prefix):
                        self._preferences(data)
                    else:
                        self._presence_event(data)
                except (ValueError, TypeError) as exc:
                    log.warning("nats_commands: bad message", extra={"error": repr(exc)})

    async def _serve(self, subject: str, data: bytes, reply: str) -> None:
        token = subject[len(self.prefix) + len(".station.") : -len(".cmd")]
        station_id = decode_token(token) or ""
        try:
            request = decode_request(data)
            deadline = trio.current_time() + float(request["timeout"])
            result = await self.local.send(
                station_id,
                request["action"],
                request["payload"],
                requested_by=request["requestedBy"],
                deadline=deadline,
            )
            version = Version.V21 if ".v21." in type(result.message).__module__ else Version.V201
            answer = encode_result(result, version.value)
        except CommandError as exc:
            answer = encode_error(exc)
        except Exception as exc:  # a bad request: its sender gets an error, nothing was sent
            log.warning("nats_commands: request refused", extra={"error": repr(exc)})
            answer = encode_error(CommandError(f"the holding node could not send it: {exc}"))
        self.served += 1
        if reply:
            try:
                self.link.reply_nowait(reply, answer)
            except Exception as exc:  # its sender times out
                log.warning("nats_commands: reply lost", extra={"error": repr(exc)})

    async def _takeover(self, data: bytes) -> None:
        body = json.loads(data)
        station_id, node = body.get("stationId"), body.get("nodeId")
        if node == self.node_id or not isinstance(station_id, str) or not isinstance(node, str):
            return
        self._heard_of(station_id, node, connected=True)
        ref = self.stations.registry.lookup(station_id)
        if ref is not None:  # it reconnected elsewhere: this connection is stale
            log.info("station taken over", extra={"station": station_id, "by": node})
            await self.stations.stop_child(ref)

    def _preferences(self, data: bytes) -> None:
        body = json.loads(data)
        user_id, node = body.get("userId"), body.get("nodeId")
        if isinstance(user_id, str) and node != self.node_id:
            self.gateway.preferences_changed(user_id)

    def _presence_event(self, data: bytes) -> None:
        body = json.loads(data)
        station_id, node = body.get("stationId"), body.get("nodeId")
        if not isinstance(station_id, str) or not isinstance(node, str) or node == self.node_id:
            return
        self._heard_of(station_id, node, connected=body.get("subject") == "station.connected")

    def _heard_of(self, station_id: str, node: str, *, connected: bool) -> None:
        """Apply what another node announced now, and keep it for a while: the next presence
        read may predate it (the holding node's presence row is written behind)."""
        self._heard[station_id] = (node, connected, trio.current_time())
        _apply(self.gateway.remote, station_id, node, connected)

    def _recent(self, rows: dict[str, str]) -> dict[str, str]:
        """Presence ``rows`` with what was announced since shortly before they were read."""
        horizon = trio.current_time() - 2 * RECONCILE_INTERVAL
        for station_id, (node, connected, at) in list(self._heard.items()):
            if at < horizon:
                del self._heard[station_id]
            else:
                _apply(rows, station_id, node, connected)
        return rows


def _apply(remote: dict[str, str], station_id: str, node: str, connected: bool) -> None:
    if connected:
        remote[station_id] = node
    elif remote.get(station_id) == node:
        del remote[station_id]


def _presence(conn: Any) -> list[tuple[str, str]]:
    rows = conn.execute("SELECT id, node_id FROM stations WHERE node_id IS NOT NULL").fetchall()
    return [(r[0], r[1]) for r in rows]
