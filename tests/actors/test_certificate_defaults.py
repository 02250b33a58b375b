"""The station's own answer to GetCertificateChainStatus when the certificates owner does not
decide (down, full, too slow): M07's error handling, every certificate asked about Failed."""

from __future__ import annotations

import attrs

from csms.actors import InMemoryDatabase
from csms.actors.station import HANDLERS
from csms.protocol import Direction, Version, structure_payload, unstructure_payload, v21

from .test_handlers_in_memory import NOW, context


async def test_m07_fr_02_without_the_owner_each_certificate_is_failed() -> None:
    wire = {
        "certificateStatusRequests": [
            {
                "certificateHashData": {
                    "hashAlgorithm": "SHA256",
                    "issuerNameHash": f"{n:02X}" * 32,
                    "issuerKeyHash": "AB" * 32,
                    "serialNumber": f"{n}F",
                },
                "source": source,
                "urls": ["http://ocsp.example/"],
            }
            for n, source in ((1, "OCSP"), (2, "CRL"))
        ]
    }
    request = structure_payload(Version.V21, "GetCertificateChainStatus", Direction.REQUEST, wire)
    st = attrs.evolve(context(InMemoryDatabase({})), version=Version.V21, messages=v21)
    response = await HANDLERS["GetCertificateChainStatus"](st, request, wire)
    answer = unstructure_payload(Version.V21, response, validate=True)
    assert answer["certificateStatus"] == [
        {
            "certificateHashData": asked["certificateHashData"],
            "source": asked["source"],
            "status": "Failed",
            "nextUpdate": answer["certificateStatus"][0]["nextUpdate"],
        }
        for asked in wire["certificateStatusRequests"]
    ]
    assert answer["certificateStatus"][0]["nextUpdate"].startswith(NOW.strftime("%Y-%m-%dT%H:%M"))
