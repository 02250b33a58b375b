"""The PKI's third parties as real HTTP servers on loopback, for the certificate tests.

- ``POST /ocsp``: an OCSP responder (RFC 6960, built with ``cryptography``'s OCSP builder): it
  answers about the certificates it was given (``know``), signed by their issuer, Good unless
  revoked; an unknown serial gets ``unauthorized``. ``ocsp_requests`` counts what it was asked.
- ``POST /provider``: a contract-certificate provider: answers Get15118EVCertificate's
  ``exiRequest`` with an ``exiResponse`` derived from it; ``provider_requests`` records bodies.
- ``POST /ca``: an external CA: signs the JSON ``csr`` with ``ca_signer`` (503 without one).
``provider_hangs`` makes the provider answer only when the test ends (a client timeout).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
from collections.abc import AsyncIterator
from typing import Any

import attrs
import trio
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from hypercorn.config import Config
from hypercorn.trio import serve
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from csms.services.pki_csr import CHARGING_STATION, pem_chain, sign_csr
from csms.services.pki_material import Signer

from ..services.pki_builder import Issued


@attrs.define
class FakePki:
    base_url: str = ""
    #: serial -> (certificate, its issuer, revoked)
    known: dict[int, tuple[x509.Certificate, Issued, bool]] = attrs.Factory(dict)
    ocsp_requests: list[int] = attrs.Factory(list)
    provider_requests: list[dict[str, Any]] = attrs.Factory(list)
    ca_requests: list[dict[str, Any]] = attrs.Factory(list)
    ca_signer: Signer | None = None
    provider_hangs: bool = False
    release: trio.Event = attrs.Factory(trio.Event)
    #: How long OCSP answers are good for (their nextUpdate).
    validity: dt.timedelta = dt.timedelta(hours=1)

    @property
    def ocsp_url(self) -> str:
        return f"{self.base_url}/ocsp"

    def know(self, certificate: x509.Certificate, issuer: Issued, *, revoked: bool = False) -> None:
        self.known[certificate.serial_number] = (certificate, issuer, revoked)

    async def ocsp(self, request: Request) -> Response:
        asked = ocsp.load_der_ocsp_request(await request.body())
        self.ocsp_requests.append(asked.serial_number)
        entry = self.known.get(asked.serial_number)
        if entry is None:
            answer = ocsp.OCSPResponseBuilder.build_unsuccessful(
                ocsp.OCSPResponseStatus.UNAUTHORIZED
            )
        else:
            certificate, issuer, revoked = entry
            now = dt.datetime.now(dt.UTC)
            status = ocsp.OCSPCertStatus.REVOKED if revoked else ocsp.OCSPCertStatus.GOOD
            builder = ocsp.OCSPResponseBuilder().add_response(
                cert=certificate,
                issuer=issuer.cert,
                algorithm=hashes.SHA256(),
                cert_status=status,
                this_update=now - dt.timedelta(minutes=1),
                next_update=now + self.validity,
                revocation_time=now - dt.timedelta(days=1) if revoked else None,
                revocation_reason=None,
            )
            builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.cert)
            answer = builder.sign(issuer.key, hashes.SHA256())
        return Response(answer.public_bytes(Encoding.DER), media_type="application/ocsp-response")

    async def provider(self, request: Request) -> Response:
        body = await request.json()
        self.provider_requests.append(body)
        if self.provider_hangs:  # answers only when the test ends: the client's timeout
            await self.release.wait()
        return JSONResponse(
            {"status": "Accepted", "exiResponse": "EXI-RES:" + body.get("exiRequest", "")}
        )

    async def ca(self, request: Request) -> Response:
        body = await request.json()
        self.ca_requests.append(body)
        if self.ca_signer is None:  # the CA refuses
            return JSONResponse({"error": "not signing"}, status_code=503)
        csr = x509.load_pem_x509_csr(body["csr"].encode())
        chain = sign_csr(
            csr,
            self.ca_signer,
            certificate_type=body.get("certificateType", CHARGING_STATION),
            now=dt.datetime.now(dt.UTC),
            validity=dt.timedelta(days=30),
        )
        return JSONResponse({"certificateChain": pem_chain(chain)})

    def app(self) -> Starlette:
        return Starlette(
            routes=[
                Route("/ocsp", self.ocsp, methods=["POST"]),
                Route("/provider", self.provider, methods=["POST"]),
                Route("/ca", self.ca, methods=["POST"]),
            ]
        )


async def _serve(fake: FakePki, stop: trio.Event, *, task_status: Any) -> None:
    config = Config()
    config.bind = ["127.0.0.1:0"]
    config.accesslog = None
    config.graceful_timeout = 1
    await serve(fake.app(), config, shutdown_trigger=stop.wait, task_status=task_status)


@contextlib.asynccontextmanager
async def running_fake_pki() -> AsyncIterator[FakePki]:
    """Serves a ``FakePki`` on a free loopback port for the length of a test."""
    fake = FakePki()
    stop = trio.Event()
    async with trio.open_nursery() as nursery:
        binds = await nursery.start(functools.partial(_serve, fake, stop))
        fake.base_url = binds[0]
        try:
            yield fake
        finally:
            fake.release.set()
            stop.set()
