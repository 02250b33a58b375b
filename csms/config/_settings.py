"""The node's settings: one TOML file plus environment variables, checked at start (SPEC 12)."""

from __future__ import annotations

import math
import os
import pathlib
import tomllib
from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import attrs

from csms.services.compensation import CompensationError, parse_compensation_settings
from csms.services.firmware_signing import load_anchors
from csms.services.grid_price_settings import (
    GridPriceSettingError,
    GridPriceSettings,
    parse_grid_price_settings,
)
from csms.services.payout import PayoutError, parse_wallet_settings
from csms.services.pki_material import KEYS as PKI_KEYS
from csms.services.pki_material import PkiMaterial, PkiMaterialError, load_material

from ._loader import ConfigError, between, build, one_of, positive, setting

#: Environment variables that set one key each (the documented integration points).
ENV_ALIASES: Mapping[str, str] = {
    "DATABASE_URL": "database.url",
    "NATS_URL": "nats.url",
    "CSMS_NODE_ID": "node.id",
    "CSMS_LOG_LEVEL": "log.level",
    "CCEE_BASE_URL": "v2g.ccee.base_url",
    "CCEE_API_KEY": "v2g.ccee.api_key",
    "WALLET_SERVICE_URL": "v2g.wallet.url",
    # the PKI (``[certificates]``): PEM files, or the PEM text itself
    "ISO15118_ROOT_CA_PATH": "certificates.v2g_root_ca",
    "ISO15118_SUB_CA_PATH": "certificates.v2g_sub_ca",
    "ISO15118_CPO_CERT_PATH": "certificates.cpo_cert",
    "ISO15118_CPO_KEY_PATH": "certificates.cpo_key",
    "ISO15118_MO_ROOT_CA_PATH": "certificates.mo_root_ca",
    "ISO15118_MO_SUB_CA_PATH": "certificates.mo_sub_ca",
    "CSMS_ROOT_CA_PATH": "certificates.csms_root_ca",
    "CSMS_CA_CERT_PATH": "certificates.csms_ca_cert",
    "CSMS_CA_KEY_PATH": "certificates.csms_ca_key",
    "MANUFACTURER_ROOT_CA_PATH": "certificates.manufacturer_root_ca",
    "CONTRACT_CERTIFICATE_PROVIDER_URL": "certificates.contract_provider_url",
}
#: Any key can also be set as CSMS_<SECTION>__<KEY>, e.g. CSMS_OCPP__PORT=9001.
ENV_PREFIX = "CSMS_"


def _rate(value: float) -> None:
    if not 0 <= value < math.inf:  # NaN fails too
        raise ValueError(f"must be 0 (no limit) or a positive number per second, got {value!r}")


@attrs.frozen
class NodeSettings:
    id: str = setting("node-1")


@attrs.frozen
class OcppSettings:
    host: str = setting("0.0.0.0")
    port: int = setting(9000, check=between(0, 65535))
    path_prefix: str = setting("/ocpp")
    #: 1 = Basic auth over ws, 2 = TLS + Basic auth, 3 = mutual TLS (client certificate CN = id).
    security_profile: int = setting(1, check=one_of(1, 2, 3))
    tls_cert: pathlib.Path | None = setting(None)
    tls_key: pathlib.Path | None = setting(None)
    tls_ca: pathlib.Path | None = setting(None)
    versions: tuple[str, ...] = setting(("ocpp2.0.1", "ocpp2.1"))
    max_message_size: int = setting(1 << 20, check=positive)
    ping_interval: float = setting(30.0, check=positive)
    ping_timeout: float = setting(10.0, check=positive)
    handshake_timeout: float = setting(10.0, check=positive)
    max_connections: int = setting(50_000, check=positive)
    #: New connections accepted per second, a token bucket with a tenth of a second's burst;
    #: beyond it HTTP 503 with Retry-After (a reconnect storm spread out). 0 = no limit.
    max_accept_rate: float = setting(0.0, check=_rate)
    #: How long a CSMS-initiated CALL waits for the station's answer.
    response_timeout: float = setting(30.0, check=positive)
    heartbeat_interval: int = setting(300, check=positive)
    #: Development only: accept unknown stations and register them on first connect.
    auto_register: bool = setting(False)


