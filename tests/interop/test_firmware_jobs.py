"""Firmware jobs end to end (OCPP 2.0.1 L01 secure / L02 non-secure firmware update, Part 6
``TC_L_*_CSMS``): a real node, its REST API, and an `ocpp`-package 2.0.1 charge point that
walks the status sequence with the requestId it was sent."""

from __future__ import annotations

import pytest
import trio
from ocpp.v201 import call as call201

from ..services.firmware_pki import make_firmware_pki
from .firmware_peer import LOCATION, STATION, now_text, rig, setup_database

PKI = make_firmware_pki()

L02_SEQUENCE = ("Downloading", "Downloaded", "Installing", "InstallRebooting")


async def test_l02_non_secure_update_walks_the_sequence_through_the_reboot(
    database_url, admin_env, bridge
):
    """L02.FR.01, L02.FR.06, L02.FR.21 (a): UpdateFirmware with requestId,
    location and retrieveDateTime; each FirmwareStatusNotification moves the job on;
    InstallRebooting, the new BootNotification (with the new firmwareVersion), then the new
    firmware's Installed completes it with that version."""
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await r.connect(firmware_version="1.0")
        created = await r.update(retries=2, retryInterval=30)
        assert created.status_code == 201, created.text
        job = created.json()
        sent = await r.sent()
        request_id = sent["request_id"]
        assert (job["requestId"], job["state"], job["signed"]) == (request_id, "active", False)
        assert sent["firmware"]["location"] == LOCATION
        assert "signing_certificate" not in sent["firmware"]
        assert (sent["retries"], sent["retry_interval"]) == (2, 30)
        started = await r.event("firmware.update.started")
        assert (started.job_id, started.status) == (job["id"], "Accepted")
        for status in L02_SEQUENCE:
            await r.status(status, request_id)
            assert (await r.event("firmware.update.progress")).status == status
        await r.boot("2.0")
        await r.status("Installed", request_id)
        assert (await r.event("firmware.update.progress")).status == "Installed"
        completed = await r.event("firmware.update.completed")
        assert (completed.job_id, completed.firmware_version) == (job["id"], "2.0")
        body = (await r.api.get(f"/api/v1/devices/{STATION}/firmware/status")).json()
        assert (body["state"], body["phase"], body["firmwareVersion"]) == (
            "completed",
            "completed",
            "2.0",
        )
        assert [h["status"] for h in body["history"]] == ["Accepted", *L02_SEQUENCE, "Installed"]


async def test_tc_l_01_secure_update_sends_the_certificate_and_completes_on_installed(
    database_url, admin_env, bridge, tmp_path
):
    """TC_L_01_CSMS (L01.FR.01, L01.FR.11): the signing certificate and signature are sent;
    the sequence with SignatureVerified ends Installed."""
    setup_database(database_url)
    ca_path = tmp_path / "firmware-ca.pem"
    ca_path.write_text(PKI.ca_pem)
    signature = PKI.sign(b"an image elsewhere")  # not in the store: only the certificate checked
    async with rig(database_url, bridge, **{"firmware.ca_path": str(ca_path)}) as r:
        await r.connect()
        created = await r.update(
            secure={"signingCertificate": PKI.signer_pem, "signature": signature}
        )
        assert created.json()["signed"] is True
        sent = await r.sent()
        assert sent["firmware"]["signing_certificate"] == PKI.signer_pem
        assert sent["firmware"]["signature"] == signature
        for status in ("Downloading", "Downloaded", "SignatureVerified", "Installing", "Installed"):
            await r.status(status, sent["request_id"])
        assert (await r.event("firmware.update.completed")).job_id == created.json()["id"]


@pytest.mark.parametrize("answer", ["RevokedCertificate", "InvalidCertificate", "Rejected"])
async def test_tc_l_04_tc_l_05_a_refused_update_ends_the_job_with_the_reason(
    database_url, admin_env, bridge, answer
):
    """TC_L_04_CSMS (RevokedCertificate), TC_L_05_CSMS (InvalidCertificate, L01.FR.22), and
    Rejected (L01.FR.27): the answer ends the job with that reason."""
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await r.connect(answer)
        created = await r.update()
        assert created.status_code == 201
        assert (created.json()["state"], created.json()["reason"]) == ("failed", answer)
        failed = await r.event("firmware.update.failed")
        assert (failed.reason, failed.last_status) == (answer, None)


