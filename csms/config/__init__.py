"""Settings loaded from one TOML file plus the environment, validated at start."""

from ._loader import ConfigError
from ._settings import (
    ENV_ALIASES,
    CertificatesSettings,
    DatabaseSettings,
    FirmwareSettings,
    HttpSettings,
    LogSettings,
    NatsSettings,
    NodeSettings,
    OcppSettings,
    Settings,
    V2GSettings,
    load_settings,
)

__all__ = [
    "ENV_ALIASES",
    "CertificatesSettings",
    "ConfigError",
    "DatabaseSettings",
    "FirmwareSettings",
    "HttpSettings",
    "LogSettings",
    "NatsSettings",
    "NodeSettings",
    "OcppSettings",
    "Settings",
    "V2GSettings",
    "load_settings",
]
