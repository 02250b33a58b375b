"""Firmware updates (OCPP 2.0.1 L01 secure, L02 non-secure; SPEC section 7): ``firmware``, one
actor per UpdateFirmware under a dynamic supervisor, their state in ``firmware_updates``
(resumed after a node restart).

The node runs it as an extra child (``firmware_child``) with notify routes for the station
messages the jobs follow (``firmware_routes``: the handler still answers them); the REST API
starts and cancels jobs through ``start_update`` / ``cancel_job``, and runs campaigns (one
actor each, under ``firmware`` too) through ``run_campaign`` / ``campaign_command``
(``ControlPlane.firmware``, filled in by the composition root). Every decision is the policy's
(``csms.services.firmware_job``).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable

from csms.actors.node import NodeParts
from csms.actors.station import Overflow, Route
from csms.runtime import ChildSpec, Supervisor
from csms.storage.firmware import FirmwareJobRow
from csms.storage.firmware_campaigns import CampaignRow

from ._job import JobDeps
from ._jobs import FirmwareJobs
from ._messages import (
    CampaignCommand,
    CancelJob,
    FirmwareOptions,
    RunCampaign,
    StartUpdate,
    UpdateRefused,
)

__all__ = [
    "FIRMWARE",
    "FOLLOWED",
    "CampaignCommand",
    "FirmwareJobs",
    "FirmwareOptions",
    "StartUpdate",
    "UpdateRefused",
    "campaign_command",
    "cancel_job",
    "firmware_child",
    "firmware_routes",
    "run_campaign",
    "start_update",
]

#: The actor's name in the node's tree.
FIRMWARE = "firmware"
#: The station messages a job follows: its status notifications, and the boot after the reboot.
FOLLOWED = ("FirmwareStatusNotification", "BootNotification")


def firmware_child(parts: NodeParts, options: FirmwareOptions | None = None) -> ChildSpec:
    """The node's ``firmware`` child."""
    if options is None:
        firmware = parts.settings.firmware
        options = FirmwareOptions(
            timeout_s=firmware.timeout_s,
            tick_interval=firmware.tick_interval_s,
            # a command may wait behind others in the station's mailbox, then for its answer
            command_timeout=parts.settings.ocpp.response_timeout + 5,
            campaign_tick=firmware.campaign_tick_s,
        )
    deps = JobDeps(database=parts.database, events=parts.events, options=options)
    return ChildSpec.actor(
        FIRMWARE, lambda: FirmwareJobs(parts, deps), kind="firmware", shutdown_timeout=10
    )


def firmware_routes(root: Supervisor) -> Iterable[Route]:
    """Notify routes (a job that cannot take one hears the next, or times out)."""
    owner = root.ref(FIRMWARE)
    return [
        Route.notify(action, owner, name=FIRMWARE, overflow=Overflow.DROP, structured=False)
        for action in FOLLOWED
    ]


async def start_update(root: Supervisor, start: StartUpdate, *, timeout: float) -> FirmwareJobRow:
    """Send UpdateFirmware through the node's ``firmware`` and return the job as stored with the
    station's answer (``UpdateRefused`` when nothing could be sent or answered)."""
    row: FirmwareJobRow = await root.ref(FIRMWARE).ask(start, timeout=timeout)
    return row


async def cancel_job(
    root: Supervisor, job_id: uuid.UUID, *, requested_by: str, timeout: float
) -> FirmwareJobRow | None:
    row: FirmwareJobRow | None = await root.ref(FIRMWARE).ask(
        CancelJob(job_id, requested_by), timeout=timeout
    )
    return row


def run_campaign(root: Supervisor, campaign_id: uuid.UUID) -> None:
    """Start the actor of a campaign just stored (it reads everything from its rows)."""
    root.ref(FIRMWARE).tell_nowait(RunCampaign(campaign_id))


async def campaign_command(
    root: Supervisor, command: CampaignCommand, *, timeout: float
) -> CampaignRow | None:
    """Pause, resume or cancel a campaign: its row after, None when there is no such campaign
    (``Rejected`` when its state does not allow it)."""
    row: CampaignRow | None = await root.ref(FIRMWARE).ask(command, timeout=timeout)
    return row
