"""Routes: station messages another actor owns, delivered to it without slowing the station.

A capability (a V2G session, a firmware job, Plug & Charge) that needs a message a station sends
registers a route for its action when the node is built (``StationRoutes``, handed to every
station in ``StationServices.routes``). The station's handler still runs first (the message is
stored, answered and published as always); the owner then gets a ``StationMessage``, a frozen
value with the station id, the action, the request object, its wire JSON and the time received.

Two kinds of route:

- **notify** (``Route.notify``): a non-blocking send to the owner's mailbox after the handler.
  Its overflow policy says what happens when the owner cannot take it:

  - ``Overflow.DROP``: the notification is dropped and counted; the station's answer is the
    handler's, whatever the owner's state.
  - ``Overflow.REFUSE``: the owner's room is checked *before* the handler runs: a full mailbox
    or a stopped owner answers the station with a retryable CALLERROR (``InternalError``: it
    sends the message again) before anything is stored or acknowledged. Should the mailbox fill
    up while the handler ran, the notification is dropped and counted: a committed message is
    never turned into an error.

- **ask** (``Route.ask``): the owner decides the station's answer. It is asked, with a deadline
  shorter than the station's response timeout, after the handler computed its default answer;
  it replies with the response object to send (the generated class of the station's version)
  or ``None`` for the default. The default applies when the owner is full, stopped, crashes,
  refuses, answers with something else, or does not answer in time. Only that station's reader
  waits for it; every other station goes on.

A route may be limited to some OCPP versions (``versions``): the V2X owner decides the answer
to a 2.1 Authorize, while a 2.0.1 Authorize (the transaction benchmark's) never leaves the
station's handler. The table is split by version when the node is built, so the filter costs a
station nothing per message.

Counters per route (routed, dropped, refused, defaulted) are on ``/metrics``; a slow, full or
crashed owner never delays or fails another station.
"""

from __future__ import annotations

import datetime as dt
import enum
import logging
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING, Any

import attrs

from csms.protocol import Version
from csms.runtime import ActorCrashed, ActorRef, ActorStopped, AskTimeout, MailboxFull, Rejected

if TYPE_CHECKING:
    from csms.protocol import CallReceived, SendReceived

    from ._context import StationContext
    from .handlers import Handler

__all__ = [
    "Overflow",
    "OwnerBusy",
    "Route",
    "RouteStats",
    "StationMessage",
    "StationRoutes",
]

log = logging.getLogger("csms.station")


@attrs.frozen(weakref_slot=False)
class StationMessage:
    """A message a station sent, as its route's owner gets it (a ``tell``, or the ``ask`` of an
    ask route, whose reply is the response to send or ``None``)."""

    station_id: str
    #: The station's OCPP version, ``ocpp2.0.1`` or ``ocpp2.1`` (whose classes ``request`` has).
    version: str
    action: str
    #: The request, as the generated class of the station's version (None when no owner of
    #: the action reads it: ``Route.structured``).
    request: Any
    #: The same, as the station sent it (wire JSON).
    raw: Mapping[str, Any]
    received_at: dt.datetime
    #: The handler's answer to the station (for an ask route, the default the owner may amend
    #: and return, e.g. an AuthorizeResponse with ``allowed_energy_transfer`` added).
    response: Any = None


class Overflow(enum.Enum):
    """What a notify route does when its owner cannot take a message."""

    DROP = "drop"
    REFUSE = "refuse"


class OwnerBusy(Exception):
    """A ``REFUSE`` route's owner cannot take the message: the station is answered with a
    retryable CALLERROR and nothing is stored."""


@attrs.define
class RouteStats:
    routed: int = 0
    dropped: int = 0
    refused: int = 0
    defaulted: int = 0


