"""The certificates owner (``certificates``): station certificates (security profile 3), ISO 15118
Plug & Charge and OCSP, one actor per node (``_actor``); docs/OCPP.md "Certificates".

Registered by the composition root (``csms/node``) with ``certificates_child``, the routes of
``certificate_routes`` and the stations' verifier ``certificate_verifier``:

- SignCertificate (ask): the CSR checked, Accepted or Rejected; CertificateSigned follows (A02/A03);
- GetCertificateStatus (ask): OCSP through a vouched responder, cached (M06);
- Get15118EVCertificate (ask): forwarded to the contract-certificate provider (M01/M02);
- GetCertificateChainStatus (ask, OCPP 2.1): each certificate's status by OCSP (M07);
- Authorize with a contract (C07): the station's handler asks it ``VerifyContract``.

The operator's side (InstallCertificate, DeleteCertificate, GetInstalledCertificateIds, renewal
by TriggerMessage) is the REST API's: ``csms/api/_certificates.py``, ``csms/node/_certificates.py``.
"""

from __future__ import annotations

from collections.abc import Callable

from csms.actors.node import NodeParts
from csms.actors.station import Route
from csms.runtime import ChildSpec, Supervisor

from ._actor import CertificatesOwner
from ._messages import VerifyContract
from ._verifier import OwnerVerifier

__all__ = [
    "NAME",
    "CertificatesOwner",
    "OwnerVerifier",
    "VerifyContract",
    "certificate_routes",
    "certificate_verifier",
    "certificates_child",
]

#: The owner's name in the node's tree (``root.ref(NAME)``).
NAME = "certificates"


def _decide_within(response_timeout: float) -> float:
    """An ask's deadline: half the station's response timeout, at most 5 s (an OCSP round
    trip, or the provider's answer, has to fit in it)."""
    return min(5.0, response_timeout / 2)


def certificates_child(parts: NodeParts) -> ChildSpec:
    settings = parts.settings
    # checked when the settings were loaded: a bad file stopped the node already
    material = settings.certificates.material()

    def make() -> CertificatesOwner:
        return CertificatesOwner(
            settings=settings,
            material=material,
            gateway=parts.gateway,
            database=parts.database,
            events=parts.events,
            command_timeout=settings.ocpp.response_timeout + 5,
        )

    return ChildSpec.actor(NAME, make, kind="certificates", mailbox_size=5000, shutdown_timeout=5)


def certificate_routes(response_timeout: float) -> Callable[[Supervisor], list[Route]]:
    timeout = _decide_within(response_timeout)

    def routes(root: Supervisor) -> list[Route]:
        owner = root.ref(NAME)
        return [
            Route.ask(action, owner, name=NAME, timeout=timeout)
            for action in (
                "SignCertificate",
                "GetCertificateStatus",
                "Get15118EVCertificate",
                "GetCertificateChainStatus",  # OCPP 2.1 only
            )
        ]

    return routes


def certificate_verifier(root: Supervisor, response_timeout: float) -> OwnerVerifier:
    """The stations' ``CertificateVerifier``: asks the owner within the routes' deadline."""
    return OwnerVerifier(root.ref(NAME), _decide_within(response_timeout))
