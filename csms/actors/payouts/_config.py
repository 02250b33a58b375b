"""What the money side reads from the node's settings, parsed once."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import attrs

from csms.config import Settings
from csms.services.compensation import CompensationSettings, parse_compensation_settings
from csms.services.grid_price_settings import GridPriceSettings
from csms.services.payout import WalletSettings, parse_wallet_settings
from csms.services.v2g_preferences import time_zone

__all__ = ["MoneyConfig", "money_config"]


@attrs.frozen
class MoneyConfig:
    grid: GridPriceSettings = attrs.field(hash=False)
    tz: ZoneInfo
    compensation: CompensationSettings = attrs.field(hash=False)
    wallet: WalletSettings


def money_config(settings: Settings) -> MoneyConfig:
    v2g = settings.v2g
    return MoneyConfig(
        grid=v2g.grid_prices(),
        tz=time_zone(v2g.time_zone),
        compensation=parse_compensation_settings(v2g.compensation),
        wallet=parse_wallet_settings(v2g.wallet),
    )