@attrs.frozen
class HttpSettings:
    host: str = setting("127.0.0.1")
    port: int = setting(8080, check=between(0, 65535))


@attrs.frozen
class DatabaseSettings:
    #: Empty: start the embedded PostgreSQL (pgserver) in ``data_dir``.
    url: str | None = setting(None)
    data_dir: pathlib.Path = setting(pathlib.Path(".csms"))
    batch_max_rows: int = setting(5000, check=positive)
    batch_max_delay_ms: float = setting(2.0, check=positive)
    worker_threads: int = setting(4, check=between(1, 64))


def _subject_prefix(value: str) -> None:
    tokens = value.split(".")
    if not value or any(not t or any(c in t for c in " \t*>") for t in tokens):
        raise ValueError(f"must be dot-separated NATS subject tokens, got {value!r}")


@attrs.frozen
class NatsSettings:
    """NATS (docs/NATS.md): the event mirror on JetStream and node-to-node commands."""

    #: Empty: no NATS, unless ``embedded`` starts a local nats-server (``csms serve --nats
    #: embedded``) in ``<database.data_dir>/nats``.
    url: str | None = setting(None)
    embedded: bool = setting(False)
    #: Every subject the node uses starts with it: ``<prefix>.events.<station>.<subject>``.
    prefix: str = setting("csms", check=_subject_prefix)
    #: The JetStream stream the events are kept in, created if absent with these limits.
    stream: str = setting("CSMS_EVENTS")
    retention: str = setting("limits", check=one_of("limits", "interest", "workqueue"))
    max_age_s: float = setting(7 * 86400.0, check=positive)
    #: -1: no limit on the stream's size.
    max_bytes: int = setting(-1)
    replicas: int = setting(1, check=between(1, 5))
    #: How long JetStream remembers a Nats-Msg-Id (a resend within it is stored once).
    duplicate_window_s: float = setting(120.0, check=positive)
    #: Events waiting for NATS at most; beyond, new ones are dropped and counted.
    buffer: int = setting(100_000, check=positive)
    #: Events per trio -> asyncio crossing at most.
    batch_max: int = setting(1000, check=positive)
    #: How long a batch waits for JetStream's acknowledgements before it is sent again.
    ack_timeout_s: float = setting(5.0, check=positive)
    #: Reconnection backoff (doubling, with jitter) up to this many seconds.
    reconnect_max_s: float = setting(5.0, check=positive)
    #: How often a node of a cluster looks for dead nodes to reap (their presence cleared,
    #: their open commands node_lost); a live node holds a PostgreSQL advisory lock.
    reap_interval_s: float = setting(5.0, check=positive)


@attrs.frozen
class LogSettings:
    level: str = setting("INFO", check=one_of("DEBUG", "INFO", "WARNING", "ERROR"))
    json: bool = setting(False)


def _time_zone(value: str) -> None:
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {value!r} (an IANA name)") from None


@attrs.frozen
class CceeSettings:
    """CCEE's open-data portal (the hourly PLD); ``fetch = false`` keeps a node offline (tests,
    isolated sites): it prices with the cached and the simulated PLD."""

    base_url: str = setting("https://dadosabertos.ccee.org.br")
    #: Optional; sent as the Authorization header, never logged.
    api_key: str | None = attrs.field(default=None, repr=False)
    fetch: bool = setting(True)
    #: How often the current and the next month are read again.
    refresh_interval_s: float = setting(3600.0, check=positive)
    timeout_s: float = setting(10.0, check=positive)


@attrs.frozen
class OptimizerSettings:
    """The V2G optimizer (``csms/actors/optimizer``): off unless turned on, since it discharges
    EVs by itself; ``POST /api/v1/v2g/optimize`` plans on demand either way."""

    enabled: bool = setting(False)
    #: How often it plans and starts or stops sessions (also at each planned start and end).
    interval_s: float = setting(300.0, check=positive)
    #: Hours of the price forecast it plans over.
    horizon_hours: int = setting(24, check=between(1, 168))
    #: An hour is worth discharging when dearer than the forecast's cheapest by more, R$/kWh.
    min_spread_rs_per_kwh: float = setting(0.0, check=between(0, 1000))


