"""A firmware update job as a pure state machine (OCPP 2.0.1 L01 secure, L02 non-secure).

One job per UpdateFirmware. ``step`` takes one input and returns the next job with the
effects the job actor carries out (``Progress``, ``Completed``, ``Failed``), in order:

- ``Answered``: the station's UpdateFirmware answer. Accepted / AcceptedCanceled start the job
  (AcceptedCanceled: the station canceled the update it was running, whose job the actor
  ends with ``Replaced``); Rejected, InvalidCertificate and RevokedCertificate end it with that
  answer as the reason (L01.FR.22, L01.FR.27, L02.FR.18).
- ``Reported``: a FirmwareStatusNotification with the job's requestId. DownloadFailed,
  InvalidSignature, InstallationFailed and InstallVerificationFailed end it failed; Installed
  ends it completed; every other status (DownloadPaused included) is progress.
- ``Booted``: a BootNotification. After InstallRebooting it is the reboot of the job: the
  firmware version the station now reports is kept, and the Installed the new firmware sends
  (L01.FR.32 (a), L02.FR.21) completes the job with it, or InstallationFailed fails it
  (TC_L_09_CSMS); before, it is only activity (the station may have rebooted for another
  reason).
- ``Tick``: the clock. A job that has not heard from the station for ``timeout`` past its
  last activity (and past retrieveDateTime / installDateTime, before which silence is
  expected) ends failed with ``TimedOut``.
- ``Replaced`` (a newer job of the station was accepted with AcceptedCanceled),
  ``Canceled`` (an operator), ``NotSent`` (the UpdateFirmware could not be delivered) end it.

Invariant (tests/services/test_firmware_job_properties.py): once finished, a job never runs
again and no input produces an effect.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import attrs

__all__ = [
    "FAILURE_STATUSES",
    "FINISHED",
    "Answered",
    "Booted",
    "Canceled",
    "Completed",
    "Effect",
    "Failed",
    "FirmwareJob",
    "Input",
    "NotSent",
    "Phase",
    "Progress",
    "Replaced",
    "Reported",
    "Tick",
    "deadline",
    "new_job",
    "step",
]

#: ``requested``: UpdateFirmware sent, no answer yet; ``running``: accepted; ``rebooting``: the
#: station said InstallRebooting and its next BootNotification completes the job.
Phase = Literal["requested", "running", "rebooting", "completed", "failed", "canceled"]
FINISHED: frozenset[str] = frozenset({"completed", "failed", "canceled"})

#: FirmwareStatusEnumType values that end a job failed (the station gives up: L01.FR.29, L01.FR.30).
FAILURE_STATUSES: frozenset[str] = frozenset(
    {"DownloadFailed", "InvalidSignature", "InstallationFailed", "InstallVerificationFailed"}
)
_ACCEPTED = frozenset({"Accepted", "AcceptedCanceled"})


@attrs.frozen
class FirmwareJob:
    phase: Phase
    #: the last status: the answer, the station's last report, or the reason it ended
    status: str
    last_activity: dt.datetime
    retrieve_at: dt.datetime
    install_at: dt.datetime | None = None
    reason: str | None = None
    firmware_version: str | None = None

    @property
    def finished(self) -> bool:
        return self.phase in FINISHED


def new_job(
    *, sent_at: dt.datetime, retrieve_at: dt.datetime, install_at: dt.datetime | None = None
) -> FirmwareJob:
    return FirmwareJob("requested", "Requested", sent_at, retrieve_at, install_at)


# -- inputs --------------------------------------------------------------------------------------


@attrs.frozen
class Answered:
    status: str  # UpdateFirmwareStatusEnumType
    at: dt.datetime


@attrs.frozen
class Reported:
    status: str  # FirmwareStatusEnumType
    at: dt.datetime


@attrs.frozen
class Booted:
    firmware_version: str | None
    at: dt.datetime


@attrs.frozen
class Tick:
    now: dt.datetime


@attrs.frozen
class Replaced:
    at: dt.datetime


@attrs.frozen
class Canceled:
    at: dt.datetime


@attrs.frozen
class NotSent:
    reason: str  # e.g. the station is offline, or it did not answer
    at: dt.datetime


Input = Answered | Reported | Booted | Tick | Replaced | Canceled | NotSent

# -- effects -------------------------------------------------------------------------------------


@attrs.frozen
class Progress:
    status: str


@attrs.frozen
class Completed:
    firmware_version: str | None


@attrs.frozen
class Failed:
    reason: str
    last_status: str | None


Effect = Progress | Completed | Failed


def deadline(job: FirmwareJob, timeout: dt.timedelta) -> dt.datetime:
    """When the job times out if the station stays silent. Silence is expected until
    retrieveDateTime, and while InstallScheduled until installDateTime."""
    quiet_until = max(job.last_activity, job.retrieve_at)
    if job.install_at is not None and job.status == "InstallScheduled":
        quiet_until = max(quiet_until, job.install_at)
    return quiet_until + timeout


def step(
    job: FirmwareJob, event: Input, *, timeout: dt.timedelta
) -> tuple[FirmwareJob, list[Effect]]:
    if job.finished:
        return job, []  # a finished job is never revived, whatever arrives late
    match event:
        case Answered(status=status, at=at):
            if job.phase != "requested":
                return job, []
            if status in _ACCEPTED:
                return attrs.evolve(job, phase="running", status=status, last_activity=at), []
            return _fail(job, status, at)
        case Reported(status=status, at=at):
            return _reported(job, status, at)
        case Booted(firmware_version=version, at=at):
            if job.phase == "rebooting":
                # the new firmware's version; its Installed (L01.FR.32 (a)) completes the job
                return attrs.evolve(job, firmware_version=version, last_activity=at), []
            return attrs.evolve(job, last_activity=max(job.last_activity, at)), []
        case Tick(now=now):
            if now >= deadline(job, timeout):
                return _fail(job, "TimedOut", now)
            return job, []
        case Replaced(at=at):
            return _fail(job, "Replaced", at, phase="canceled")
        case Canceled(at=at):
            return _fail(job, "Canceled", at, phase="canceled")
        case NotSent(reason=reason, at=at):
            return _fail(job, reason, at)


def _reported(job: FirmwareJob, status: str, at: dt.datetime) -> tuple[FirmwareJob, list[Effect]]:
    # A report before the answer was processed means the station accepted the request.
    if status in FAILURE_STATUSES:
        return _fail(job, status, at)
    if status == "Installed":
        done = attrs.evolve(job, phase="completed", status=status, last_activity=at)
        return done, [Progress(status), Completed(job.firmware_version)]
    phase: Phase = "rebooting" if status == "InstallRebooting" else "running"
    if job.phase == "rebooting" and status != "InstallRebooting":
        phase = "rebooting"  # a late report from before the reboot does not undo it
    return attrs.evolve(job, phase=phase, status=status, last_activity=at), [Progress(status)]


def _fail(
    job: FirmwareJob, reason: str, at: dt.datetime, *, phase: Phase = "failed"
) -> tuple[FirmwareJob, list[Effect]]:
    last = None if job.status == "Requested" else job.status
    ended = attrs.evolve(job, phase=phase, status=reason, reason=reason, last_activity=at)
    return ended, [Failed(reason, last)]
