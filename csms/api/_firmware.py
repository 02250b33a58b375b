"""Firmware updates (OCPP 2.0.1 L01 secure, L02 non-secure): start one on a station, cancel a
job (operator); a station's current or last job with its status history, a list of jobs
(viewer). A start is carried out by the node's firmware jobs (``ControlPlane.firmware``)."""

from __future__ import annotations

import datetime as dt
import uuid

import attrs
from starlette.responses import Response

from csms.storage import firmware as repo
from csms.storage.firmware import FirmwareJobRow, StatusEntry

from ._auth import Role
from ._errors import InvalidBody, NotFound
from ._firmware_control import FirmwareUpdate
from ._routing import Call, Endpoint, Param, json_response
from ._schema import spec
from .bodies import STATION_ID_PATTERN

__all__ = ["ENDPOINTS", "FirmwareJob", "job_view"]

_DOCS = {"stationId": "The station's identity."}
_STATES = ("active", "completed", "failed", "canceled")
_UUID = "^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$"


@attrs.frozen
class SecureFirmware:
    """What a secure update (L01) sends with the location: the certificate that signed the
    image (PEM) and the image's signature (base64)."""

    signing_certificate: str = spec(min_length=1, max_length=5500)
    signature: str = spec(min_length=1, max_length=800)


@attrs.frozen
class FirmwareUpdateBody:
    """UpdateFirmware: the station downloads ``location`` from ``retrieveDateTime`` on and
    installs at ``installDateTime`` (or at once). Secure update (L01) when ``secure`` gives the
    signing certificate and the signature; else non-secure (L02)."""

    location: str = spec(
        min_length=1,
        max_length=2000,
        example="https://firmware.example/cp-2.0.bin",
        description=(
            "Where the station downloads the image; an image of the node's store is its `url` "
            "(its stored signature then makes the update signed unless `secure` is given)."
        ),
    )
    retrieve_date_time: dt.datetime = spec(description="When to start downloading.")  # noqa: RUF009
    install_date_time: dt.datetime | None = spec(None, description="When to install.")  # noqa: RUF009
    retries: int | None = spec(None, minimum=0, maximum=100)
    retry_interval: int | None = spec(
        None, description="Seconds between retries.", minimum=0, maximum=2_147_483_647
    )
    secure: SecureFirmware | None = None


@attrs.frozen
class FirmwareStatusEntry:
    status: str
    at: dt.datetime


@attrs.frozen
class FirmwareJob:
    """A firmware job. ``state``: active, completed, failed or canceled; ``phase`` adds
    requested, running, rebooting; ``status``: the station's last answer or report, or why
    it ended; ``reason`` (ended ones): Rejected, InvalidCertificate, DownloadFailed,
    InvalidSignature, InstallationFailed, InstallVerificationFailed, TimedOut, Replaced,
    Canceled. ``campaignId``: the campaign that started it, if any. ``history``: the statuses
    in order (in the status and single-job views)."""

    id: str
    station_id: str
    request_id: int
    state: str
    phase: str
    status: str
    reason: str | None
    signed: bool
    location: str
    retrieve_date_time: dt.datetime
    install_date_time: dt.datetime | None
    retries: int | None
    retry_interval: int | None
    firmware_version: str | None
    requested_by: str
    created_at: dt.datetime
    status_at: dt.datetime
    campaign_id: str | None = None
    history: list[FirmwareStatusEntry] | None = None


@attrs.frozen
class FirmwareJobList:
    items: list[FirmwareJob]


def job_view(row: FirmwareJobRow, history: list[StatusEntry] | None = None) -> FirmwareJob:
    return FirmwareJob(
        id=str(row.id),
        station_id=row.station_id,
        request_id=row.request_id,
        state=row.state,
        phase=row.phase,
        status=row.status,
        reason=row.reason,
        signed=row.signature is not None,
        location=row.location,
        retrieve_date_time=row.retrieve_at,
        install_date_time=row.install_at,
        retries=row.retries,
        retry_interval=row.retry_interval_s,
        firmware_version=row.firmware_version,
        requested_by=row.requested_by,
        created_at=row.created_at,
        status_at=row.status_at,
        campaign_id=None if row.campaign_id is None else str(row.campaign_id),
        history=None if history is None else [FirmwareStatusEntry(e.status, e.at) for e in history],
    )


