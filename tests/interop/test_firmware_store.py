"""The firmware store end to end: images uploaded through REST, served to stations by the node
with range requests, and signed updates (L01) checked against the firmware CA and the stored
image before the station is sent anything."""

from __future__ import annotations

import hashlib

import trio

from csms.api import create_token

from ..api.conftest import client
from ..services.firmware_pki import make_firmware_pki, pem
from .firmware_peer import STATION, now_text, rig, setup_database

PKI = make_firmware_pki()
IMAGE = bytes(range(256)) * 4000  # 1,024,000 bytes
IMAGES = "/api/v1/firmware/images"


def settings_for(tmp_path, **more):  # type: ignore[no-untyped-def]
    ca_path = tmp_path / "firmware-ca.pem"
    ca_path.write_text(PKI.ca_pem)
    return {
        "firmware.store_dir": str(tmp_path / "store"),
        "firmware.ca_path": str(ca_path),
        **more,
    }


async def test_an_uploaded_image_is_served_with_range_requests(
    database_url, admin_env, bridge, tmp_path
):
    setup_database(database_url)
    async with rig(database_url, bridge, **settings_for(tmp_path)) as r:
        uploaded = await r.api.post(
            IMAGES, params={"name": "cp.bin", "version": "2.0"}, content=IMAGE
        )
        assert uploaded.status_code == 201, uploaded.text
        image = uploaded.json()
        digest = hashlib.sha256(IMAGE).hexdigest()
        assert (image["id"], image["size"], image["version"], image["signed"]) == (
            digest,
            len(IMAGE),
            "2.0",
            False,
        )
        assert image["url"].endswith(f"/firmware/{digest}")
        assert (tmp_path / "store" / f"{digest}.bin").read_bytes() == IMAGE
        async with client(r.node, None) as station:  # stations carry no API token
            whole = await station.get(image["url"])
            assert whole.status_code == 200
            assert whole.content == IMAGE
            assert whole.headers["content-length"] == str(len(IMAGE))
            assert whole.headers["accept-ranges"] == "bytes"
            part = await station.get(image["url"], headers={"Range": "bytes=1000-1999"})
            assert part.status_code == 206
            assert part.content == IMAGE[1000:2000]
            assert part.headers["content-range"] == f"bytes 1000-1999/{len(IMAGE)}"
            # a download broken after 300,000 bytes resumes where it stopped
            received = bytearray()
            async with station.stream("GET", image["url"]) as first:
                async for chunk in first.aiter_bytes():
                    received += chunk
                    if len(received) >= 300_000:
                        break
            rest = await station.get(image["url"], headers={"Range": f"bytes={len(received)}-"})
            assert rest.status_code == 206
            assert bytes(received) + rest.content == IMAGE
            unknown = await station.get(f"/firmware/{'0' * 64}")
            assert unknown.status_code == 404
            assert (await station.get("/firmware/not-an-id")).status_code == 404
        again = await r.api.post(IMAGES, params={"name": "same.bin"}, content=IMAGE)
        assert again.json()["id"] == digest  # the same bytes are one image
        listed = (await r.api.get(IMAGES)).json()["items"]
        assert [i["id"] for i in listed] == [digest]


async def test_bad_uploads_are_422_and_only_admins_upload(
    database_url, admin_env, bridge, tmp_path
):
    setup_database(database_url)
    operator = await trio.to_thread.run_sync(create_token, database_url, "operator", "ops")
    settings = settings_for(tmp_path, **{"firmware.max_image_bytes": 1000})
    async with rig(database_url, bridge, **settings) as r:
        empty = await r.api.post(IMAGES, params={"name": "a"}, content=b"")
        assert (empty.status_code, empty.json()["error"]["field"]) == (422, "body")
        big = await r.api.post(IMAGES, params={"name": "a"}, content=b"x" * 1001)
        assert (big.status_code, big.json()["error"]["code"]) == (422, "image_too_large")
        unnamed = await r.api.post(IMAGES, content=b"x")
        assert (unnamed.status_code, unnamed.json()["error"]["field"]) == (422, "name")
        assert list((tmp_path / "store" / "incoming").iterdir()) == []  # nothing left behind
        async with client(r.node, operator) as ops:
            assert (await ops.post(IMAGES, params={"name": "a"}, content=b"x")).status_code == 403
            assert (await ops.get(IMAGES)).status_code == 200


