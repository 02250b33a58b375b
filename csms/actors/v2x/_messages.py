"""What other actors and the REST API tell the V2X owner (besides the station messages its
routes bring)."""

from __future__ import annotations

from decimal import Decimal

import attrs

__all__ = ["AllowV2X", "GetStationSupport", "PreferencesChanged", "SetpointChanged"]


@attrs.frozen
class SetpointChanged:
    """A discharge session commanded a setpoint (W, signed: negative discharges) through the
    Dynamic TxProfile of the EVSE (``v2g_profiles.tx_profile_id(evse_id)``), or ended
    (``setpoint_w`` None). The station's PullDynamicScheduleUpdate of that profile is answered
    with it (Q04)."""

    station_id: str
    evse_id: int
    setpoint_w: Decimal | None


@attrs.frozen
class AllowV2X:
    """V2X became allowed for the transaction on this EVSE (an operator's discharge start for
    an EV charging unidirectionally that listed a BPT mode, a window that opened): the station
    is sent NotifyAllowedEnergyTransfer with the updated list (Q02.FR.05). Ask it to learn the
    list sent (``None``: nothing was sent, e.g. no transaction or the policy allows no BPT).

    The EV then renegotiates: its bidirectional needs are answered Accepted, and the profile
    that follows is the session's discharge profile, not the owner's (which would race it);
    the owner sends none until the session tells ``SetpointChanged``."""

    station_id: str
    evse_id: int


@attrs.frozen
class PreferencesChanged:
    """A user's preferences or id-token links changed (the REST API): forget what is cached."""

    user_id: str


@attrs.frozen
class GetStationSupport:
    """Ask: the station's ``StationV2XSupport`` as the owner knows it (read on a miss)."""

    station_id: str
    version: str
