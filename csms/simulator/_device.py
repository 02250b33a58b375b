"""The few variables of Part 2's device model a simulated station has (Actual attribute only)."""

from __future__ import annotations

from typing import Final

import attrs

__all__ = ["DeviceModel"]

_VARIABLES: Final[dict[tuple[str, str], tuple[str, bool]]] = {
    # (component, variable): (initial value, writable)
    ("OCPPCommCtrlr", "HeartbeatInterval"): ("300", True),
    ("OCPPCommCtrlr", "RetryBackOffWaitMinimum"): ("5", True),
    ("OCPPCommCtrlr", "RetryBackOffRandomRange"): ("10", True),
    ("OCPPCommCtrlr", "RetryBackOffRepeatTimes"): ("5", True),
    ("OCPPCommCtrlr", "NetworkProfileConnectionAttempts"): ("3", True),
    ("SampledDataCtrlr", "TxUpdatedInterval"): ("60", True),
    ("SampledDataCtrlr", "TxUpdatedMeasurands"): (
        "Energy.Active.Import.Register,Power.Active.Import,SoC",
        True,
    ),
    ("AuthCtrlr", "AuthorizeRemoteStart"): ("false", True),
    ("SecurityCtrlr", "SecurityProfile"): ("1", False),
    ("SecurityCtrlr", "Identity"): ("", False),
    ("ChargingStation", "Model"): ("SIM-1", False),
    ("ChargingStation", "VendorName"): ("csms", False),
    ("V2XChargingCtrlr", "Enabled"): ("false", False),
    ("V2XChargingCtrlr", "SupportedOperationModes"): ("ChargingOnly,CentralSetpoint", False),
}


@attrs.define(slots=True)
class DeviceModel:
    """A few variables of Part 2's device model (Actual attribute only)."""

    values: dict[tuple[str, str], str] = attrs.field(
        factory=lambda: {key: value for key, (value, _) in _VARIABLES.items()}
    )

    def get(self, component: str, variable: str) -> str | None:
        return self.values.get((component, variable))

    def set(self, component: str, variable: str, value: str) -> str:
        """Set a value; the attribute status to answer (Accepted, Rejected, Unknown...)."""
        key = (component, variable)
        if key not in self.values:
            known = any(c == component for c, _ in self.values)
            return "UnknownVariable" if known else "UnknownComponent"
        if not _VARIABLES[key][1]:
            return "Rejected"
        numeric = variable.endswith("Interval") or variable.startswith("RetryBackOff")
        if numeric and (not value.isdigit() or (variable.endswith("Interval") and int(value) < 1)):
            return "Rejected"
        self.values[key] = value
        return "Accepted"

    def number(self, component: str, variable: str) -> float:
        return float(self.values[component, variable])
