"""What the discharge sessions' actors are told and asked, and how a start is refused."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

import attrs
import trio

from csms.runtime import ActorRef, Rejected

__all__ = [
    "ChangePower",
    "CommandAnswered",
    "DischargeRefused",
    "SessionOptions",
    "StartDischarge",
    "StationBack",
    "StationGone",
    "StopDischarge",
    "Tick",
    "TrioWallClock",
    "V2XOwnerKnown",
]


class TrioWallClock:
    """UTC wall-clock time that advances with trio's clock, from the wall time of its first
    reading: the sessions' durations, windows and grace periods run on the same clock as their
    timers (immune to the system clock being set; a test's ``MockClock`` moves both)."""

    __slots__ = ("_anchor",)

    def __init__(self) -> None:
        self._anchor: tuple[dt.datetime, float] | None = None

    def __call__(self) -> dt.datetime:
        now = trio.current_time()
        if self._anchor is None:
            self._anchor = (dt.datetime.now(dt.UTC), now)
        wall, since = self._anchor
        return wall + dt.timedelta(seconds=now - since)


@attrs.frozen
class SessionOptions:
    """How the sessions run."""

    #: How late a session may notice a deadline (duration, window end, disconnect grace), s:
    #: the sessions' one ticker rounds their deadlines up to it.
    tick_interval: float = 1.0
    #: The wall clock the policy decides by (UTC, with tzinfo).
    clock: Callable[[], dt.datetime] = attrs.field(factory=TrioWallClock)
    #: How long a command to the station may take, s (the node's response timeout, and the
    #: wait behind other commands).
    command_timeout: float = 35.0
    #: Mailbox of the sessions' router: room for a burst of every station's messages.
    mailbox_size: int = 20_000


@attrs.frozen
class StartDischarge:
    """Ask: start discharging. Answered with the session's ``SessionRow`` or
    ``DischargeRefused``."""

    station_id: str
    evse_id: int | None
    power_w: Decimal
    duration_s: int | None
    min_soc_percent: Decimal | None
    requested_by: str


@attrs.frozen
class StopDischarge:
    """Ask: the operator stops a session. Answered with its ``SessionRow`` (None: no such
    session)."""

    session_id: uuid.UUID
    requested_by: str


@attrs.frozen
class ChangePower:
    """Ask: a new discharge power for a session (the optimizer's, an operator's), W (positive),
    capped by the policy as at the start; a Dynamic profile's setpoint moves by
    UpdateDynamicSchedule (Q04). Answered with its ``SessionRow`` (None: no such session)."""

    session_id: uuid.UUID
    power_w: Decimal


class DischargeRefused(Rejected):
    """A start the policy (or the node's state) refuses; ``code`` is one of the stable codes
    (docs/V2G.md)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@attrs.frozen
class StationGone:
    """The station's connection to this node ended (``station.disconnected``)."""

    station_id: str
    at: dt.datetime


@attrs.frozen
class StationBack:
    """The station connected again (``station.connected``)."""

    station_id: str
    at: dt.datetime


@attrs.frozen
class Tick:
    """The sessions' ticker: a deadline of the session's has passed, time to look at the
    clock."""


@attrs.frozen
class V2XOwnerKnown:
    """The node's V2X owner (``csms/actors/v2x``), told the setpoints of Dynamic profiles."""

    ref: ActorRef


@attrs.frozen
class CommandAnswered:
    """A command a session sent came back: the station's answer, or the error's code."""

    action: str
    #: What the command was for (the effect that sent it).
    purpose: str
    response: Mapping[str, Any] | None
    error: str | None = None