@attrs.frozen
class V2GSettings:
    #: The operator's zone: discharge windows, cycles per day and tariff posts are local times.
    time_zone: str = setting("America/Sao_Paulo", check=_time_zone)
    #: How long a discharge session waits for a disconnected station before it ends.
    disconnect_grace_s: int = setting(60, check=positive)
    #: At most one ``v2g.session.updated`` (and one v2g_events row) per session per interval.
    update_interval_s: int = setting(5, check=positive)
    #: How often a discharge session checks its clock (window end, duration, grace).
    tick_interval_s: float = setting(1.0, check=positive)
    ccee: CceeSettings = setting(CceeSettings())
    optimizer: OptimizerSettings = setting(OptimizerSettings())
    #: The ``[v2g.prices]`` table as written, checked by ``parse_grid_price_settings`` at load
    #: (``grid_prices()``); its keys are documented there and in the README.
    prices: dict[str, Any] = attrs.field(factory=dict, hash=False)

    #: ``[v2g.compensation]`` (margin, station groups) and ``[v2g.wallet]`` (payouts) as
    #: written, checked at load by ``parse_compensation_settings`` and ``parse_wallet_settings``
    #: (``csms/services/compensation.py``, ``payout.py``: their keys are documented there).
    compensation: dict[str, Any] = attrs.field(factory=dict, hash=False)
    wallet: dict[str, Any] = attrs.field(factory=dict, hash=False)

    def grid_prices(self) -> GridPriceSettings:
        return parse_grid_price_settings(self.prices)


@attrs.frozen
class FirmwareSettings:
    #: A firmware job that hears nothing from its station for this long (past retrieve and
    #: install time) ends failed, TimedOut.
    timeout_s: int = setting(3600, check=positive)
    #: How often a firmware job checks its clock.
    tick_interval_s: float = setting(5.0, check=positive)
    #: PEM file of the firmware CA(s): a signed update's signing certificate must chain to one
    #: (L01); without it signed updates are refused.
    ca_path: pathlib.Path | None = setting(None)
    #: Where uploaded images are kept (default: ``firmware`` under ``database.data_dir``).
    store_dir: pathlib.Path | None = setting(None)
    #: The largest image the store takes, bytes.
    max_image_bytes: int = setting(512 << 20, check=positive)
    #: The URL stations reach this node's HTTP at, for the store's ``location`` (default: the
    #: address the REST API listens on).
    base_url: str = setting("")
    #: How often a campaign looks for free slots when no job has ended.
    campaign_tick_s: float = setting(5.0, check=positive)


@attrs.frozen
class CertificatesSettings:
    """The PKI (docs/OCPP.md "Certificates"): each PEM setting is a file path or the PEM text."""

    v2g_root_ca: str | None = setting(None)
    #: The CPO sub-CAs below the V2G root (a chain file, closest to the leaves first).
    v2g_sub_ca: str | None = setting(None)
    #: The CPO sub-CA that signs V2GCertificate CSRs, and its key.
    cpo_cert: str | None = setting(None)
    cpo_key: str | None = attrs.field(default=None, repr=False)
    mo_root_ca: str | None = setting(None)
    mo_sub_ca: str | None = setting(None)
    #: The roots a security profile 3 station's client certificate chains to.
    csms_root_ca: str | None = setting(None)
    #: The CA that signs ChargingStationCertificate CSRs (its chain up to the root), and its key.
    csms_ca_cert: str | None = setting(None)
    csms_ca_key: str | None = attrs.field(default=None, repr=False)
    manufacturer_root_ca: str | None = setting(None)
    #: The O a ChargingStationCertificate CSR must carry (the station's OrganizationName).
    organisation: str | None = setting(None)
    #: An external CA's URL: a CSR without a local signer for its type is POSTed there.
    ca_url: str | None = setting(None)
    #: Where Get15118EVCertificate's exiRequest is forwarded (a contract-certificate pool).
    contract_provider_url: str | None = setting(None)
    #: OCSP responders a station may name besides those the trust anchors vouch for.
    ocsp_responders: tuple[str, ...] = setting(())
    #: Validity of the certificates this node signs, in days (capped by the signer's own).
    validity_days: int = setting(365, check=positive)
    #: HTTP timeouts: OCSP and the external CA; the contract provider stays below the EV's
    #: ISO 15118 limit.
    ocsp_timeout_s: float = setting(3.0, check=positive)
    provider_timeout_s: float = setting(1.5, check=positive)
    #: Certificates the node signed that end within this many days are renewed: the station is
    #: sent TriggerMessage SignChargingStationCertificate / SignV2GCertificate (A02).
    renew_before_days: int = setting(30, check=positive)
    #: How often the node looks for them (0: never).
    renew_interval_s: float = setting(3600.0, check=_rate)

    def material(self) -> PkiMaterial:
        """The PEM settings loaded (``PkiMaterialError`` naming the key)."""
        return load_material({key: getattr(self, key) for key in PKI_KEYS})


