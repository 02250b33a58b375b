"""Firmware campaigns: the campaign (``firmware_campaigns``) and each of its stations with its
state and job (``firmware_campaign_stations``), written by the campaign's actor
(csms/actors/firmware) so that a restarted node resumes it where it stood."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any

import attrs
from psycopg.rows import class_row

from ._connect import Connection
from ._errors import NotFound

__all__ = [
    "CampaignRow",
    "CampaignStation",
    "StationFilter",
    "campaign_stations",
    "counts",
    "create_campaign",
    "get_campaign",
    "job_outcomes",
    "list_campaigns",
    "matching_stations",
    "next_pending",
    "requeue_unstarted",
    "resumable_campaigns",
    "set_campaign_state",
    "set_job",
    "set_station",
]

STATION_STATES = ("pending", "running", "installed", "failed", "skipped")


@attrs.frozen
class CampaignRow:
    id: uuid.UUID
    name: str
    state: str
    location: str
    signing_certificate: str | None
    signature: str | None
    target_version: str | None
    max_concurrent: int
    failure_threshold: int | None
    retries: int | None
    retry_interval_s: int | None
    requested_by: str
    reason: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    #: the daily window (UTC) in which jobs start; none: any time
    window_start: dt.time | None = None
    window_end: dt.time | None = None


@attrs.frozen
class CampaignStation:
    station_id: str
    position: int
    state: str
    job_id: uuid.UUID | None
    reason: str | None
    #: the station's firmware version as last booted (to skip those on the target)
    firmware_version: str | None = None


@attrs.frozen
class StationFilter:
    """Stations by their BootNotification's model, vendor or current firmware version."""

    model: str | None = None
    vendor: str | None = None
    firmware_version: str | None = None


_COLUMNS = ", ".join(a.name for a in attrs.fields(CampaignRow))


def matching_stations(conn: Connection, where: StationFilter) -> list[str]:
    rows = conn.execute(
        "SELECT id FROM stations WHERE (%(model)s::text IS NULL OR model = %(model)s)"
        " AND (%(vendor)s::text IS NULL OR vendor_name = %(vendor)s)"
        " AND (%(version)s::text IS NULL OR firmware_version = %(version)s) ORDER BY id",
        {"model": where.model, "vendor": where.vendor, "version": where.firmware_version},
    ).fetchall()
    return [r[0] for r in rows]


def create_campaign(conn: Connection, station_ids: Sequence[str], **values: Any) -> CampaignRow:
    """The campaign and its stations, pending in the given order: one transaction."""
    names = ", ".join(values)
    marks = ", ".join(["%s"] * len(values))
    with conn.cursor(row_factory=class_row(CampaignRow)) as cur:
        cur.execute(
            f"INSERT INTO firmware_campaigns ({names}) VALUES ({marks}) RETURNING {_COLUMNS}",
            tuple(values.values()),
        )
        row = cur.fetchone()
    assert row is not None
    with conn.cursor() as cur:
        cur.executemany(
            "INSERT INTO firmware_campaign_stations (campaign_id, station_id, position)"
            " VALUES (%s, %s, %s)",
            [(row.id, station, i) for i, station in enumerate(station_ids)],
        )
    return row


def get_campaign(conn: Connection, campaign_id: uuid.UUID) -> CampaignRow | None:
    with conn.cursor(row_factory=class_row(CampaignRow)) as cur:
        cur.execute(f"SELECT {_COLUMNS} FROM firmware_campaigns WHERE id = %s", (campaign_id,))
        return cur.fetchone()


def list_campaigns(conn: Connection, *, limit: int = 100) -> list[CampaignRow]:
    with conn.cursor(row_factory=class_row(CampaignRow)) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM firmware_campaigns ORDER BY created_at DESC LIMIT %s",
            (limit,),
        )
        return cur.fetchall()


def resumable_campaigns(conn: Connection) -> list[CampaignRow]:
    """Campaigns a node runs an actor for: running or paused, or with jobs still running."""
    with conn.cursor(row_factory=class_row(CampaignRow)) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM firmware_campaigns c WHERE state IN ('running', 'paused')"
            " OR EXISTS (SELECT 1 FROM firmware_campaign_stations s"
            "            WHERE s.campaign_id = c.id AND s.state = 'running')"
            " ORDER BY created_at"
        )
        return cur.fetchall()


