"""Settings of one OCPP WebSocket listener (one security profile per listener)."""

from __future__ import annotations

import enum
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import attrs

from ._throttle import ThrottleSettings

#: The subprotocols this transport can negotiate (Part 4 §3.1.2 of each version).
SUPPORTED_SUBPROTOCOLS = ("ocpp2.0.1", "ocpp2.1")


class SecurityProfile(enum.IntEnum):
    """OCPP security profiles (Part 2, A00)."""

    BASIC_AUTH = 1
    """Plain ``ws``, HTTP Basic authentication (trusted networks only, A00.FR.201)."""
    TLS_BASIC_AUTH = 2
    """``wss`` with the CSMS server certificate, plus HTTP Basic authentication."""
    TLS_CLIENT_CERT = 3
    """``wss`` with mutual TLS: the station's certificate authenticates it; no Basic auth."""


@attrs.frozen
class TlsFiles:
    """PEM files: server certificate chain and key; for profile 3 the CA of station certificates."""

    certfile: Path = attrs.field(converter=Path)
    keyfile: Path = attrs.field(converter=Path)
    cafile: Path | None = attrs.field(default=None, converter=attrs.converters.optional(Path))


@attrs.frozen
class CompressionSettings:
    """permessage-deflate (RFC 7692), which Part 4 §3.3 makes a SHALL for the CSMS.

    Without context takeover (the default) an idle connection holds no zlib state, which matters
    at tens of thousands of stations: one compressor with 15 window bits and memLevel 8 is about
    256 KiB. With it, each message compresses against the previous ones (smaller frames, more
    memory per connection); ``max_window_bits`` and ``mem_level`` then bound that memory.
    """

    enabled: bool = True
    context_takeover: bool = False
    max_window_bits: int = attrs.field(
        default=12, validator=[attrs.validators.ge(9), attrs.validators.le(15)]
    )
    mem_level: int = attrs.field(
        default=5, validator=[attrs.validators.ge(1), attrs.validators.le(9)]
    )


def _check_prefix(_: object, __: attrs.Attribute[str], value: str) -> None:
    if value and (not value.startswith("/") or value.endswith("/")):
        raise ValueError(f"path_prefix must be empty or start (not end) with '/': {value!r}")


def _check_subprotocols(
    _: object, __: attrs.Attribute[tuple[str, ...]], value: tuple[str, ...]
) -> None:
    unknown = [p for p in value if p not in SUPPORTED_SUBPROTOCOLS]
    if not value or unknown:
        raise ValueError(f"subprotocols must be a non-empty subset of {SUPPORTED_SUBPROTOCOLS}")


def _check_rate(_: object, __: attrs.Attribute[float], value: float) -> None:
    if not (0.0 <= value < math.inf):
        raise ValueError(f"max_accept_rate must be 0 (off) or a positive number, got {value!r}")


def _as_tuple(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


_positive_int = attrs.validators.gt(0)
_positive = attrs.validators.gt(0.0)
_optional_positive: Any = attrs.validators.optional(_positive)  # mypy infers float from default
_STATION_THROTTLE = ThrottleSettings(max_failures=5, window=60.0, lockout=60.0)
_ADDRESS_THROTTLE = ThrottleSettings(max_failures=50, window=60.0, lockout=60.0)


@attrs.frozen
class WebSocketSettings:
    """How one listener accepts, authenticates and keeps WebSocket connections."""

    security_profile: SecurityProfile = attrs.field(
        default=SecurityProfile.BASIC_AUTH, converter=SecurityProfile
    )
    tls: TlsFiles | None = None
    #: Profile 3: when set, the certificate's O must equal it (A00.FR.404, the CSO's name).
    client_cert_organization: str | None = None
    #: Connection URLs are ``{path_prefix}/{stationId}``.
    path_prefix: str = attrs.field(default="/ocpp", validator=_check_prefix)
    subprotocols: tuple[str, ...] = attrs.field(
        default=SUPPORTED_SUBPROTOCOLS, converter=_as_tuple, validator=_check_subprotocols
    )
    #: Largest inbound message in bytes (after decompression); larger ones close with 1009.
    max_message_size: int = attrs.field(default=1024 * 1024, validator=_positive_int)
    #: Seconds between server pings; None disables them.
    ping_interval: float | None = attrs.field(default=30.0, validator=_optional_positive)
    #: Seconds a ping may wait for its pong before the peer is declared dead.
    ping_timeout: float = attrs.field(default=30.0, validator=_positive)
    #: Seconds for TLS, the HTTP request, authentication and the response.
    handshake_timeout: float = attrs.field(default=10.0, validator=_positive)
    #: Seconds to wait for the peer's close frame (and to flush) before dropping TCP.
    close_timeout: float = attrs.field(default=5.0, validator=_positive)
    #: Open plus handshaking connections; beyond it new ones get HTTP 503.
    max_connections: int = attrs.field(default=25_000, validator=_positive_int)
    #: Refusals (HTTP 503) in flight at once; beyond it surplus connections are dropped unanswered.
    #: Each waits for the request (at most ``handshake_timeout``), a few KiB apiece. An accept-rate
    #: guard refusing a storm's excess (500/s on a loaded core) had about 100 in flight: 64 was
    #: too few and dropped one in ten of them unanswered.
    max_refusals: int = attrs.field(default=1024, validator=_positive_int)
    #: New connections accepted per second (a token bucket); beyond it HTTP 503 with Retry-After.
    #: 0 turns the guard off.
    max_accept_rate: float = attrs.field(default=0.0, converter=float, validator=_check_rate)
    #: Connections the guard lets through at once; None: a tenth of a second's worth (at least 1).
    accept_burst: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(_positive_int)
    )
    #: ``listen()`` backlog: connections the kernel queues before the accept loop takes them
    #: (Linux caps it at ``net.core.somaxconn``).
    listen_backlog: int = attrs.field(
        default=65535, validator=[_positive_int, attrs.validators.le(65535)]
    )
    receive_buffer_size: int = attrs.field(default=65536, validator=_positive_int)
    compression: CompressionSettings = CompressionSettings()
    #: Failures per station id (only for stations that exist: wrong password).
    station_throttle: ThrottleSettings = _STATION_THROTTLE
    #: Failures per remote address; generous because many stations may share one (carrier NAT).
    address_throttle: ThrottleSettings = _ADDRESS_THROTTLE

    def __attrs_post_init__(self) -> None:
        profile = self.security_profile
        if profile is not SecurityProfile.BASIC_AUTH and self.tls is None:
            raise ValueError(f"security profile {int(profile)} needs tls (certfile, keyfile)")
        needs_ca = profile is SecurityProfile.TLS_CLIENT_CERT
        if needs_ca and (self.tls is None or self.tls.cafile is None):
            raise ValueError("security profile 3 needs tls.cafile (the CA of station certificates)")
        if profile is SecurityProfile.BASIC_AUTH and self.tls is not None:
            raise ValueError("security profile 1 is plain ws; use profile 2 or 3 for TLS")

    @property
    def uses_tls(self) -> bool:
        return self.security_profile is not SecurityProfile.BASIC_AUTH

    @property
    def uses_basic_auth(self) -> bool:
        return self.security_profile is not SecurityProfile.TLS_CLIENT_CERT
