"""The simulated charge point as an actor: one WebSocket connection at a time (trio-websocket),
OCPP-J through the client role of `csms.protocol`, reconnecting with the Part 4 back-off.

Transaction messages (TransactionEvent, MeterValues) wait in `StationState.queue` until the
CSMS acknowledges them, in order, across reconnections; the rest is sent only while online.
"""

from __future__ import annotations

import base64
import datetime
import logging
import math
import time
from collections import deque
from typing import Any

import trio
from trio_websocket import ConnectionClosed, WebSocketConnection, connect_websocket_url

from csms.protocol import (
    Call,
    CallError,
    CallErrorReceived,
    CallReceived,
    CallResult,
    CallResultReceived,
    Direction,
    ErrorCode,
    Event,
    InvalidCallResult,
    LocalProtocolError,
    OcppConnection,
    ProtocolViolation,
    Role,
    structure_payload,
)
from csms.runtime import Actor, ActorContext, ChildSpec, Rejected, RestartType

from . import _commands as cmd
from ._answers import ChangeHeartbeat, Effect, Reboot, RunFirmwareUpdate, SendMessages, answer
from ._connection_errors import NETWORK_ERRORS, HandshakeTimeout, close, first_leaf, timed_out
from ._firmware import run_update
from ._model import Outgoing, SimulationError
from ._operator import now as _now
from ._operator import operate, plug_in
from ._state import StationState
from ._v2x import follow_schedules, needs_answered

__all__ = ["SimulatedStation", "station_spec"]

log = logging.getLogger("csms.simulator")


class _CallTimeout(ConnectionError):
    """The CSMS did not answer in time: the connection is given up."""


