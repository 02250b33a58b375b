"""The V2G optimizer on demand: ``POST /api/v1/v2g/optimize`` (operator).

``{"dryRun": true}`` answers the plan only; otherwise the node plans now and starts, changes
and stops the optimizer's discharge sessions that are due now (``actions``). ``stationId``
narrows it to one station's EVs. Power in kW, energy in kWh, the plan's value in R$ (a decimal
string); instants in the operator's time zone.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import attrs
from starlette.responses import Response

from csms.services.v2g_optimizer import EVPlan
from csms.services.v2g_optimizer_run import ActionOutcome, OptimizerRun

from ._auth import Role
from ._routing import Call, Endpoint, json_response
from ._schema import spec
from .bodies import STATION_ID_PATTERN

__all__ = ["ENDPOINTS", "run_view"]

_KILO = Decimal(1000)


@attrs.frozen
class OptimizeBody:
    """Plan now; ``dryRun`` only answers the plan."""

    dry_run: bool = spec(False, description="Only plan; start or stop nothing.")
    station_id: str | None = spec(None, pattern=STATION_ID_PATTERN, example="CP001")


@attrs.frozen
class PlannedInterval:
    start: dt.datetime
    end: dt.datetime
    power_kw: float
    energy_kwh: float


@attrs.frozen
class PlannedEV:
    """One EV's plan: intervals in time order (contiguous ones are one session), or
    ``reason`` why none: not_opted_in, not_capable, soc_unknown, at_floor, battery_unknown,
    departure_energy, no_power, no_hours."""

    station_id: str
    evse_id: int
    user_id: str
    intervals: list[PlannedInterval]
    energy_kwh: float
    value_rs: str
    budget_kwh: float
    reason: str | None


@attrs.frozen
class OptimizerAction:
    """What was done: ``action`` start, power or stop; ``error`` a start's refusal code (as
    the discharge start's 409 names it) or unavailable."""

    action: str
    station_id: str
    evse_id: int
    power_kw: float | None
    session_id: str | None
    error: str | None


@attrs.frozen
class OptimizeResult:
    """``simulated``: a forecast price rests on the simulated PLD."""

    at: dt.datetime
    dry_run: bool
    simulated: bool
    plans: list[PlannedEV]
    actions: list[OptimizerAction]


def _kilo(value: Decimal) -> float:
    return float(value / _KILO)


def _plan_view(plan: EVPlan, tz: dt.tzinfo) -> PlannedEV:
    return PlannedEV(
        station_id=plan.station_id,
        evse_id=plan.evse_id,
        user_id=plan.user_id,
        intervals=[
            PlannedInterval(
                i.start.astimezone(tz), i.end.astimezone(tz), _kilo(i.power_w), _kilo(i.energy_wh)
            )
            for i in plan.intervals
        ],
        energy_kwh=_kilo(plan.energy_wh),
        value_rs=str(plan.value_rs),
        budget_kwh=_kilo(plan.budget_wh),
        reason=plan.reason,
    )


def _action_view(outcome: ActionOutcome) -> OptimizerAction:
    action = outcome.action
    return OptimizerAction(
        action=action.kind,
        station_id=action.station_id,
        evse_id=action.evse_id,
        power_kw=None if action.power_w is None else _kilo(action.power_w),
        session_id=None if outcome.session_id is None else str(outcome.session_id),
        error=outcome.error,
    )


def run_view(run: OptimizerRun, tz: dt.tzinfo) -> OptimizeResult:
    return OptimizeResult(
        at=run.at.astimezone(tz),
        dry_run=run.dry_run,
        simulated=run.simulated,
        plans=[_plan_view(p, tz) for p in run.plans],
        actions=[_action_view(o) for o in run.outcomes],
    )


async def optimize(call: Call) -> Response:
    body: OptimizeBody = call.body
    run = await call.control.optimizer.optimize(
        dry_run=body.dry_run, station_id=body.station_id, requested_by=call.requested_by
    )
    return json_response(run_view(run, call.control.prices.time_zone))


ENDPOINTS = (
    Endpoint(
        "POST",
        "/api/v1/v2g/optimize",
        optimize,
        Role.OPERATOR,
        "Plan V2G discharge now (and start what is due)",
        "v2g",
        body=OptimizeBody,
        body_required=False,
        response=OptimizeResult,
        errors=(422, 503),
        description=(
            "Plans discharge for every plugged-in, capable, opted-in EV in the dearest hours of "
            "the price forecast, within its owner's preferences (SoC floor, departure energy "
            "and time, maximum power, windows, cycles per day). Unless `dryRun`, starts the "
            "sessions due now, changes their power and stops the optimizer's sessions whose "
            "EV is no longer planned now; an operator's session is left alone."
        ),
    ),
)
