"""A05 end to end: a station on security profile 2 (TLS, Basic auth) is moved to profile 3 (TLS
client certificate). Two nodes share one database, as a network migrating its stations would run
them: node A listens on profile 2, node B on profile 3 with the CSMS CA as ``ocpp.tls_ca``.

The operator, on node A: installs the CSMS root (M05), has the station renew its certificate
(A02: TriggerMessage, SignCertificate, CertificateSigned signed by ``csms_ca_cert``), sets a
NetworkConnectionProfile for profile 3 pointing at node B (``POST .../network-profile``:
SetNetworkProfile, B09), puts it first
in ``NetworkConfigurationPriority`` (SetVariables, A05 step 1) and resets the station OnIdle (step
3). The station reboots onto the new profile (A05.FR.05): it connects to node B with the
certificate it was given, over mutual TLS on loopback, and is accepted; from then on its
password is no longer enough (A05.FR.07)."""

from __future__ import annotations

import contextlib
import ssl
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import trio
from cryptography.hazmat.primitives import serialization
from trio_websocket import ConnectionRejected, WebSocketConnection, open_websocket_url

from tests.transport.helpers import make_pki

from ..api.conftest import api_node, client
from .certificate_peer import make_csr
from .peer import register
from .test_wire import BOOT, auth

ORGANISATION = "Rede Carga"  # the O of tests/transport/helpers.py's certificates
STATION = "CS001"


def _answer(action: str, payload: dict[str, Any]) -> dict[str, Any]:
    if action == "SetVariables":
        return {
            "setVariableResult": [
                {
                    "attributeStatus": "Accepted",
                    "component": d["component"],
                    "variable": d["variable"],
                }
                for d in payload["setVariableData"]
            ]
        }
    return {"status": "Accepted"}


class Station:
    """A raw OCPP-J 2.0.1 station: a reader task answers the CSMS's CALLs (Accepted) and keeps
    them in ``inbox``, in order; ``call`` sends one of its own."""

    def __init__(self, ws: WebSocketConnection) -> None:
        self.ws = ws
        self.inbox: list[tuple[str, dict[str, Any]]] = []
        self._arrived = trio.Event()
        self._results: dict[str, list[Any]] = {}

    async def read(self) -> None:
        while True:
            frame = orjson.loads(await self.ws.get_message())
            if frame[0] == 2:
                answer = _answer(frame[2], frame[3])
                await self.ws.send_message(orjson.dumps([3, frame[1], answer]).decode())
                self.inbox.append((frame[2], frame[3]))
            else:
                self._results[frame[1]] = list(frame)
            self._arrived.set()
            self._arrived = trio.Event()

    async def call(self, action: str, payload: dict[str, Any]) -> dict[str, Any]:
        message_id = str(uuid.uuid4())
        await self.ws.send_message(orjson.dumps([2, message_id, action, payload]).decode())
        with trio.fail_after(30):  # a hang guard, not a timing assertion
            while message_id not in self._results:
                await self._arrived.wait()
        frame = self._results.pop(message_id)
        assert frame[0] == 3, frame
        return dict(frame[2])

    async def received(self, action: str) -> dict[str, Any]:
        with trio.fail_after(30):
            while not any(a == action for a, _ in self.inbox):
                await self._arrived.wait()
        return next(p for a, p in self.inbox if a == action)


@contextlib.asynccontextmanager
async def connected(url: str, context: ssl.SSLContext, **kw: Any) -> AsyncIterator[Station]:
    async with (
        open_websocket_url(url, subprotocols=["ocpp2.0.1"], ssl_context=context, **kw) as ws,
        trio.open_nursery() as nursery,
    ):
        station = Station(ws)
        nursery.start_soon(station.read)
        assert (await station.call("BootNotification", BOOT[3]))["status"] == "Accepted"
        yield station
        nursery.cancel_scope.cancel()


