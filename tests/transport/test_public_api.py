"""The transport's public names are a contract: adding or removing one is a deliberate change."""

import csms.transport
from csms.transport import ConnectionClosed, TlsConfigError


def test_public_names_are_pinned():
    assert sorted(csms.transport.__all__) == [
        "AcceptRateGuard",
        "AuthResult",
        "Authenticator",
        "CertificateNames",
        "CompressionSettings",
        "ConnectionClosed",
        "FailureThrottle",
        "MAX_PASSWORD_LENGTH",
        "MAX_STATION_ID_LENGTH",
        "MIN_PASSWORD_LENGTH",
        "OcppWebSocket",
        "OcppWebSocketServer",
        "PASSWORD_ALPHABET",
        "SUPPORTED_SUBPROTOCOLS",
        "SecurityProfile",
        "StaticAuthenticator",
        "ThrottleSettings",
        "TlsConfigError",
        "TlsFiles",
        "WebSocketSettings",
        "generate_password",
        "hash_password",
        "is_strong_password",
        "parse_basic_authorization",
        "peer_certificate_names",
        "select_subprotocol",
        "serve_ocpp_websocket",
        "server_ssl_context",
        "station_id_from_path",
        "verify_password",
    ]


def test_exception_hierarchy():
    assert issubclass(ConnectionClosed, ConnectionError)
    assert issubclass(TlsConfigError, ValueError)
    exc = ConnectionClosed(1009, "too big")
    assert (exc.code, exc.reason) == (1009, "too big")
    assert "1009" in str(exc)
