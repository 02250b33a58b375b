"""Station actors: one per connected charge point (SPEC sections 2, 4 and 5)."""

from ._actions import CSMS_INITIATED
from ._actor import StationActor, start_station
from ._commands import (
    CommandAbandoned,
    CommandError,
    CommandNotAllowed,
    CommandResult,
    Disconnect,
    GetSnapshot,
    InvalidCommand,
    SendCommand,
    StationCallError,
    StationDisconnected,
    StationFailed,
    StationNotConnected,
    StationTimeout,
)
from ._context import StationContext
from ._link import LinkClosed, MemoryLink, StationLink, memory_link
from ._routes import Overflow, OwnerBusy, Route, RouteStats, StationMessage, StationRoutes
from ._services import CertificateVerifier, NoPlugAndCharge, StationServices
from .handlers import HANDLERS, initial_boot_state

__all__ = [
    "CSMS_INITIATED",
    "HANDLERS",
    "CertificateVerifier",
    "CommandAbandoned",
    "CommandError",
    "CommandNotAllowed",
    "CommandResult",
    "Disconnect",
    "GetSnapshot",
    "InvalidCommand",
    "LinkClosed",
    "MemoryLink",
    "NoPlugAndCharge",
    "Overflow",
    "OwnerBusy",
    "Route",
    "RouteStats",
    "SendCommand",
    "StationActor",
    "StationCallError",
    "StationContext",
    "StationDisconnected",
    "StationFailed",
    "StationLink",
    "StationMessage",
    "StationNotConnected",
    "StationRoutes",
    "StationServices",
    "StationTimeout",
    "initial_boot_state",
    "memory_link",
    "start_station",
]
