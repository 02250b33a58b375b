"""Station actors: one per connected charge point (SPEC sections 2, 4 and 5)."""

from csms.protocol import BootState
from csms.runtime import ChildSpec, RestartType

from ._actions import CSMS_INITIATED
from ._actor import StationActor
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
    "memory_link",
    "station_spec",
]


def station_spec(
    link: StationLink,
    services: StationServices,
    *,
    boot_state: BootState = BootState.UNKNOWN,
    validate_outbound: bool = False,
    mailbox_size: int = 100,
) -> ChildSpec:
    """A temporary child of the ``stations`` supervisor: a crash closes only this connection."""
    return ChildSpec.actor(
        link.station_id,
        lambda: StationActor(
            link, services, boot_state=boot_state, validate_outbound=validate_outbound
        ),
        kind="station",
        restart=RestartType.TEMPORARY,
        mailbox_size=mailbox_size,
        shutdown_timeout=5.0,
    )
