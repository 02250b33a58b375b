"""Settings: TOML, environment and overrides in that order; every error names its key."""

from __future__ import annotations

import pathlib

import pytest
from hypothesis import given
from hypothesis import strategies as st

from csms.config import ConfigError, Settings, load_settings


def test_defaults_need_no_file_and_no_environment():
    settings = load_settings(env={})
    assert settings == Settings()
    assert settings.ocpp.port == 9000
    assert settings.http.port == 8080
    assert settings.database.url is None  # embedded PostgreSQL
    assert settings.ocpp.auto_register is False


def test_toml_then_environment_then_overrides(tmp_path: pathlib.Path):
    config = tmp_path / "csms.toml"
    config.write_text(
        '[node]\nid = "from-file"\n'
        "[ocpp]\nport = 9100\nheartbeat_interval = 60\n"
        '[database]\nurl = "postgresql://file/db"\n'
    )
    env = {"DATABASE_URL": "postgresql://env/db", "CSMS_OCPP__PORT": "9200"}
    settings = load_settings(config, env=env, overrides={"ocpp.port": 9300, "http.port": None})
    assert settings.node.id == "from-file"
    assert settings.ocpp.heartbeat_interval == 60
    assert settings.database.url == "postgresql://env/db"
    assert settings.ocpp.port == 9300
    assert settings.http.port == 8080  # a None override leaves the value alone


def test_the_accept_rate_guard_is_off_by_default_and_takes_fractions():
    assert load_settings(env={}).ocpp.max_accept_rate == 0.0
    assert load_settings(env={"CSMS_OCPP__MAX_ACCEPT_RATE": "250.5"}).ocpp.max_accept_rate == 250.5


def test_environment_strings_are_coerced():
    env = {
        "CSMS_OCPP__AUTO_REGISTER": "yes",
        "CSMS_OCPP__RESPONSE_TIMEOUT": "2.5",
        "CSMS_OCPP__VERSIONS": "ocpp2.1, ocpp2.0.1",
        "CSMS_LOG__JSON": "false",
    }
    settings = load_settings(env=env)
    assert settings.ocpp.auto_register is True
    assert settings.ocpp.response_timeout == 2.5
    assert settings.ocpp.versions == ("ocpp2.1", "ocpp2.0.1")
    assert settings.log.json is False


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"CSMS_OCPP__PORT": "abc"}, "ocpp.port: must be an integer, got 'abc'"),
        ({"CSMS_OCPP__PORT": "70000"}, "ocpp.port: must be between 0 and 65535"),
        ({"CSMS_OCPP__PORTT": "1"}, "ocpp.portt: unknown setting"),
        ({"CSMS_OCPP__AUTO_REGISTER": "maybe"}, "ocpp.auto_register: must be true or false"),
        ({"CSMS_OCPP__SECURITY_PROFILE": "4"}, "ocpp.security_profile: must be one of 1, 2, 3"),
        ({"CSMS_OCPP__SECURITY_PROFILE": "2"}, "ocpp.tls_cert: is required"),
        ({"CSMS_OCPP__PING_TIMEOUT": "0"}, "ocpp.ping_timeout: must be greater than 0"),
        (
            {"CSMS_OCPP__MAX_ACCEPT_RATE": "-5"},
            "ocpp.max_accept_rate: must be 0 (no limit) or a positive number per second",
        ),
        ({"CSMS_OCPP__MAX_ACCEPT_RATE": "fast"}, "ocpp.max_accept_rate: must be a number"),
        ({"CSMS_OCPP__VERSIONS": "ocpp1.6"}, "ocpp.versions: must list"),
        ({"CSMS_LOG__LEVEL": "LOUD"}, "log.level: must be one of"),
        ({"CSMS_V2G__TIME_ZONE": "America/Atlantis"}, "v2g.time_zone: unknown time zone"),
        ({"CSMS_V2G__DISCONNECT_GRACE_S": "0"}, "v2g.disconnect_grace_s: must be greater than 0"),
        ({"CSMS_NOPE__X": "1"}, "nope: unknown setting"),
    ],
)
def test_bad_values_name_the_key(env, message):
    with pytest.raises(ConfigError) as info:
        load_settings(env=env)
    assert str(info.value).startswith(message)


def test_mutual_tls_needs_its_ca_and_existing_files(tmp_path: pathlib.Path):
    cert = tmp_path / "server.pem"
    cert.write_text("-")
    env = {
        "CSMS_OCPP__SECURITY_PROFILE": "3",
        "CSMS_OCPP__TLS_CERT": str(cert),
        "CSMS_OCPP__TLS_KEY": str(cert),
    }
    with pytest.raises(ConfigError, match=r"^ocpp\.tls_ca: is required"):
        load_settings(env=env)
    env["CSMS_OCPP__TLS_CA"] = str(tmp_path / "missing.pem")
    with pytest.raises(ConfigError, match=r"^ocpp\.tls_ca: no such file"):
        load_settings(env=env)


def test_file_errors_name_the_file(tmp_path: pathlib.Path):
    with pytest.raises(ConfigError, match="--config: no such file"):
        load_settings(tmp_path / "absent.toml", env={})
    broken = tmp_path / "broken.toml"
    broken.write_text("[ocpp\nport = 1")
    with pytest.raises(ConfigError, match="is not valid TOML"):
        load_settings(broken, env={})
    wrong_shape = tmp_path / "shape.toml"
    wrong_shape.write_text("ocpp = 5\n")
    with pytest.raises(ConfigError, match=r"^ocpp: must be a table"):
        load_settings(wrong_shape, env={})


@given(st.text(max_size=20))
def test_any_port_string_is_accepted_or_refused_with_the_key(text: str):
    refused: list[ConfigError] = []
    try:
        settings = load_settings(env={"CSMS_OCPP__PORT": text})
    except ConfigError as exc:
        refused.append(exc)
    if refused:
        assert refused[0].key == "ocpp.port"
    else:
        assert 0 <= settings.ocpp.port <= 65535


def test_the_v2g_time_zone_is_the_operators():
    assert load_settings(env={}).v2g.time_zone == "America/Sao_Paulo"
    assert load_settings(env={"CSMS_V2G__TIME_ZONE": "America/Manaus"}).v2g.time_zone == (
        "America/Manaus"
    )
