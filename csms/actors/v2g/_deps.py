"""What every discharge session of the node shares, and what a new one starts with."""

from __future__ import annotations

from collections.abc import Sequence

import attrs
import trio

from csms.actors.database import Database
from csms.actors.events import EventBus
from csms.commands import StationGateway
from csms.runtime import ActorRef
from csms.services import v2g_session as policy

from ._messages import SessionOptions
from ._ticker import SessionTicker
from ._writer import RecordWriter

__all__ = ["FirstSteps", "SessionDeps"]


@attrs.define
class SessionDeps:
    """What every session of the node shares."""

    gateway: StationGateway
    database: Database
    events: EventBus
    options: SessionOptions
    policy: policy.SessionPolicy
    #: The V2X owner (``csms/actors/v2x``), told the setpoints of Dynamic profiles (Q04).
    v2x: ActorRef | None = None
    #: The sessions' one timer, their records' writer and the nursery their commands run in
    #: (``V2GSessions``'s).
    ticker: SessionTicker | None = None
    writer: RecordWriter | None = None
    nursery: trio.Nursery | None = None


class FirstSteps:
    """The effects a new session starts with, taken by its first incarnation only (a restart
    after a crash resumes from the row instead)."""

    __slots__ = ("effects",)

    def __init__(self, effects: Sequence[policy.Effect] | None) -> None:
        self.effects = effects

    def take(self) -> Sequence[policy.Effect] | None:
        effects, self.effects = self.effects, None
        return effects