async def update(call: Call) -> Response:
    body: FirmwareUpdateBody = call.body
    secure = body.secure
    row = await call.control.firmware.start_update(
        FirmwareUpdate(
            station_id=call.path("stationId"),
            location=body.location,
            retrieve_at=body.retrieve_date_time,
            install_at=body.install_date_time,
            retries=body.retries,
            retry_interval_s=body.retry_interval,
            signing_certificate=None if secure is None else secure.signing_certificate,
            signature=None if secure is None else secure.signature,
            requested_by=call.requested_by,
        )
    )
    return json_response(job_view(row), 201)


async def status(call: Call) -> Response:
    station_id = call.path("stationId")
    row = await call.control.database.run(repo.latest_job, station_id)
    if row is None:
        raise NotFound(f"no firmware job for station {station_id!r}")
    history = await call.control.database.run(repo.history, row.id)
    return json_response(job_view(row, history))


async def list_jobs(call: Call) -> Response:
    q = call.query
    campaign_id = None
    if q["campaignId"] is not None:
        try:
            campaign_id = uuid.UUID(q["campaignId"])
        except ValueError:
            raise InvalidBody("must be a campaign id (a UUID)", field="campaignId") from None
    rows = await call.control.database.run(
        repo.list_jobs,
        station_id=q["stationId"],
        state=q["state"],
        campaign_id=campaign_id,
        limit=q["limit"],
    )
    return json_response(FirmwareJobList([job_view(r) for r in rows]))


async def cancel(call: Call) -> Response:
    try:
        job_id = uuid.UUID(call.path("jobId"))
    except ValueError:
        raise NotFound(f"no firmware job {call.path('jobId')!r}") from None
    row = await call.control.firmware.cancel_job(job_id, requested_by=call.requested_by)
    if row is None:
        raise NotFound(f"no firmware job {job_id}")
    return json_response(job_view(row))


ENDPOINTS = (
    Endpoint(
        "POST",
        "/api/v1/devices/{stationId}/firmware/update",
        update,
        Role.OPERATOR,
        "Update a station's firmware (a firmware job)",
        "firmware",
        ok=201,
        body=FirmwareUpdateBody,
        response=FirmwareJob,
        errors=(409, 422, 503),
        path_docs=_DOCS,
        description=(
            "Sends UpdateFirmware with a fresh requestId and returns the job with the station's "
            "answer: Rejected, InvalidCertificate or RevokedCertificate end it `failed` with "
            "that reason; AcceptedCanceled ends the station's running job as `Replaced`. The "
            "job then follows the station's FirmwareStatusNotification and its BootNotification "
            "after the reboot. 409: the station is not connected or did not answer. 422 before "
            "anything is sent: a signing certificate that does not chain to the firmware CA, or a "
            "signature that does not match the image of the store."
        ),
    ),
    Endpoint(
        "GET",
        "/api/v1/devices/{stationId}/firmware/status",
        status,
        Role.VIEWER,
        "A station's current or last firmware job, with its status history",
        "firmware",
        response=FirmwareJob,
        errors=(404,),
        path_docs=_DOCS,
    ),
    Endpoint(
        "GET",
        "/api/v1/firmware/jobs",
        list_jobs,
        Role.VIEWER,
        "List firmware jobs, newest first",
        "firmware",
        response=FirmwareJobList,
        query=(
            Param("stationId", description="Only this station's.", pattern=STATION_ID_PATTERN),
            Param("state", description="Only jobs in this state.", enum=_STATES),
            Param("campaignId", description="Only this campaign's.", pattern=_UUID),
            Param("limit", int, "At most this many.", minimum=1, maximum=1000, default=100),
        ),
        errors=(422,),
    ),
    Endpoint(
        "POST",
        "/api/v1/firmware/jobs/{jobId}/cancel",
        cancel,
        Role.OPERATOR,
        "Cancel a firmware job (csms stops following it)",
        "firmware",
        response=FirmwareJob,
        errors=(404,),
        path_docs={"jobId": "The job's id."},
    ),
)
