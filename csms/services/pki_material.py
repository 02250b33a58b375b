"""The node's PKI material: trust anchors, sub-CAs and signing keys, read from PEM files or PEM
text in the ``[certificates]`` settings, checked once at start.

Each setting is either the PEM text itself (it starts with ``-----BEGIN``) or the path of a PEM
file. A bad value raises ``PkiMaterialError`` naming the setting's key, so the node refuses to
start with a message the operator can act on ("certificates.csms_ca_key: the key does not
match certificates.csms_ca_cert").
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

__all__ = [
    "KEYS",
    "PkiMaterial",
    "PkiMaterialError",
    "Signer",
    "SigningKey",
    "load_material",
]

SigningKey = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey

#: The settings of ``[certificates]`` that hold PEM (text or a file path).
KEYS = (
    "v2g_root_ca",
    "v2g_sub_ca",
    "cpo_cert",
    "cpo_key",
    "mo_root_ca",
    "mo_sub_ca",
    "csms_root_ca",
    "csms_ca_cert",
    "csms_ca_key",
    "manufacturer_root_ca",
)


class PkiMaterialError(ValueError):
    """A PEM setting that cannot be used; ``key`` is the setting, ``reason`` why."""

    def __init__(self, key: str, reason: str) -> None:
        super().__init__(f"{key}: {reason}")
        self.key = key
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Signer:
    """A CA that signs CSRs: its certificate, its key, and the certificates above it up to (not
    including) the root, sent with every certificate it signs."""

    certificate: x509.Certificate
    key: SigningKey
    chain: tuple[x509.Certificate, ...] = ()


@dataclass(frozen=True, slots=True)
class PkiMaterial:
    v2g_roots: tuple[x509.Certificate, ...] = ()
    #: The CPO sub-CAs below the V2G root, sub-CA closest to the leaves first.
    v2g_sub_cas: tuple[x509.Certificate, ...] = ()
    mo_roots: tuple[x509.Certificate, ...] = ()
    mo_sub_cas: tuple[x509.Certificate, ...] = ()
    csms_roots: tuple[x509.Certificate, ...] = ()
    manufacturer_roots: tuple[x509.Certificate, ...] = ()
    #: Signs ChargingStationCertificate CSRs (security profile 3), when configured.
    station_signer: Signer | None = None
    #: Signs V2GCertificate CSRs (the CPO sub-CA), when configured.
    v2g_signer: Signer | None = None

    @property
    def anchors(self) -> tuple[x509.Certificate, ...]:
        return (*self.v2g_roots, *self.mo_roots, *self.csms_roots, *self.manufacturer_roots)

    @property
    def known_cas(self) -> tuple[x509.Certificate, ...]:
        """Every CA certificate configured: what an OCSP response's issuer is looked up in."""
        signers = [s.certificate for s in (self.station_signer, self.v2g_signer) if s]
        return (*self.anchors, *self.v2g_sub_cas, *self.mo_sub_cas, *signers)


def _read_file(path: str) -> bytes:
    return pathlib.Path(path).read_bytes()


def _pem(key: str, value: str, read: Callable[[str], bytes]) -> bytes:
    if value.lstrip().startswith("-----BEGIN"):
        return value.encode()
    try:
        return read(value)
    except OSError as exc:
        raise PkiMaterialError(key, f"cannot read {value!r}: {exc.strerror or exc}") from None


def _certificates(
    key: str, value: str, read: Callable[[str], bytes]
) -> tuple[x509.Certificate, ...]:
    data = _pem(key, value, read)
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise PkiMaterialError(key, "is not a PEM certificate (or a chain of them)") from None
    return tuple(certificates)


def _private_key(key: str, value: str, read: Callable[[str], bytes]) -> SigningKey:
    data = _pem(key, value, read)
    try:
        loaded = serialization.load_pem_private_key(data, password=None)
    except (ValueError, TypeError):
        raise PkiMaterialError(key, "is not an unencrypted PEM private key") from None
    if not isinstance(loaded, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
        raise PkiMaterialError(key, "must be an EC or RSA key")
    return loaded


def _signer(
    values: Mapping[str, str | None],
    cert_key: str,
    key_key: str,
    read: Callable[[str], bytes],
) -> Signer | None:
    cert_value, key_value = values.get(cert_key), values.get(key_key)
    if not cert_value and not key_value:
        return None
    if not cert_value:
        raise PkiMaterialError(cert_key, f"is required with {key_key}")
    if not key_value:
        raise PkiMaterialError(key_key, f"is required with {cert_key}")
    certificate, *chain = _certificates(cert_key, cert_value, read)
    private = _private_key(key_key, key_value, read)
    public = certificate.public_key()
    if not isinstance(public, type(private.public_key())) or public.public_numbers() != (
        private.public_key().public_numbers()
    ):
        raise PkiMaterialError(key_key, f"the key does not match {cert_key}")
    try:
        constraints = certificate.extensions.get_extension_for_class(x509.BasicConstraints).value
    except x509.ExtensionNotFound:
        constraints = None
    if constraints is None or not constraints.ca:
        raise PkiMaterialError(cert_key, "is not a CA certificate (basicConstraints ca=True)")
    # a chain file may end with its root: stations are sent the chain without it
    return Signer(certificate, private, tuple(c for c in chain if c.subject != c.issuer))


def load_material(
    values: Mapping[str, str | None],
    *,
    prefix: str = "certificates",
    read: Callable[[str], bytes] = _read_file,
) -> PkiMaterial:
    """The material of ``values`` (the ``[certificates]`` settings by name, None or empty when
    not set); errors name ``prefix.key``."""
    try:
        return _load(values, read)
    except PkiMaterialError as exc:
        raise PkiMaterialError(f"{prefix}.{exc.key}", exc.reason) from None


def _load(values: Mapping[str, str | None], read: Callable[[str], bytes]) -> PkiMaterial:
    def certs(key: str) -> tuple[x509.Certificate, ...]:
        value = values.get(key)
        return _certificates(key, value, read) if value else ()

    material = PkiMaterial(
        v2g_roots=certs("v2g_root_ca"),
        v2g_sub_cas=certs("v2g_sub_ca"),
        mo_roots=certs("mo_root_ca"),
        mo_sub_cas=certs("mo_sub_ca"),
        csms_roots=certs("csms_root_ca"),
        manufacturer_roots=certs("manufacturer_root_ca"),
        station_signer=_signer(values, "csms_ca_cert", "csms_ca_key", read),
        v2g_signer=_signer(values, "cpo_cert", "cpo_key", read),
    )
    for key in ("v2g_root_ca", "mo_root_ca", "csms_root_ca", "manufacturer_root_ca"):
        for certificate in certs(key):
            if certificate.subject != certificate.issuer:
                raise PkiMaterialError(key, "must hold root (self-signed) certificates only")
    return material
