"""The command gateway of a node in a cluster: the stations whose socket this node holds
through its station actors (``LocalStationGateway``), the others through NATS request/reply to
the node that holds them (its ``CommandServer`` answers on ``<prefix>.station.<id>.cmd``).

The same contract either way (``csms/commands.py``): the caller's deadline travels as the time
left, the holding node's station actor audits and serialises the command as it does a local
one, and its error comes back as the same ``CommandError``. A request is sent once and never
again: no reply by the deadline is ``StationTimeout`` (the holding node drops the command unsent
if it had not gone out yet), nobody subscribed is ``StationNotConnected``.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from typing import Any

import trio

from csms.actors.gateway import LocalStationGateway
from csms.commands import CommandResult, StationNotConnected, queued_too_long
from csms.services.nats_subjects import command_subject

from ._codec import decode_reply, encode_request
from ._link import CommandLink, NoResponders

__all__ = ["REPLY_MARGIN", "ClusterGateway", "preferences_subject"]

#: Beyond the caller's deadline: time for the holding node's answer to travel back.
REPLY_MARGIN = 0.5


def preferences_subject(prefix: str) -> str:
    """Where a node says a user's V2G preferences changed (every node's V2X cache forgets)."""
    return f"{prefix}.v2x.preferences"


class ClusterGateway:
    def __init__(
        self, local: LocalStationGateway, link: CommandLink, *, prefix: str, node_id: str
    ) -> None:
        self.local = local
        self.link = link
        self.prefix = prefix
        self.node_id = node_id
        #: Stations held by other nodes, as their presence announces them: station -> node.
        self.remote: dict[str, str] = {}
        self.remote_sent = 0
        #: Told the user id when another node changed a user's V2G preferences; set by the
        #: composition root (this node's V2X owner forgets what it cached for the user).
        self.preferences_changed: Callable[[str], None] = lambda user_id: None

    def share_preferences_change(self, user_id: str) -> None:
        """Tell the other nodes that ``user_id``'s V2G preferences changed here (without
        waiting; with NATS away they forget within their cache's lifetime anyway)."""
        if self.link.connected:
            body = json.dumps({"userId": user_id, "nodeId": self.node_id}).encode()
            self.link.reply_nowait(preferences_subject(self.prefix), body)

    def is_connected(self, station_id: str) -> bool:
        if self.local.is_connected(station_id):
            return True
        return station_id in self.remote and self.link.connected

    def would_wait(self, station_id: str) -> bool:
        if self.local.is_connected(station_id):
            return self.local.would_wait(station_id)
        return True  # another node's mailbox: it cannot tell

    async def send(
        self,
        station_id: str,
        action: str,
        payload: Mapping[str, Any],
        *,
        requested_by: str,
        deadline: float,
    ) -> CommandResult:
        if self.local.is_connected(station_id) or not self.link.connected:
            return await self.local.send(
                station_id, action, payload, requested_by=requested_by, deadline=deadline
            )
        left = deadline - trio.current_time()
        if left <= 0:
            raise queued_too_long(station_id, action)
        data = encode_request(
            action, payload, requested_by=requested_by, timeout=left, origin=self.node_id
        )
        self.remote_sent += 1
        try:
            reply = await self.link.request(
                command_subject(self.prefix, station_id), data, left + REPLY_MARGIN
            )
        except NoResponders:
            self.remote.pop(station_id, None)
            raise StationNotConnected(f"station {station_id!r} is not connected") from None
        except TimeoutError:
            raise queued_too_long(station_id, action) from None
        except ConnectionError:
            raise StationNotConnected(
                f"station {station_id!r} is not connected here and NATS is not reachable"
            ) from None
        return decode_reply(reply)
