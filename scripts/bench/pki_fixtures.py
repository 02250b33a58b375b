"""The PKI benchmark's material (``pki.py``): the test PKI with one contract and one CSR per
station, the OCSP answers pre-signed by the issuers, and the loopback OCSP responder that serves
them (``pki.py --role responder``)."""

from __future__ import annotations

import datetime as dt
import json
import pickle
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent.parent

PASSWORD = "bench-password-0123456"
ORGANISATION = "Bench CPO"


def station_id(i: int) -> str:
    return f"PKI{i:06d}"


def emaid(i: int) -> str:
    from csms.services.emaid import check_digit

    body = f"DEBEN{i:09d}"
    return body + check_digit(body)


# --- the PKI -------------------------------------------------------------------------------------


def build_pki(directory: Path, stations: int, ocsp_url: str) -> dict[str, Any]:
    """PEM files for the node, pre-signed OCSP answers for the responder, and per station the
    hash data of its contract chain and a CSR (for the load generator)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509 import ocsp
    from cryptography.x509.oid import NameOID

    sys.path.insert(0, str(ROOT / "tests" / "services"))
    from pki_builder import issue  # the tests' PKI builder

    from csms.services.ocsp_check import request_data
    from csms.services.pki_csr import pem_chain

    now = dt.datetime.now(dt.UTC)
    window = {"not_before": now - dt.timedelta(days=1), "not_after": now + dt.timedelta(days=365)}
    csms_root = issue("Bench CSMS Root", None, ca=True, pathlen=1, **window)
    station_ca = issue("Bench Station CA", csms_root, ca=True, pathlen=0, **window)
    mo_root = issue("Bench MO Root", None, ca=True, pathlen=2, **window)
    mo_sub1 = issue("Bench MO Sub-CA 1", mo_root, ca=True, pathlen=1, **window)
    mo_sub2 = issue("Bench MO Sub-CA 2", mo_sub1, ca=True, pathlen=0, **window)

    def key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
        return key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )

    files = {
        "csms_root_ca": pem_chain([csms_root.cert]),
        "csms_ca_cert": pem_chain([station_ca.cert, csms_root.cert]),
        "csms_ca_key": key_pem(station_ca.key).decode(),
        "mo_root_ca": pem_chain([mo_root.cert]),
        "mo_sub_ca": pem_chain([mo_sub2.cert, mo_sub1.cert]),
    }
    paths = {}
    for name, text in files.items():
        path = directory / f"{name}.pem"
        path.write_text(text)
        paths[name] = str(path)

    answers: dict[int, bytes] = {}

    def answer(certificate: x509.Certificate, issuer: Any) -> None:
        builder = ocsp.OCSPResponseBuilder().add_response(
            cert=certificate,
            issuer=issuer.cert,
            algorithm=hashes.SHA256(),
            cert_status=ocsp.OCSPCertStatus.GOOD,
            this_update=now - dt.timedelta(minutes=1),
            next_update=now + dt.timedelta(hours=6),
            revocation_time=None,
            revocation_reason=None,
        )
        builder = builder.responder_id(ocsp.OCSPResponderEncoding.HASH, issuer.cert)
        der = builder.sign(issuer.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
        answers[certificate.serial_number] = der

    def entry(certificate: x509.Certificate, issuer: x509.Certificate) -> dict[str, str]:
        data = request_data(certificate, issuer)
        return {
            "hashAlgorithm": data.hash_algorithm,
            "issuerNameHash": data.issuer_name_hash,
            "issuerKeyHash": data.issuer_key_hash,
            "serialNumber": data.serial_number,
            "responderURL": ocsp_url,
        }

    answer(mo_sub2.cert, mo_sub1)
    answer(mo_sub1.cert, mo_root)
    subs = [entry(mo_sub2.cert, mo_sub1.cert), entry(mo_sub1.cert, mo_root.cert)]
    load = []
    for i in range(stations):
        contract = issue(emaid(i), mo_sub2, ocsp_url=ocsp_url, **window)
        answer(contract.cert, mo_sub2)
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name(
            [
                x509.NameAttribute(NameOID.COMMON_NAME, station_id(i)),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, ORGANISATION),
            ]
        )
        csr = x509.CertificateSigningRequestBuilder().subject_name(name).sign(key, hashes.SHA256())
        load.append(
            {
                "id": station_id(i),
                "emaid": emaid(i),
                "hash_data": [entry(contract.cert, mo_sub2.cert), *subs],
                "csr": csr.public_bytes(serialization.Encoding.PEM).decode(),
            }
        )
    (directory / "answers.pickle").write_bytes(pickle.dumps(answers))
    (directory / "load.json").write_text(json.dumps(load))
    return paths


# --- the OCSP responder (--role responder) -------------------------------------------------------


def run_responder(port: int, answers_file: str) -> None:
    import trio
    from cryptography.x509 import ocsp
    from hypercorn.config import Config
    from hypercorn.trio import serve
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route

    answers: dict[int, bytes] = pickle.loads(Path(answers_file).read_bytes())
    served = 0

    async def respond(request: Request) -> Response:
        nonlocal served
        asked = ocsp.load_der_ocsp_request(await request.body())
        served += 1
        return Response(answers[asked.serial_number], media_type="application/ocsp-response")

    config = Config()
    config.bind = [f"127.0.0.1:{port}"]
    config.accesslog = None
    app = Starlette(routes=[Route("/ocsp", respond, methods=["POST"])])
    print("READY", flush=True)

    async def main() -> None:
        await serve(app, config)  # type: ignore[arg-type]

    trio.run(main)
