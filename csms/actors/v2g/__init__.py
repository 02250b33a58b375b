"""V2G discharge sessions (SPEC section 6): ``v2g_sessions``, one actor per discharge session
under a dynamic supervisor, their state in ``v2g_sessions`` (resumed after a node restart).

The node runs it as an extra child (``v2g_sessions_child``) with notify routes for the station
messages the sessions follow (``v2g_session_routes``); the REST API starts and stops sessions
through ``start_discharge`` / ``stop_discharge`` (``ControlPlane.v2g``, filled in by the
composition root). Every decision is the policy's (``csms.services.v2g_session``).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterable

from csms.actors.node import NodeParts
from csms.actors.station import Overflow, Route
from csms.runtime import ActorStopped, ChildSpec, MailboxFull, Supervisor
from csms.services.v2g_preferences import time_zone
from csms.services.v2g_session import SessionPolicy
from csms.storage.v2g_sessions import SessionRow

from ._messages import (
    ChangePower,
    DischargeRefused,
    SessionOptions,
    StartDischarge,
    StopDischarge,
    V2XOwnerKnown,
)
from ._session import SessionDeps
from ._sessions import V2GSessions

__all__ = [
    "FOLLOWED",
    "V2G_SESSIONS",
    "ChangePower",
    "DischargeRefused",
    "SessionOptions",
    "StartDischarge",
    "StopDischarge",
    "V2GSessions",
    "session_policy",
    "start_discharge",
    "stop_discharge",
    "v2g_session_routes",
    "v2g_sessions_child",
]

#: The actor's name in the node's tree.
V2G_SESSIONS = "v2g_sessions"
#: The V2X owner's name (``csms/actors/v2x``).
V2X_OWNER = "v2x"
#: The station messages a session follows (its transaction, its meter, its EVSE's status, the
#: EV's renegotiated needs while negotiating).
FOLLOWED = ("TransactionEvent", "MeterValues", "StatusNotification", "NotifyEVChargingNeeds")


def session_policy(parts: NodeParts) -> SessionPolicy:
    """The session rules with the operator's settings (``[v2g]``)."""
    v2g = parts.settings.v2g
    return SessionPolicy(
        tz=time_zone(v2g.time_zone),
        disconnect_grace_s=v2g.disconnect_grace_s,
        update_interval_s=v2g.update_interval_s,
    )


def v2g_sessions_child(parts: NodeParts) -> ChildSpec:
    """The node's ``v2g_sessions`` child."""
    options = SessionOptions(
        tick_interval=parts.settings.v2g.tick_interval_s,
        # a command may wait behind others in the station's mailbox, then for its answer
        command_timeout=parts.settings.ocpp.response_timeout + 5,
    )
    deps = SessionDeps(
        gateway=parts.gateway,
        database=parts.database,
        events=parts.events,
        options=options,
        policy=session_policy(parts),
    )
    return ChildSpec.actor(
        V2G_SESSIONS,
        lambda: V2GSessions(parts, deps),
        kind="v2g",
        mailbox_size=options.mailbox_size,
        shutdown_timeout=10,
    )


def v2g_session_routes(root: Supervisor) -> Iterable[Route]:
    """Notify routes (dropped when the sessions cannot take them: a session's next reading or
    tick decides again). The sessions are told the node's V2X owner, if it runs one."""
    owner = root.ref(V2G_SESSIONS)
    # without a V2X owner, PullDynamicScheduleUpdate gets the handler's answer
    with contextlib.suppress(KeyError, ActorStopped, MailboxFull):
        owner.tell_nowait(V2XOwnerKnown(root.ref(V2X_OWNER)))
    return [
        Route.notify(action, owner, name=V2G_SESSIONS, overflow=Overflow.DROP, structured=False)
        for action in FOLLOWED
    ]


async def start_discharge(root: Supervisor, start: StartDischarge, *, timeout: float) -> SessionRow:
    """Start a session through the node's ``v2g_sessions`` (``DischargeRefused`` with the
    stable code when refused; ``KeyError`` when the node runs none)."""
    row: SessionRow = await root.ref(V2G_SESSIONS).ask(start, timeout=timeout)
    return row


async def stop_discharge(
    root: Supervisor, session_id: uuid.UUID, *, requested_by: str, timeout: float
) -> SessionRow | None:
    row: SessionRow | None = await root.ref(V2G_SESSIONS).ask(
        StopDischarge(session_id, requested_by), timeout=timeout
    )
    return row