def set_campaign_state(
    conn: Connection, campaign_id: uuid.UUID, state: str, reason: str | None
) -> CampaignRow:
    with conn.cursor(row_factory=class_row(CampaignRow)) as cur:
        cur.execute(
            "UPDATE firmware_campaigns SET state = %s, reason = %s, updated_at = now()"
            f" WHERE id = %s RETURNING {_COLUMNS}",
            (state, reason, campaign_id),
        )
        row = cur.fetchone()
    if row is None:
        raise NotFound(f"no firmware campaign {campaign_id}")
    return row


def counts(conn: Connection, campaign_id: uuid.UUID) -> dict[str, int]:
    rows = conn.execute(
        "SELECT state, count(*) FROM firmware_campaign_stations WHERE campaign_id = %s"
        " GROUP BY state",
        (campaign_id,),
    ).fetchall()
    found = {state: 0 for state in STATION_STATES}
    found.update({r[0]: int(r[1]) for r in rows})
    return found


#: a campaign's stations with the version each last booted with
_STATIONS = (
    "SELECT c.station_id, c.position, c.state, c.job_id, c.reason, s.firmware_version"
    " FROM firmware_campaign_stations c LEFT JOIN stations s ON s.id = c.station_id"
)


def campaign_stations(
    conn: Connection, campaign_id: uuid.UUID, *, state: str | None = None
) -> list[CampaignStation]:
    with conn.cursor(row_factory=class_row(CampaignStation)) as cur:
        cur.execute(
            _STATIONS
            + " WHERE c.campaign_id = %(id)s AND (%(state)s::text IS NULL OR c.state = %(state)s)"
            " ORDER BY c.position",
            {"id": campaign_id, "state": state},
        )
        return cur.fetchall()


def next_pending(
    conn: Connection, campaign_id: uuid.UUID, limit: int, exclude: Sequence[str] = ()
) -> list[CampaignStation]:
    """The next pending stations in order, but those of ``exclude`` (offline a moment ago)."""
    with conn.cursor(row_factory=class_row(CampaignStation)) as cur:
        cur.execute(
            _STATIONS
            + " WHERE c.campaign_id = %s AND c.state = 'pending' AND c.station_id <> ALL(%s)"
            " ORDER BY c.position LIMIT %s",
            (campaign_id, list(exclude), limit),
        )
        return cur.fetchall()


def set_station(
    conn: Connection,
    campaign_id: uuid.UUID,
    station_id: str,
    state: str,
    *,
    job_id: uuid.UUID | None = None,
    reason: str | None = None,
) -> None:
    conn.execute(
        "UPDATE firmware_campaign_stations SET state = %s, job_id = COALESCE(%s, job_id),"
        " reason = %s WHERE campaign_id = %s AND station_id = %s",
        (state, job_id, reason, campaign_id, station_id),
    )


def set_job(conn: Connection, campaign_id: uuid.UUID, station_id: str, job_id: uuid.UUID) -> None:
    conn.execute(
        "UPDATE firmware_campaign_stations SET job_id = %s WHERE campaign_id = %s"
        " AND station_id = %s",
        (job_id, campaign_id, station_id),
    )


def job_outcomes(conn: Connection, campaign_id: uuid.UUID) -> list[tuple[str, str, str | None]]:
    """The campaign's running stations whose job has ended: (station, job state, reason). A
    job is the campaign's by its ``campaign_id``, so one whose id was never written back (the
    node stopped in between) is found too."""
    rows = conn.execute(
        "SELECT DISTINCT ON (c.station_id) c.station_id, j.state, j.reason"
        " FROM firmware_campaign_stations c JOIN firmware_updates j"
        "   ON j.campaign_id = c.campaign_id AND j.station_id = c.station_id"
        " WHERE c.campaign_id = %s AND c.state = 'running'"
        " ORDER BY c.station_id, j.created_at DESC",
        (campaign_id,),
    ).fetchall()
    return [(r[0], r[1], r[2]) for r in rows if r[1] != "active"]


def requeue_unstarted(conn: Connection, campaign_id: uuid.UUID) -> int:
    """Running stations with no job of the campaign (the node stopped while starting them) are
    pending again; at a campaign's start, before anything is launched."""
    cur = conn.execute(
        "UPDATE firmware_campaign_stations c SET state = 'pending' WHERE c.campaign_id = %s"
        " AND c.state = 'running' AND NOT EXISTS (SELECT 1 FROM firmware_updates j"
        "   WHERE j.campaign_id = c.campaign_id AND j.station_id = c.station_id)",
        (campaign_id,),
    )
    return cur.rowcount
