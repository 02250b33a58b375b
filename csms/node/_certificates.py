"""The REST API's PKI over the node: the trust anchors of its settings (loaded once per node:
they were checked when the settings were read) and its event bus."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from typing import Any

import attrs

from csms.actors import Node
from csms.config import CertificatesSettings
from csms.domain.events import Event
from csms.services.pki_contract import verdict
from csms.services.pki_material import PkiMaterial


@functools.lru_cache(maxsize=8)
def _material(settings: CertificatesSettings) -> PkiMaterial:
    return settings.material()


@attrs.frozen
class NodeCertificates:
    """The REST API's ``CertificateControl`` over a node of this process."""

    node: Node

    def validate(self, pem: str, kind: str) -> Mapping[str, Any]:
        material = _material(self.node.settings.certificates)
        return verdict(pem, kind, material, dt.datetime.now(dt.UTC))

    def publish(self, event: Event) -> None:
        self.node.events.publish(event)
