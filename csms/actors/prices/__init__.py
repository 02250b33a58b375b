"""Grid prices from outside the node: for now the client of CCEE's open-data portal (PLD).

``CceeClient`` reads a month of hourly PLD per submarket (``csms.services.pld`` parses and clamps
it); a prices actor that refreshes the ``v2g_grid_prices`` cache on a schedule comes next.
"""

from ._ccee import DEFAULT_BASE_URL, CceeClient, CceeError, CceeUnavailable, MonthPld

__all__ = ["DEFAULT_BASE_URL", "CceeClient", "CceeError", "CceeUnavailable", "MonthPld"]
