"""The REST API's firmware jobs and store over the node's firmware supervisor: where images
are kept and served, and the checks of a signed update (L01) made before anything is sent."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid

import attrs
import trio

from csms.actors import Node, firmware
from csms.api import CampaignSpec, Conflict, FirmwareUpdate, InvalidBody, Unavailable
from csms.runtime import ActorError, Rejected
from csms.services.firmware_signing import (
    FirmwareSigningError,
    check_signing_certificate,
    load_anchors,
    verify_image_signature,
)
from csms.storage import Connection
from csms.storage import firmware_campaigns as campaigns_repo
from csms.storage.firmware import FirmwareJobRow
from csms.storage.firmware_campaigns import CampaignRow
from csms.storage.firmware_store import FirmwareStore, ImageRecord

__all__ = ["NodeFirmware", "firmware_store"]


def firmware_store(node: Node) -> FirmwareStore:
    settings = node.settings
    root = settings.firmware.store_dir or settings.database.data_dir / "firmware"
    return FirmwareStore(root, settings.firmware.max_image_bytes)


@attrs.frozen
class Resolved:
    """An update's location and signature once the store and the firmware CA have had a say."""

    location: str
    signing_certificate: str | None
    signature: str | None


@attrs.frozen
class NodeFirmware:
    """The REST API's ``FirmwareControl`` over the node's firmware jobs (``csms/actors/firmware``):
    an update that could not be sent or answered becomes a 409 with its code."""

    node: Node

    @property
    def _timeout(self) -> float:
        return self.node.settings.ocpp.response_timeout + 10

    @property
    def store(self) -> FirmwareStore:
        return firmware_store(self.node)

    def image_url(self, image_id: str) -> str:
        base = self.node.settings.firmware.base_url
        if not base:
            host, port = self.node.http_addresses[0]
            base = f"http://{host}:{port}"
        return f"{base.rstrip('/')}/firmware/{image_id}"

    def check_signature(
        self, signing_certificate: str, signature: str, image: ImageRecord | None
    ) -> None:
        ca_path = self.node.settings.firmware.ca_path
        # read at each check: a renewed CA file needs no restart (checked as PEM at start)
        anchors = [] if ca_path is None else load_anchors(ca_path.read_bytes())
        certificate = check_signing_certificate(
            signing_certificate, anchors, dt.datetime.now(dt.UTC)
        )
        if image is not None:
            verify_image_signature(certificate, image.sha256, signature)

    async def resolve(
        self, location: str, signing_certificate: str | None, signature: str | None
    ) -> Resolved:
        """The signature to send with ``location``, checked (L01.FR.11): a location on this
        node's store is that image, whose stored signature goes when none is given and against
        which a given one is verified; ``InvalidBody`` naming the field when it does not."""
        image: ImageRecord | None = None
        prefix = self.image_url("")
        if location.startswith(prefix):
            image = await trio.to_thread.run_sync(self.store.get, location[len(prefix) :])
            if image is None:
                raise InvalidBody("not an image of this node's store", field="location")
            if signature is None and image.signature is not None:
                signing_certificate, signature = image.signing_certificate, image.signature
        if signature is not None and signing_certificate is not None:
            try:
                self.check_signature(signing_certificate, signature, image)
            except FirmwareSigningError as exc:
                if exc.code == "no_firmware_ca":  # the node's configuration, not the body
                    raise Conflict(exc.reason, code=exc.code) from None
                raise InvalidBody(exc.reason, field=f"secure.{exc.field}", code=exc.code) from None
        return Resolved(location, signing_certificate, signature)

    async def start_update(self, update: FirmwareUpdate) -> FirmwareJobRow:
        if not self.node.gateway.is_connected(update.station_id):
            # before the signature: a station that cannot be sent anything is the first answer
            raise Conflict(
                f"station {update.station_id!r} is not connected", code="station_not_connected"
            )
        resolved = await self.resolve(update.location, update.signing_certificate, update.signature)
        fields = {**attrs.asdict(update, recurse=False), **attrs.asdict(resolved)}
        start = firmware.StartUpdate(**fields)
        try:
            return await firmware.start_update(self.node.root, start, timeout=self._timeout)
        except firmware.UpdateRefused as exc:
            raise Conflict(str(exc), code=exc.code) from None
        except (KeyError, ActorError, TimeoutError):
            raise Unavailable("the node's firmware jobs are not available") from None

    async def cancel_job(self, job_id: uuid.UUID, *, requested_by: str) -> FirmwareJobRow | None:
        try:
            return await firmware.cancel_job(
                self.node.root, job_id, requested_by=requested_by, timeout=self._timeout
            )
        except (KeyError, ActorError, TimeoutError):
            raise Unavailable("the node's firmware jobs are not available") from None

    async def create_campaign(self, campaign: CampaignSpec) -> CampaignRow:
        resolved = await self.resolve(
            campaign.location, campaign.signing_certificate, campaign.signature
        )
        values = {
            "name": campaign.name,
            "location": resolved.location,
            "signing_certificate": resolved.signing_certificate,
            "signature": resolved.signature,
            "target_version": campaign.target_version,
            "max_concurrent": campaign.max_concurrent,
            "failure_threshold": campaign.failure_threshold,
            "retries": campaign.retries,
            "retry_interval_s": campaign.retry_interval_s,
            "requested_by": campaign.requested_by,
            "window_start": campaign.window_start,
            "window_end": campaign.window_end,
        }

        def store(conn: Connection) -> CampaignRow:
            ids = campaign.station_ids
            if ids is None:
                ids = campaigns_repo.matching_stations(conn, campaign.station_filter)
            return campaigns_repo.create_campaign(conn, list(dict.fromkeys(ids)), **values)

        row = await self.node.database.run(store)
        with contextlib.suppress(KeyError, ActorError):  # stored: the next node resumes it
            firmware.run_campaign(self.node.root, row.id)
        return row

    async def campaign_command(
        self, campaign_id: uuid.UUID, action: str, *, requested_by: str
    ) -> CampaignRow | None:
        command = firmware.CampaignCommand(campaign_id, action, requested_by)
        try:
            return await firmware.campaign_command(self.node.root, command, timeout=40)
        except Rejected as exc:
            raise Conflict(str(exc), code="campaign_state") from None
        except (KeyError, ActorError, TimeoutError):
            raise Unavailable("the node's firmware campaigns are not available") from None
