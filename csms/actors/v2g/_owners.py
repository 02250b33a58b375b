"""Which node runs a discharge session (SPEC sections 6 and 9): the node that holds its
station's socket.

A station that connects to this node with an active session no actor here runs has its session
adopted: claimed in ``v2g_sessions.node_id`` (only when no other live node runs it) and resumed
from its row, as a node start resumes it (the transaction's end, if it came while no node ran
the session, ends it then). What the station says meanwhile is kept and handed to the adopted
session. A station taken over by another live node has its sessions here stopped without
ending (their row kept, as at a node stop) and given back (``node_id`` NULL) once stopped, so
that node adopts them: never two live actors writing one session's row. A plain disconnect is
the session's own business (its grace, then its end).

A periodic check catches what the events cannot tell: a station whose session this node runs
held by another live node now (it reconnected there after leaving here), a claim refused
because another node still ran the session (retried), and sessions no live node runs (a hand
over whose station never arrived elsewhere) whose station no other live node holds.
"""

from __future__ import annotations

import contextlib
import logging
import uuid
from collections.abc import Callable

import trio

from csms.actors.database import Database
from csms.actors.remote_gateway import ClusterGateway
from csms.actors.station import StationMessage
from csms.commands import StationGateway
from csms.runtime import DynamicSupervisor, NameTaken
from csms.storage import v2g_sessions as repo

from ._router import SessionIndex

__all__ = ["CHECK_INTERVAL", "SessionOwners"]

log = logging.getLogger("csms.v2g")

#: How often the hand-overs the events cannot tell are looked for, s.
CHECK_INTERVAL = 2.0
#: What a station awaiting its session's adoption says that is kept for it, at most.
KEPT_MESSAGES = 256


class SessionOwners:
    """Adoption and hand-over of the sessions of the stations that come and go."""

    def __init__(
        self,
        node_id: str,
        database: Database,
        gateway: StationGateway,
        index: SessionIndex,
        sessions: DynamicSupervisor,
        start: Callable[[uuid.UUID, str], None],
    ) -> None:
        self.node_id = node_id
        self.database = database
        self.gateway = gateway
        self.index = index
        self.sessions = sessions
        self.start = start
        #: Stations connected here whose sessions may be adopted: what they said meanwhile.
        self.adopting: dict[str, list[StationMessage]] = {}
        #: Sessions whose actor here is stopping to be handed over.
        self.handing_over: set[uuid.UUID] = set()
        #: When a session of a station was started here (its first commands take a moment:
        #: a session started for a station another node holds is handed over after them).
        self.started: dict[str, float] = {}
        self._wake = trio.Event()
        #: Messages not kept for an adoption (beyond ``KEPT_MESSAGES``).
        self.dropped = 0

    # -- the station's side -------------------------------------------------------------------

    def connected(self, station_id: str) -> None:
        """A station without a session here connected: its sessions may be adopted."""
        self.adopting.setdefault(station_id, [])
        self._wake.set()

    def keep(self, message: StationMessage) -> bool:
        """Keep a message of a station whose sessions are being adopted."""
        kept = self.adopting.get(message.station_id)
        if kept is None:
            return False
        if len(kept) < KEPT_MESSAGES:
            kept.append(message)
        else:
            self.dropped += 1
        return True

    def taken_over(self, station_id: str) -> bool:
        """Whether the station, gone from here, is held by another node (its takeover
        announced: the other node has its socket)."""
        gateway = self.gateway
        return isinstance(gateway, ClusterGateway) and station_id in gateway.remote

    def _here(self, station_id: str) -> bool:
        gateway = self.gateway
        local = gateway.local if isinstance(gateway, ClusterGateway) else gateway
        return local.is_connected(station_id)

    # -- work ---------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        checked = trio.current_time()
        while True:
            with trio.move_on_at(checked + CHECK_INTERVAL):
                await self._wake.wait()
            self._wake = trio.Event()
            try:
                await self._adopt()  # a refused claim is retried at the next check
                if trio.current_time() >= checked + CHECK_INTERVAL:
                    checked = trio.current_time()
                    await self._check()
            except Exception as exc:  # the database away: next time
                log.warning(
                    "discharge sessions: ownership check failed", extra={"error": repr(exc)}
                )

    async def _adopt(self) -> None:
        for station_id in [s for s in self.adopting if not self._here(s)]:
            del self.adopting[station_id]  # gone again: not this node's to run
        stations = list(self.adopting)
        if not stations:
            return
        claimed = await self.database.run(repo.claim, self.node_id, stations)
        waiting = set(claimed.held)
        for session_id, station_id in claimed.sessions:
            if session_id in self.handing_over:
                waiting.add(station_id)  # still stopping here: adopted again once given back
            elif self.index.get(session_id) is None:
                try:
                    self.start(session_id, station_id)
                except NameTaken:  # its actor here has not yet finished stopping
                    waiting.add(station_id)
                    continue
                self._adopted(session_id, station_id)
        for station_id in stations:
            if station_id in waiting:
                continue
            for message in self.adopting.pop(station_id, ()):
                self.index.deliver(station_id, message)

    def _adopted(self, session_id: uuid.UUID, station_id: str) -> None:
        log.info(
            "discharge session adopted",
            extra={"session": str(session_id), "station": station_id, "node": self.node_id},
        )

    async def _check(self) -> None:
        now = trio.current_time()
        self.started = {s: t for s, t in self.started.items() if now - t < CHECK_INTERVAL}
        away = [s for s in self.index.stations() if not self._here(s) and s not in self.started]
        if away:
            for station_id in await self.database.run(repo.held_elsewhere, self.node_id, away):
                await self.hand_over(station_id)
        # sessions no live node runs (a hand-over whose station went nowhere): run here
        orphans = await self.database.run(repo.claim, self.node_id, None, again=False)
        for session_id, station_id in orphans.sessions:
            if self.taken_over(station_id) or session_id in self.handing_over:
                await self.database.run(repo.release, self.node_id, [session_id])
            elif self.index.get(session_id) is None:
                with contextlib.suppress(NameTaken):  # still stopping here: next time
                    self.start(session_id, station_id)
                    self._adopted(session_id, station_id)

    async def hand_over(self, station_id: str) -> None:
        """Stop the station's sessions here without ending them and give them back."""
        taken = self.index.take_station(station_id)
        ids = [session_id for session_id, _ in taken]
        self.handing_over.update(ids)
        try:
            for session_id, ref in taken:
                # as at a node stop: what changed is saved, the session goes on elsewhere
                await self.sessions.stop_child(ref)
                log.info(
                    "discharge session handed over",
                    extra={"session": str(session_id), "station": station_id, "node": self.node_id},
                )
            await self.database.run(repo.release, self.node_id, ids)
        finally:
            self.handing_over.difference_update(ids)
