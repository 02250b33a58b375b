"""The simulator's firmware update against a real node: the image downloaded from the node's
own store over HTTP, its signature checked, the status sequence, the reboot and the new
BootNotification with the new firmware version (L01, L02), and the failures it reports."""

from __future__ import annotations

import datetime as dt
import hashlib
from typing import Any

import httpx
import trio

from csms.api import create_token
from csms.simulator import _commands as cmd
from csms.simulator import open_simulator
from csms.simulator._firmware import VERSION_HEADER

from ..services.firmware_pki import make_firmware_pki
from .conftest import fast_config, register, running_node

PKI = make_firmware_pki()
IMAGE = VERSION_HEADER + b"2.0\n" + bytes(range(256)) * 2000
SIGNED = ["Downloading", "Downloaded", "SignatureVerified", "Installing", "InstallRebooting"]


def now_text() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


async def node_api(node: Any, database_url: str) -> httpx.AsyncClient:
    token = await trio.to_thread.run_sync(create_token, database_url, "admin", "fw")
    host, port = node.http_addresses[0]
    return httpx.AsyncClient(
        base_url=f"http://{host}:{port}", headers={"Authorization": f"Bearer {token}"}
    )


def settings(tmp_path: Any) -> dict[str, str]:
    ca_path = tmp_path / "firmware-ca.pem"
    ca_path.write_text(PKI.ca_pem)
    return {"firmware.store_dir": str(tmp_path / "store"), "firmware.ca_path": str(ca_path)}


async def test_a_signed_update_downloads_from_the_store_reboots_and_boots_the_new_version(
    database_url, tmp_path
):
    """L01.FR.04 (the station verifies the signature it was sent), L01.FR.15, L01.FR.32 (a):
    InstallRebooting, a BootNotification with the new firmwareVersion, then Installed."""
    async with running_node(database_url, **settings(tmp_path)) as node:
        register(database_url, "SIMFW1")
        async with await node_api(node, database_url) as api:
            image = (
                await api.post("/api/v1/firmware/images", params={"name": "x"}, content=IMAGE)
            ).json()
            await api.put(
                f"/api/v1/firmware/images/{image['id']}/signature",
                json={"signingCertificate": PKI.signer_pem, "signature": PKI.sign(IMAGE)},
            )
            async with open_simulator(fast_config(node, "SIMFW1")) as sim:
                state = sim.state
                with trio.fail_after(30):  # a hang guard, not a timing assertion
                    await state.wait_for(lambda: state.online)
                    created = await api.post(
                        "/api/v1/devices/SIMFW1/firmware/update",
                        json={"location": image["url"], "retrieveDateTime": now_text()},
                    )
                    assert created.status_code == 201, created.text
                    await state.wait_for(lambda: state.firmware[-1:] == ["Installed"])
                    assert state.firmware == [*SIGNED, "Installed"]
                    assert state.boots == 2
                    assert state.model.firmware_version == "2.0"
                    while True:  # the node records the Installed after the station's answer
                        job = (await api.get("/api/v1/devices/SIMFW1/firmware/status")).json()
                        if job["state"] != "active":
                            break
                        await trio.sleep(0.01)
                assert (job["state"], job["firmwareVersion"]) == ("completed", "2.0")
                with_boot = [h["status"] for h in job["history"]]
                assert with_boot == ["Accepted", *SIGNED, "Installed"]


async def test_the_station_reports_download_and_signature_failures(database_url, tmp_path):
    async with running_node(database_url, **settings(tmp_path)) as node:
        register(database_url, "SIMFW2")
        async with await node_api(node, database_url) as api:
            image = (
                await api.post("/api/v1/firmware/images", params={"name": "x"}, content=IMAGE)
            ).json()
            host, port = node.http_addresses[0]

            async def update(location: str, **more: Any) -> None:
                before = len(state.firmware)
                body = {"location": location, "retrieveDateTime": now_text(), **more}
                answer = await api.post("/api/v1/devices/SIMFW2/firmware/update", json=body)
                assert answer.status_code == 201, answer.text
                # every status acknowledged, the last one final
                await state.wait_for(
                    lambda: (
                        len(state.firmware) > before
                        and state.sent["FirmwareStatusNotification"] == len(state.firmware)
                        and state.firmware[-1]
                        in ("DownloadFailed", "InvalidSignature", "Installed")
                    )
                )

            async with open_simulator(fast_config(node, "SIMFW2")) as sim:
                state = sim.state
                with trio.fail_after(30):
                    await state.wait_for(lambda: state.online)
                    # nothing at that URL: one retry, then DownloadFailed (L01.FR.30)
                    await update(f"http://{host}:{port}/missing.bin", retries=1, retryInterval=0)
                    assert state.firmware == ["Downloading", "Downloading", "DownloadFailed"]
                    # injected: the signature does not verify
                    state.model.firmware_failure = "InvalidSignature"
                    await update(
                        image["url"],
                        secure={"signingCertificate": PKI.signer_pem, "signature": PKI.sign(IMAGE)},
                    )
                    assert state.firmware[3:] == ["Downloading", "Downloaded", "InvalidSignature"]
                    # the prompt's `firmware reject`
                    state.model.firmware_failure = None
                    await sim.ref.ask(cmd.FirmwareMode(accept=False), timeout=5)
                    await update(image["url"])
                    assert state.firmware[6:] == ["Downloading", "DownloadFailed"]
                    assert state.boots == 1  # no failure rebooted the station