async def test_a_signature_is_verified_before_it_is_attached(
    database_url, admin_env, bridge, tmp_path
):
    """L01.FR.04 / L01.FR.12, checked by the CSMS first: a tampered image or a certificate of
    another CA is refused naming the field."""
    setup_database(database_url)
    async with rig(database_url, bridge, **settings_for(tmp_path)) as r:
        image = (await r.api.post(IMAGES, params={"name": "cp.bin"}, content=IMAGE)).json()
        path = f"{IMAGES}/{image['id']}/signature"
        tampered = await r.api.put(
            path,
            json={"signingCertificate": PKI.signer_pem, "signature": PKI.sign(IMAGE + b"x")},
        )
        assert tampered.status_code == 422
        assert tampered.json()["error"]["field"] == "signature"
        assert "does not match the image" in tampered.json()["error"]["message"]
        foreign = await r.api.put(
            path,
            json={
                "signingCertificate": pem(PKI.foreign_signer.cert),
                "signature": PKI.sign(IMAGE),
            },
        )
        assert foreign.status_code == 422
        assert foreign.json()["error"]["field"] == "signingCertificate"
        signed = await r.api.put(
            path, json={"signingCertificate": PKI.signer_pem, "signature": PKI.sign(IMAGE)}
        )
        assert (signed.status_code, signed.json()["signed"]) == (200, True)
        missing = await r.api.put(
            f"{IMAGES}/{'1' * 64}/signature",
            json={"signingCertificate": PKI.signer_pem, "signature": PKI.sign(IMAGE)},
        )
        assert missing.status_code == 404


async def test_tc_l_01_an_update_of_a_stored_image_sends_its_url_certificate_and_signature(
    database_url, admin_env, bridge, tmp_path
):
    """TC_L_01_CSMS, L01.FR.11: the CSMS always includes the signing certificate; the location
    is the image on this node."""
    setup_database(database_url)
    async with rig(database_url, bridge, **settings_for(tmp_path)) as r:
        image = (await r.api.post(IMAGES, params={"name": "cp.bin"}, content=IMAGE)).json()
        signature = PKI.sign(IMAGE)
        await r.api.put(
            f"{IMAGES}/{image['id']}/signature",
            json={"signingCertificate": PKI.signer_pem, "signature": signature},
        )
        await r.connect()
        created = await r.api.post(
            f"/api/v1/devices/{STATION}/firmware/update",
            json={"location": image["url"], "retrieveDateTime": now_text()},
        )
        assert created.status_code == 201, created.text
        assert created.json()["signed"] is True
        sent = (await r.sent())["firmware"]
        assert sent["location"] == image["url"]
        assert (sent["signing_certificate"], sent["signature"]) == (PKI.signer_pem, signature)


async def test_a_tampered_or_foreign_signed_update_is_refused_before_the_station_is_sent_anything(
    database_url, admin_env, bridge, tmp_path
):
    """The checks of L01.FR.12 made by the CSMS: 422 naming the field, no UpdateFirmware."""
    setup_database(database_url)
    async with rig(database_url, bridge, **settings_for(tmp_path)) as r:
        image = (await r.api.post(IMAGES, params={"name": "cp.bin"}, content=IMAGE)).json()
        peer = await r.connect()
        cases = [
            (
                {"location": image["url"]},  # the store's URL is taken as that image
                {"signingCertificate": PKI.signer_pem, "signature": PKI.sign(b"other")},
                "secure.signature",
            ),
            (
                {"location": "https://elsewhere.example/fw.bin"},
                {"signingCertificate": pem(PKI.foreign_signer.cert), "signature": PKI.sign(IMAGE)},
                "secure.signingCertificate",
            ),
            ({"location": image["url"].replace(image["id"], "2" * 64)}, None, "location"),
        ]
        for target, secure, field in cases:
            body = {**target, "retrieveDateTime": now_text()}
            if secure is not None:
                body["secure"] = secure
            refused = await r.api.post(f"/api/v1/devices/{STATION}/firmware/update", json=body)
            assert refused.status_code == 422, (field, refused.text)
            assert refused.json()["error"]["field"] == field
        assert [a for a, _ in peer.received if a == "UpdateFirmware"] == []


async def test_a_signed_update_without_a_firmware_ca_is_refused(database_url, admin_env, bridge):
    setup_database(database_url)
    async with rig(database_url, bridge) as r:
        await r.connect()
        refused = await r.update(
            secure={"signingCertificate": PKI.signer_pem, "signature": PKI.sign(IMAGE)}
        )
        assert refused.status_code == 409  # the node's configuration, not the body
        assert refused.json()["error"]["code"] == "no_firmware_ca"
