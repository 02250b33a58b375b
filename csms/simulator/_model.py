"""The simulated charge point's state, pure: EVSEs, transactions, meter, the EV (`_ev`) and
device model. Every change returns the OCPP messages it causes as `Outgoing` (wire JSON), which
the station actor sends; nothing here knows about sockets or clocks (times are passed in).
"""

from __future__ import annotations

import datetime
import itertools
from collections.abc import Callable
from typing import Any, Final

import attrs

from csms.protocol import Version

from ._device import DeviceModel
from ._ev import ActiveProfile, Ev, V2XSession, iso
from ._profiles import UNNAMED, ProfileStack, Schedule

__all__ = ["ChargePoint", "DeviceModel", "Ev", "Evse", "Outgoing", "SimulationError", "iso"]

TRANSACTIONAL: Final = frozenset({"TransactionEvent", "MeterValues"})


class SimulationError(ValueError):
    """An operator command the charge point cannot carry out now (no such connector, ...)."""


@attrs.frozen
class Outgoing:
    """A CALL to send. Transactional ones are kept until the CSMS acknowledges them.
    ``on_reply`` gets the response payload (None after a CALLERROR) once it came."""

    action: str
    payload: dict[str, Any]
    on_reply: Callable[[dict[str, Any] | None], None] | None = attrs.field(
        default=None, eq=False, repr=False, kw_only=True
    )

    @property
    def transactional(self) -> bool:
        return self.action in TRANSACTIONAL


@attrs.define(slots=True)
class Evse:
    id: int
    status: str = "Available"
    tx_id: str | None = None
    seq_no: int = 0
    energy_import_wh: float = 0.0
    energy_export_wh: float = 0.0
    power_w: float = 0.0  # signed: positive imports (charging), negative exports (V2G)
    profile_w: float | None = None  # signed limit or setpoint of the profile that rules
    local_discharge_w: float | None = None  # `v2g start` at the prompt
    profile: ActiveProfile | None = None  # the profile that rules (K01 stacking)
    stack: ProfileStack = attrs.field(factory=ProfileStack)  # every profile installed
    v2x: V2XSession | None = None  # the energy transfer the EV negotiated (V2X EVs)


