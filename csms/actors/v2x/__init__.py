"""The V2X owner (``v2x``): the station-facing half of V2G, one actor per node (``_actor``).

Registered by the composition root (``csms/node``) with ``v2x_child`` and the routes of
``v2x_routes``:

- BootNotification (2.1, notify): read ``V2XChargingCtrlr`` with GetVariables;
- Authorize (2.1, ask): ``allowedEnergyTransfer`` (Q01.FR.01); a 2.0.1 Authorize never comes;
- NotifyEVChargingNeeds and NotifyEVChargingSchedule (every version, ask): K15-K17, Q01.FR.04/07;
- PullDynamicScheduleUpdate (2.1, ask): the setpoint a discharge session registered (Q04).

Other actors tell it ``SetpointChanged`` and ``AllowV2X``; the REST API ``PreferencesChanged``.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from csms.actors.node import NodeParts
from csms.actors.station import Route
from csms.protocol import Version
from csms.runtime import ChildSpec, Supervisor
from csms.services.v2g_preferences import time_zone

from ._actor import V2XOwner
from ._messages import AllowV2X, GetStationSupport, PreferencesChanged, SetpointChanged

__all__ = [
    "NAME",
    "AllowV2X",
    "GetStationSupport",
    "PreferencesChanged",
    "SetpointChanged",
    "V2XOwner",
    "v2x_child",
    "v2x_routes",
]

#: The owner's name in the node's tree (``root.ref(NAME)``).
NAME = "v2x"


def _zone(parts: NodeParts) -> dt.tzinfo:
    return time_zone(parts.settings.v2g.time_zone)


def v2x_child(parts: NodeParts) -> ChildSpec:
    """The owner's child spec, given the node's parts."""
    response_timeout = parts.settings.ocpp.response_timeout

    def make() -> V2XOwner:
        return V2XOwner(
            gateway=parts.gateway,
            database=parts.database,
            id_tokens=parts.id_tokens,
            time_zone=_zone(parts),
            # a command may wait behind others in the station's mailbox, then for its answer
            command_timeout=response_timeout + 5,
        )

    return ChildSpec.actor(NAME, make, kind="v2x", mailbox_size=5000, shutdown_timeout=5)


def v2x_routes(response_timeout: float) -> Callable[[Supervisor], list[Route]]:
    """The route factory: the owner decides within half the station's response timeout, at
    most 5 s (an ISO 15118 EV waits about 2 s for its schedule, Q01 note); past that the
    handler's answer goes out."""
    timeout = min(5.0, response_timeout / 2)
    v21 = [Version.V21]

    def routes(root: Supervisor) -> list[Route]:
        owner = root.ref(NAME)
        return [
            Route.notify("BootNotification", owner, name=NAME, versions=v21),
            Route.ask("Authorize", owner, name=NAME, timeout=timeout, versions=v21),
            Route.ask("NotifyEVChargingNeeds", owner, name=NAME, timeout=timeout),
            Route.ask("NotifyEVChargingSchedule", owner, name=NAME, timeout=timeout),
            Route.ask("PullDynamicScheduleUpdate", owner, name=NAME, timeout=timeout, versions=v21),
        ]

    return routes
