"""The firmware store: images on disk under the node's data directory, named by their SHA-256.

``<root>/<sha256>.bin`` is the image, ``<root>/<sha256>.json`` what is known of it (name,
version, size, who uploaded it, the verified signing certificate and signature). An upload is
written to ``<root>/incoming/`` while it is hashed and only renamed into place once complete,
so a station never downloads half an image. The same bytes uploaded twice are one image.

Plain blocking file calls: the API runs them off the trio thread.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import pathlib
import re
import uuid

import attrs

__all__ = ["FirmwareStore", "ImageRecord", "ImageTooLarge", "Upload"]

_ID = re.compile(r"^[0-9a-f]{64}$")


class ImageTooLarge(ValueError):
    pass


@attrs.frozen
class ImageRecord:
    id: str  # the SHA-256, hex
    name: str
    version: str | None
    size: int
    uploaded_by: str
    created_at: dt.datetime
    signing_certificate: str | None = None
    signature: str | None = None

    @property
    def sha256(self) -> bytes:
        return bytes.fromhex(self.id)


class Upload:
    """One image being received: ``write`` its chunks, then ``commit`` (or ``abort``)."""

    def __init__(self, store: FirmwareStore) -> None:
        self.store = store
        self.size = 0
        self._hash = hashlib.sha256()
        self._path = store.root / "incoming" / f"{uuid.uuid4().hex}.part"
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._file = self._path.open("wb")

    def write(self, chunk: bytes) -> None:
        self.size += len(chunk)
        if self.size > self.store.max_bytes:
            self.abort()
            raise ImageTooLarge(f"larger than firmware.max_image_bytes ({self.store.max_bytes})")
        self._hash.update(chunk)
        self._file.write(chunk)

    def abort(self) -> None:
        self._file.close()
        self._path.unlink(missing_ok=True)

    def commit(self, *, name: str, version: str | None, uploaded_by: str) -> ImageRecord:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        image_id = self._hash.hexdigest()
        existing = self.store.get(image_id)
        if existing is not None:  # the same bytes again: keep the first record
            self._path.unlink(missing_ok=True)
            return existing
        record = ImageRecord(
            image_id, name, version, self.size, uploaded_by, dt.datetime.now(dt.UTC)
        )
        os.replace(self._path, self.store.image_path(image_id))
        self.store.save(record)
        return record


@attrs.define
class FirmwareStore:
    root: pathlib.Path
    max_bytes: int

    def image_path(self, image_id: str) -> pathlib.Path:
        if _ID.match(image_id) is None:
            raise KeyError(image_id)
        return self.root / f"{image_id}.bin"

    def begin(self) -> Upload:
        return Upload(self)

    def get(self, image_id: str) -> ImageRecord | None:
        if _ID.match(image_id) is None:
            return None
        try:
            data = json.loads((self.root / f"{image_id}.json").read_text())
        except FileNotFoundError:
            return None
        data["created_at"] = dt.datetime.fromisoformat(data["created_at"])
        return ImageRecord(**data)

    def save(self, record: ImageRecord) -> None:
        """Write the record atomically (a reader sees the old or the new one)."""
        data = attrs.asdict(record)
        data["created_at"] = record.created_at.isoformat()
        self.root.mkdir(parents=True, exist_ok=True)
        part = self.root / f"{record.id}.json.part"
        part.write_text(json.dumps(data))
        os.replace(part, self.root / f"{record.id}.json")

    def images(self) -> list[ImageRecord]:
        """Newest first."""
        if not self.root.is_dir():
            return []
        records = [self.get(p.stem) for p in self.root.glob("*.json")]
        return sorted(
            (r for r in records if r is not None), key=lambda r: r.created_at, reverse=True
        )

    def delete(self, image_id: str) -> bool:
        record = self.get(image_id)
        if record is None:
            return False
        (self.root / f"{image_id}.json").unlink(missing_ok=True)
        self.image_path(image_id).unlink(missing_ok=True)
        return True
