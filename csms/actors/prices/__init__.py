"""Grid prices (``prices``): the CCEE client and the actor that keeps the hourly PLD.

Registered by the composition root (``csms/node``) with ``prices_child``; the REST API asks it
through ``ask_prices`` (``PriceAt``, ``Forecast``, ``BestHours``) and may ``RefreshPrices``.
"""

from ._actor import PricesActor
from ._ccee import DEFAULT_BASE_URL, CceeClient, CceeError, CceeUnavailable, MonthPld
from ._child import NAME, ask_prices, prices_child
from ._messages import BestHours, Forecast, MonthRefresh, PriceAt, RefreshPrices, RefreshResult

__all__ = [
    "DEFAULT_BASE_URL",
    "NAME",
    "BestHours",
    "CceeClient",
    "CceeError",
    "CceeUnavailable",
    "Forecast",
    "MonthPld",
    "MonthRefresh",
    "PriceAt",
    "PricesActor",
    "RefreshPrices",
    "RefreshResult",
    "ask_prices",
    "prices_child",
]