@attrs.frozen
class Route:
    """One action's messages to one owner."""

    action: str
    owner: ActorRef
    #: The owner's name on /metrics.
    name: str
    overflow: Overflow = Overflow.DROP
    #: Set for an ask route: how long the owner has to decide the answer, in seconds.
    ask_timeout: float | None = None
    #: The OCPP versions whose messages it takes; None: every version.
    versions: frozenset[Version] | None = None
    #: The owner reads the request object (``StationMessage.request``); False: the wire JSON
    #: is enough (``request`` is None unless another owner of the action reads it), so a
    #: TransactionEvent stored from its JSON is not structured for it.
    structured: bool = True
    stats: RouteStats = attrs.field(factory=RouteStats, eq=False)

    @classmethod
    def notify(
        cls,
        action: str,
        owner: ActorRef,
        *,
        name: str,
        overflow: Overflow = Overflow.DROP,
        versions: Iterable[Version] | None = None,
        structured: bool = True,
    ) -> Route:
        return cls(action, owner, name, overflow, None, _versions(versions), structured)

    @classmethod
    def ask(
        cls,
        action: str,
        owner: ActorRef,
        *,
        name: str,
        timeout: float,
        versions: Iterable[Version] | None = None,
    ) -> Route:
        if not timeout > 0:
            raise ValueError(f"the ask route of {action} needs a positive timeout")
        return cls(action, owner, name, Overflow.DROP, timeout, _versions(versions))

    def takes(self, version: Version) -> bool:
        return self.versions is None or version in self.versions

    @property
    def has_room(self) -> bool:
        owner = self.owner
        return owner.alive and not owner.full

    def deliver(self, message: StationMessage) -> None:
        """Hand over without waiting; a full or stopped owner loses it (counted)."""
        try:
            self.owner.tell_nowait(message)
        except (MailboxFull, ActorStopped):
            self.stats.dropped += 1
            return
        self.stats.routed += 1

    async def decide(self, message: StationMessage, default: Any) -> Any:
        """The owner's answer to the station, or ``default``."""
        assert self.ask_timeout is not None
        if not self.has_room:
            return self._default(message, default, "its mailbox is full or it is down")
        if message.response is not default:
            message = attrs.evolve(message, response=default)
        try:
            answer = await self.owner.ask(message, timeout=self.ask_timeout)
        except (AskTimeout, ActorStopped, ActorCrashed, Rejected) as exc:
            return self._default(message, default, type(exc).__name__)
        if answer is not None and type(answer) is not type(default):
            return self._default(message, default, f"it answered a {type(answer).__name__}")
        self.stats.routed += 1
        return default if answer is None else answer

    def _default(self, message: StationMessage, default: Any, reason: str) -> Any:
        self.stats.defaulted += 1
        log.warning(
            "the route's owner did not decide the answer; the default applies",
            extra={
                "station": message.station_id,
                "action": message.action,
                "owner": self.name,
                "reason": reason,
            },
        )
        return default


def _versions(versions: Iterable[Version] | None) -> frozenset[Version] | None:
    return None if versions is None else frozenset(versions)


class StationRoutes:
    """The node's route table, fixed when the node is built, and the count of messages the
    stations handled per action."""

    __slots__ = ("_by_version", "_routes", "received")

    def __init__(self, routes: Iterable[Route] = ()) -> None:
        self._routes = tuple(routes)
        #: Per version, per action, the routes that take it: one dict lookup per message.
        self._by_version: dict[Version, dict[str, tuple[Route, ...]]] = {}
        for version in Version:
            table: dict[str, list[Route]] = {}
            for route in self._routes:
                if not route.takes(version):
                    continue
                owned = table.setdefault(route.action, [])
                if route.ask_timeout is not None and any(r.ask_timeout is not None for r in owned):
                    raise ValueError(
                        f"{route.action} has two ask routes in {version.value}: one owner decides"
                    )
                owned.append(route)
            # ask routes last: the notifications go out before the wait for the decision
            self._by_version[version] = {
                action: tuple(sorted(owned, key=lambda r: r.ask_timeout is not None))
                for action, owned in table.items()
            }
        #: Messages handled, per action (for /metrics).
        self.received: Counter[str] = Counter()

    def __iter__(self) -> Iterator[Route]:
        return iter(self._routes)

    def check(self, response_timeout: float) -> None:
        """Every ask route must decide within the station's response timeout."""
        for route in self:
            if route.ask_timeout is not None and route.ask_timeout >= response_timeout:
                raise ValueError(
                    f"the ask route of {route.action} to {route.name} waits "
                    f"{route.ask_timeout} s, not less than the response timeout "
                    f"({response_timeout} s)"
                )

    def owners(self, action: str, version: Version) -> tuple[Route, ...] | None:
        """The routes of ``action`` from a station of ``version``, or None (most actions: the
        handler alone answers)."""
        return self._by_version[version].get(action)

    async def routed(
        self,
        owned: tuple[Route, ...],
        handler: Handler,
        st: StationContext,
        received: CallReceived | SendReceived,
        request: Any,
    ) -> Any:
        """Run ``handler`` with ``request`` for a message with owners (``owners(action)``) and
        route it. The owners get ``received.payload``, the request structured, also when the
        handler works from the wire JSON alone (``request`` None), unless none of them reads
        it (``Route.structured``): a lazily structured request then stays unstructured."""
        received_at = st.services.now()
        action, raw = received.action, received.raw
        for route in owned:
            if route.overflow is Overflow.REFUSE and not route.has_room:
                route.stats.refused += 1
                raise OwnerBusy(f"{route.name} cannot take {action} now")
        response = await handler(st, request, raw)
        structured = any(route.structured for route in owned)
        message = StationMessage(
            st.station_id,
            st.version.value,
            action,
            received.payload if structured else None,
            raw,
            received_at,
            response,
        )
        for route in owned:
            if route.ask_timeout is None:
                route.deliver(message)
            else:
                response = await route.decide(message, response)
        return response
