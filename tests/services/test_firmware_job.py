"""The firmware job policy (L01 secure / L02 non-secure firmware update), input by input."""

from __future__ import annotations

import datetime as dt

import pytest

from csms.services.firmware_job import (
    FAILURE_STATUSES,
    Answered,
    Booted,
    Canceled,
    Completed,
    Failed,
    FirmwareJob,
    Input,
    NotSent,
    Progress,
    Replaced,
    Reported,
    Tick,
    deadline,
    new_job,
    step,
)

T0 = dt.datetime(2026, 1, 1, 12, tzinfo=dt.UTC)
TIMEOUT = dt.timedelta(minutes=10)


def at(minutes: float) -> dt.datetime:
    return T0 + dt.timedelta(minutes=minutes)


def run(*inputs: Input, job: FirmwareJob | None = None) -> tuple[FirmwareJob, list[object]]:
    job = job or new_job(sent_at=T0, retrieve_at=T0)
    effects: list[object] = []
    for event in inputs:
        job, out = step(job, event, timeout=TIMEOUT)
        effects.extend(out)
    return job, effects


def test_l01_full_sequence_completes_with_the_version_booted_after_the_reboot() -> None:
    """L01.FR.01, L01.FR.32 (a): Downloading ... InstallRebooting, the BootNotification with the
    new firmwareVersion (the reboot is part of the job), then Installed completes it."""
    statuses = ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting"]
    job, effects = run(
        Answered("Accepted", at(0)), *(Reported(s, at(i + 1)) for i, s in enumerate(statuses))
    )
    assert job.phase == "rebooting"
    assert effects == [Progress(s) for s in statuses]
    job, effects = run(Booted("2.0", at(9)), job=job)
    assert (job.phase, job.firmware_version, effects) == ("rebooting", "2.0", [])
    job, effects = run(Reported("Installed", at(10)), job=job)
    assert (job.phase, effects) == ("completed", [Progress("Installed"), Completed("2.0")])


def test_tc_l_09_installation_failed_after_the_reboot_fails_the_job() -> None:
    """TC_L_09_CSMS: InstallRebooting, BootNotification, then InstallationFailed."""
    job, effects = run(
        Answered("Accepted", at(0)),
        Reported("InstallRebooting", at(1)),
        Booted("2.0", at(2)),
        Reported("InstallationFailed", at(3)),
    )
    assert (job.phase, job.reason) == ("failed", "InstallationFailed")
    assert effects[-1] == Failed("InstallationFailed", "InstallRebooting")


def test_l02_installed_without_a_reboot_completes() -> None:
    job, effects = run(Answered("Accepted", at(0)), Reported("Installed", at(1)))
    assert job.phase == "completed"
    assert effects == [Progress("Installed"), Completed(None)]


@pytest.mark.parametrize("status", sorted(FAILURE_STATUSES))
def test_failure_statuses_end_the_job(status: str) -> None:
    job, effects = run(
        Answered("Accepted", at(0)), Reported("Downloading", at(1)), Reported(status, at(2))
    )
    assert (job.phase, job.reason) == ("failed", status)
    assert effects[-1] == Failed(status, "Downloading")


@pytest.mark.parametrize("answer", ["Rejected", "InvalidCertificate", "RevokedCertificate"])
def test_a_refusal_ends_the_job_with_the_answer_as_reason(answer: str) -> None:
    """L01.FR.02 / L02: Rejected, InvalidCertificate end the job with the reason."""
    job, effects = run(Answered(answer, at(0)))
    assert (job.phase, job.reason, effects) == ("failed", answer, [Failed(answer, None)])


def test_accepted_canceled_starts_the_job_and_replaced_ends_the_old_one() -> None:
    new, _ = run(Answered("AcceptedCanceled", at(0)))
    assert new.phase == "running"
    old, effects = run(Answered("Accepted", at(0)), Replaced(at(1)))
    assert (old.phase, old.reason) == ("canceled", "Replaced")
    assert effects == [Failed("Replaced", "Accepted")]


def test_download_paused_is_progress() -> None:
    job, effects = run(Answered("Accepted", at(0)), Reported("DownloadPaused", at(1)))
    assert (job.phase, effects) == ("running", [Progress("DownloadPaused")])


def test_silence_times_out_after_the_last_activity() -> None:
    job, _ = run(Answered("Accepted", at(0)), Reported("Downloading", at(5)))
    assert deadline(job, TIMEOUT) == at(15)
    assert run(Tick(at(14)), job=job) == (job, [])
    job, effects = run(Tick(at(15)), job=job)
    assert (job.phase, job.reason) == ("failed", "TimedOut")
    assert effects == [Failed("TimedOut", "Downloading")]


def test_silence_is_expected_until_retrieve_and_install_times() -> None:
    job = new_job(sent_at=T0, retrieve_at=at(60), install_at=at(120))
    assert deadline(job, TIMEOUT) == at(70)
    job, _ = run(Answered("Accepted", at(0)), Reported("InstallScheduled", at(65)), job=job)
    assert deadline(job, TIMEOUT) == at(130)


def test_a_boot_before_the_reboot_is_only_activity() -> None:
    job, effects = run(Answered("Accepted", at(0)), Booted("1.0", at(3)))
    assert (job.phase, job.last_activity, effects) == ("running", at(3), [])


def test_a_report_before_the_answer_starts_the_job() -> None:
    job, effects = run(Reported("Downloading", at(0)), Answered("Accepted", at(1)))
    assert (job.phase, job.status, effects) == ("running", "Downloading", [Progress("Downloading")])


def test_cancel_and_not_sent_end_the_job() -> None:
    assert run(Canceled(at(1)))[0].phase == "canceled"
    job, effects = run(NotSent("Offline", at(1)))
    assert (job.phase, effects) == ("failed", [Failed("Offline", None)])
