"""ISO 15118 certificates: trust anchors, contract certificates, certificates on stations."""

from __future__ import annotations

import datetime as dt

import attrs
from psycopg.rows import class_row

from ._connect import Connection
from ._errors import NotFound

__all__ = [
    "CertificateRow",
    "SigningRow",
    "by_hash_data",
    "expiring",
    "find_contract",
    "insert",
    "list_certificates",
    "list_signings",
    "record_signing",
    "remove",
    "revoke",
]


@attrs.frozen
class CertificateRow:
    id: int
    kind: str
    station_id: str | None
    emaid: str | None
    contract_id: str | None
    vin: str | None
    subject: str
    issuer: str
    serial_number: str
    hash_algorithm: str
    issuer_name_hash: str
    issuer_key_hash: str
    certificate_pem: str
    valid_from: dt.datetime
    valid_to: dt.datetime
    revoked_at: dt.datetime | None


_COLUMNS = ", ".join(a.name for a in attrs.fields(CertificateRow))
_INSERTED = [a.name for a in attrs.fields(CertificateRow) if a.name not in ("id", "revoked_at")]


def insert(conn: Connection, /, **values: object) -> CertificateRow:
    """Store a certificate (columns as keyword arguments, every column but id and revoked_at).
    The same certificate on the same station twice raises ``UniqueViolation``."""
    missing = set(_INSERTED) - set(values)
    extra = set(values) - set(_INSERTED)
    if extra:
        raise ValueError(f"unknown certificate fields: {sorted(extra)}")
    row_values = {name: values.get(name) for name in _INSERTED}
    required = {"kind", "subject", "issuer", "serial_number", "hash_algorithm", "certificate_pem"}
    if missing & required:
        raise ValueError(f"missing certificate fields: {sorted(missing & required)}")
    with conn.cursor(row_factory=class_row(CertificateRow)) as cur:
        cur.execute(
            f"INSERT INTO iso15118_certificates ({', '.join(_INSERTED)}) VALUES ("
            + ", ".join(f"%({n})s" for n in _INSERTED)
            + f") RETURNING {_COLUMNS}",
            row_values,
        )
        row = cur.fetchone()
    assert row is not None
    return row


def find_contract(
    conn: Connection,
    *,
    emaid: str | None = None,
    contract_id: str | None = None,
    vin: str | None = None,
) -> list[CertificateRow]:
    """Contract certificates by EMAID, contract id or VIN (any given), newest validity first."""
    if emaid is None and contract_id is None and vin is None:
        raise ValueError("give an emaid, a contract id or a VIN")
    with conn.cursor(row_factory=class_row(CertificateRow)) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM iso15118_certificates WHERE kind = 'ContractCertificate'"
            " AND (emaid = %(e)s OR contract_id = %(c)s OR vin = %(v)s)"
            " ORDER BY valid_to DESC",
            {"e": emaid, "c": contract_id, "v": vin},
        )
        return cur.fetchall()


def by_hash_data(
    conn: Connection,
    hash_algorithm: str,
    issuer_name_hash: str,
    issuer_key_hash: str,
    serial_number: str,
) -> list[CertificateRow]:
    """Certificates matching OCPP CertificateHashDataType (on any station or none)."""
    with conn.cursor(row_factory=class_row(CertificateRow)) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM iso15118_certificates WHERE hash_algorithm = %s"
            " AND issuer_name_hash = %s AND issuer_key_hash = %s AND serial_number = %s",
            (hash_algorithm, issuer_name_hash, issuer_key_hash, serial_number),
        )
        return cur.fetchall()


def list_certificates(
    conn: Connection, *, station_id: str | None = None, kind: str | None = None
) -> list[CertificateRow]:
    with conn.cursor(row_factory=class_row(CertificateRow)) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM iso15118_certificates"
            " WHERE (%(s)s::text IS NULL OR station_id = %(s)s)"
            " AND (%(k)s::text IS NULL OR kind = %(k)s) ORDER BY id",
            {"s": station_id, "k": kind},
        )
        return cur.fetchall()


def revoke(conn: Connection, certificate_id: int, at: dt.datetime) -> None:
    cur = conn.execute(
        "UPDATE iso15118_certificates SET revoked_at = %s WHERE id = %s AND revoked_at IS NULL",
        (at, certificate_id),
    )
    if cur.rowcount == 0:
        raise NotFound(f"no unrevoked certificate {certificate_id}")


def remove(conn: Connection, certificate_id: int) -> None:
    cur = conn.execute("DELETE FROM iso15118_certificates WHERE id = %s", (certificate_id,))
    if cur.rowcount == 0:
        raise NotFound(f"no certificate {certificate_id}")


@attrs.frozen
class SigningRow:
    id: int
    station_id: str
    certificate_type: str
    outcome: str
    reason: str | None
    serial_number: str | None
    valid_to: dt.datetime | None
    at: dt.datetime


def record_signing(
    conn: Connection,
    station_id: str,
    certificate_type: str,
    outcome: str,
    *,
    reason: str | None = None,
    serial_number: str | None = None,
    valid_to: dt.datetime | None = None,
) -> None:
    """How a SignCertificate ended: Rejected (the CSR), Accepted or StationRejected (the
    station's answer to CertificateSigned), Failed (nothing reached the station)."""
    conn.execute(
        "INSERT INTO certificate_signings (station_id, certificate_type, outcome, reason,"
        " serial_number, valid_to) VALUES (%s, %s, %s, %s, %s, %s)",
        (station_id, certificate_type, outcome, reason and reason[:512], serial_number, valid_to),
    )


def list_signings(
    conn: Connection, *, station_id: str | None = None, limit: int = 100
) -> list[SigningRow]:
    """Newest first."""
    with conn.cursor(row_factory=class_row(SigningRow)) as cur:
        cur.execute(
            "SELECT id, station_id, certificate_type, outcome, reason, serial_number, valid_to, at"
            " FROM certificate_signings WHERE (%(s)s::text IS NULL OR station_id = %(s)s)"
            " ORDER BY at DESC, id DESC LIMIT %(l)s",
            {"s": station_id, "l": limit},
        )
        return cur.fetchall()


def expiring(conn: Connection, before: dt.datetime) -> list[CertificateRow]:
    """Per station and kind, the newest unrevoked certificate the node signed for it (station
    and V2G certificates), when even that one ends before ``before``: the renewals due."""
    with conn.cursor(row_factory=class_row(CertificateRow)) as cur:
        cur.execute(
            f"SELECT {_COLUMNS} FROM (SELECT DISTINCT ON (station_id, kind) {_COLUMNS}"
            " FROM iso15118_certificates WHERE station_id IS NOT NULL AND revoked_at IS NULL"
            " AND kind IN ('ChargingStationCertificate', 'V2GCertificateChain')"
            " ORDER BY station_id, kind, valid_to DESC) newest WHERE valid_to < %s"
            " ORDER BY valid_to",
            (before,),
        )
        return cur.fetchall()
