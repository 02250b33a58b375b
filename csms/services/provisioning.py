"""Booting and registration decisions (B01-B03, pure)."""

from __future__ import annotations

import datetime as dt

from csms.protocol import BootState

__all__ = ["boot_registration_status", "initial_boot_state"]


def boot_registration_status(registered: str | None) -> str:
    """What BootNotification answers: the station's registration status, ``Rejected`` for a
    station that is not registered (B01, B02, B03)."""
    return registered if registered is not None else "Rejected"


def initial_boot_state(registered: str | None, last_boot_at: dt.datetime | None) -> BootState:
    """A station accepted before that reconnects without rebooting sends no BootNotification,
    so its messages are accepted at once (B01, Part 4 reconnection)."""
    if registered == "Accepted" and last_boot_at is not None:
        return BootState.ACCEPTED
    return BootState.UNKNOWN
