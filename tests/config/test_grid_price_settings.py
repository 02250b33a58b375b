"""The ``[v2g.prices]`` and ``[v2g.ccee]`` settings: parsed at load, a bad value names its key;
CCEE_BASE_URL and CCEE_API_KEY set the client's base URL and key."""

from __future__ import annotations

import pathlib

import pytest

from csms.config import ConfigError, load_settings


def test_the_prices_table_is_parsed_from_the_file(tmp_path: pathlib.Path) -> None:
    config = tmp_path / "csms.toml"
    config.write_text(
        '[v2g.prices]\ndistributor = "light"\nsubmarket = "NE"\nicms = 0.2\n'
        '[v2g.prices.bandeiras]\n"2026-06" = "amarela"\n'
    )
    prices = load_settings(config, env={}).v2g.grid_prices()
    assert (prices.distributor, prices.submarket.value, str(prices.taxes.icms)) == (
        "light",
        "NE",
        "0.2",
    )


def test_the_defaults_fetch_from_ccee() -> None:
    ccee = load_settings(env={}).v2g.ccee
    assert (ccee.base_url, ccee.api_key, ccee.fetch) == (
        "https://dadosabertos.ccee.org.br",
        None,
        True,
    )


def test_ccee_comes_from_the_environment_and_its_key_is_not_shown() -> None:
    env = {"CCEE_BASE_URL": "http://ccee.test", "CCEE_API_KEY": "secret-key"}
    ccee = load_settings(env=env, overrides={"v2g.ccee.fetch": "false"}).v2g.ccee
    assert (ccee.base_url, ccee.api_key, ccee.fetch) == ("http://ccee.test", "secret-key", False)
    assert "secret-key" not in repr(ccee)


@pytest.mark.parametrize(
    ("prices", "key"),
    [
        ({"distributor": "nope"}, "v2g.prices.distributor"),
        ({"submarket": "CENTRO"}, "v2g.prices.submarket"),
        ({"icms": 1.5}, "v2g.prices.icms"),
        ({"gross_up": "double"}, "v2g.prices.gross_up"),
        ({"bandeiras": "amarela"}, "v2g.prices.bandeiras"),
        ({"sources": {"fleet": {"kind": "spot"}}}, "v2g.prices.sources.fleet.kind"),
        (
            {"distributors": {"cemig": {"ponta_start": "25:00"}}},
            "v2g.prices.distributors.cemig.ponta_start",
        ),
    ],
)
def test_a_bad_price_setting_names_its_key(prices: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env={}, overrides={"v2g.prices": prices})
    assert caught.value.key == key


def test_a_prices_value_that_is_no_table_names_it() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env={}, overrides={"v2g.prices": "cemig"})
    assert caught.value.key == "v2g.prices"


def test_a_bad_ccee_setting_names_its_key() -> None:
    with pytest.raises(ConfigError) as caught:
        load_settings(env={}, overrides={"v2g.ccee.refresh_interval_s": 0})
    assert caught.value.key == "v2g.ccee.refresh_interval_s"
