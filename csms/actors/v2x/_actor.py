"""The V2X owner: the station-facing half of V2G (OCPP 2.1 block Q, K15-K17 for every EV).

One actor per node (``v2x``). Its routes bring it a 2.1 station's BootNotification (then it
reads the station's ``V2XChargingCtrlr`` variables), 2.1 Authorize (it adds
``allowedEnergyTransfer``, Q01.FR.01), NotifyEVChargingNeeds and NotifyEVChargingSchedule of
every version (K15/K17, Q01.FR.04/07) and 2.1 PullDynamicScheduleUpdate (Q04). Discharge
sessions (``csms/actors/v2g``) tell it ``SetpointChanged`` and ``AllowV2X``.

Its mailbox never waits for a station or the database (``_base``): an ask is answered later
from a task of its own, and a command (GetVariables, the SetChargingProfile an Accepted needs
promises, NotifyAllowedEnergyTransfer) goes through the gateway from a task, after the answer
to the station went out. The decisions are the pure policies' (``csms.services``:
``v2x_authorization``, ``v2g_profiles``).
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any, ClassVar, Final

import attrs
import psycopg
import trio

from csms.actors.database import Database
from csms.actors.id_tokens import IdTokens
from csms.actors.station import StationMessage
from csms.commands import CommandError, StationGateway
from csms.protocol import Direction, Version, structure_payload, v21
from csms.runtime import Reply
from csms.services.v2g_profiles import (
    PROFILE_ID_BASE,
    pull_dynamic_schedule_response,
    schedule_decision,
)
from csms.services.v2x_authorization import (
    UNAVAILABLE,
    NeedsDecision,
    allowed_energy_transfer,
    needs_decision,
    needs_response,
)
from csms.services.v2x_capability import EVCapability, capability_from_needs
from csms.storage import v2g, v2x_support

from ._evccid import EvccIds
from ._evse import Evses, EvseState, capability_row
from ._messages import AllowV2X, GetStationSupport, PreferencesChanged, SetpointChanged
from ._needs import needs_profile_request, read_needs_limits, session_discharge_w
from ._offers import V2XOffers
from ._preferences import PreferencesCache
from ._support import SupportCache

__all__ = ["V2XOwner"]

log = logging.getLogger("csms.v2x")

ACCEPTED: Final = "Accepted"


def trio_wall_clock() -> Callable[[], dt.datetime]:
    """UTC wall time from now on, advancing with trio's clock (as the discharge sessions'
    does): a window's start and the timer waiting for it agree, and a test's MockClock moves
    both. Called in trio."""
    wall, anchor = dt.datetime.now(dt.UTC), trio.current_time()
    return lambda: wall + dt.timedelta(seconds=trio.current_time() - anchor)


class V2XOwner(V2XOffers):
    def __init__(
        self,
        *,
        gateway: StationGateway,
        database: Database,
        id_tokens: IdTokens,
        time_zone: dt.tzinfo,
        command_timeout: float,
        clock: Callable[[], dt.datetime] | None = None,
    ) -> None:
        clock = clock or trio_wall_clock()
        self.gateway = gateway
        self.database = database
        self.time_zone = time_zone
        self.command_timeout = command_timeout
        self.clock = clock
        self.support = SupportCache(gateway, database, command_timeout=command_timeout, clock=clock)
        self.preferences = PreferencesCache(database, id_tokens)
        self.evses = Evses()
        self.evccids = EvccIds()
        #: Setpoints of discharge sessions' Dynamic profiles, by (station, EVSE), in W.
        self.setpoints: dict[tuple[str, int], Decimal] = {}
        #: EVSEs whose discharge session asked for V2X (AllowV2X) and has not commanded yet.
        self.discharge_pending: set[tuple[str, int]] = set()

    async def receive(self, message: Any) -> Any:
        if isinstance(message, StationMessage):
            return self._station_message(message)
        if isinstance(message, SetpointChanged):
            key = (message.station_id, message.evse_id)
            self.discharge_pending.discard(key)
            if message.setpoint_w is None:
                self.setpoints.pop(key, None)
                ended = self.evses.get(*key)
                if ended is not None:  # its session ended: no discharge to answer needs with
                    ended.discharge_w = None
            else:
                self.setpoints[key] = message.setpoint_w
            return None
        if isinstance(message, AllowV2X):
            # a discharge session waits for the EV's bidirectional needs: its profile follows
            self.discharge_pending.add((message.station_id, message.evse_id))
            return self._defer(self._allow_v2x, message)
        if isinstance(message, PreferencesChanged):
            self.preferences.forget(message.user_id)
            self._renegotiate_for(message.user_id)
            return None
        if isinstance(message, GetStationSupport):
            return self._defer(self._station_support, message)
        log.warning("V2X owner: unknown message ignored", extra={"kind": type(message).__name__})
        return None

    # -- plumbing ---------------------------------------------------------------------------

    def _station_message(self, message: StationMessage) -> Any:
        action = message.action
        if action == "BootNotification":
            self._booted(message)
            return None
        if action == "PullDynamicScheduleUpdate":
            return self._pull_dynamic_schedule(message)
        work = self._work.get(action)
        if work is None:
            log.warning("unexpected station message", extra={"action": action})
            return None
        return self._defer(functools.partial(work, self), message)

    async def _send(self, station_id: str, action: str, payload: dict[str, Any]) -> Any:
        """The station's answer (wire JSON), or None when the command failed (logged)."""
        try:
            result = await self.gateway.send(
                station_id,
                action,
                payload,
                requested_by="v2x",
                deadline=trio.current_time() + self.command_timeout,
            )
        except CommandError as exc:
            log.warning(
                "V2X command not answered",
                extra={"station": station_id, "action": action, "error": type(exc).__name__},
            )
            return None
        return result.response

    # -- BootNotification: read the station's V2X variables -----------------------------------

    def _booted(self, message: StationMessage) -> None:
        station_id = message.station_id
        self.support.forget(station_id)
        self.evses.forget_station(station_id)
        self.evccids.forget_station(station_id)
        for key in [k for k in self.setpoints if k[0] == station_id]:
            del self.setpoints[key]
        self.discharge_pending = {k for k in self.discharge_pending if k[0] != station_id}
        status = getattr(message.response, "status", None)
        if message.version == Version.V21.value and getattr(status, "value", None) == ACCEPTED:
            self._start(self.support.read, station_id, self.support.start_read(station_id))

    async def _station_support(self, message: GetStationSupport, reply: Reply) -> None:
        support = await self.support.get(message.station_id, Version(message.version), wait=True)
        reply.resolve(support)

    # -- Authorize (Q01) ------------------------------------------------------------------------

    async def _authorize(self, message: StationMessage, reply: Reply) -> None:
        response = message.response
        if not isinstance(response, v21.AuthorizeResponse):
            return
        if response.id_token_info.status is not v21.AuthorizationStatusEnum.ACCEPTED:
            return  # nothing to allow to a token that may not charge
        token = message.request.id_token
        self.evccids.note(message.station_id, message.raw.get("idToken") or {})
        user_id = await self.preferences.user_of(token.id_token, str(token.type))
        allowed = allowed_energy_transfer(
            station=await self.support.get(message.station_id, Version.V21),
            preferences=await self.preferences.of_user(user_id),
            version=Version.V21,
            now=self.clock(),
            tz=self.time_zone,
        )
        if allowed is not None:
            modes = tuple(v21.EnergyTransferModeEnum(mode) for mode in allowed)
            reply.resolve(attrs.evolve(response, allowed_energy_transfer=modes))

    # -- NotifyEVChargingNeeds (K15, K17, Q01) ---------------------------------------------------

    async def _needs(self, message: StationMessage, reply: Reply) -> None:
        station_id, version = message.station_id, Version(message.version)
        capability = capability_from_needs(message.raw, version)
        evse = self.evses.needs(station_id, version, capability)
        generation = evse.generation
        try:
            decision = await self._decide_needs(evse)
        except (psycopg.Error, OSError) as exc:
            # Without the transaction and its user no profile can follow: "not available",
            # never an Accepted with nothing after it (the handler's default, were this to crash).
            log.warning(
                "EV charging needs not decided: the database is unavailable",
                extra={"station": station_id, "evse": evse.evse_id, "error": type(exc).__name__},
            )
            decision = NeedsDecision("Rejected", reason=UNAVAILABLE)
        evccid = self.evccids.of(station_id, evse.id_token)
        if capability.ev_id is None and evccid is not None:  # per EV: its EVCCID (Q01.FR.02)
            evse.capability = capability = attrs.evolve(capability, ev_id=evccid)
        # Stored before the answer, so that a discharge start the answer prompts finds it; a
        # lost write must not cost the EV its answer or the profile it promises.
        try:
            await self.database.run(
                v2g.upsert_capability,
                capability_row(station_id, capability, message.raw, self.clock()),
            )
        except (psycopg.Error, OSError) as exc:
            log.warning(
                "EV capability not stored",
                extra={"station": station_id, "evse": evse.evse_id, "error": type(exc).__name__},
            )
        if reply.abandoned:
            # The handler's answer went out (Accepted): its promise is kept all the same.
            decision = NeedsDecision(ACCEPTED, profile="charging_only")
        else:
            reply.resolve(
                structure_payload(
                    version, message.action, Direction.RESPONSE, needs_response(decision)
                )
            )
        log.info(
            "EV charging needs answered",
            extra={
                "station": station_id,
                "evse": evse.evse_id,
                "status": decision.status,
                "reason": decision.reason,
            },
        )
        if not decision.profile_follows:
            return
        if decision.status == "Processing":  # the station's support was not known: read it
            await self.support.refresh(station_id)
            decision = await self._decide_needs(evse)
            if decision.status != ACCEPTED:  # still unknown, or refused: charging only, as
                decision = NeedsDecision(ACCEPTED, profile="charging_only")  # promised
        evse.v2x = decision.profile == "v2x"
        if not evse.v2x:  # Q02.FR.05: offered V2X when the owner's next window opens
            self._start(self._offer_at_window, evse)
        key = (station_id, evse.evse_id)
        if evse.v2x and key in self.discharge_pending:
            # The session that sent NotifyAllowedEnergyTransfer follows these needs too: its
            # discharge profile is the one promised (a charging one first would race it).
            self.discharge_pending.discard(key)
            log.info("the discharge session's profile follows", extra={"station": station_id})
            return
        # Sent once the answer has gone out, which the station's reader does when it next runs.
        await trio.lowlevel.checkpoint()
        if evse.generation == generation:  # newer needs came in meanwhile: they send theirs
            await self._send_profile(evse)

    async def _decide_needs(self, evse: EvseState) -> NeedsDecision:
        """The policy's answer, with what it needs read (transaction, user, preferences)."""
        station_id = evse.station_id
        tx = await self.database.run(v2x_support.active_transaction, station_id, evse.evse_id)
        evse.transaction_id = None if tx is None else tx.transaction_id
        evse.id_token = None if tx is None else tx.id_token
        evse.user_id = (
            None if tx is None else await self.preferences.user_of(tx.id_token, tx.id_token_type)
        )
        evse.preferences = await self.preferences.of_user(evse.user_id)
        # read with the decision: the profile goes out right after the answer, as promised
        evse.limits = await read_needs_limits(self.database, evse)
        evse.discharge_w = await session_discharge_w(self.database, evse)
        decision = needs_decision(
            capability=evse.capability,
            station=await self.support.get(station_id, evse.version),
            preferences=evse.preferences,
            version=evse.version,
            now=self.clock(),
            tz=self.time_zone,
        )
        if decision.profile_follows and tx is None:
            # A TxProfile names its transaction (K15.FR.07): without one none can follow.
            return NeedsDecision("Rejected", reason="no_transaction")
        return decision

    def _session_setpoint(self, evse: EvseState) -> Decimal | None:
        """A discharge session's setpoint on the EVSE (W, signed): the latest it told
        (Dynamic, 2.1), else what its row said when the needs were decided."""
        told = self.setpoints.get((evse.station_id, evse.evse_id))
        if told is not None:
            return told
        return None if evse.discharge_w is None else -evse.discharge_w

    async def _send_profile(self, evse: EvseState) -> None:
        if evse.transaction_id is None:
            return
        request = needs_profile_request(
            evse,
            evse.transaction_id,
            evse.limits,
            setpoint=self._session_setpoint(evse),
            now=self.clock(),
            tz=self.time_zone,
        )
        evse.sent_profile = request
        answer = await self._send(evse.station_id, "SetChargingProfile", request)
        status = None if answer is None else answer.get("status")
        if status != ACCEPTED and evse.sent_profile is request:
            evse.sent_profile = None
        log.info(
            "charging profile for the EV's needs",
            extra={"station": evse.station_id, "evse": evse.evse_id, "status": status},
        )

    # -- NotifyEVChargingSchedule (K15.FR.11-13, K17.FR.11-13) -----------------------------------

    async def _schedule(self, message: StationMessage, reply: Reply) -> None:
        raw = message.raw
        evse = self.evses.get(message.station_id, int(raw["evseId"]))
        sent = None if evse is None else evse.sent_profile
        decision = schedule_decision(
            raw, sent, renegotiations=0 if evse is None else evse.renegotiations
        )
        if decision.status == ACCEPTED:
            return  # the handler's Accepted, and no profile again without cause
        assert evse is not None
        reply.resolve(
            structure_payload(
                Version(message.version), message.action, Direction.RESPONSE, decision.response()
            )
        )
        log.info(
            "EV schedule beyond the limits sent: rejected",
            extra={
                "station": evse.station_id,
                "evse": evse.evse_id,
                "renegotiate": decision.renegotiate,
            },
        )
        if decision.renegotiate:  # K15.FR.13 / K17.FR.13: the profile again (K16)
            evse.renegotiations += 1
            await trio.lowlevel.checkpoint()  # the answer goes out first
            evse.discharge_w = await session_discharge_w(self.database, evse)  # still running?
            await self._send_profile(evse)

    # -- PullDynamicScheduleUpdate (Q04) -------------------------------------------------------

    def _pull_dynamic_schedule(self, message: StationMessage) -> Any:
        evse_id = message.request.charging_profile_id - PROFILE_ID_BASE
        setpoint = self.setpoints.get((message.station_id, evse_id))
        if setpoint is None:
            return None  # no session's setpoint: the handler's answer
        evse = self.evses.get(message.station_id, evse_id)
        # Without the EV's needs (a node that restarted) the setpoint goes as one total.
        capability = (
            EVCapability(evse_id=evse_id, requested_mode="", available_modes=(), source="declared")
            if evse is None
            else evse.capability
        )
        return structure_payload(
            Version.V21,
            message.action,
            Direction.RESPONSE,
            pull_dynamic_schedule_response(setpoint, capability),
        )

    _work: ClassVar[dict[str, Callable[..., Awaitable[None]]]] = {
        "Authorize": _authorize,
        "NotifyEVChargingNeeds": _needs,
        "NotifyEVChargingSchedule": _schedule,
    }
