"""What the firmware jobs' actors are told and asked, and how an update is refused."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import attrs
import trio

from csms.actors.v2g._messages import TrioWallClock
from csms.runtime import ActorRef, ActorStopped, Rejected

__all__ = [
    "CampaignCommand",
    "CancelJob",
    "FirmwareOptions",
    "RunCampaign",
    "StartUpdate",
    "Tick",
    "UpdateRefused",
    "tick_every",
]


@attrs.frozen
class FirmwareOptions:
    #: How long a job waits for the station's next report, s (``[firmware] timeout_s``).
    timeout_s: float = 3600.0
    #: How often a job looks at the time, s.
    tick_interval: float = 5.0
    #: The wall clock the policy decides by; it follows trio's clock (a test's MockClock).
    clock: Callable[[], dt.datetime] = attrs.field(factory=TrioWallClock)
    #: How long UpdateFirmware may take (the wait behind other commands, then the answer), s.
    command_timeout: float = 35.0
    #: How often a campaign looks for free slots and ended jobs it was not told of, s.
    campaign_tick: float = 5.0

    @property
    def timeout(self) -> dt.timedelta:
        return dt.timedelta(seconds=self.timeout_s)


@attrs.frozen
class StartUpdate:
    """UpdateFirmware for one station (L01 when ``signature`` and ``signing_certificate``)."""

    station_id: str
    location: str
    retrieve_at: dt.datetime
    requested_by: str
    install_at: dt.datetime | None = None
    retries: int | None = None
    retry_interval_s: int | None = None
    signing_certificate: str | None = None
    signature: str | None = None
    campaign_id: uuid.UUID | None = None

    def payload(self, request_id: int) -> dict[str, object]:
        """UpdateFirmwareRequest as on the wire."""
        firmware: dict[str, object] = {
            "location": self.location,
            "retrieveDateTime": _wire_time(self.retrieve_at),
        }
        if self.install_at is not None:
            firmware["installDateTime"] = _wire_time(self.install_at)
        if self.signing_certificate is not None:
            firmware["signingCertificate"] = self.signing_certificate
        if self.signature is not None:
            firmware["signature"] = self.signature
        payload: dict[str, object] = {"requestId": request_id, "firmware": firmware}
        if self.retries is not None:
            payload["retries"] = self.retries
        if self.retry_interval_s is not None:
            payload["retryInterval"] = self.retry_interval_s
        return payload


@attrs.frozen
class CancelJob:
    job_id: uuid.UUID
    requested_by: str


@attrs.frozen
class RunCampaign:
    """Run (or resume) the campaign stored with this id."""

    campaign_id: uuid.UUID


@attrs.frozen
class CampaignCommand:
    """An operator's pause, resume or cancel of a campaign."""

    campaign_id: uuid.UUID
    action: str  # pause | resume | cancel
    requested_by: str


@attrs.frozen
class Replaced:
    """The station answered a newer job AcceptedCanceled: this one ended there."""


@attrs.frozen
class Tick:
    pass


async def tick_every(interval: float, ref: ActorRef) -> None:
    """Tell ``ref`` a ``Tick`` every ``interval`` seconds (dropped when its mailbox is full)
    until it stops."""
    tick = Tick()
    while True:
        await trio.sleep(interval)
        try:
            ref.tell_or_drop(tick)
        except ActorStopped:
            return


class UpdateRefused(Rejected):
    """Nothing was started: ``code`` is stable (station_not_connected, station_error)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _wire_time(at: dt.datetime) -> str:
    return at.astimezone(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")
