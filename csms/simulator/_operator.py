"""What a simulated station does on an operator's command (the prompt, the load test's
behaviours, tests): plug an EV in, stop, set a status or the meter, V2G by hand, reboot; and
the firmware mode (the update itself: csms/simulator/_firmware.py)."""

from __future__ import annotations

import datetime
from typing import TYPE_CHECKING, Any

import trio
from trio.lowlevel import RunVar

from . import _commands as cmd
from ._ev import id_token
from ._model import ChargePoint, Evse, Outgoing, SimulationError
from ._v2x import plugged_in

if TYPE_CHECKING:
    from ._station import SimulatedStation

__all__ = ["now", "operate", "plug_in", "request"]


#: The simulator's clock in each trio run: the wall time and trio's time when first read.
_ANCHOR: RunVar[tuple[datetime.datetime, float]] = RunVar("csms_simulator_clock")


def now() -> datetime.datetime:
    """The simulator's time: UTC wall time moving with trio's clock (a MockClock moves it in
    tests, and with it the charging profiles' periods in force); wall time outside trio."""
    try:
        current = trio.current_time()
    except RuntimeError:
        return datetime.datetime.now(datetime.UTC)
    try:
        wall, anchor = _ANCHOR.get()
    except LookupError:
        wall, anchor = datetime.datetime.now(datetime.UTC), current
        _ANCHOR.set((wall, anchor))
    return wall + datetime.timedelta(seconds=current - anchor)


async def plug_in(station: SimulatedStation, connector: int) -> str:
    """Plug the EV in and start a transaction. A V2X EV first asks the CSMS for authorization
    (and its allowedEnergyTransfer, Q01), then announces its needs after TransactionEvent
    Started. Authorization is not enforced (the simulator never did): whatever the token's
    status, the transaction starts; the answer says what the CSMS said."""
    state = station.s
    cp = state.model
    if not (cp.ev.v2g and state.online):
        return operate(station, cmd.StartCharging(connector))
    evse = cp.evse(connector)
    if evse.tx_id is not None:
        raise SimulationError(f"connector {connector} is already charging ({evse.tx_id})")
    authorize = Outgoing("Authorize", {"idToken": id_token(cp.ev)})
    reply = await request(station, authorize) or {}
    allowed = reply.get("allowedEnergyTransfer")
    status = reply.get("idTokenInfo", {}).get("status", "unanswered")
    station.catch_up()
    at = now()
    messages = cp.start(evse.id, at, id_token=id_token(cp.ev), offline=not state.online)
    messages += plugged_in(cp, evse, at, None if allowed is None else tuple(allowed))
    station.emit(messages)
    requesting = "" if evse.v2x is None else f", requesting {evse.v2x.requested}"
    return (
        f"transaction {evse.tx_id} started on connector {evse.id} "
        f"(authorization {status}{requesting})"
    )


async def request(station: SimulatedStation, message: Outgoing) -> dict[str, Any] | None:
    """Send ``message`` (in turn with the others) and wait for the CSMS's answer: None after a
    CALLERROR, without a connection or after the response timeout."""
    replies: list[dict[str, Any] | None] = []
    done = trio.Event()

    def on_reply(response: dict[str, Any] | None) -> None:
        replies.append(response)
        done.set()

    station.emit([Outgoing(message.action, message.payload, on_reply=on_reply)])
    with trio.move_on_after(station.cfg.response_timeout):
        await done.wait()
    return replies[0] if replies else None


def operate(station: SimulatedStation, command: cmd.OperatorCommand) -> str:
    """Carry out an operator command; the text to show. `SimulationError` if impossible."""
    state = station.s
    cp, at, offline = state.model, now(), not state.online
    if isinstance(command, cmd.StartCharging):
        station.emit(cp.start(command.connector, at, offline=offline))
        evse = cp.evse(command.connector)
        return f"transaction {evse.tx_id} started on connector {evse.id}"
    if isinstance(command, cmd.StopCharging):
        evse = _charging(cp, command.connector)
        tx_id = evse.tx_id
        station.emit(cp.stop(evse.id, at, offline=offline))
        return f"transaction {tx_id} ended"
    if isinstance(command, cmd.SetStatus | cmd.Fault):
        status = command.status if isinstance(command, cmd.SetStatus) else "Faulted"
        station.emit(cp.set_status(command.connector, status, at))
        return f"connector {command.connector} is {status}"
    if isinstance(command, cmd.SetMeter):
        evse = next(iter(cp.charging()), cp.evses[0])
        evse.energy_import_wh = command.wh
        station.emit([cp.meter_values(evse, at, "Other")])
        return f"meter on connector {evse.id} at {command.wh:g} Wh"
    if isinstance(command, cmd.SendHeartbeat):
        if not state.online:
            raise SimulationError("not connected to the CSMS")
        station.emit([Outgoing("Heartbeat", {})])
        return "heartbeat sent"
    if isinstance(command, cmd.V2GStart):
        evse = _charging(cp, None)
        cp.discharge(evse, command.kw * 1000.0)
        return f"discharging at {-evse.power_w / 1000:g} kW (SoC {cp.ev.soc:.1f} %)"
    if isinstance(command, cmd.V2GStop):
        evse = _charging(cp, None)
        cp.discharge(evse, None)
        return f"charging at {evse.power_w / 1000:g} kW"
    if isinstance(command, cmd.V2GSoc):
        cp.ev.soc = command.percent
        return f"EV state of charge {command.percent:g} %"
    if isinstance(command, cmd.Reboot):
        station.reboot("LocalReset")
        return "rebooting"
    if isinstance(command, cmd.FirmwareMode):
        cp.firmware_fails = not command.accept
        return "firmware updates will " + ("succeed" if command.accept else "fail")
    raise SimulationError(f"{type(command).__name__} is not a station command")


def _charging(cp: ChargePoint, connector: int | None) -> Evse:
    if connector is not None:
        evse = cp.evse(connector)
        if evse.tx_id is None:
            raise SimulationError(f"connector {connector} has no transaction")
        return evse
    charging = cp.charging()
    if not charging:
        raise SimulationError("no transaction is running")
    return charging[0]