async def test_tc_a_19_profile_2_station_upgraded_to_profile_3(
    database_url: str, admin_env: str, tmp_path: Path
) -> None:
    """TC_A_19_CSMS (A05.FR.04/05/07) with A02/A03 and M05 before it: SetNetworkProfile,
    SetVariables NetworkConfigurationPriority and Reset from the operator's API; the certificate
    the CSMS signed on profile 2 is the one the station authenticates with on profile 3, and
    its profile 2 login is refused afterwards."""
    pki = make_pki(tmp_path)
    tls = {"ocpp.tls_cert": str(pki.server_cert), "ocpp.tls_key": str(pki.server_key)}
    signer = {
        "certificates.csms_root_ca": str(pki.ca),
        "certificates.csms_ca_cert": str(pki.ca),
        "certificates.csms_ca_key": str(tmp_path / "ca.key"),
        "certificates.organisation": ORGANISATION,
    }
    register(database_url, STATION)
    async with (
        api_node(
            database_url, **{"node.id": "node-a", "ocpp.security_profile": 2, **tls, **signer}
        ) as node_a,
        api_node(
            database_url,
            **{"node.id": "node-b", "ocpp.security_profile": 3, "ocpp.tls_ca": str(pki.ca), **tls},
        ) as node_b,
        client(node_a) as api,
    ):
        base = f"/api/v1/devices/{STATION}"
        csms_url = f"wss://localhost:{node_b.ocpp_port}/ocpp"
        profile_2 = f"wss://localhost:{node_a.ocpp_port}/ocpp/{STATION}"
        # profile 2: the server is checked with the CSMS root, the station with its password
        async with connected(
            profile_2, pki.client_context(), extra_headers=auth(STATION)
        ) as station:
            root = pki.ca.read_text()
            installed = await api.post(
                f"{base}/certificates/install",
                json={"certificateType": "CSMSRootCertificate", "certificate": root},
            )
            assert installed.status_code == 200, installed.text
            assert (await station.received("InstallCertificate"))["certificateType"] == (
                "CSMSRootCertificate"
            )
            renew = await api.post(
                f"{base}/certificates/renew",
                json={"certificateType": "ChargingStationCertificate"},
            )
            assert renew.status_code == 200, renew.text
            trigger = await station.received("TriggerMessage")
            assert trigger["requestedMessage"] == "SignChargingStationCertificate"
            csr, key = make_csr(cn=STATION, organisation=ORGANISATION)
            answer = await station.call(
                "SignCertificate", {"csr": csr, "certificateType": "ChargingStationCertificate"}
            )
            assert answer["status"] == "Accepted"
            signed = await station.received("CertificateSigned")

            # A05: never back to a lower profile (the station is on 2 now)
            lower = {"configurationSlot": 2, "ocppCsmsUrl": csms_url, "securityProfile": 1}
            refused = await api.post(f"{base}/network-profile", json=lower)
            assert (refused.status_code, refused.json()["error"]["field"]) == (
                422,
                "securityProfile",
            )
            upgrade = {"configurationSlot": 2, "ocppCsmsUrl": csms_url, "securityProfile": 3}
            result = await api.post(f"{base}/network-profile", json=upgrade)
            assert result.status_code == 200, result.text
            assert result.json()["status"] == "Accepted"
            priority = {
                "component": "OCPPCommCtrlr",
                "variable": "NetworkConfigurationPriority",
                "value": "2,1",
            }
            assert (await api.post(f"{base}/variables", json={"variables": [priority]})).is_success
            reset = await api.post(f"{base}/reset", json={"type": "OnIdle"})
            assert reset.status_code == 200, reset.text
            profile = (await station.received("SetNetworkProfile"))["connectionData"]
            assert (profile["ocppVersion"], profile["ocppTransport"]) == ("OCPP20", "JSON")
            assert profile["securityProfile"] == 3
            assert (await station.received("Reset"))["type"] == "OnIdle"

        # the reboot: the first profile of NetworkConfigurationPriority, with the new certificate
        (tmp_path / "renewed.pem").write_text(signed["certificateChain"])
        (tmp_path / "renewed.key").write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        context = ssl.create_default_context(cafile=str(pki.ca))
        context.load_cert_chain(tmp_path / "renewed.pem", tmp_path / "renewed.key")
        async with connected(f"{profile['ocppCsmsUrl']}/{STATION}", context):
            assert node_b.gateway.is_connected(STATION)
        # A05.FR.07: once on profile 3, profile 2 (its password) is refused
        with pytest.raises(ConnectionRejected) as refused:
            async with connected(profile_2, pki.client_context(), extra_headers=auth(STATION)):
                pass
        assert refused.value.status_code == 401
        stored = await api.get(f"/api/v1/stations/{STATION}")
        assert stored.json()["securityProfile"] == 3
