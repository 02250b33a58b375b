"""The one way to send a command to a station: ``StationGateway``.

The REST API and every actor send commands through a gateway; none asks a station actor
directly. The interface is plain data in, plain data out (a station id, an action name, a JSON
payload, who asked, a deadline; a ``CommandResult`` or one of the typed ``CommandError``\\ s of
``csms.commands``, where the ``StationGateway`` protocol is), so that a remote implementation can
fill it in over NATS for stations held by another node; ``LocalStationGateway`` serves the
stations connected to this node.

The deadline is absolute, on trio's clock (``trio.current_time()``), and covers the whole
command: the wait in the station's mailbox behind earlier commands, and the station's answer
(whose own bound is the node's response timeout). It travels with the command to the station
actor, which drops a command whose caller has given up before it reaches the front of the
mailbox (the deadline passed, or the caller was cancelled): audited ``abandoned``, never sent.
A remote implementation turns the deadline into a relative timeout for the wire.

::

    CommandError                what the gateway raises (see csms/commands.py)
    ├── InvalidCommand          the action or payload is refused (``field`` names the field)
    ├── CommandNotAllowed       OCPP-J forbids sending now
    ├── StationDisconnected     the station went away before answering
    │   └── StationNotConnected     not connected (here): nothing was sent
    ├── StationTimeout          no answer within the response timeout or the deadline
    ├── StationCallError        the station answered with a CALLERROR
    └── StationFailed           its connection failed while sending
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import trio

from csms.actors.station import SendCommand
from csms.commands import (
    CommandResult,
    StationFailed,
    StationNotConnected,
    queued_too_long,
)
from csms.runtime import ActorCrashed, ActorRef, ActorStopped, DynamicSupervisor

__all__ = ["LocalStationGateway"]


class LocalStationGateway:
    """The stations connected to this node: found in the ``stations`` registry, reached
    through their actors' mailboxes."""

    def __init__(self, stations: DynamicSupervisor) -> None:
        self._registry = stations.registry

    def is_connected(self, station_id: str) -> bool:
        return self._registry.lookup(station_id) is not None

    def would_wait(self, station_id: str) -> bool:
        ref = self._registry.lookup(station_id)
        return ref is not None and not ref.idle

    async def send(
        self,
        station_id: str,
        action: str,
        payload: Mapping[str, Any],
        *,
        requested_by: str,
        deadline: float,
    ) -> CommandResult:
        ref = self._registry.lookup(station_id)
        if ref is None:
            raise StationNotConnected(f"station {station_id!r} is not connected")
        command = SendCommand(action, payload, requested_by=requested_by, deadline=deadline)
        if trio.current_effective_deadline() <= deadline:
            # The caller's own cancel scope ends first (the REST API's per-command scope): it
            # bounds the ask, and a cancel scope less is spent per command.
            return await _ask(ref, command, station_id)
        with trio.move_on_at(deadline):
            return await _ask(ref, command, station_id)
        # the ask was given up: the station actor drops the command if it was not sent yet
        raise queued_too_long(station_id, action)


async def _ask(ref: ActorRef, command: SendCommand, station_id: str) -> CommandResult:
    try:
        result: CommandResult = await ref.ask(command, timeout=None)
    except ActorStopped:
        raise StationNotConnected(f"station {station_id!r} disconnected") from None
    except ActorCrashed:
        raise StationFailed(
            f"the connection of {station_id!r} failed while sending {command.action}"
        ) from None
    return result