@pytest.mark.parametrize(
    ("sequence", "failure"),
    [
        (("Downloading", "Downloaded"), "InvalidSignature"),  # TC_L_06_CSMS
        (("Downloading",), "DownloadFailed"),  # TC_L_07_CSMS, L01.FR.30
        (
            ("Downloading", "Downloaded", "SignatureVerified", "Installing"),
            "InstallVerificationFailed",
        ),
    ],
)
async def test_tc_l_06_07_08_a_failure_status_fails_the_job(
    database_url, admin_env, bridge, sequence, failure
):
    """TC_L_06_CSMS, TC_L_07_CSMS, TC_L_08_CSMS: the failure ends the job with its last status."""
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await r.connect()
        await r.update()
        request_id = (await r.sent())["request_id"]
        for status in (*sequence, failure):
            await r.status(status, request_id)
        failed = await r.event("firmware.update.failed")
        assert (failed.reason, failed.last_status) == (failure, sequence[-1])


async def test_tc_l_02_tc_l_03_scheduled_download_and_install(database_url, admin_env, bridge):
    """TC_L_02_CSMS (InstallScheduled, L01.FR.16) and TC_L_03_CSMS (DownloadScheduled,
    L01.FR.13): installDateTime is sent; the scheduled statuses are progress."""
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await r.connect()
        created = await r.update(installDateTime="2099-01-01T00:00:00Z")
        assert created.json()["installDateTime"].startswith("2099-01-01T00:00:00")
        sent = await r.sent()
        assert sent["firmware"]["install_date_time"] == "2099-01-01T00:00:00Z"
        sequence = ("DownloadScheduled", "Downloading", "Downloaded", "InstallScheduled")
        for status in (*sequence, "Installing", "Installed"):
            await r.status(status, sent["request_id"])
        for status in (*sequence, "Installing", "Installed"):
            assert (await r.event("firmware.update.progress")).status == status
        assert (await r.event("firmware.update.completed")).job_id == created.json()["id"]


async def test_tc_l_09_installation_failed_after_the_reboot_fails_the_job(
    database_url, admin_env, bridge
):
    """TC_L_09_CSMS: InstallRebooting, the BootNotification (reason FirmwareUpdate), then
    InstallationFailed: the reboot did not complete the job, the failure ends it."""
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await r.connect()
        await r.update()
        request_id = (await r.sent())["request_id"]
        for status in ("Downloading", "Downloaded", "Installing", "InstallRebooting"):
            await r.status(status, request_id)
        await r.boot("2.0")
        await r.status("InstallationFailed", request_id)
        failed = await r.event("firmware.update.failed")
        assert (failed.reason, failed.last_status) == ("InstallationFailed", "InstallRebooting")


async def test_tc_l_10_accepted_canceled_replaces_the_running_job(database_url, admin_env, bridge):
    """TC_L_10_CSMS, L01.FR.24 / L02.FR.15: a new UpdateFirmware while one runs is answered
    AcceptedCanceled: the old job ends Replaced, the new one runs."""
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await r.connect("Accepted", "AcceptedCanceled")
        first = (await r.update()).json()
        await r.status("Downloading", (await r.sent())["request_id"])
        second = (await r.update(location="https://firmware.example/cp-2.1.bin")).json()
        assert second["state"] == "active"
        replaced = await r.event("firmware.update.failed")
        assert (replaced.job_id, replaced.reason) == (first["id"], "Replaced")
        jobs = (await r.api.get("/api/v1/firmware/jobs", params={"stationId": STATION})).json()
        assert [(j["id"], j["state"]) for j in jobs["items"]] == [
            (second["id"], "active"),
            (first["id"], "canceled"),
        ]


async def test_tc_l_11_a_station_unable_to_cancel_keeps_the_running_job(
    database_url, admin_env, bridge
):
    """TC_L_11_CSMS (L01.FR.01, L01.FR.11, L01.FR.27): a second UpdateFirmware while one
    installs is answered Rejected: that request ends failed with the reason, the running job is
    not replaced and completes through its reboot and Installed."""
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await r.connect("Accepted", "Rejected")
        first = (await r.update()).json()
        request_id = (await r.sent())["request_id"]
        await r.status("Downloading", request_id)
        second = (await r.update(location="https://firmware.example/cp-2.1.bin")).json()
        assert (second["state"], second["reason"]) == ("failed", "Rejected")
        for status in ("Downloaded", "SignatureVerified", "Installing", "InstallRebooting"):
            await r.status(status, request_id)
        await r.boot("2.0")
        await r.status("Installed", request_id)
        completed = await r.event("firmware.update.completed")
        assert (completed.job_id, completed.firmware_version) == (first["id"], "2.0")
        jobs = (await r.api.get("/api/v1/firmware/jobs", params={"stationId": STATION})).json()
        assert sorted((j["id"], j["state"]) for j in jobs["items"]) == sorted(
            [(first["id"], "completed"), (second["id"], "failed")]
        )


