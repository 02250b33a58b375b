"""Security profiles 2 and 3 over real TLS, with certificates generated for the run."""

from __future__ import annotations

import logging
import ssl

import pytest
import trio
from websockets.exceptions import InvalidHandshake, InvalidMessage, InvalidStatus
from websockets.trio.client import connect

from csms.transport import (
    SecurityProfile,
    StaticAuthenticator,
    TlsConfigError,
    TlsFiles,
    WebSocketSettings,
    server_ssl_context,
)

from .helpers import PASSWORD, Pki, Recorder, basic, running_server

AUTH = StaticAuthenticator.from_passwords({"CS001": PASSWORD})


def profile2(pki: Pki) -> WebSocketSettings:
    return WebSocketSettings(
        security_profile=SecurityProfile.TLS_BASIC_AUTH,
        tls=TlsFiles(pki.server_cert, pki.server_key),
    )


def profile3(pki: Pki, organization: str | None = None) -> WebSocketSettings:
    return WebSocketSettings(
        security_profile=SecurityProfile.TLS_CLIENT_CERT,
        tls=TlsFiles(pki.server_cert, pki.server_key, pki.ca),
        client_cert_organization=organization,
    )


def wss(server, station="CS001"):
    return f"wss://127.0.0.1:{server.ports[0]}/ocpp/{station}"


async def test_profile2_tls_with_basic_auth(pki):
    recorder = Recorder()
    async with running_server(recorder, profile2(pki), AUTH) as server:
        async with connect(
            wss(server),
            ssl=pki.client_context(),
            subprotocols=["ocpp2.0.1"],
            additional_headers=basic("CS001"),
        ) as ws:
            assert ws.subprotocol == "ocpp2.0.1"
            await ws.send("over tls")
            assert await ws.recv() == "over tls"
        assert recorder.connections[0].client_cert_cn is None


async def test_profile2_wrong_password_is_401(pki):
    async with running_server(Recorder(), profile2(pki), AUTH) as server:
        with pytest.raises(InvalidStatus) as info:
            async with connect(
                wss(server),
                ssl=pki.client_context(),
                additional_headers=basic("CS001", "Wrong-password-0000000"),
            ):
                pass
        assert info.value.response.status_code == 401


async def test_profile2_listener_does_not_speak_plain_ws(pki):
    recorder = Recorder()
    async with running_server(recorder, profile2(pki), AUTH) as server:
        with pytest.raises(InvalidMessage):  # TLS where HTTP was expected
            async with connect(
                f"ws://127.0.0.1:{server.ports[0]}/ocpp/CS001", additional_headers=basic("CS001")
            ):
                pass
        assert recorder.connections == []


async def test_profile3_client_certificate_authenticates_without_basic_auth(pki):
    """A00.FR.401-405: the station certificate, from the configured CA, with CN = station id."""
    recorder = Recorder()
    async with running_server(recorder, profile3(pki, "Rede Carga"), AUTH) as server:
        async with connect(
            wss(server), ssl=pki.client_context("CS001"), subprotocols=["ocpp2.1"]
        ) as ws:
            await ws.send("mtls")
            assert await ws.recv() == "mtls"
        assert recorder.connections[0].client_cert_cn == "CS001"
        assert recorder.connections[0].subprotocol == "ocpp2.1"


@pytest.mark.parametrize("cert", ["WRONG_CN", "OTHER_ORG"])
async def test_profile3_certificate_of_another_station_or_organisation_is_refused(pki, cert):
    """A00.FR.404 (O is the CSO) and A00.FR.405 (CN is this station)."""
    recorder = Recorder()
    async with running_server(recorder, profile3(pki, "Rede Carga"), AUTH) as server:
        with pytest.raises(InvalidStatus) as info:
            async with connect(wss(server), ssl=pki.client_context(cert)):
                pass
        assert info.value.response.status_code == 403
        assert recorder.connections == []


@pytest.mark.parametrize("cert", ["OTHER_CA", None])
async def test_profile3_certificate_from_another_ca_or_none_fails_the_tls_handshake(
    pki, cert, caplog
):
    """A00.FR.407: an invalid certification path terminates the connection."""
    caplog.set_level(logging.INFO, logger="csms.transport")
    recorder = Recorder()
    async with running_server(recorder, profile3(pki), AUTH) as server:
        # Under TLS 1.3 the client sees the connection end; under 1.2, the alert.
        with pytest.raises((InvalidHandshake, OSError, trio.BrokenResourceError)):
            async with connect(wss(server), ssl=pki.client_context(cert)):
                pass
        assert recorder.connections == []
    assert any(r.getMessage() == "TLS handshake failed" for r in caplog.records)


async def test_profile3_unknown_station_with_a_valid_certificate_is_404(pki):
    async with running_server(Recorder(), profile3(pki), StaticAuthenticator()) as server:
        with pytest.raises(InvalidStatus) as info:
            async with connect(wss(server), ssl=pki.client_context("CS001")):
                pass
        assert info.value.response.status_code == 404


def test_server_context_is_tls12_or_later_without_compression(pki):
    """A00.FR.313 / A00.FR.321 / A00.FR.318."""
    context = server_ssl_context(
        SecurityProfile.TLS_CLIENT_CERT, TlsFiles(pki.server_cert, pki.server_key, pki.ca)
    )
    assert context.minimum_version is ssl.TLSVersion.TLSv1_2
    assert context.options & ssl.OP_NO_COMPRESSION
    assert context.verify_mode is ssl.CERT_REQUIRED
    names = {c["name"] for c in context.get_ciphers()}
    assert {
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "AES128-GCM-SHA256",
        "AES256-GCM-SHA384",
    } <= names
    assert not any("CBC" in n or n.endswith("-SHA") for n in names)


def test_unusable_tls_files_are_a_clear_error(pki, tmp_path):
    with pytest.raises(TlsConfigError, match="server certificate"):
        server_ssl_context(
            SecurityProfile.TLS_BASIC_AUTH, TlsFiles(tmp_path / "none.pem", tmp_path / "none.key")
        )
    with pytest.raises(TlsConfigError, match="CA file"):
        server_ssl_context(
            SecurityProfile.TLS_CLIENT_CERT,
            TlsFiles(pki.server_cert, pki.server_key, tmp_path / "none.pem"),
        )


@pytest.mark.parametrize(
    "kwargs",
    [
        {"security_profile": 2},
        {"security_profile": 3, "tls": TlsFiles("a.pem", "a.key")},
        {"security_profile": 1, "tls": TlsFiles("a.pem", "a.key")},
        {"path_prefix": "ocpp"},
        {"path_prefix": "/ocpp/"},
        {"subprotocols": ("ocpp1.6",)},
        {"subprotocols": ()},
        {"max_message_size": 0},
        {"ping_interval": 0},
    ],
)
def test_inconsistent_settings_are_refused(kwargs):
    with pytest.raises(ValueError):  # noqa: PT011 - each case has its own message
        WebSocketSettings(**kwargs)
