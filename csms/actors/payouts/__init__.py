"""V2G money (``v2g_money``): a compensation for every discharge session that ends, and its
payout to the owner's wallet (docs/V2G.md "Compensation and payouts").

Registered by the composition root (``csms/node``) with ``money_child``; the REST API asks it
through ``ask_money`` (``RunPayouts``, ``Sweep``) and computes what it shows with ``_compute``'s
functions over the database.
"""

from ._actor import MoneyActor, PayoutRun, RunPayouts, Sweep
from ._child import NAME, ask_money, money_child
from ._compute import (
    DEFAULT_GROUP,
    compensate_readings,
    price_source,
    record_session,
    session_compensation,
)
from ._config import MoneyConfig, money_config
from ._wallet import Attempt, WalletClient

__all__ = [
    "DEFAULT_GROUP",
    "NAME",
    "Attempt",
    "MoneyActor",
    "MoneyConfig",
    "PayoutRun",
    "RunPayouts",
    "Sweep",
    "WalletClient",
    "ask_money",
    "compensate_readings",
    "money_child",
    "money_config",
    "price_source",
    "record_session",
    "session_compensation",
]
