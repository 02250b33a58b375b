"""A job's row and the ``firmware.update.*`` events of the catalog for it (translation only)."""

from __future__ import annotations

import datetime as dt
from typing import Any

from csms.domain.events import (
    Event,
    FirmwareUpdateCompleted,
    FirmwareUpdateFailed,
    FirmwareUpdateProgress,
    FirmwareUpdateStarted,
)
from csms.services import firmware_job as policy
from csms.storage.firmware import FirmwareJobRow

__all__ = ["columns_of", "event_of", "job_of", "started_event"]

_STATE = {"completed": "completed", "failed": "failed", "canceled": "canceled"}


def columns_of(job: policy.FirmwareJob) -> dict[str, Any]:
    """The row's columns the job's state decides."""
    return {
        "phase": job.phase,
        "state": _STATE.get(job.phase, "active"),
        "status": job.status,
        "reason": job.reason,
        "firmware_version": job.firmware_version,
        "last_activity_at": job.last_activity,
        "status_at": job.last_activity,
    }


def job_of(row: FirmwareJobRow) -> policy.FirmwareJob:
    phase: Any = row.phase
    return policy.FirmwareJob(
        phase,
        row.status,
        row.last_activity_at or row.status_at,
        row.retrieve_at,
        row.install_at,
        row.reason,
        row.firmware_version,
    )


def _common(row: FirmwareJobRow) -> dict[str, Any]:
    return {
        "job_id": str(row.id),
        "station_id": row.station_id,
        "request_id": row.request_id,
        "campaign_id": None if row.campaign_id is None else str(row.campaign_id),
    }


def started_event(row: FirmwareJobRow, replaces: str | None) -> FirmwareUpdateStarted:
    return FirmwareUpdateStarted(
        **_common(row),
        command_id=row.command_id or "",
        requested_by=row.requested_by,
        location=row.location,
        retrieve_at=row.retrieve_at,
        install_at=row.install_at,
        signed=row.signature is not None,
        status="AcceptedCanceled" if row.status == "AcceptedCanceled" else "Accepted",
        replaces_job_id=replaces,
    )


def event_of(effect: policy.Effect, row: FirmwareJobRow, started_at: dt.datetime) -> Event:
    match effect:
        case policy.Progress(status=status):
            return FirmwareUpdateProgress(**_common(row), status=status)
        case policy.Completed(firmware_version=version):
            return FirmwareUpdateCompleted(
                **_common(row), firmware_version=version, started_at=started_at
            )
        case policy.Failed(reason=reason, last_status=last):
            return FirmwareUpdateFailed(
                **_common(row), reason=reason, last_status=last, started_at=started_at
            )