@attrs.frozen
class Settings:
    node: NodeSettings = setting(NodeSettings())
    ocpp: OcppSettings = setting(OcppSettings())
    http: HttpSettings = setting(HttpSettings())
    database: DatabaseSettings = setting(DatabaseSettings())
    nats: NatsSettings = setting(NatsSettings())
    log: LogSettings = setting(LogSettings())
    v2g: V2GSettings = setting(V2GSettings())
    firmware: FirmwareSettings = setting(FirmwareSettings())
    certificates: CertificatesSettings = setting(CertificatesSettings())


def _set(tree: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    for part in parents:
        node = tree.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(part, "must be a table")
        tree = node
    tree[leaf] = value


def _from_environment(env: Mapping[str, str]) -> list[tuple[str, str]]:
    pairs = [(key, env[name]) for name, key in ENV_ALIASES.items() if name in env]
    for name, value in env.items():
        if name.startswith(ENV_PREFIX) and "__" in name:
            section, _, key = name[len(ENV_PREFIX) :].partition("__")
            pairs.append((f"{section.lower()}.{key.lower()}", value))
    return pairs


def _check_consistency(settings: Settings) -> None:
    ocpp = settings.ocpp
    if ocpp.security_profile >= 2:
        for name in ("tls_cert", "tls_key"):
            if getattr(ocpp, name) is None:
                raise ConfigError(f"ocpp.{name}", "is required for security profiles 2 and 3")
    if ocpp.security_profile == 3 and ocpp.tls_ca is None:
        raise ConfigError("ocpp.tls_ca", "is required for security profile 3 (mutual TLS)")
    for name in ("tls_cert", "tls_key", "tls_ca"):
        path = getattr(ocpp, name)
        if path is not None and not path.is_file():
            raise ConfigError(f"ocpp.{name}", f"no such file: {path}")
    ca_path = settings.firmware.ca_path
    if ca_path is not None and not ca_path.is_file():
        raise ConfigError("firmware.ca_path", f"no such file: {ca_path}")
    if ca_path is not None:
        try:
            load_anchors(ca_path.read_bytes())
        except ValueError:
            raise ConfigError("firmware.ca_path", "is not a PEM certificate file") from None
    try:
        settings.v2g.grid_prices()
        parse_compensation_settings(settings.v2g.compensation)
        parse_wallet_settings(settings.v2g.wallet)
    except (GridPriceSettingError, CompensationError, PayoutError) as exc:
        raise ConfigError(exc.field, exc.message) from None
    if settings.nats.url and settings.nats.embedded:
        raise ConfigError("nats.embedded", "cannot be set together with nats.url (NATS_URL)")
    try:
        settings.certificates.material()
    except PkiMaterialError as exc:
        raise ConfigError(exc.key, exc.reason) from None
    unknown = set(ocpp.versions) - {"ocpp2.0.1", "ocpp2.1"}
    if unknown or not ocpp.versions:
        raise ConfigError("ocpp.versions", "must list ocpp2.0.1 and/or ocpp2.1")


def load_settings(
    path: pathlib.Path | None = None,
    *,
    env: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """TOML file, then environment, then ``overrides`` (dotted keys, from the command line)."""
    data: dict[str, Any] = {}
    if path is not None:
        try:
            data = tomllib.loads(path.read_text())
        except FileNotFoundError:
            raise ConfigError("--config", f"no such file: {path}") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(str(path), f"is not valid TOML: {exc}") from None
    for key, value in _from_environment(os.environ if env is None else env):
        _set(data, key, value)
    for key, value in (overrides or {}).items():
        if value is not None:
            _set(data, key, value)
    settings = build(Settings, data)
    _check_consistency(settings)
    return settings
