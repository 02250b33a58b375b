"""OCPP-J WebSocket transport (Part 4 §3): listener, handshake, security profiles, keepalive.

It knows nothing of OCPP messages: it accepts ``ws[s]://host/{prefix}/{stationId}`` connections,
authenticates them (security profile 1, 2 or 3), negotiates the subprotocol and permessage-deflate,
and hands each connection to a handler as an :class:`OcppWebSocket` that sends and receives text.

Exceptions, written out once::

    ConnectionError (builtin)
    └── ConnectionClosed          receive_text / send_text on a closed connection (code, reason)
    ValueError (builtin)
    └── TlsConfigError            certificate, key or CA file unusable (raised at start)

Invalid settings raise plain ``ValueError`` when the settings object is built.
"""

from ._auth import Authenticator, AuthResult, StaticAuthenticator, parse_basic_authorization
from ._connection import ConnectionClosed, OcppWebSocket
from ._handshake import MAX_STATION_ID_LENGTH, select_subprotocol, station_id_from_path
from ._passwords import (
    MAX_PASSWORD_LENGTH,
    MIN_PASSWORD_LENGTH,
    PASSWORD_ALPHABET,
    generate_password,
    hash_password,
    is_strong_password,
    verify_password,
)
from ._server import OcppWebSocketServer, serve_ocpp_websocket
from ._settings import (
    SUPPORTED_SUBPROTOCOLS,
    CompressionSettings,
    SecurityProfile,
    TlsFiles,
    WebSocketSettings,
)
from ._throttle import AcceptRateGuard, FailureThrottle, ThrottleSettings
from ._tls import CertificateNames, TlsConfigError, peer_certificate_names, server_ssl_context

__all__ = [
    "MAX_PASSWORD_LENGTH",
    "MAX_STATION_ID_LENGTH",
    "MIN_PASSWORD_LENGTH",
    "PASSWORD_ALPHABET",
    "SUPPORTED_SUBPROTOCOLS",
    "AcceptRateGuard",
    "AuthResult",
    "Authenticator",
    "CertificateNames",
    "CompressionSettings",
    "ConnectionClosed",
    "FailureThrottle",
    "OcppWebSocket",
    "OcppWebSocketServer",
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
