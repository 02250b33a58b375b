"""TLS for security profiles 2 and 3: the server context and the client certificate's names."""

from __future__ import annotations

import ssl
from typing import Any, Protocol

import attrs

from ._settings import SecurityProfile, TlsFiles

# TLS 1.2 suites: AEAD with forward secrecy first, then the two TLS_RSA suites that A00.FR.318
# requires the CSMS to support (TLS_RSA_WITH_AES_{128,256}_GCM_*), which Python's defaults leave
# out. No CBC or SHA-1 suites (A00.FR.320). TLS 1.3 suites are OpenSSL's and stay as they are.
_TLS12_CIPHERS = (
    "@SECLEVEL=2:ECDHE+AESGCM:ECDHE+CHACHA20:AES128-GCM-SHA256:AES256-GCM-SHA384:!aNULL:!eNULL"
)


class TlsConfigError(ValueError):
    """The configured certificate, key or CA file cannot be used."""


def server_ssl_context(profile: SecurityProfile, files: TlsFiles) -> ssl.SSLContext:
    """The server-side context for ``profile`` (2 or 3): TLS 1.2 or later, no TLS compression.

    Profile 3 requires a client certificate whose chain verifies against ``files.cafile``
    (A00.FR.403); a handshake without one, or with one from another CA, fails.
    """
    if profile is SecurityProfile.BASIC_AUTH:
        raise ValueError("security profile 1 does not use TLS")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = ssl.TLSVersion.TLSv1_2  # A00.FR.313 / A00.FR.416
    context.options |= ssl.OP_NO_COMPRESSION  # A00.FR.321
    context.set_ciphers(_TLS12_CIPHERS)
    try:
        context.load_cert_chain(files.certfile, files.keyfile)
    except (OSError, ssl.SSLError) as exc:
        raise TlsConfigError(f"cannot load server certificate/key {files.certfile}: {exc}") from exc
    if profile is SecurityProfile.TLS_CLIENT_CERT:
        if files.cafile is None:
            raise TlsConfigError("security profile 3 needs a CA file for station certificates")
        try:
            context.load_verify_locations(cafile=files.cafile)
        except (OSError, ssl.SSLError) as exc:
            raise TlsConfigError(f"cannot load CA file {files.cafile}: {exc}") from exc
        context.verify_mode = ssl.CERT_REQUIRED
    return context


@attrs.frozen
class CertificateNames:
    """The subject names of a verified peer certificate that the CSMS checks."""

    common_name: str | None
    organization: str | None


class _HasPeerCert(Protocol):
    def getpeercert(self) -> Any: ...


def peer_certificate_names(tls: _HasPeerCert) -> CertificateNames | None:
    """Subject CN and O of the verified peer certificate (of an SSLObject or trio.SSLStream)."""
    cert: dict[str, Any] | None = tls.getpeercert()
    if not cert:
        return None
    names: dict[str, str] = {}
    for rdn in cert.get("subject", ()):
        for key, value in rdn:
            names.setdefault(key, value)
    return CertificateNames(
        common_name=names.get("commonName"), organization=names.get("organizationName")
    )
