"""Station actors: one per connected charge point (SPEC sections 2, 4 and 5)."""

from ._actions import CSMS_INITIATED
from ._actor import StationActor, start_station
from ._commands import (
    CommandError,
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
from ._handlers import HANDLERS, initial_boot_state
from ._link import LinkClosed, MemoryLink, StationLink, memory_link
from ._password import masked as mask_password
from ._services import CertificateVerifier, MessageHook, NoPlugAndCharge, StationServices

__all__ = [
    "CSMS_INITIATED",
    "HANDLERS",
    "CertificateVerifier",
    "CommandError",
    "CommandNotAllowed",
    "CommandResult",
    "Disconnect",
    "GetSnapshot",
    "InvalidCommand",
    "LinkClosed",
    "MemoryLink",
    "MessageHook",
    "NoPlugAndCharge",
    "SendCommand",
    "StationActor",
    "StationCallError",
    "StationDisconnected",
    "StationLink",
    "StationServices",
    "StationTimeout",
    "initial_boot_state",
    "mask_password",
    "memory_link",
    "start_station",
]
