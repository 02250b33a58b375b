"""The certificates owner's OCSP client against a real loopback responder (M06, C07.FR.05):
answers checked and cached until their nextUpdate, and every way a responder can fail."""

from __future__ import annotations

import dataclasses
import datetime as dt

import httpx
import pytest
import trio
from cryptography import x509

from csms.actors.certificates._http import HttpPeerError, OcspClient, post_json
from csms.services.ocsp_check import (
    OcspRequestData,
    OcspResponseError,
    OcspStatus,
    request_data,
)
from csms.services.x509_chain import SignatureError

from ..services.pki_builder import issue, make_iso_pki
from .fake_pki_servers import running_fake_pki


def asked(certificate: x509.Certificate, issuer: x509.Certificate, url: str) -> OcspRequestData:
    return dataclasses.replace(request_data(certificate, issuer), responder_url=url)


class Clock:
    def __init__(self) -> None:
        self.now = dt.datetime.now(dt.UTC)

    def __call__(self) -> dt.datetime:
        return self.now


async def test_m06_answer_cached_until_next_update_then_asked_again() -> None:
    pki = make_iso_pki()
    clock = Clock()
    async with running_fake_pki() as fake, httpx.AsyncClient() as http:
        fake.know(pki.cpo_sub2.cert, pki.cpo_sub1)
        client = OcspClient(http, timeout=5, clock=clock)
        data = asked(pki.cpo_sub2.cert, pki.cpo_sub1.cert, fake.ocsp_url)
        first = await client.status(data, pki.cpo_sub1.cert)
        assert first.status is OcspStatus.GOOD
        assert (await client.status(data, pki.cpo_sub1.cert)) is first
        assert (client.fetches, client.hits) == (1, 1)
        clock.now = first.next_update + dt.timedelta(seconds=1)  # type: ignore[operator]
        fake.validity = dt.timedelta(hours=2)  # a fresh answer, still good at the moved clock
        second = await client.status(data, pki.cpo_sub1.cert)
        assert second.next_update > clock.now  # type: ignore[operator]
        assert len(fake.ocsp_requests) == 2


async def test_revoked_answer_is_reported_as_such() -> None:
    pki = make_iso_pki()
    async with running_fake_pki() as fake, httpx.AsyncClient() as http:
        fake.know(pki.contract.cert, pki.mo_sub2, revoked=True)
        client = OcspClient(http, timeout=5, clock=Clock())
        data = asked(pki.contract.cert, pki.mo_sub2.cert, fake.ocsp_url)
        result = await client.status(data, pki.mo_sub2.cert)
        assert result.status is OcspStatus.REVOKED


async def test_an_answer_signed_by_another_key_is_a_signature_error() -> None:
    """The responder signs with the issuer's name but another key (an impostor)."""
    pki = make_iso_pki()
    impostor = issue("MO Sub-CA 2", None, ca=True)
    async with running_fake_pki() as fake, httpx.AsyncClient() as http:
        fake.know(pki.contract.cert, impostor)
        client = OcspClient(http, timeout=5, clock=Clock())
        data = asked(pki.contract.cert, pki.mo_sub2.cert, fake.ocsp_url)
        with pytest.raises(SignatureError):
            await client.status(data, pki.mo_sub2.cert)
        assert len(client.cache) == 0


@pytest.mark.parametrize(
    ("path", "error", "reason"),
    [
        ("/ocsp", OcspResponseError, "UNAUTHORIZED"),  # a serial the responder does not know
        ("/nothing", OcspResponseError, "HTTP 404"),
    ],
)
async def test_responder_failures_name_the_reason(
    path: str, error: type[Exception], reason: str
) -> None:
    pki = make_iso_pki()
    async with running_fake_pki() as fake, httpx.AsyncClient() as http:
        client = OcspClient(http, timeout=5, clock=Clock())
        data = asked(pki.contract.cert, pki.mo_sub2.cert, fake.base_url + path)
        with pytest.raises(error, match=reason):
            await client.status(data, pki.mo_sub2.cert)


async def test_unreachable_peer() -> None:
    pki = make_iso_pki()
    async with running_fake_pki() as fake:
        url = fake.base_url
    # the server is gone: its port refuses connections
    async with httpx.AsyncClient() as http:
        client = OcspClient(http, timeout=5, clock=Clock())
        data = asked(pki.contract.cert, pki.mo_sub2.cert, url + "/ocsp")
        with pytest.raises(HttpPeerError, match="unreachable: ConnectError"):
            await client.status(data, pki.mo_sub2.cert)
        with pytest.raises(HttpPeerError, match="unreachable"):
            await post_json(http, url + "/provider", {}, 5)


async def test_concurrent_asks_about_one_certificate_share_one_request() -> None:
    """A burst of Authorize names the same sub-CAs: one OCSP request serves them all."""
    pki = make_iso_pki()
    async with running_fake_pki() as fake, httpx.AsyncClient() as http:
        fake.know(pki.mo_sub2.cert, pki.mo_sub1)
        client = OcspClient(http, timeout=5, clock=Clock())
        data = asked(pki.mo_sub2.cert, pki.mo_sub1.cert, fake.ocsp_url)
        results: list[OcspStatus] = []

        async def ask() -> None:
            results.append((await client.status(data, pki.mo_sub1.cert)).status)

        async with trio.open_nursery() as nursery:
            for _ in range(20):
                nursery.start_soon(ask)
        assert results == [OcspStatus.GOOD] * 20
        assert (len(fake.ocsp_requests), client.fetches, client.hits) == (1, 1, 19)


async def test_when_the_shared_request_fails_each_waiter_asks_again() -> None:
    pki = make_iso_pki()
    async with running_fake_pki() as fake, httpx.AsyncClient() as http:
        client = OcspClient(http, timeout=5, clock=Clock())
        data = asked(pki.mo_sub2.cert, pki.mo_sub1.cert, fake.ocsp_url)  # unknown: fails
        outcomes: list[str] = []

        async def ask() -> None:
            try:
                await client.status(data, pki.mo_sub1.cert)
            except OcspResponseError as error:
                outcomes.append(error.reason)

        async with trio.open_nursery() as nursery:
            for _ in range(3):
                nursery.start_soon(ask)
        assert len(outcomes) == 3
        assert client.hits == 0
