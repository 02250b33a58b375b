"""A simulated station's firmware update (OCPP 2.0.1 L01 secure, L02 non-secure).

On UpdateFirmware the station answers (``answer_update``: InvalidCertificate for a signing
certificate it cannot read, AcceptedCanceled when it cancels an update it was running,
L01.FR.24) and then (``run_update``) walks the update as a charge point does, one status per
``firmware_step`` seconds, each FirmwareStatusNotification acknowledged before the next:

DownloadScheduled (retrieveDateTime ahead), Downloading, the image fetched from ``location``
over HTTP(S), resumed with a range request when the connection breaks, retried ``retries``
times ``retryInterval`` apart, checked against its SHA-256 when the URL names it (the node's
firmware store serves ``/firmware/<sha256>``), else DownloadFailed; Downloaded;
SignatureVerified when signed, the signature checked against the signing certificate it was
given (L01.FR.04, else InvalidSignature); InstallScheduled (installDateTime ahead); Installing;
InstallRebooting; a reboot and a BootNotification (reason FirmwareUpdate) with the new
firmwareVersion; then Installed from the new firmware (L01.FR.32 (a)).

The new version is the first line of an image starting ``CSMS-SIMULATOR-FIRMWARE <version>``,
else the old one with ``+<requestId>``. Failures are injected with the model's
``firmware_failure`` (DownloadFailed, InvalidSignature, InstallationFailed,
InstallVerificationFailed) or ``firmware_fails`` (the prompt's ``firmware reject``:
DownloadFailed).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx
import trio

from csms.services.firmware_signing import (
    FirmwareSigningError,
    parse_certificates,
    verify_image_signature,
)

from ._answers import Answer, RunFirmwareUpdate
from ._model import ChargePoint, Outgoing

if TYPE_CHECKING:
    from ._station import SimulatedStation

__all__ = ["VERSION_HEADER", "answer_update", "run_update"]

log = logging.getLogger("csms.simulator")

VERSION_HEADER = b"CSMS-SIMULATOR-FIRMWARE "
_SHA256_IN_URL = re.compile(r"/([0-9a-f]{64})(?:\.bin)?/?$")
#: the update each charge point runs (by the model's id: it is not hashable), to cancel when
#: a new one comes (L01.FR.24); an entry lives as long as its update
_running: dict[int, trio.CancelScope] = {}


class DownloadError(Exception):
    pass


def answer_update(cp: ChargePoint, request: Mapping[str, Any]) -> Answer:
    certificate = request.get("firmware", {}).get("signingCertificate")
    if certificate is not None:
        try:
            parse_certificates(certificate)
        except FirmwareSigningError:
            return {"status": "InvalidCertificate"}, []  # L01.FR.22
    status = "AcceptedCanceled" if id(cp) in _running else "Accepted"
    return {"status": status}, [RunFirmwareUpdate(request["requestId"], request=request)]


async def run_update(station: SimulatedStation, effect: RunFirmwareUpdate) -> None:
    key = id(station.s.model)
    previous = _running.pop(key, None)
    if previous is not None:
        previous.cancel()
    with trio.CancelScope() as scope:
        _running[key] = scope
        try:
            await _Update(station, effect.request_id, effect.request).run()
        finally:
            if _running.get(key) is scope:
                del _running[key]


class _Update:
    def __init__(
        self, station: SimulatedStation, request_id: int, request: Mapping[str, Any]
    ) -> None:
        self.station = station
        self.cp = station.s.model
        self.request_id = request_id
        self.firmware: Mapping[str, Any] = request.get("firmware", {})
        self.retries = int(request.get("retries") or 0)
        self.retry_interval = float(request.get("retryInterval") or station.cfg.firmware_step)
        self.step = station.cfg.firmware_step

    @property
    def failure(self) -> str | None:
        return "DownloadFailed" if self.cp.firmware_fails else self.cp.firmware_failure

    async def report(self, status: str) -> None:
        """Send the status and wait for the CSMS's answer (or the connection's end)."""
        state = self.station.s
        target = state.sent["FirmwareStatusNotification"] + 1
        state.firmware.append(status)
        payload = {"status": status, "requestId": self.request_id}
        self.station.emit([Outgoing("FirmwareStatusNotification", payload)])
        await state.wait_for(
            lambda: state.sent["FirmwareStatusNotification"] >= target or not state.connected
        )

    async def run(self) -> None:
        await self._until(self.firmware.get("retrieveDateTime"), "DownloadScheduled")
        await trio.sleep(self.step)
        await self.report("Downloading")
        try:
            digest, head = await self._fetch()
        except DownloadError as exc:
            log.info("firmware download failed", extra={"reason": str(exc)})
            await self.report("DownloadFailed")
            return
        if self.failure == "DownloadFailed":
            await self.report("DownloadFailed")
            return
        await trio.sleep(self.step)
        await self.report("Downloaded")
        if not await self._signature_holds(digest):
            return
        await self._until(self.firmware.get("installDateTime"), "InstallScheduled")
        await trio.sleep(self.step)
        await self.report("Installing")
        if self.failure in ("InstallationFailed", "InstallVerificationFailed"):
            await trio.sleep(self.step)
            await self.report(self.failure)
            return
        await trio.sleep(self.step)
        await self.report("InstallRebooting")
        fallback = f"{self.cp.firmware_version}+{self.request_id}"
        self.cp.firmware_version = _version_of(head) or fallback
        state = self.station.s
        self.station.reboot("FirmwareUpdate")
        await state.wait_for(lambda: state.booted and state.online)
        await self.report("Installed")  # by the new firmware (L01.FR.32 (a))

    async def _signature_holds(self, digest: bytes) -> bool:
        signature = self.firmware.get("signature")
        certificate = self.firmware.get("signingCertificate")
        injected = self.failure == "InvalidSignature"
        if not injected and (signature is None or certificate is None):
            return True  # L02: nothing to verify
        await trio.sleep(self.step)
        valid = not injected
        if valid and signature is not None and certificate is not None:
            try:
                verify_image_signature(parse_certificates(certificate)[0], digest, signature)
            except FirmwareSigningError:
                valid = False
        await self.report("SignatureVerified" if valid else "InvalidSignature")
        return valid

    async def _until(self, when: str | None, status: str) -> None:
        if when is None:
            return
        try:
            at = dt.datetime.fromisoformat(when.replace("Z", "+00:00"))
        except ValueError:
            return
        wait = (at - dt.datetime.now(dt.UTC)).total_seconds()
        if wait > 0:
            await self.report(status)
            await trio.sleep(wait)

    async def _fetch(self) -> tuple[bytes, bytes]:
        """The image's SHA-256 and first bytes, after up to ``retries`` more attempts."""
        location = str(self.firmware.get("location", ""))
        if not location.startswith(("http://", "https://")):
            raise DownloadError(f"cannot download {location!r}")
        failed = DownloadError("not attempted")
        for attempt in range(self.retries + 1):
            if attempt:
                await trio.sleep(self.retry_interval)
                await self.report("Downloading")  # L01.FR.30: each retry may say so
            try:
                return await _download(location, self.station.cfg.response_timeout)
            except DownloadError as exc:
                failed = exc
        raise failed