@attrs.define(slots=True)
class ChargePoint:
    station_id: str
    evses: list[Evse]
    ev: Ev
    max_power_w: float = 22_000.0
    version: Version = Version.V201
    device: DeviceModel = attrs.field(factory=DeviceModel)
    firmware_fails: bool = False
    #: the failure the next firmware update ends with (csms/simulator/_firmware.py), if any
    firmware_failure: str | None = None
    firmware_version: str = "1.0.0"
    boot_reason: str = "PowerUp"
    offline_seconds: float = 0.0  # how long the CSMS has been out of reach (0: online)
    reset_pending: bool = False  # an OnIdle Reset waits for the transactions to end
    #: The time the model was last told (`advance`, a profile installed): the profiles' periods
    #: in force are those at it. None: none told yet (every schedule at its first period).
    clock: datetime.datetime | None = None
    _tx_counter: itertools.count[int] = attrs.field(factory=itertools.count)

    @classmethod
    def create(
        cls,
        station_id: str,
        *,
        evses: int = 1,
        ev: Ev | None = None,
        version: Version = Version.V201,
        operation_modes: tuple[str, ...] | None = None,
    ) -> ChargePoint:
        if evses < 1:
            raise ValueError("a charge point has at least one EVSE")
        cp = cls(station_id, [Evse(i + 1) for i in range(evses)], ev or Ev(), version=version)
        if cp.ev.v2g:
            cp.device.values["V2XChargingCtrlr", "Enabled"] = "true"
        if operation_modes is not None:
            modes = ",".join(operation_modes)
            cp.device.values["V2XChargingCtrlr", "SupportedOperationModes"] = modes
        return cp

    @property
    def operation_modes(self) -> tuple[str, ...]:
        """V2XChargingCtrlr.SupportedOperationModes (the device model holds the list)."""
        modes = self.device.values["V2XChargingCtrlr", "SupportedOperationModes"]
        return tuple(m.strip() for m in modes.split(",") if m.strip())

    # --- lookups ------------------------------------------------------------------------

    def evse(self, evse_id: int) -> Evse:
        if not 1 <= evse_id <= len(self.evses):
            raise SimulationError(f"no connector {evse_id} (this station has {len(self.evses)})")
        return self.evses[evse_id - 1]

    def by_transaction(self, tx_id: str) -> Evse | None:
        return next((e for e in self.evses if e.tx_id == tx_id), None)

    def charging(self) -> list[Evse]:
        return [e for e in self.evses if e.tx_id is not None]

    # --- messages -----------------------------------------------------------------------

    def boot(self) -> Outgoing:
        return Outgoing(
            "BootNotification",
            {
                "chargingStation": {
                    "model": "SIM-1",
                    "vendorName": "csms",
                    "serialNumber": self.station_id[:25],
                    "firmwareVersion": self.firmware_version,
                },
                "reason": self.boot_reason,
            },
        )

    def status(self, evse: Evse, now: datetime.datetime) -> Outgoing:
        return Outgoing(
            "StatusNotification",
            {
                "timestamp": iso(now),
                "connectorStatus": evse.status,
                "evseId": evse.id,
                "connectorId": 1,
            },
        )

    def statuses(self, now: datetime.datetime) -> list[Outgoing]:
        return [self.status(e, now) for e in self.evses]

    def set_status(self, evse_id: int, status: str, now: datetime.datetime) -> list[Outgoing]:
        evse = self.evse(evse_id)
        evse.status = status
        return [self.status(evse, now)]

    def sampled_values(self, evse: Evse, context: str = "Sample.Periodic") -> list[dict[str, Any]]:
        values: list[dict[str, Any]] = [
            _sample(evse.energy_import_wh, "Energy.Active.Import.Register", "Wh", context),
            _sample(max(evse.power_w, 0.0), "Power.Active.Import", "W", context),
        ]
        if self.ev.v2g:
            values.append(
                _sample(evse.energy_export_wh, "Energy.Active.Export.Register", "Wh", context)
            )
            values.append(_sample(max(-evse.power_w, 0.0), "Power.Active.Export", "W", context))
        if evse.tx_id is not None:
            soc = _sample(self.ev.soc, "SoC", "Percent", context)
            soc["location"] = "EV"
            values.append(soc)
        return values

    def meter_value(self, evse: Evse, now: datetime.datetime, context: str) -> dict[str, Any]:
        return {"timestamp": iso(now), "sampledValue": self.sampled_values(evse, context)}

    def transaction_event(
        self,
        evse: Evse,
        event_type: str,
        trigger: str,
        now: datetime.datetime,
        *,
        offline: bool,
        context: str,
        info: dict[str, Any] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> Outgoing:
        assert evse.tx_id is not None
        payload: dict[str, Any] = {
            "eventType": event_type,
            "timestamp": iso(now),
            "triggerReason": trigger,
            "seqNo": evse.seq_no,
            "transactionInfo": {"transactionId": evse.tx_id, **(info or {})},
            "meterValue": [self.meter_value(evse, now, context)],
            **(extra or {}),
        }
        if offline:
            payload["offline"] = True
        evse.seq_no += 1
        return Outgoing("TransactionEvent", payload)

    # --- transactions -------------------------------------------------------------------

    def start(
        self,
        evse_id: int,
        now: datetime.datetime,
        *,
        id_token: dict[str, Any] | None = None,
        remote_start_id: int | None = None,
        offline: bool = False,
    ) -> list[Outgoing]:
        evse = self.evse(evse_id)
        if evse.tx_id is not None:
            raise SimulationError(f"connector {evse_id} is already charging ({evse.tx_id})")
        if evse.status in ("Faulted", "Unavailable"):
            raise SimulationError(f"connector {evse_id} is {evse.status}")
        evse.tx_id = f"T{int(now.timestamp() * 1000)}-{next(self._tx_counter)}"
        evse.seq_no = 0
        evse.status = "Occupied"
        evse.power_w = self.target_power(evse)
        info: dict[str, Any] = {"chargingState": "Charging"}
        if remote_start_id is not None:
            info["remoteStartId"] = remote_start_id
        extra: dict[str, Any] = {
            "evse": {"id": evse.id, "connectorId": 1},
            "idToken": id_token or {"idToken": "SIMULATED", "type": "Central"},
        }
        trigger = "RemoteStart" if remote_start_id is not None else "Authorized"
        return [
            self.status(evse, now),
            self.transaction_event(
                evse,
                "Started",
                trigger,
                now,
                offline=offline,
                context="Transaction.Begin",
                info=info,
                extra=extra,
            ),
        ]

    def stop(
        self,
        evse_id: int,
        now: datetime.datetime,
        *,
        reason: str = "Local",
        trigger: str = "StopAuthorized",
        offline: bool = False,
    ) -> list[Outgoing]:
        evse = self.evse(evse_id)
        if evse.tx_id is None:
            raise SimulationError(f"connector {evse_id} has no transaction")
        info = {"chargingState": "Idle", "stoppedReason": reason}
        ended = self.transaction_event(
            evse, "Ended", trigger, now, offline=offline, context="Transaction.End", info=info
        )
        evse.tx_id = None
        evse.power_w = 0.0
        evse.local_discharge_w = None
        evse.v2x = None
        self.remove_profiles(evse, lambda p: p.purpose == "TxProfile")  # K01: they end with it
        evse.status = "Available"
        return [ended, self.status(evse, now)]

    def stop_all(self, now: datetime.datetime, reason: str, *, offline: bool) -> list[Outgoing]:
        out: list[Outgoing] = []
        for evse in self.charging():
            out += self.stop(evse.id, now, reason=reason, trigger="ResetCommand", offline=offline)
        return out

    def updates(
        self, now: datetime.datetime, *, offline: bool, trigger: str = "MeterValuePeriodic"
    ) -> list[Outgoing]:
        return [
            self.transaction_event(
                e, "Updated", trigger, now, offline=offline, context="Sample.Periodic"
            )
            for e in self.charging()
        ]

    def meter_values(self, evse: Evse, now: datetime.datetime, context: str) -> Outgoing:
        return Outgoing(
            "MeterValues",
            {"evseId": evse.id, "meterValue": [self.meter_value(evse, now, context)]},
        )

    # --- energy -------------------------------------------------------------------------

    def target_power(self, evse: Evse) -> float:
        """Signed power the EVSE delivers now, from the profile, the prompt and the battery."""
        ev = self.ev
        if evse.local_discharge_w is not None:
            target = evse.local_discharge_w
        elif evse.profile_w is not None:
            target = evse.profile_w
        else:
            target = self.max_power_w
        if target < 0:
            if not ev.v2g or ev.soc <= ev.min_soc:
                return 0.0
            return max(target, -ev.discharge_kw * 1000.0)
        return 0.0 if ev.soc >= 100.0 else min(target, self.max_power_w, ev.charge_kw * 1000.0)

    def advance(self, seconds: float, now: datetime.datetime | None = None) -> None:
        """Let ``seconds`` pass on every EVSE in a transaction, up to ``now``: a register moves
        by power x time, the SoC by that over the battery, stopping at the EV's floor or at
        100 % (Ev.energy_wh). The span is cut where a profile's period changes, each piece at
        the power then in force. Without ``now`` the schedules stand still."""
        if now is None:
            self._flow(seconds)
        else:
            at = now - datetime.timedelta(seconds=seconds)
            while at < now:
                self._restack_all(at, now)
                change = self.next_change(at)
                until = now if change is None or change <= at else min(change, now)
                self._flow((until - at).total_seconds())
                at = until
            self.clock = now
        # a profile may have outlived its offline duration meanwhile, or a period begun
        self._restack_all(self.clock, self.clock)

    def _flow(self, seconds: float) -> None:
        for evse in self.charging():
            evse.power_w = self.target_power(evse)
            wh = self.ev.energy_wh(evse.power_w * seconds / 3600.0)
            if wh >= 0:
                evse.energy_import_wh += wh
            else:
                evse.energy_export_wh -= wh

    def _restack_all(self, at: datetime.datetime | None, now: datetime.datetime | None) -> None:
        """Every EVSE follows what rules at ``at`` (offline as long as it was then)."""
        offline = self.offline_seconds
        if at is not None and now is not None:
            offline = max(0.0, offline - (now - at).total_seconds())
        for evse in self.evses:
            self._restack(evse, at, offline)

    def next_change(self, now: datetime.datetime) -> datetime.datetime | None:
        """The first moment after ``now`` at which a period of an installed profile changes."""
        changes = [evse.stack.next_change(now) for evse in self.evses]
        return min((c for c in changes if c is not None), default=None)

    def set_profile(
        self,
        evse_id: int,
        watts: float | None,
        profile: ActiveProfile | None = None,
        schedule: Schedule | None = None,
    ) -> None:
        """Install ``profile`` on one EVSE (0: on each), as K01 stacks them, following
        ``schedule`` (by default: ``watts`` all along); without a ``profile``, ``watts``
        replaces every profile (None: removes them)."""
        for evse in self.evses if evse_id == 0 else [self.evse(evse_id)]:
            if profile is None:
                evse.stack.profiles.clear()
            shape = Schedule.constant(watts) if schedule is None else schedule
            evse.stack.install(profile or UNNAMED, shape)
            self.restack(evse)

    def remove_profiles(self, evse: Evse, matches: Callable[[ActiveProfile], bool]) -> bool:
        """Remove the EVSE's profiles that ``matches``; whether there was one."""
        gone = evse.stack.remove(matches)
        self.restack(evse)
        return gone

    def restack(self, evse: Evse) -> None:
        """Follow the profile that rules now (see `ProfileStack.ruling`)."""
        self._restack(evse, self.clock, self.offline_seconds)

    def _restack(self, evse: Evse, at: datetime.datetime | None, offline: float) -> None:
        evse.profile, evse.profile_w = evse.stack.ruling(offline, at)
        if evse.tx_id is not None:
            evse.power_w = self.target_power(evse)

    def discharge(self, evse: Evse, watts: float | None) -> None:
        if watts is not None and not self.ev.v2g:
            raise SimulationError("this EV is not V2G-capable (start with --v2g)")
        evse.local_discharge_w = None if watts is None else -abs(watts)
        evse.power_w = self.target_power(evse)


def _sample(value: float, measurand: str, unit: str, context: str) -> dict[str, Any]:
    return {
        "value": round(value, 3),
        "measurand": measurand,
        "context": context,
        "unitOfMeasure": {"unit": unit},
    }
