"""The V2G optimizer (``v2g_optimizer``): runs the planner (``csms.services.v2g_optimizer``)
over the plugged-in, capable, opted-in EVs every ``interval_s``, at each planned start and end,
and when the prices change (``PricesRefreshed``), and starts, changes and stops discharge
sessions the way the operator does (``csms.actors.v2g``: ``start_discharge``,
``stop_discharge``, ``ChangePower``). Which sessions to touch is ``actions``' decision
(``csms.services.v2g_optimizer_run``); the sessions still check every preference themselves.

A run reads its inputs in one database transaction (``csms.storage.optimizer_inputs``) and the
forecast from the prices actor; runs never overlap (a lock), so a REST ``optimize`` waits for a
scheduled run in progress and the other way round.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

import trio

from csms.actors import prices, v2g
from csms.actors.database import Database
from csms.actors.events import EventBus, Subscription
from csms.domain.events import GridPricesRefreshed
from csms.runtime import Actor, ActorContext, ActorError, Rejected, Supervisor
from csms.services.grid_price_book import MarketQuery
from csms.services.v2g_optimizer import plan_fleet, price_hours
from csms.services.v2g_optimizer_run import (
    Action,
    ActionOutcome,
    OptimizerRun,
    Running,
    actions,
)
from csms.services.v2g_preferences import local_day_bounds
from csms.storage.optimizer_inputs import read_optimizer_inputs

from ._inputs import ev_input, running
from ._messages import LastRun, Optimize, OptimizerOptions, PricesRefreshed

__all__ = ["REQUESTED_BY", "OptimizerActor", "OptimizerUnavailable"]

log = logging.getLogger("csms.optimizer")

#: ``requested_by`` of the sessions the optimizer starts: the ones it may stop.
REQUESTED_BY = "optimizer"  # as the event catalog documents requestedBy


class OptimizerUnavailable(Rejected):
    """A run could not read its inputs or the prices; the actor carries on."""


class OptimizerActor(Actor):
    background_tasks = True

    def __init__(
        self,
        *,
        database: Database,
        root: Callable[[], Supervisor],
        tz: dt.tzinfo,
        options: OptimizerOptions,
        events: EventBus | None = None,
    ) -> None:
        self.database = database
        #: Where ``grid.prices.refreshed`` comes from (a run follows each, when scheduled).
        self.events = events
        self._prices: Subscription | None = None
        self._root = root
        self.tz = tz
        self.options = options
        self.runs = 0
        self.last_run: OptimizerRun | None = None
        self._lock = trio.Lock()
        self._kick = trio.Event()

    async def on_start(self, ctx: ActorContext) -> None:
        if self.options.enabled:
            if self.events is not None:
                self._prices = self.events.subscribe(GridPricesRefreshed.subject, capacity=16)
                ctx.nursery.start_soon(self._follow_prices, self._prices)
            ctx.nursery.start_soon(self._schedule)

    async def on_stop(self, reason: BaseException | None) -> None:
        if self.events is not None and self._prices is not None:
            self.events.unsubscribe(self._prices)

    async def _follow_prices(self, prices: Subscription) -> None:
        async for _ in prices:
            self._kick.set()

    async def receive(self, message: Any) -> Any:
        if isinstance(message, Optimize):
            try:
                return await self.run(message)
            except Exception as exc:  # the database or the prices away: the asker's 503
                log.warning("optimizer run failed", extra={"error": repr(exc)})
                raise OptimizerUnavailable(repr(exc)) from None
        if isinstance(message, LastRun):
            return self.runs, self.last_run
        if isinstance(message, PricesRefreshed):
            self._kick.set()  # as ``grid.prices.refreshed`` does
            return None
        log.warning("optimizer: unknown message ignored", extra={"kind": type(message).__name__})
        return None

    async def _schedule(self) -> None:
        clock = self.options.clock
        while True:
            wake = clock() + dt.timedelta(seconds=self.options.interval_s)
            try:
                result = await self.run(Optimize())
            except Exception as exc:  # the database or the prices away: try again later
                log.exception("optimizer run failed", extra={"error": repr(exc)})
            else:
                change = result.next_change()
                if change is not None:
                    wake = min(wake, change)
            with trio.move_on_after(max((wake - clock()).total_seconds(), 0)):
                await self._kick.wait()
            self._kick = trio.Event()

    async def run(self, request: Optimize) -> OptimizerRun:
        async with self._lock:
            now = request.at or self.options.clock()
            result, sessions = await self._plan(request, now)
            if not request.dry_run:
                todo = actions(result.plans, sessions, now)
                outcomes: list[ActionOutcome] = []
                limiter = trio.CapacityLimiter(self.options.concurrency)
                async with trio.open_nursery() as nursery:
                    for action in todo:
                        nursery.start_soon(self._act, action, now, outcomes, limiter)
                result = OptimizerRun(
                    result.at, False, result.simulated, result.plans, tuple(outcomes)
                )
            self.runs += 1
            self.last_run = result
            log.info(
                "optimizer ran",
                extra={
                    "at": now.isoformat(),
                    "dry_run": request.dry_run,
                    "station": request.station_id,
                    "requested_by": request.requested_by,
                    "evs": len(result.plans),
                    "planned": sum(1 for p in result.plans if p.intervals),
                    "actions": len(result.outcomes),
                },
            )
            return result

    async def _plan(
        self, request: Optimize, now: dt.datetime
    ) -> tuple[OptimizerRun, list[Running]]:
        """Every EV's plan and the active sessions on the EVSEs concerned."""
        day_start, _ = local_day_bounds(now, self.tz)
        inputs = await self.database.run(
            read_optimizer_inputs,
            day_start=day_start,
            requested_by=REQUESTED_BY,
            station_id=request.station_id,
        )
        forecast = await prices.ask_prices(
            self._root(), prices.Forecast(MarketQuery(), now, self.options.horizon_hours)
        )
        evs = []
        for candidate in inputs.candidates:
            session = candidate.session
            if session is not None and session.requested_by != REQUESTED_BY:
                continue  # an operator's session: hands off
            ev = ev_input(candidate, own=REQUESTED_BY)
            if ev is not None:
                evs.append(ev)
        plans = plan_fleet(
            evs,
            price_hours(forecast),
            now,
            self.tz,
            min_spread_rs_per_kwh=self.options.min_spread_rs_per_kwh,
        )
        sessions = {(s.station_id, s.evse_id): s for s in inputs.own_sessions}
        for candidate in inputs.candidates:
            if candidate.session is not None:
                sessions[(candidate.station_id, candidate.evse_id)] = candidate.session
        simulated = any(h.simulated for h in forecast)
        run = OptimizerRun(now, request.dry_run, simulated, plans)
        return run, [running(s, own=REQUESTED_BY) for s in sessions.values()]

    async def _act(
        self,
        action: Action,
        now: dt.datetime,
        outcomes: list[ActionOutcome],
        limiter: trio.CapacityLimiter,
    ) -> None:
        async with limiter:
            outcome = await self._carry_out(action, now)
        outcomes.append(outcome)
        log.info(
            "optimizer " + action.kind,
            extra={
                "station": action.station_id,
                "evse": action.evse_id,
                "power_w": None if action.power_w is None else str(action.power_w),
                "session": None if outcome.session_id is None else str(outcome.session_id),
                "error": outcome.error,
            },
        )

    def _duration(self, action: Action, now: dt.datetime) -> int | None:
        """On a schedule the optimizer stops its session when the plan says so (a plan that
        grows keeps the session: no new cycle); off, nobody would, so the session is given
        the planned session's length (whole seconds, at least one)."""
        if self.options.enabled or action.until is None:
            return None
        return max(int((action.until - now).total_seconds()), 1)

    async def _carry_out(self, action: Action, now: dt.datetime) -> ActionOutcome:
        root, timeout = self._root(), self.options.command_timeout
        try:
            if action.kind == "start":
                assert action.power_w is not None
                start = v2g.StartDischarge(
                    action.station_id,
                    action.evse_id,
                    action.power_w,
                    self._duration(action, now),
                    None,  # the owner's floor
                    REQUESTED_BY,
                )
                row = await v2g.start_discharge(root, start, timeout=timeout)
                return ActionOutcome(action, row.id)
            assert action.session_id is not None
            if action.kind == "stop":
                await v2g.stop_discharge(
                    root, action.session_id, requested_by=REQUESTED_BY, timeout=timeout
                )
            else:
                assert action.power_w is not None
                change = v2g.ChangePower(action.session_id, action.power_w)
                await root.ref(v2g.V2G_SESSIONS).ask(change, timeout=timeout)
            return ActionOutcome(action, action.session_id)
        except v2g.DischargeRefused as exc:
            return ActionOutcome(action, None, exc.code)
        except (KeyError, ActorError, TimeoutError):
            return ActionOutcome(action, None, "unavailable")