class FlakyImageServer:
    """A loopback HTTP server for one image: the first transfer breaks off halfway, a request
    with ``Range`` gets the rest (206). ``ranges`` keeps the Range headers it was sent."""

    def __init__(self, image: bytes) -> None:
        self.image = image
        self.ranges: list[str | None] = []
        self.port = 0

    async def serve(self, task_status: Any = trio.TASK_STATUS_IGNORED) -> None:
        listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
        self.port = listeners[0].socket.getsockname()[1]
        task_status.started()
        await trio.serve_listeners(self._one, listeners)

    async def _one(self, stream: trio.SocketStream) -> None:
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = await stream.receive_some(4096)
            if not chunk:
                return
            request += chunk
        headers = request.decode().split("\r\n")
        wanted = next(
            (h.split(":", 1)[1].strip() for h in headers if h.lower().startswith("range:")), None
        )
        self.ranges.append(wanted)
        size = len(self.image)
        if wanted is None:  # the whole image announced, half of it sent, then the end
            await stream.send_all(
                f"HTTP/1.1 200 OK\r\nContent-Length: {size}\r\n\r\n".encode()
                + self.image[: size // 2]
            )
        else:
            start = int(wanted.removeprefix("bytes=").split("-")[0])
            await stream.send_all(
                f"HTTP/1.1 206 Partial Content\r\nContent-Length: {size - start}\r\n"
                f"Content-Range: bytes {start}-{size - 1}/{size}\r\n\r\n".encode()
                + self.image[start:]
            )
        await stream.aclose()


async def test_a_broken_download_is_resumed_with_a_range_request_and_checked(database_url):
    """The station resumes where the transfer broke off, and checks the SHA-256 the URL names:
    the right bytes install, other bytes under that name are DownloadFailed."""
    server = FlakyImageServer(IMAGE)
    async with running_node(database_url) as node, trio.open_nursery() as nursery:
        await nursery.start(server.serve)
        register(database_url, "SIMFW3")
        async with (
            await node_api(node, database_url) as api,
            open_simulator(fast_config(node, "SIMFW3")) as sim,
        ):
            state = sim.state
            with trio.fail_after(30):
                await state.wait_for(lambda: state.online)
                digest = hashlib.sha256(IMAGE).hexdigest()
                for name, last in ((digest, "Installed"), ("0" * 64, "DownloadFailed")):
                    before = len(state.firmware)
                    location = f"http://127.0.0.1:{server.port}/firmware/{name}"
                    answer = await api.post(
                        "/api/v1/devices/SIMFW3/firmware/update",
                        json={"location": location, "retrieveDateTime": now_text()},
                    )
                    assert answer.status_code == 201, answer.text
                    await state.wait_for(
                        lambda last=last, before=before: state.firmware[before:][-1:] == [last]
                    )
            assert state.firmware[:2] == ["Downloading", "Downloaded"]
            assert state.model.firmware_version == "2.0"
            half = len(IMAGE) // 2
            assert server.ranges[:2] == [None, f"bytes={half}-"]
        nursery.cancel_scope.cancel()


async def test_a_new_update_cancels_the_scheduled_one(database_url, tmp_path):
    """L01.FR.24 / L02.FR.15, TC_L_10 from the station's side: a station waiting for its
    retrieveDateTime (DownloadScheduled, L01.FR.13) answers a new UpdateFirmware
    AcceptedCanceled and runs the new one; the CSMS ends the older job Replaced."""
    async with running_node(database_url, **settings(tmp_path)) as node:
        register(database_url, "SIMFW4")
        async with await node_api(node, database_url) as api:
            image = (
                await api.post("/api/v1/firmware/images", params={"name": "x"}, content=IMAGE)
            ).json()
            later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).isoformat()
            async with open_simulator(fast_config(node, "SIMFW4")) as sim:
                state = sim.state
                with trio.fail_after(30):
                    await state.wait_for(lambda: state.online)
                    path = "/api/v1/devices/SIMFW4/firmware/update"
                    first = await api.post(
                        path, json={"location": image["url"], "retrieveDateTime": later}
                    )
                    assert first.json()["status"] == "Accepted"
                    await state.wait_for(lambda: state.firmware == ["DownloadScheduled"])
                    second = await api.post(
                        path, json={"location": image["url"], "retrieveDateTime": now_text()}
                    )
                    assert second.json()["status"] == "AcceptedCanceled"
                    await state.wait_for(lambda: state.firmware[-1:] == ["Installed"])
                    assert "DownloadScheduled" not in state.firmware[1:]
                old = (await api.get("/api/v1/firmware/jobs?stationId=SIMFW4")).json()["items"]
                assert [(j["id"], j["reason"]) for j in old][1] == (first.json()["id"], "Replaced")
