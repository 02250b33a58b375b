"""Firmware campaigns over REST: one update across many stations (a list, a filter on model,
vendor and current firmware version, or every registered station), at most ``maxConcurrent``
at once, halted when ``failureThreshold`` stations failed; pause, resume, cancel (operator);
the campaign with its counts per station state, and its stations (viewer)."""

from __future__ import annotations

import datetime as dt
import uuid

import attrs
from starlette.responses import Response

from csms.storage import firmware_campaigns as repo
from csms.storage.firmware_campaigns import CampaignRow

from ._auth import Role
from ._errors import InvalidBody, NotFound
from ._firmware import SecureFirmware
from ._firmware_control import CampaignSpec
from ._routing import Call, Endpoint, Param, json_response
from ._schema import spec
from .bodies import STATION_ID_PATTERN

__all__ = ["ENDPOINTS"]

_ID_DOC = {"campaignId": "The campaign's id."}


@attrs.frozen
class StationRef:
    id: str = spec(pattern=STATION_ID_PATTERN, example="CP001")


@attrs.frozen
class StationSelection:
    """Registered stations whose last BootNotification matches every field given."""

    model: str | None = spec(None, min_length=1, max_length=50)
    vendor: str | None = spec(None, min_length=1, max_length=50)
    firmware_version: str | None = spec(None, min_length=1, max_length=50)


_TIME_OF_DAY = r"^([01][0-9]|2[0-3]):[0-5][0-9]$"


@attrs.frozen
class CampaignWindow:
    """A daily window in UTC times of day (``HH:MM``): jobs start from ``start`` until ``end``
    (22:00-05:00 spans midnight); jobs running when it closes go on to their end."""

    start: str = spec(pattern=_TIME_OF_DAY, example="22:00")
    end: str = spec(pattern=_TIME_OF_DAY, example="05:00")


@attrs.frozen
class FirmwareCampaignBody:
    """A campaign: the ``stations`` listed, else those ``filter`` selects, else every
    registered station, each sent UpdateFirmware for ``location`` (an image of the store is its
    ``url``; signed when ``secure`` is given or the stored image carries a signature)."""

    name: str = spec(min_length=1, max_length=200, pattern=r"^[^\u0000]*$")
    location: str = spec(min_length=1, max_length=2000, pattern=r"^[^\u0000]*$")
    max_concurrent: int = spec(description="Stations updating at once.", minimum=1, maximum=10000)
    failure_threshold: int | None = spec(
        None, description="Halt once this many stations failed.", minimum=1, maximum=100000
    )
    target_version: str | None = spec(
        None,
        description="The version the image installs: stations already on it are skipped.",
        min_length=1,
        max_length=50,
        pattern=r"^[^\u0000]*$",
    )
    stations: list[StationRef] | None = None
    filter: StationSelection | None = None
    secure: SecureFirmware | None = None
    retries: int | None = spec(None, minimum=0, maximum=100)
    retry_interval: int | None = spec(
        None, description="Seconds between retries.", minimum=0, maximum=2_147_483_647
    )
    window: CampaignWindow | None = None


@attrs.frozen
class CampaignCounts:
    pending: int
    running: int
    installed: int
    failed: int
    skipped: int
    total: int


@attrs.frozen
class FirmwareCampaign:
    """A campaign. ``state``: running, paused, halted (its failure threshold was reached),
    completed, canceled; ``counts``: its stations per state."""

    id: str
    name: str
    state: str
    reason: str | None
    location: str
    signed: bool
    target_version: str | None
    max_concurrent: int
    failure_threshold: int | None
    requested_by: str
    created_at: dt.datetime
    updated_at: dt.datetime
    counts: CampaignCounts
    window: CampaignWindow | None = None


@attrs.frozen
class FirmwareCampaignList:
    items: list[FirmwareCampaign]


@attrs.frozen
class CampaignStationView:
    station_id: str
    state: str
    job_id: str | None
    reason: str | None


@attrs.frozen
class CampaignStationList:
    items: list[CampaignStationView]


async def _view(call: Call, row: CampaignRow) -> FirmwareCampaign:
    found = await call.control.database.run(repo.counts, row.id)
    return FirmwareCampaign(
        id=str(row.id),
        name=row.name,
        state=row.state,
        reason=row.reason,
        location=row.location,
        signed=row.signature is not None,
        target_version=row.target_version,
        max_concurrent=row.max_concurrent,
        failure_threshold=row.failure_threshold,
        requested_by=row.requested_by,
        created_at=row.created_at,
        updated_at=row.updated_at,
        counts=CampaignCounts(**found, total=sum(found.values())),
        window=_window_view(row.window_start, row.window_end),
    )


def _window_view(start: dt.time | None, end: dt.time | None) -> CampaignWindow | None:
    if start is None or end is None:
        return None
    return CampaignWindow(start.strftime("%H:%M"), end.strftime("%H:%M"))


