"""Plug & Charge Authorize (C07): a contract's certificate status, from its PEM chain
(C07.FR.06, central validation) or from its OCSP request data (C07.FR.02/05).

Either way every certificate is checked against the local revocation list (the
``revoked_at`` of ``iso15118_certificates``) and against OCSP, real-time or cached until
``nextUpdate``. A responder is asked only when a trust anchor vouches for its URL (or the
operator listed it); a station's URL is never fetched as such. A hash-data entry must name a
configured CA as its issuer (the MO root or a configured MO sub-CA), whose key signs or
certifies the OCSP answer.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools
from collections.abc import Callable, Sequence

from cryptography import x509

from csms.actors.database import Database
from csms.services.emaid import EmaidError, parse_emaid
from csms.services.ocsp_check import (
    OcspRequestData,
    OcspResponseError,
    chain_responder_urls,
    check_responder_url,
    ensure_good,
    request_data,
    responder_urls,
)
from csms.services.pki_contract import (
    ACCEPTED,
    IssuerIndex,
    contract_policy,
    parse_chain,
    request_data_list,
)
from csms.services.pki_material import PkiMaterial
from csms.services.x509_chain import CertChainError, CertificateRevoked, validate_contract
from csms.storage import certificates as repo

from ._http import HttpPeerError, OcspClient
from ._messages import VerifyContract

__all__ = ["NO_PLUG_AND_CHARGE", "ContractChecker"]

NO_PLUG_AND_CHARGE = "NoCertificateAvailable"


class ContractChecker:
    def __init__(
        self,
        *,
        material: PkiMaterial,
        vouched: frozenset[str],
        ocsp: OcspClient,
        database: Database,
        clock: Callable[[], dt.datetime],
    ) -> None:
        self.material = material
        self.vouched = vouched
        self.ocsp = ocsp
        self.database = database
        self.clock = clock
        self.issuers = IssuerIndex(material.known_cas)

    async def status(self, request: VerifyContract) -> str:
        """Accepted, or raise the ``CertificateError`` whose ``status`` is the answer."""
        if not self.material.mo_roots:
            return NO_PLUG_AND_CHARGE  # nothing to check a contract against: the token decides
        emaid = None
        if request.id_token_type == "eMAID":
            try:
                emaid = str(parse_emaid(request.id_token))
            except EmaidError as error:
                raise CertChainError(f"idToken is not an EMAID: {error.reason}") from None
        if request.certificate:
            await self._chain(parse_chain(request.certificate), emaid)
        else:
            entries = request_data_list(request.hash_data)
            if not entries:
                raise CertChainError("neither a certificate nor hash data")
            for data in entries:
                issuer = self.issuers.find(data)
                if issuer is None:
                    raise CertChainError("hash data names an issuer that is not a configured CA")
                await self._revocation(data, issuer, self.vouched)
        return ACCEPTED

    async def _chain(self, chain: Sequence[x509.Certificate], emaid: str | None) -> None:
        valid = validate_contract(
            chain, self.material.mo_roots, self.clock(), contract_policy(chain[0]), emaid=emaid
        )
        vouched = self.vouched | chain_responder_urls(valid)
        certificates = valid.certificates
        for certificate, issuer in itertools.pairwise(certificates):
            urls = responder_urls(certificate)
            data = request_data(certificate, issuer)
            await self._revocation(
                dataclasses.replace(data, responder_url=urls[0]) if urls else data, issuer, vouched
            )

    async def _revocation(
        self, data: OcspRequestData, issuer: x509.Certificate, vouched: frozenset[str]
    ) -> None:
        rows = await self.database.run(
            repo.by_hash_data,
            data.hash_algorithm,
            data.issuer_name_hash,
            data.issuer_key_hash,
            data.serial_number,
        )
        if any(row.revoked_at is not None for row in rows):
            raise CertificateRevoked("on the local revocation list", data.serial_number)
        if not data.responder_url:
            return  # no responder named: the local list is all there is
        try:
            check_responder_url(data.responder_url, vouched)
            result = await self.ocsp.status(data, issuer)
        except (OcspResponseError, HttpPeerError) as error:
            raise CertChainError(f"OCSP: {error.reason}", data.serial_number) from None
        ensure_good(result, data.serial_number)