async def _download(location: str, timeout: float) -> tuple[bytes, bytes]:
    """Fetch the image, resuming with ``Range`` where a broken transfer stopped; hashed as it
    comes (the image is not kept). A SHA-256 in the URL must match."""
    digest = hashlib.sha256()
    head = b""
    received = 0
    async with httpx.AsyncClient(timeout=timeout) as client:
        for _ in range(3):  # two resumptions
            headers = {"Range": f"bytes={received}-"} if received else {}
            try:
                async with client.stream("GET", location, headers=headers) as response:
                    if response.status_code == 200 and received:
                        digest, head, received = hashlib.sha256(), b"", 0  # no ranges: anew
                    elif response.status_code not in (200, 206):
                        raise DownloadError(f"HTTP {response.status_code}")
                    async for chunk in response.aiter_bytes():
                        if len(head) < 128:
                            head += chunk[: 128 - len(head)]
                        digest.update(chunk)
                        received += len(chunk)
                break
            except httpx.TransportError:
                continue
        else:
            raise DownloadError("the transfer broke off three times")
    named = _SHA256_IN_URL.search(location.split("?")[0])
    if named is not None and digest.hexdigest() != named[1]:
        raise DownloadError("the image's SHA-256 is not the one its URL names")
    return digest.digest(), head


def _version_of(head: bytes) -> str | None:
    if not head.startswith(VERSION_HEADER):
        return None
    version = head[len(VERSION_HEADER) :].split(b"\n", 1)[0].strip()
    return version.decode("ascii", "replace")[:50] or None
