"""The firmware store over REST: upload an image (admin, the raw bytes as the body), attach its
verified signature (L01), list and read them (viewer), and the image itself for stations at
``/firmware/{imageId}`` (public: stations carry no API token; the id is the image's SHA-256),
with ``Content-Length`` and range requests so a station resumes a broken download."""

from __future__ import annotations

import datetime as dt

import attrs
import trio
from starlette.responses import FileResponse, Response

from csms.services.firmware_signing import FirmwareSigningError
from csms.storage.firmware_store import FirmwareStore, ImageRecord, ImageTooLarge

from ._auth import Role
from ._errors import InvalidBody, NotFound
from ._routing import Call, Endpoint, Param, json_response
from ._schema import spec

__all__ = ["ENDPOINTS", "signing_error"]

_ID_DOC = {"imageId": "The image's id: its SHA-256, hex."}


@attrs.frozen
class FirmwareImage:
    """An image of the store. ``url``: where stations download it (a firmware update's
    ``location``); ``signed``: a verified signature and signing certificate go with it."""

    id: str
    sha256: str
    name: str
    version: str | None
    size: int
    signed: bool
    url: str
    uploaded_by: str
    created_at: dt.datetime


@attrs.frozen
class FirmwareImageList:
    items: list[FirmwareImage]


@attrs.frozen
class ImageSignatureBody:
    """The image's signature (base64, RSA-PSS or ECDSA over SHA-256 of the whole image) and the
    Firmware Signing certificate (PEM) it verifies with; checked against the firmware CA."""

    signing_certificate: str = spec(min_length=1, max_length=5500)
    signature: str = spec(min_length=1, max_length=800)


def signing_error(error: FirmwareSigningError, prefix: str = "") -> InvalidBody:
    return InvalidBody(error.reason, field=f"{prefix}{error.field}", code=error.code)


def image_view(call: Call, record: ImageRecord) -> FirmwareImage:
    return FirmwareImage(
        id=record.id,
        sha256=record.id,
        name=record.name,
        version=record.version,
        size=record.size,
        signed=record.signature is not None,
        url=call.control.firmware.image_url(record.id),
        uploaded_by=record.uploaded_by,
        created_at=record.created_at,
    )


async def _record(store: FirmwareStore, image_id: str) -> ImageRecord:
    record = await trio.to_thread.run_sync(store.get, image_id)
    if record is None:
        raise NotFound(f"no firmware image {image_id!r}")
    return record


async def upload(call: Call) -> Response:
    store = call.control.firmware.store
    declared = call.request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > store.max_bytes:
        raise InvalidBody(
            f"larger than firmware.max_image_bytes ({store.max_bytes})",
            field="body",
            code="image_too_large",
        )
    receiving = await trio.to_thread.run_sync(store.begin)
    try:
        async for chunk in call.request.stream():
            if chunk:
                await trio.to_thread.run_sync(receiving.write, chunk)
    except ImageTooLarge as exc:
        raise InvalidBody(str(exc), field="body", code="image_too_large") from None
    except BaseException:
        await trio.to_thread.run_sync(receiving.abort)
        raise
    if receiving.size == 0:
        await trio.to_thread.run_sync(receiving.abort)
        raise InvalidBody("the image is empty: send its bytes as the body", field="body")

    def commit() -> ImageRecord:
        return receiving.commit(
            name=call.query["name"], version=call.query["version"], uploaded_by=call.requested_by
        )

    record = await trio.to_thread.run_sync(commit)
    return json_response(image_view(call, record), 201)


async def attach_signature(call: Call) -> Response:
    store = call.control.firmware.store
    record = await _record(store, call.path("imageId"))
    body: ImageSignatureBody = call.body
    try:
        call.control.firmware.check_signature(body.signing_certificate, body.signature, record)
    except FirmwareSigningError as exc:
        raise signing_error(exc) from None
    signed = attrs.evolve(
        record, signing_certificate=body.signing_certificate, signature=body.signature
    )
    await trio.to_thread.run_sync(store.save, signed)
    return json_response(image_view(call, signed))


async def list_images(call: Call) -> Response:
    records = await trio.to_thread.run_sync(call.control.firmware.store.images)
    return json_response(FirmwareImageList([image_view(call, r) for r in records]))


async def get_image(call: Call) -> Response:
    record = await _record(call.control.firmware.store, call.path("imageId"))
    return json_response(image_view(call, record))


async def download(call: Call) -> Response:
    store = call.control.firmware.store
    record = await _record(store, call.path("imageId"))
    return FileResponse(
        store.image_path(record.id),
        media_type="application/octet-stream",
        headers={"ETag": f'"{record.id}"'},
    )


ENDPOINTS = (
    Endpoint(
        "POST",
        "/api/v1/firmware/images",
        upload,
        Role.ADMIN,
        "Upload a firmware image to the node's store (the raw bytes as the body)",
        "firmware",
        ok=201,
        upload_media="application/octet-stream",
        response=FirmwareImage,
        query=(
            Param("name", description="The image's name.", required=True, pattern=r"^.{1,200}$"),
            Param("version", description="The firmware version it installs.", pattern=r"^.{1,50}$"),
        ),
        errors=(422,),
        description=(
            "The body is the image (`application/octet-stream`), at most "
            "`firmware.max_image_bytes`."
            " It is stored under its SHA-256 (its id); the same bytes twice are one image. "
            "Attach its signature with PUT .../signature for signed (L01) updates."
        ),
    ),
    Endpoint(
        "PUT",
        "/api/v1/firmware/images/{imageId}/signature",
        attach_signature,
        Role.ADMIN,
        "Attach an image's verified signature and signing certificate",
        "firmware",
        body=ImageSignatureBody,
        response=FirmwareImage,
        errors=(404,),
        path_docs=_ID_DOC,
        description=(
            "422 naming the field when the certificate does not chain to the firmware CA "
            "(`firmware.ca_path`) or the signature does not match the image."
        ),
    ),
    Endpoint(
        "GET",
        "/api/v1/firmware/images",
        list_images,
        Role.VIEWER,
        "List the store's firmware images, newest first",
        "firmware",
        response=FirmwareImageList,
    ),
    Endpoint(
        "GET",
        "/api/v1/firmware/images/{imageId}",
        get_image,
        Role.VIEWER,
        "A firmware image of the store",
        "firmware",
        response=FirmwareImage,
        errors=(404,),
        path_docs=_ID_DOC,
    ),
    Endpoint(
        "GET",
        "/firmware/{imageId}",
        download,
        None,
        "A firmware image's bytes, for stations (range requests supported)",
        "firmware",
        response_media="application/octet-stream",
        errors=(404,),
        path_docs=_ID_DOC,
    ),
)