class SimulatedStation(Actor):
    background_tasks = True

    def __init__(self, state: StationState) -> None:
        self.s = state
        self.cfg = state.config
        self._ctx: ActorContext | None = None
        self._ws: WebSocketConnection | None = None
        self._conn: OcppConnection | None = None
        self._outbox: deque[Outgoing] = deque()
        self._wake = trio.Event()
        self._waiting: str | None = None
        self._reply: Event | None = None
        self._answered = trio.Event()
        self._rebooting = False
        self._dropped = False
        self._heartbeat_s = self.cfg.heartbeat_interval or 300.0
        self._advanced_at = 0.0  # trio time up to which the model's energy is counted
        self._offline_since: float | None = None  # trio time the CSMS went out of reach
        self._unexpected_logged: set[str] = set()  # exception types logged (once each)
        self._opened_at = 0.0  # wall-clock instant the current connection was opened

    # --- actor --------------------------------------------------------------------------

    async def on_start(self, ctx: ActorContext) -> None:
        self._ctx = ctx
        self._advanced_at = trio.current_time()
        ctx.nursery.start_soon(self._connection_loop)
        ctx.nursery.start_soon(self._meter_loop)
        ctx.nursery.start_soon(self._schedule_loop)
        if self.cfg.behaviour is not None:
            from ._behaviour import run_behaviour

            ctx.nursery.start_soon(run_behaviour, self, self.cfg.behaviour)

    async def receive(self, message: Any) -> Any:
        try:
            self.catch_up()
            if isinstance(message, cmd.StartCharging):
                return await plug_in(self, message.connector)
            return operate(self, message)
        except SimulationError as exc:
            raise Rejected(str(exc)) from None

    def catch_up(self) -> None:
        """Count the energy moved since the last change at the power that applied meanwhile
        (trio's clock: a MockClock drives it in tests)."""
        now = trio.current_time()
        offline = self._offline_since
        self.s.model.offline_seconds = 0.0 if offline is None else now - offline
        seconds, self._advanced_at = now - self._advanced_at, now
        changed = follow_schedules(self.s.model, seconds, _now(), offline=not self.s.online)
        if changed:  # a profile's next period began meanwhile
            self.emit(changed)

    def reboot(self, reason: str) -> None:
        """End transactions, disconnect, and boot again with ``reason``."""
        cp = self.s.model
        cp.reset_pending = False
        stopped = "ImmediateReset" if reason == "RemoteReset" else "Reboot"
        self.emit(cp.stop_all(_now(), stopped, offline=not self.s.online))
        cp.boot_reason = reason
        self.s.booted = False
        self._rebooting = True
        self.drop_connection()

    def drop_connection(self) -> None:
        """Close the socket (a soak's mass disconnect); reconnects with the back-off."""
        if self._ws is not None and self._ctx is not None:
            self._ctx.nursery.start_soon(close, self._ws)

    # --- outgoing -----------------------------------------------------------------------

    def emit(self, messages: list[Outgoing] | tuple[Outgoing, ...]) -> None:
        for message in messages:
            if message.transactional:
                self.s.queue.append(message)
            elif self.s.connected:
                self._outbox.append(message)
        self._wake.set()
        self.s.changed()
        if self.s.model.reset_pending and not self.s.model.charging():
            self.reboot("RemoteReset")

    def _next(self) -> tuple[Outgoing | None, bool]:
        if self.s.queue and self.s.accepted:
            return self.s.queue[0], True
        if self._outbox:
            return self._outbox.popleft(), False
        return None, False

    async def _sender(self) -> None:
        while True:
            item, persistent = self._next()
            if item is None:
                await self._wake.wait()
                self._wake = trio.Event()
                continue
            outcome = await self._call(item.action, item.payload)
            if item.on_reply is not None:
                item.on_reply(outcome)
            if item.action == "NotifyEVChargingNeeds":
                self.emit(needs_answered(self.s.model, item.payload, outcome, _now()))
            if persistent and self.s.queue and self.s.queue[0] is item:
                if outcome is not None or self._dropped:
                    self.s.queue.popleft()
                    self.s.changed()
                else:
                    await trio.sleep(self.cfg.retry_interval)

    async def _call(self, action: str, payload: dict[str, Any]) -> dict[str, Any] | None:
        """Send one CALL and wait for its answer: the response payload, or None after a
        CALLERROR (or a payload we could not send, then ``_dropped`` is set)."""
        conn, ws = self._conn, self._ws
        assert conn is not None
        assert ws is not None
        self._dropped = False
        message_id = self.s.next_message_id()
        try:
            message = structure_payload(
                conn.version, action, Direction.REQUEST, payload, validate=False
            )
            text = conn.send(Call(message_id, message))
        except (LocalProtocolError, ValueError, TypeError) as exc:
            self._dropped = True
            self.s.error("invalid_outbound", f"{action}: {exc}")
            log.error("cannot send", extra={"station": self.cfg.station_id, "action": action})
            return None
        self._waiting, self._reply, self._answered = message_id, None, trio.Event()
        started = trio.current_time()
        await ws.send_message(text)
        with trio.move_on_after(self.cfg.response_timeout):
            await self._answered.wait()
        reply, self._waiting = self._reply, None
        if reply is None:
            conn.timeout_outstanding(message_id)
            self.s.error("timeout", action)
            raise _CallTimeout(f"no answer to {action} within {self.cfg.response_timeout} s")
        if isinstance(reply, CallResultReceived):
            if self.s.stats is not None:
                self.s.stats.call_done(action, trio.current_time() - started)
            self.s.acknowledged(action, payload)
            return dict(reply.raw)
        detail = getattr(reply, "description", "")
        self.s.error(f"{action}:{getattr(reply, 'code', 'error')}", str(detail))
        log.warning("call failed", extra={"station": self.cfg.station_id, "action": action})
        return None

    # --- connection ---------------------------------------------------------------------

    async def _connection_loop(self) -> None:
        attempt = 0
        while True:
            self.s.attempts += 1
            self.s.changed()
            try:
                await self._connect_once()
            except* NETWORK_ERRORS as group:
                reason = repr(group.exceptions[0])
                if not self._rebooting:
                    kind = "handshake_timeout" if timed_out(group) else "connection"
                    self.s.error(kind, reason)
                log.info("disconnected", extra={"station": self.cfg.station_id, "reason": reason})
            except* Exception as group:  # a bug of ours or a library's: reconnect all the same
                self._unexpected(first_leaf(group))
            if self.s.connected:
                attempt = 0
            elif len(self.cfg.fallback_servers) > 0:  # this CSMS is unreachable: the next one
                self.s.server_index += 1
            self._mark_disconnected()
            if self._rebooting:
                self._rebooting = False
                attempt = 0
                continue
            delay = self.s.backoff().delay(attempt, self.s.rng)
            attempt += 1
            await trio.sleep(delay)

    def _unexpected(self, exc: BaseException) -> None:
        """Count an error the connection loop does not expect (the station goes on with the
        back-off: one station's bug must not take it offline for good), logged once a type."""
        kind = type(exc).__name__
        self.s.error(f"unexpected:{kind}", repr(exc))
        if kind not in self._unexpected_logged:
            self._unexpected_logged.add(kind)
            log.error(
                "unexpected error in the connection, reconnecting",
                exc_info=exc,
                extra={"station": self.cfg.station_id, "error": kind},
            )

    async def _connect_once(self) -> None:
        headers: list[tuple[bytes, bytes]] = []
        if self.cfg.password is not None:
            secret = f"{self.cfg.station_id}:{self.cfg.password}".encode()
            headers.append((b"Authorization", b"Basic " + base64.b64encode(secret)))
        async with trio.open_nursery() as nursery:
            with trio.move_on_after(self.cfg.connect_timeout) as handshake:
                ws = await connect_websocket_url(
                    nursery,
                    self.cfg.url_at(self.s.server_index),
                    subprotocols=[self.cfg.version.subprotocol],
                    extra_headers=headers,
                )
            if handshake.cancelled_caught:
                nursery.cancel_scope.cancel()
                raise HandshakeTimeout(f"no handshake within {self.cfg.connect_timeout} s")
            try:
                if ws.subprotocol != self.cfg.version.subprotocol:
                    raise ConnectionRefusedError(f"the CSMS chose subprotocol {ws.subprotocol!r}")
                await self._session(ws)
            finally:
                with trio.move_on_after(1.0) as scope:
                    scope.shield = True
                    await ws.aclose()
                nursery.cancel_scope.cancel()

    async def _session(self, ws: WebSocketConnection) -> None:
        conn = OcppConnection(Role.CLIENT, self.cfg.version, validate_outbound=self.cfg.validate)
        self._ws, self._conn = ws, conn
        self._opened_at = time.time()
        self._outbox.clear()
        self.s.connected = True
        if self.s.stats is not None:
            self.s.stats.connected += 1
            self.s.stats.connects += 1
        self.s.changed()
        url = self.cfg.url_at(self.s.server_index)
        log.info("connected", extra={"station": self.cfg.station_id, "url": url})
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self._reader, ws, conn, nursery.cancel_scope)
            booted_now = False
            if not self.s.booted:
                await self._boot()
                booted_now = True
            self.s.accepted = True
            self._offline_since = None
            self.catch_up()  # profiles suspended while offline apply again (Q11)
            self.s.changed()
            if booted_now:
                # Each connector's status, answered before anything else is sent: a station
                # is "ready" (the load test starts measuring once the fleet is) from there on.
                for status in self.s.model.statuses(_now()):
                    await self._call(status.action, status.payload)
                if self.s.boots == 1 and self.s.stats is not None:
                    self.s.stats.station_ready()
            nursery.start_soon(self._sender)
            nursery.start_soon(self._heartbeat_loop)

    def _mark_disconnected(self) -> None:
        if self.s.connected and self.s.stats is not None:
            self.s.stats.connected -= 1
        if self.s.accepted:
            self.catch_up()
            self._offline_since = trio.current_time()
        self._ws = self._conn = None
        self.s.connected = self.s.accepted = False
        self._outbox.clear()
        self.s.changed()

    async def _boot(self) -> None:
        while True:
            response = await self._call("BootNotification", self.s.model.boot().payload)
            if response is not None and response["status"] == "Accepted":
                break
            wait = response["interval"] if response is not None else 0
            await trio.sleep(wait if wait > 0 else self.cfg.retry_interval)
        self._on_boot_accepted(response)

    def _on_boot_accepted(self, response: dict[str, Any]) -> None:
        self.s.booted = True
        self.s.boots += 1
        interval = self.cfg.heartbeat_interval or response["interval"] or self._heartbeat_s
        self._heartbeat_s = float(interval)
        self.s.model.device.values["OCPPCommCtrlr", "HeartbeatInterval"] = f"{interval:g}"
        self.s.model.boot_reason = "PowerUp"
        log.info("booted", extra={"station": self.cfg.station_id, "interval": interval})

    async def _heartbeat_loop(self) -> None:
        while True:
            await trio.sleep(self._heartbeat_s)
            self.emit([Outgoing("Heartbeat", {})])

    async def _meter_loop(self) -> None:
        while True:
            await trio.sleep(self.cfg.meter_interval)
            self.catch_up()
            if self.s.model.charging():
                self.emit(self.s.model.updates(_now(), offline=not self.s.online))

    async def _schedule_loop(self) -> None:
        """Catch up where a charging profile's period changes, so that the power changes
        then (and a 2.1 EV reports it at once); a new profile brings its own changes."""
        model = self.s.model
        while True:
            due = model.next_change(_now())
            wait = math.inf if due is None else (due - _now()).total_seconds() + 1e-6

            def moved(due: datetime.datetime | None = due) -> bool:
                return model.next_change(_now()) != due

            with trio.move_on_after(max(wait, 0.0)):
                await self.s.wait_for(moved)
            self.catch_up()

    # --- incoming -----------------------------------------------------------------------

    async def _reader(
        self, ws: WebSocketConnection, conn: OcppConnection, scope: trio.CancelScope
    ) -> None:
        try:
            while True:
                text = await ws.get_message()
                for event in conn.receive_text(text):
                    await self._on_event(ws, conn, event)
        except ConnectionClosed:
            pass
        scope.cancel()

    async def _on_event(self, ws: WebSocketConnection, conn: OcppConnection, event: Any) -> None:
        if isinstance(event, CallResultReceived | CallErrorReceived | InvalidCallResult):
            if event.message_id == self._waiting:
                self._reply = event
                self._answered.set()
            return
        if isinstance(event, CallReceived):
            await self._on_call(ws, conn, event)
            return
        if isinstance(event, ProtocolViolation):
            self.s.error("protocol", event.description)
            if event.reply is not None:
                await ws.send_message(event.reply)

    async def _on_call(self, ws: WebSocketConnection, conn: OcppConnection, call: Any) -> None:
        self.s.received[call.action] += 1
        if self.s.ledger is not None:  # a soak checks no command came twice or too late
            station, opened = self.cfg.station_id, self._opened_at
            self.s.ledger.delivered(station, call.message_id, call.action, opened)
        if self.s.stats is not None:
            self.s.stats.received += 1
        log.info("command", extra={"station": self.cfg.station_id, "action": call.action})
        try:
            self.catch_up()  # a new profile applies from now on, the old one until now
            payload, effects = answer(self.s.model, conn.version, call.action, call.raw, _now())
            response = structure_payload(conn.version, call.action, Direction.RESPONSE, payload)
            text = conn.send(CallResult(call.message_id, response))
        except Exception as exc:  # a bug of ours: the CSMS still gets an answer
            self.s.error("answer", f"{call.action}: {exc!r}")
            effects = []
            text = conn.send(
                CallError(call.message_id, ErrorCode.INTERNAL_ERROR, "simulator failed")
            )
        self.s.applying += 1  # from before the answer leaves until its effects are applied
        try:
            await ws.send_message(text)
            for effect in effects:
                self._apply(effect)
        finally:
            self.s.applying -= 1
            self.s.changed()

    def _apply(self, effect: Effect) -> None:
        if isinstance(effect, SendMessages):
            self.emit(effect.messages)
        elif isinstance(effect, Reboot):
            self.reboot(effect.reason)
        elif isinstance(effect, RunFirmwareUpdate):
            assert self._ctx is not None
            self._ctx.nursery.start_soon(run_update, self, effect)
        elif isinstance(effect, ChangeHeartbeat):
            self._heartbeat_s = effect.seconds


def station_spec(state: StationState) -> ChildSpec:
    """The child spec of one simulated station (restarted with its state if it crashes)."""
    return ChildSpec.actor(
        state.config.station_id,
        lambda: SimulatedStation(state),
        kind="simulator",
        restart=RestartType.PERMANENT,
        mailbox_size=16,
        shutdown_timeout=1.0,
    )
