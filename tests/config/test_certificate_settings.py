"""The ``[certificates]`` settings: trust anchors and the CSMS-side CA from PEM files or PEM text,
the documented environment names, and a bad file refused at start naming its key."""

from __future__ import annotations

import pathlib

import pytest

from csms.config import ConfigError, load_settings
from csms.config._settings import CertificatesSettings
from csms.services.pki_csr import pem_chain

from ..services.pki_builder import issue, make_iso_pki


def test_environment_names_of_the_issue_load_files(tmp_path: pathlib.Path) -> None:
    pki = make_iso_pki()
    root = tmp_path / "v2g-root.pem"
    root.write_text(pem_chain([pki.v2g_root.cert]))
    subs = tmp_path / "cpo-subs.pem"
    subs.write_text(pem_chain([pki.cpo_sub2.cert, pki.cpo_sub1.cert]))
    settings = load_settings(
        env={
            "ISO15118_ROOT_CA_PATH": str(root),
            "ISO15118_SUB_CA_PATH": str(subs),
            "ISO15118_MO_ROOT_CA_PATH": pem_chain([pki.mo_root.cert]),  # PEM text works too
            "CONTRACT_CERTIFICATE_PROVIDER_URL": "http://127.0.0.1:9/provider",
        }
    )
    material = settings.certificates.material()
    assert material.v2g_roots == (pki.v2g_root.cert,)
    assert material.v2g_sub_cas == (pki.cpo_sub2.cert, pki.cpo_sub1.cert)
    assert material.mo_roots == (pki.mo_root.cert,)
    assert settings.certificates.contract_provider_url == "http://127.0.0.1:9/provider"


def test_toml_section(tmp_path: pathlib.Path) -> None:
    ca = issue("CSMS CA", None, ca=True, pathlen=0)
    config = tmp_path / "csms.toml"
    config.write_text(
        '[certificates]\norganisation = "Acme CPO"\nocsp_responders = ["http://ocsp.test/"]\n'
        f'csms_root_ca = """{pem_chain([ca.cert])}"""\n'
    )
    settings = load_settings(config, env={})
    assert settings.certificates.organisation == "Acme CPO"
    assert settings.certificates.ocsp_responders == ("http://ocsp.test/",)
    assert settings.certificates.material().csms_roots == (ca.cert,)


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"ISO15118_ROOT_CA_PATH": "/nonexistent/root.pem"},
            "certificates.v2g_root_ca: cannot read",
        ),
        (
            {"MANUFACTURER_ROOT_CA_PATH": "-----BEGIN CERTIFICATE-----\nx"},
            "certificates.manufacturer_root_ca: is not a PEM certificate",
        ),
        ({"CSMS_CA_KEY_PATH": "/nonexistent/key.pem"}, "certificates.csms_ca_cert: is required"),
        ({"CSMS_CERTIFICATES__VALIDITY_DAYS": "0"}, "certificates.validity_days: must be greater"),
    ],
)
def test_a_bad_setting_stops_the_node_naming_its_key(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(env=env)
    assert str(raised.value).startswith(message)


def test_private_keys_are_not_in_the_settings_repr() -> None:
    settings = CertificatesSettings(csms_ca_key="-----BEGIN PRIVATE KEY-----secret")
    assert "secret" not in repr(settings)
