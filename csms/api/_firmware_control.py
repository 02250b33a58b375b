"""The node's firmware jobs, store and campaigns as the API uses them (``ControlPlane.firmware``);
reads of jobs and campaigns go to the database."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Protocol

import attrs

from csms.storage.firmware import FirmwareJobRow
from csms.storage.firmware_campaigns import CampaignRow, StationFilter
from csms.storage.firmware_store import FirmwareStore, ImageRecord

__all__ = ["CampaignSpec", "FirmwareControl", "FirmwareUpdate"]


@attrs.frozen
class FirmwareUpdate:
    """An UpdateFirmware as the API asks for it (``POST /api/v1/devices/{id}/firmware/update``):
    L01 (secure) when ``signing_certificate`` and ``signature`` are given, else L02. A
    ``location`` on this node's store is that image: its signature is checked against it, and
    the one stored with it is sent when none is given."""

    station_id: str
    location: str
    retrieve_at: dt.datetime
    install_at: dt.datetime | None
    retries: int | None
    retry_interval_s: int | None
    signing_certificate: str | None
    signature: str | None
    requested_by: str


@attrs.frozen
class CampaignSpec:
    """A campaign as the API asks for it (``POST /api/v1/firmware/campaigns``): the stations
    listed, else those the filter selects."""

    name: str
    location: str
    max_concurrent: int
    failure_threshold: int | None
    target_version: str | None
    station_ids: list[str] | None
    station_filter: StationFilter
    signing_certificate: str | None
    signature: str | None
    retries: int | None
    retry_interval_s: int | None
    requested_by: str
    #: the daily window (UTC) in which jobs start; none: any time
    window_start: dt.time | None = None
    window_end: dt.time | None = None


class FirmwareControl(Protocol):
    @property
    def store(self) -> FirmwareStore:
        """The node's firmware store (images on disk)."""
        ...

    def image_url(self, image_id: str) -> str:
        """Where stations download an image of the store from (this node's HTTP)."""
        ...

    def check_signature(
        self, signing_certificate: str, signature: str, image: ImageRecord | None
    ) -> None:
        """The signing certificate against the firmware CA, and the signature against the
        image when there is one; raises ``FirmwareSigningError`` naming the field."""
        ...

    async def start_update(self, update: FirmwareUpdate) -> FirmwareJobRow:
        """Send UpdateFirmware and return the job as stored with the station's answer (a
        Rejected or InvalidCertificate answer: the job ``failed`` with that reason); raises
        ``InvalidBody`` when a signed update does not verify (nothing is sent), ``Conflict``
        (station_not_connected, or the command's error code) when nothing was answered,
        ``Unavailable`` when the node runs no firmware jobs."""
        ...

    async def cancel_job(self, job_id: uuid.UUID, *, requested_by: str) -> FirmwareJobRow | None:
        """End a running job as ``Canceled`` (csms stops following it; OCPP has no way to stop
        the station's update) and return it; None when there is no such job."""
        ...

    async def create_campaign(self, campaign: CampaignSpec) -> CampaignRow:
        """Store the campaign with its stations and start it (its signature checked first:
        ``InvalidBody``, or ``Conflict`` without a firmware CA)."""
        ...

    async def campaign_command(
        self, campaign_id: uuid.UUID, action: str, *, requested_by: str
    ) -> CampaignRow | None:
        """Pause, resume or cancel (``Conflict`` when its state does not allow it); None when
        there is no such campaign."""
        ...