def _window(window: CampaignWindow | None) -> tuple[dt.time | None, dt.time | None]:
    if window is None:
        return None, None
    if window.start == window.end:
        raise InvalidBody("must differ from window.start", field="window.end")
    return dt.time.fromisoformat(window.start), dt.time.fromisoformat(window.end)


def _campaign_id(call: Call) -> uuid.UUID:
    try:
        return uuid.UUID(call.path("campaignId"))
    except ValueError:
        raise NotFound(f"no firmware campaign {call.path('campaignId')!r}") from None


async def _row(call: Call) -> CampaignRow:
    campaign_id = _campaign_id(call)
    row = await call.control.database.run(repo.get_campaign, campaign_id)
    if row is None:
        raise NotFound(f"no firmware campaign {campaign_id}")
    return row


async def create(call: Call) -> Response:
    body: FirmwareCampaignBody = call.body
    where = body.filter or StationSelection()
    window_start, window_end = _window(body.window)
    row = await call.control.firmware.create_campaign(
        CampaignSpec(
            name=body.name,
            location=body.location,
            max_concurrent=body.max_concurrent,
            failure_threshold=body.failure_threshold,
            target_version=body.target_version,
            station_ids=None if body.stations is None else [s.id for s in body.stations],
            station_filter=repo.StationFilter(where.model, where.vendor, where.firmware_version),
            signing_certificate=None if body.secure is None else body.secure.signing_certificate,
            signature=None if body.secure is None else body.secure.signature,
            retries=body.retries,
            retry_interval_s=body.retry_interval,
            requested_by=call.requested_by,
            window_start=window_start,
            window_end=window_end,
        )
    )
    return json_response(await _view(call, row), 201)


async def list_campaigns(call: Call) -> Response:
    rows = await call.control.database.run(repo.list_campaigns, limit=call.query["limit"])
    return json_response(FirmwareCampaignList([await _view(call, r) for r in rows]))


async def get_campaign(call: Call) -> Response:
    return json_response(await _view(call, await _row(call)))


async def stations(call: Call) -> Response:
    row = await _row(call)
    found = await call.control.database.run(
        repo.campaign_stations, row.id, state=call.query["state"]
    )
    items = [CampaignStationView(s.station_id, s.state, _text(s.job_id), s.reason) for s in found]
    return json_response(CampaignStationList(items))


def _text(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def _command(action: str) -> Endpoint:
    async def handler(call: Call) -> Response:
        campaign_id = _campaign_id(call)
        row = await call.control.firmware.campaign_command(
            campaign_id, action, requested_by=call.requested_by
        )
        if row is None:
            raise NotFound(f"no firmware campaign {campaign_id}")
        return json_response(await _view(call, row))

    return Endpoint(
        "POST",
        f"/api/v1/firmware/campaigns/{{campaignId}}/{action}",
        handler,
        Role.OPERATOR,
        f"{action.capitalize()} a firmware campaign",
        "firmware",
        response=FirmwareCampaign,
        errors=(404, 409),
        path_docs=_ID_DOC,
        description=(
            "409 when its state does not allow it. Jobs already running go on to their end "
            "(OCPP cannot stop an update a station accepted) and are counted."
        ),
    )


ENDPOINTS = (
    Endpoint(
        "POST",
        "/api/v1/firmware/campaigns",
        create,
        Role.OPERATOR,
        "Start a firmware campaign across many stations",
        "firmware",
        ok=201,
        body=FirmwareCampaignBody,
        response=FirmwareCampaign,
        errors=(409, 422),
        description=(
            "Jobs start as slots free up (at most `maxConcurrent` at once), and only within "
            "`window` when one is given; a station that "
            "fails, refuses or is not connected counts as failed. 422 before anything is sent "
            "when a signed campaign does not verify; 409 when no firmware CA is configured."
        ),
    ),
    Endpoint(
        "GET",
        "/api/v1/firmware/campaigns",
        list_campaigns,
        Role.VIEWER,
        "List firmware campaigns with their progress, newest first",
        "firmware",
        response=FirmwareCampaignList,
        query=(Param("limit", int, "At most this many.", minimum=1, maximum=1000, default=100),),
    ),
    Endpoint(
        "GET",
        "/api/v1/firmware/campaigns/{campaignId}",
        get_campaign,
        Role.VIEWER,
        "A firmware campaign with its counts per station state",
        "firmware",
        response=FirmwareCampaign,
        errors=(404,),
        path_docs=_ID_DOC,
    ),
    Endpoint(
        "GET",
        "/api/v1/firmware/campaigns/{campaignId}/stations",
        stations,
        Role.VIEWER,
        "A firmware campaign's stations with their state and job",
        "firmware",
        response=CampaignStationList,
        query=(Param("state", description="Only these.", enum=repo.STATION_STATES),),
        errors=(404,),
        path_docs=_ID_DOC,
    ),
    _command("pause"),
    _command("resume"),
    _command("cancel"),
)
