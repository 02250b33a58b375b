"""NotifyAllowedEnergyTransfer (Q02.FR.05): V2X offered to a transaction once it becomes
allowed after the EV started charging unidirectionally: the owner opted in, an operator's
discharge start (``AllowV2X``), or one of the owner's discharge windows opened.

The V2X owner's half that does it (``V2XOwner`` derives from ``V2XOffers``)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any, Final

import trio

from csms.actors.database import Database
from csms.protocol import Version
from csms.runtime import Reply
from csms.services.v2g_preferences import next_window_start, window_allows
from csms.services.v2x_authorization import allowed_energy_transfer
from csms.services.v2x_capability import BPT_MODES
from csms.storage import v2x_support

from ._base import TaskActor
from ._evse import Evses, EvseState
from ._messages import AllowV2X
from ._preferences import PreferencesCache
from ._support import SupportCache

__all__ = ["V2XOffers"]

log = logging.getLogger("csms.v2x")

#: How long after a window's start its offer goes out: the owner's clock is trio's plus a
#: wall-clock anchor (floats), and an offer a hair before the start would find V2X refused.
WINDOW_MARGIN_S: Final = 1.0


class V2XOffers(TaskActor):
    database: Database
    preferences: PreferencesCache
    support: SupportCache
    evses: Evses
    clock: Callable[[], dt.datetime]
    time_zone: dt.tzinfo
    discharge_pending: set[tuple[str, int]]

    async def _send(self, station_id: str, action: str, payload: dict[str, Any]) -> Any:
        raise NotImplementedError

    @staticmethod
    def _offer_wanted(evse: EvseState) -> bool:
        """An EV charging unidirectionally that listed a BPT mode, on 2.1 (2.0.1 has no allowed
        energy transfer): V2X could be offered to it."""
        capability = evse.capability
        return (
            evse.version is Version.V21
            and capability.bidirectional_available
            and not capability.bidirectional_requested
        )

    def _renegotiate_for(self, user_id: str) -> None:
        """The user's preferences changed (an opt-in, say): their EVs charging unidirectionally
        that listed a BPT mode may now be allowed V2X (Q02.FR.05; ``_offer_v2x`` decides), or
        be when a window opens."""
        for evse in self.evses.of_user(user_id):
            if self._offer_wanted(evse):
                self._start(self._offer_now_or_at_window, evse)

    async def _offer_now_or_at_window(self, evse: EvseState) -> None:
        if await self._offer_v2x(evse.station_id, evse.evse_id) is None:
            await self._offer_at_window(evse)

    async def _offer_at_window(self, evse: EvseState) -> None:
        """Q02.FR.05 when a window opens: V2X is offered to ``evse`` at the start of its owner's
        next window, if they opted in and a window is what refuses it now. A later wait for
        the same EVSE, newer needs, an EV that asks for BPT by then, or a station that booted
        again (a new EVSE state) cancel it."""
        if not self._offer_wanted(evse):
            return
        evse.offer_wait += 1
        wait = evse.offer_wait
        prefs = await self.preferences.of_user(evse.user_id)
        if prefs is None or not prefs.opt_in or not prefs.windows:
            return
        now = self.clock()
        if window_allows(prefs.windows, now, self.time_zone):
            return  # the window allows it: something else refuses V2X (the station, say)
        start = next_window_start(prefs.windows, now, self.time_zone)
        if start is None:
            return
        generation = evse.generation
        log.info(
            "V2X offered when the window opens",
            extra={"station": evse.station_id, "evse": evse.evse_id, "at": start.isoformat()},
        )
        await trio.sleep((start - now).total_seconds() + WINDOW_MARGIN_S)
        current = self.evses.get(evse.station_id, evse.evse_id)
        if current is not evse or evse.generation != generation or evse.offer_wait != wait:
            return
        if self._offer_wanted(evse):
            await self._offer_v2x(evse.station_id, evse.evse_id)

    async def _allow_v2x(self, message: AllowV2X, reply: Reply) -> None:
        allowed = await self._offer_v2x(message.station_id, message.evse_id)
        if allowed is None:  # nothing offered: no discharge profile to wait for
            self.discharge_pending.discard((message.station_id, message.evse_id))
        else:
            reply.resolve(allowed)

    async def _offer_v2x(self, station_id: str, evse_id: int) -> list[str] | None:
        """Send NotifyAllowedEnergyTransfer with the list the policy allows now, if it has a
        BPT mode; the list, once the station accepted it."""
        evse = self.evses.get(station_id, evse_id)
        if evse is not None and evse.version is not Version.V21:
            return None  # 2.0.1 has no allowed energy transfer
        tx = await self.database.run(v2x_support.active_transaction, station_id, evse_id)
        if tx is None:
            return None
        user_id = await self.preferences.user_of(tx.id_token, tx.id_token_type)
        support = await self.support.get(station_id, Version.V21)
        if not support.known:
            support = await self.support.refresh(station_id)
        allowed = allowed_energy_transfer(
            station=support,
            preferences=await self.preferences.of_user(user_id),
            version=Version.V21,
            now=self.clock(),
            tz=self.time_zone,
        )
        if allowed is None or not BPT_MODES.intersection(allowed):
            return None
        answer = await self._send(
            station_id,
            "NotifyAllowedEnergyTransfer",
            {"transactionId": tx.transaction_id, "allowedEnergyTransfer": allowed},
        )
        return allowed if answer is not None and answer.get("status") == "Accepted" else None
