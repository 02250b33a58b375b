"""[v2g.compensation] and [v2g.wallet] read and checked at load (WALLET_SERVICE_URL too)."""

from __future__ import annotations

from decimal import Decimal

import pytest

from csms.config import ConfigError, load_settings
from csms.services.compensation import parse_compensation_settings
from csms.services.payout import parse_wallet_settings


def test_the_wallet_url_from_the_environment_and_the_margin_from_the_file():
    settings = load_settings(
        env={"WALLET_SERVICE_URL": "http://wallet.local/api"},
        overrides={"v2g.wallet.concurrency": "4", "v2g.compensation.margin_percent": 7.5},
    )
    wallet = parse_wallet_settings(settings.v2g.wallet)
    assert (wallet.url, wallet.concurrency) == ("http://wallet.local/api", 4)
    assert parse_compensation_settings(settings.v2g.compensation).margin.percent == Decimal("7.5")


@pytest.mark.parametrize(
    ("env", "overrides", "key"),
    [
        ({"WALLET_SERVICE_URL": "wallet.local"}, {}, "v2g.wallet.url"),
        ({}, {"v2g.wallet.max_attempts": "0"}, "v2g.wallet.max_attempts"),
        ({}, {"v2g.compensation.margin_percent": 150}, "v2g.compensation.margin_percent"),
    ],
)
def test_a_bad_value_stops_the_node_naming_the_key(env, overrides, key):
    with pytest.raises(ConfigError) as caught:
        load_settings(env=env, overrides=overrides)
    assert caught.value.key == key
