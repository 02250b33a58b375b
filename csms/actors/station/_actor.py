"""The station actor: one per connected charge point.

Two tasks share the connection. The *reader* is the connection's own task (see
:func:`start_station`): it turns every received frame into protocol events and answers the
station's CALLs in order, one at a time, as OCPP-J has them arrive. The *mailbox loop* is the
actor's task and runs commands: it sends one CALL, waits for its answer (which the reader hands
over) or for the response timeout, and only then takes the next command, so at most one
CSMS-initiated CALL is outstanding and later commands wait in the mailbox. Reading in the
connection's task rather than in a task of the actor's own saves a task, a nursery and their
frames per station: an idle node holds tens of thousands of these.

Handlers (``handlers``) get a ``StationContext``, not the actor: they cannot send commands
(that would wait on the mailbox loop from the reader). A message another actor owns is routed
to it (``_routes``); commands go through the node's ``StationGateway``.

A closed link raises a ``ConnectionError``: ``LinkClosed`` from in-memory links, the transport's
``ConnectionClosed`` from WebSockets, both with a ``code``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
from typing import Any, NoReturn

import trio

from csms.domain import events
from csms.domain.records import CommandAudit, StationPresence
from csms.domain.station import StationState
from csms.protocol import (
    BootState,
    Call,
    CallError,
    CallErrorReceived,
    CallReceived,
    CallResult,
    CallResultReceived,
    Direction,
    ErrorCode,
    InvalidCallResult,
    LocalProtocolError,
    OcppConnection,
    PayloadError,
    ProtocolViolation,
    Role,
    SendReceived,
    UnmatchedResponse,
    Version,
    new_message_id,
    random_uuid,
    structure_payload,
    unstructure_payload,
)
from csms.runtime import Actor, ActorContext, ActorRef, ChildSpec, DynamicSupervisor, RestartType

from . import _password, _split, handlers
from ._actions import CSMS_INITIATED
from ._commands import (
    CommandAbandoned,
    CommandNotAllowed,
    CommandResult,
    Disconnect,
    GetSnapshot,
    InvalidCommand,
    SendCommand,
    StationCallError,
    StationDisconnected,
    StationTimeout,
)
from ._context import StationContext
from ._link import StationLink
from ._routes import OwnerBusy
from ._services import StationServices

log = logging.getLogger("csms.station")


class _Pending:
    """The outstanding command, filled in by the reader."""

    __slots__ = ("command", "command_id", "done", "event", "message_id", "sent_at")

    def __init__(
        self, command: SendCommand, command_id: str, message_id: str, sent_at: dt.datetime
    ) -> None:
        self.command = command
        self.command_id = command_id
        self.message_id = message_id
        self.sent_at = sent_at
        self.event: Any = None
        self.done = trio.Event()

    def finish(self, event: Any) -> None:
        if not self.done.is_set():
            self.event = event
            self.done.set()


class StationActor(Actor):
    """A connected station's state, commands and message handlers; see :func:`start_station`."""

    __slots__ = (
        "_ctx",
        "_pending",
        "_reader",
        "conn",
        "connected",
        "context",
        "link",
        "messages",
        "services",
        "state",
        "station_id",
        "version",
    )

    def __init__(
        self,
        link: StationLink,
        services: StationServices,
        *,
        boot_state: BootState = BootState.UNKNOWN,
        registration_status: str | None = None,
        validate_outbound: bool = False,
    ) -> None:
        self.link = link
        self.services = services
        self.station_id = link.station_id
        self.version = Version.from_subprotocol(link.subprotocol)
        self.messages = handlers.message_module(self.version)
        self.conn = OcppConnection(
            Role.SERVER,
            self.version,
            supported_actions=handlers.SUPPORTED_ACTIONS,
            boot_state=boot_state,
            validate_outbound=validate_outbound,
            structure_lazily=handlers.UNSTRUCTURED_ACTIONS,
        )
        now = services.now()
        self.state = StationState(
            self.station_id,
            self.version.value,
            now,
            registration_at_connect=registration_status,
        )
        self.connected = True
        self._pending: _Pending | None = None
        self._ctx: ActorContext | None = None
        self._reader: trio.CancelScope | None = None
        #: What the handlers see of the station (and nothing that sends).
        self.context = StationContext(
            self.station_id, self.version, self.messages, self.state, {}, services
        )

    @property
    def _log(self) -> dict[str, str]:  # made per log line: not kept by every idle station
        return {"station": self.station_id}

    def itself(self) -> StationActor:
        """The factory of its one incarnation (see :func:`start_station`)."""
        return self

    @property
    def ref(self) -> ActorRef:
        assert self._ctx is not None, "the actor has not started"
        return self._ctx.ref

    # -- lifecycle ------------------------------------------------------------------------

    async def on_start(self, ctx: ActorContext) -> None:
        self._ctx = ctx
        await self.services.submit(
            StationPresence(self.station_id, self.services.node_id, True, self.services.now())
        )
        self.services.events.publish(
            events.StationConnected(station_id=self.station_id, version=self.version.value)
        )
        log.info("station connected", extra={**self._log, "version": self.version.value})

    async def on_stop(self, reason: BaseException | None) -> None:
        self.connected = False
        if self._pending is not None:
            self._pending.finish(None)
        if self._reader is not None:
            self._reader.cancel()  # the connection's task: it returns and the socket closes
        with contextlib.suppress(ConnectionError):
            await self.link.close(1000 if reason is None else 1011)
        await self.services.submit(
            StationPresence(self.station_id, self.services.node_id, False, self.services.now())
        )
        self.services.events.publish(events.StationDisconnected(station_id=self.station_id))
        log.info("station disconnected", extra=self._log)

    # -- mailbox --------------------------------------------------------------------------

    async def receive(self, message: Any) -> Any:
        if isinstance(message, SendCommand):
            return await _split.send(self, message)
        if isinstance(message, GetSnapshot):
            return self.state.snapshot()
        if isinstance(message, Disconnect):
            log.info("closing the connection", extra={**self._log, "reason": message.reason})
            assert self._ctx is not None
            self._ctx.stop()
            return None
        raise TypeError(f"station actor got {type(message).__name__}")

    # -- inbound --------------------------------------------------------------------------

    async def read_loop(self) -> None:
        """Read and answer the station until the link closes or the actor stops (which cancels
        this); the actor is then stopped. Runs in the connection's task, after ``on_start``."""
        try:
            with trio.CancelScope() as self._reader:
                receive = self.link.receive_text
                # The actor may have been stopped (replaced by a newer connection, say) between
                # its start and this call, before there was a reader to cancel.
                while self.connected:
                    text = await receive()
                    for event in self.conn.receive_text(text):
                        await self._on_event(event)
        except ConnectionError as closed:
            code = getattr(closed, "code", None)
            log.info("connection closed", extra={**self._log, "code": code})
        finally:
            self._reader = None
            self.connected = False
            if self._pending is not None:
                self._pending.finish(None)
            assert self._ctx is not None
            self._ctx.stop()

    async def _on_event(self, event: Any) -> None:
        if isinstance(event, CallReceived):
            await self.link.send_text(await self._answer(event))
        elif isinstance(event, (CallResultReceived, CallErrorReceived, InvalidCallResult)):
            if isinstance(event, InvalidCallResult) and event.reply is not None:
                await self.link.send_text(event.reply)
            pending = self._pending
            if pending is not None and pending.message_id == event.message_id:
                pending.finish(event)
        elif isinstance(event, ProtocolViolation):
            log.warning(
                "protocol violation",
                extra={**self._log, "code": str(event.code), "detail": event.description},
            )
            if event.reply is not None:
                await self.link.send_text(event.reply)
        elif isinstance(event, UnmatchedResponse):
            log.warning(
                "response to no outstanding call dropped",
                extra={**self._log, "message_id": event.message_id, "late": event.timed_out},
            )
        elif isinstance(event, SendReceived):
            try:
                await self._handle(event)
            except Exception as exc:  # a SEND has no answer: the reader carries on
                log.warning(
                    "message not handled",
                    extra={**self._log, "action": event.action, "error": repr(exc)},
                )

    async def _answer(self, call: CallReceived) -> str:
        try:
            response = await self._handle(call)
        except OwnerBusy as exc:  # nothing was stored: the station sends it again
            log.warning("message refused", extra={**self._log, "reason": str(exc)})
            return self.conn.send(
                CallError(call.message_id, ErrorCode.INTERNAL_ERROR, "the CSMS is busy, retry")
            )
        except Exception as exc:  # the station gets InternalError and the actor lives on
            log.exception(
                "handler failed", extra={**self._log, "action": call.action, "error": repr(exc)}
            )
            return self.conn.send(
                CallError(
                    call.message_id, ErrorCode.INTERNAL_ERROR, "the CSMS could not process it"
                )
            )
        return self.conn.send(CallResult(call.message_id, response))

    async def _handle(self, message: CallReceived | SendReceived) -> Any:
        action = message.action
        handler = handlers.HANDLERS[action]
        routes = self.services.routes
        owned = routes.owners(action, self.version)
        request = None if action in handlers.UNSTRUCTURED_ACTIONS else message.payload
        if owned is None:
            response = await handler(self.context, request, message.raw)
        else:
            response = await routes.routed(owned, handler, self.context, message, request)
        routes.received[action] += 1
        return response

    # -- outbound -------------------------------------------------------------------------

    def request(self, command: SendCommand) -> Any:
        """The command's request object; raises InvalidCommand if it may not be sent."""
        action = command.action
        if action not in CSMS_INITIATED[self.version]:
            raise InvalidCommand(
                f"{action} is not an action the CSMS sends in {self.version.value}",
                field="action",
            )
        try:
            request = structure_payload(
                self.version, action, Direction.REQUEST, dict(command.payload)
            )
        except PayloadError as exc:
            raise InvalidCommand(str(exc), field=exc.path or None) from None
        _password.new_password(action, command.payload)
        return request

    async def _command(self, command: SendCommand) -> CommandResult:
        """Send one request (``_split.send`` decides how many) and wait for its answer."""
        action = command.action
        request = self.request(command)
        if not self.connected:
            raise StationDisconnected(f"{self.station_id} is not connected")
        if self._asker_gone(command):
            await self._abandon(command)
        command_id = random_uuid()
        message_id = new_message_id()
        try:
            text = self.conn.send(Call(message_id, request))
        except LocalProtocolError as exc:
            raise CommandNotAllowed(str(exc), command_id=command_id) from None
        self.services.events.publish(
            events.CommandSent(
                command_id=command_id,
                station_id=self.station_id,
                action=action,
                requested_by=command.requested_by,
            )
        )
        pending = self._pending = _Pending(command, command_id, message_id, self.services.now())
        deadline = trio.current_time() + (command.timeout or self.services.response_timeout)
        try:
            await self.link.send_text(text)
            with trio.move_on_at(
                min(deadline, trio.current_time() + self.services.audit_sent_after)
            ):
                await pending.done.wait()
            if not pending.done.is_set() and trio.current_time() < deadline:
                # still outstanding: on record as sent
                await self.services.submit(self._audit(pending, "sent"))
                with trio.move_on_at(deadline):
                    await pending.done.wait()
        except ConnectionError:
            pending.finish(None)
        finally:
            self._pending = None
        return await self._finish(pending)

    def _asker_gone(self, command: SendCommand) -> bool:
        """Whoever asked for ``command`` no longer waits for it: its deadline passed, or its
        ask was given up (a REST caller's timeout, a client that went away)."""
        if command.deadline is not None and trio.current_time() >= command.deadline:
            return True
        return self._ctx is not None and self._ctx.asker_gone

    async def _abandon(self, command: SendCommand) -> NoReturn:
        """Drop a command nobody waits for any more: audited ``abandoned``, never sent."""
        command_id = random_uuid()
        now = self.services.now()
        await self.services.submit(
            CommandAudit(
                command_id=command_id,
                station_id=self.station_id,
                action=command.action,
                requested_by=command.requested_by,
                payload=dict(_password.masked(command.action, command.payload)),
                status="abandoned",
                requested_at=now,
                node_id=self.services.node_id,
                completed_at=now,
            )
        )
        self.services.events.publish(
            events.CommandAbandoned(
                at=now,
                command_id=command_id,
                station_id=self.station_id,
                action=command.action,
                requested_by=command.requested_by,
            )
        )
        log.info(
            "command dropped: its caller gave up before it could be sent",
            extra={**self._log, "action": command.action, "command_id": command_id},
        )
        raise CommandAbandoned(
            f"{command.action} to {self.station_id} was not sent: its caller gave up",
            command_id=command_id,
        )

    def _audit(self, pending: _Pending, status: str, **outcome: Any) -> CommandAudit:
        """The command's audit record; built once per write (the quick ones are written once)."""
        command = pending.command
        return CommandAudit(
            command_id=pending.command_id,
            station_id=self.station_id,
            action=command.action,
            requested_by=command.requested_by,
            payload=dict(_password.masked(command.action, command.payload)),
            status=status,
            requested_at=pending.sent_at,
            node_id=self.services.node_id,
            message_id=pending.message_id,
            sent_at=pending.sent_at,
            **outcome,
        )

    async def _finish(self, pending: _Pending) -> CommandResult:
        done = self.services.now()
        command = pending.command
        event = pending.event
        base: dict[str, Any] = {
            "at": done,
            "command_id": pending.command_id,
            "station_id": self.station_id,
            "action": command.action,
        }
        if isinstance(event, CallResultReceived):
            response = event.raw
            await self.services.submit(
                self._audit(pending, "responded", completed_at=done, response=response)
            )
            self.services.events.publish(
                events.CommandResponse(**base, outcome="responded", response=response)
            )
            password = _password.new_password(command.action, command.payload)
            if password is not None and _password.accepted(response):  # A01.FR.03
                await _password.adopt(self, password, pending.command_id)
            return CommandResult(pending.command_id, command.action, response, event.payload)
        if isinstance(event, (CallErrorReceived, InvalidCallResult)):
            code = str(event.code)
            description = event.description
            details = getattr(event, "details", {}) or {}
            await self.services.submit(
                self._audit(
                    pending,
                    "error",
                    completed_at=done,
                    error_code=code,
                    error_description=description,
                )
            )
            self.services.events.publish(
                events.CommandResponse(
                    **base, outcome="callerror", error_code=code, error_description=description
                )
            )
            raise StationCallError(
                f"{self.station_id} answered {command.action} with {code}: {description}",
                ocpp_code=code,
                description=description,
                details=details,
                command_id=pending.command_id,
            )
        if event is None and not self.connected:
            await self.services.submit(
                self._audit(pending, "failed", completed_at=done, error_code="Disconnected")
            )
            self.services.events.publish(events.CommandResponse(**base, outcome="disconnected"))
            raise StationDisconnected(
                f"{self.station_id} disconnected before answering {command.action}",
                command_id=pending.command_id,
            )
        self.conn.timeout_outstanding(pending.message_id)
        await self.services.submit(self._audit(pending, "timeout", completed_at=done))
        self.services.events.publish(events.CommandTimeout(**base))
        log.warning("command timed out", extra={**self._log, "action": command.action})
        raise StationTimeout(
            f"{self.station_id} did not answer {command.action} in time",
            command_id=pending.command_id,
        )

    def wire(self, message: Any) -> Any:
        return unstructure_payload(self.version, message)


async def start_station(
    stations: DynamicSupervisor,
    link: StationLink,
    services: StationServices,
    *,
    boot_state: BootState = BootState.UNKNOWN,
    registration_status: str | None = None,
    validate_outbound: bool = False,
    mailbox_size: int = 100,
) -> StationActor:
    """Start the station actor of a new connection; the caller's task then runs its
    ``read_loop`` until the link closes (the actor then stops) or the actor stops (a crash,
    ``Disconnect``, a newer connection: the link is closed with the actor's code).

    The actor is a temporary child of ``stations``, registered under the station id (an older
    connection's actor is stopped first). It never restarts, so its one incarnation is built
    here and the spec's factory hands out that instance.
    """
    actor = StationActor(
        link,
        services,
        boot_state=boot_state,
        registration_status=registration_status,
        validate_outbound=validate_outbound,
    )
    spec = ChildSpec.actor(
        link.station_id,
        actor.itself,
        kind="station",
        restart=RestartType.TEMPORARY,
        mailbox_size=mailbox_size,
        shutdown_timeout=5.0,
    )
    await stations.start_child(spec, name=link.station_id, replace=True)
    return actor