async def test_tc_l_13_an_update_waiting_for_a_transaction_to_end_completes(
    database_url, admin_env, bridge
):
    """TC_L_13_CSMS (L01.FR.01, L01.FR.11): the station schedules the download while a
    transaction runs (DownloadScheduled), sets its other connectors Unavailable, ends the
    transaction, then downloads, installs, reboots (BootNotification reason FirmwareUpdate),
    reports its connectors Available and Installed: the job follows the firmware statuses only
    and completes with the new version."""
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        peer = await r.connect()
        await peer.call(_transaction(0, "Started"))
        await r.update()
        request_id = (await r.sent())["request_id"]
        await r.status("DownloadScheduled", request_id)
        await peer.call(_connector(2, "Unavailable"))
        await peer.call(_transaction(1, "Ended"))
        for status in ("Downloading", "Downloaded", "SignatureVerified", "Installing"):
            await r.status(status, request_id)
        await r.status("InstallRebooting", request_id)
        await r.boot("2.0")
        await peer.call(_connector(1, "Available"))
        await peer.call(_connector(2, "Available"))
        await r.status("Installed", request_id)
        assert (await r.event("firmware.update.completed")).firmware_version == "2.0"
        body = (await r.api.get(f"/api/v1/devices/{STATION}/firmware/status")).json()
        assert [h["status"] for h in body["history"]] == [
            "Accepted",
            "DownloadScheduled",
            "Downloading",
            "Downloaded",
            "SignatureVerified",
            "Installing",
            "InstallRebooting",
            "Installed",
        ]


def _transaction(seq: int, kind: str) -> call201.TransactionEvent:
    return call201.TransactionEvent(
        event_type=kind,
        timestamp=now_text(),
        seq_no=seq,
        trigger_reason="CablePluggedIn" if kind == "Started" else "EVCommunicationLost",
        transaction_info={"transaction_id": "fw-tx-1"},
        evse={"id": 1, "connector_id": 1},
    )


def _connector(evse_id: int, status: str) -> call201.StatusNotification:
    return call201.StatusNotification(
        timestamp=now_text(), connector_status=status, evse_id=evse_id, connector_id=1
    )


async def test_a_stalled_job_times_out(database_url, admin_env, bridge, wall_clock):
    """A job that stops reporting ends failed, TimedOut, once its configured timeout
    (``[firmware] timeout_s``) has passed on the node's clock."""
    setup_database(database_url)
    async with rig(database_url, bridge, **{"firmware.timeout_s": 60}) as r:
        await r.connect()
        await r.update()
        await r.status("Downloading", (await r.sent())["request_id"])
        await r.event("firmware.update.progress")
        wall_clock.jump(61)
        failed = await r.event("firmware.update.failed")
        assert (failed.reason, failed.last_status) == ("TimedOut", "Downloading")


async def test_a_restarted_node_resumes_the_job_and_it_completes(database_url, admin_env, bridge):
    setup_database(database_url)
    async with rig(database_url, bridge) as first:
        await first.connect()
        job = (await first.update()).json()
        request_id = (await first.sent())["request_id"]
        await first.status("Downloading", request_id)
        await first.event("firmware.update.progress")
    async with rig(database_url, bridge) as second:
        await second.connect(firmware_version="1.0")
        await second.status("InstallRebooting", request_id)
        await second.boot("2.0")
        await second.status("Installed", request_id)
        completed = await second.event("firmware.update.completed")
        assert (completed.job_id, completed.firmware_version) == (job["id"], "2.0")


async def test_cancel_ends_the_job(database_url, admin_env, bridge):
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await r.connect()
        job = (await r.update()).json()
        canceled = await r.api.post(f"/api/v1/firmware/jobs/{job['id']}/cancel")
        assert (canceled.json()["state"], canceled.json()["reason"]) == ("canceled", "Canceled")
        assert (await r.event("firmware.update.failed")).reason == "Canceled"


async def test_two_updates_at_once_leave_one_running_job(database_url, admin_env, bridge):
    """Two updates of one station started together: the later acceptance replaces the earlier
    job, never two running jobs (nor a failed start)."""
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await r.connect()
        answers = []

        async def update() -> None:
            answers.append((await r.update()).status_code)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(update)
            nursery.start_soon(update)
        assert answers == [201, 201]
        jobs = (await r.api.get("/api/v1/firmware/jobs", params={"stationId": STATION})).json()
        assert sorted(j["state"] for j in jobs["items"]) == ["active", "canceled"]
