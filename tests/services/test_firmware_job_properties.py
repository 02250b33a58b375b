"""Property test of the firmware job policy: no sequence of inputs leaves a finished job
running, revives it, or draws an effect from it; a job ends with exactly one final effect."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from csms.services.firmware_job import (
    FINISHED,
    Answered,
    Booted,
    Canceled,
    Completed,
    Failed,
    Input,
    NotSent,
    Replaced,
    Reported,
    Tick,
    new_job,
    step,
)

T0 = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
STATUSES = [
    "Downloaded",
    "DownloadFailed",
    "Downloading",
    "DownloadScheduled",
    "DownloadPaused",
    "Idle",
    "InstallationFailed",
    "Installing",
    "Installed",
    "InstallRebooting",
    "InstallScheduled",
    "InstallVerificationFailed",
    "InvalidSignature",
    "SignatureVerified",
]
ANSWERS = ["Accepted", "AcceptedCanceled", "Rejected", "InvalidCertificate", "RevokedCertificate"]
times = st.integers(0, 10_000).map(lambda s: T0 + dt.timedelta(seconds=s))
inputs: st.SearchStrategy[Input] = st.one_of(
    st.builds(Answered, st.sampled_from(ANSWERS), times),
    st.builds(Reported, st.sampled_from(STATUSES), times),
    st.builds(Booted, st.one_of(st.none(), st.text(max_size=5)), times),
    st.builds(Tick, times),
    st.builds(Replaced, times),
    st.builds(Canceled, times),
    st.builds(NotSent, st.just("Offline"), times),
)


@given(st.lists(inputs, max_size=30), times, times)
def test_a_finished_job_stays_finished_and_silent(
    events: list[Input], retrieve_at: dt.datetime, install_at: dt.datetime
) -> None:
    job = new_job(sent_at=T0, retrieve_at=retrieve_at, install_at=install_at)
    finals = 0
    for event in events:
        was_finished = job.finished
        before = job
        job, effects = step(job, event, timeout=dt.timedelta(minutes=5))
        finals += sum(isinstance(e, Completed | Failed) for e in effects)
        if was_finished:
            assert job == before
            assert effects == []
        # only a failed or canceled job has an end reason: nothing half-ends a running one
        assert (job.reason is not None) == (job.phase in FINISHED - {"completed"})
    assert finals == (1 if job.finished else 0)
