"""V2X authorization (OCPP 2.1 Q01, Q02) and the NotifyEVChargingNeeds answer (Q01.FR.04/07,
K15.FR.03-05), with every response checked against the official schema."""

from __future__ import annotations

import datetime as dt

import attrs
import pytest

from csms.protocol import Direction, Version, validate_payload
from csms.services.v2g_preferences import DischargeWindow
from csms.services.v2x_authorization import (
    UNAVAILABLE,
    NeedsDecision,
    allowed_energy_transfer,
    needs_decision,
    needs_response,
    v2x_refusal,
)
from csms.services.v2x_capability import BPT_MODES, CHARGING_MODES, StationV2XSupport

from .v2g_examples import BPT_EV, NOW, OPTED_IN, SP, V2X_STATION

DC_EV = attrs.evolve(BPT_EV, requested_mode="DC")


def authorize_response(allowed: list[str] | None, version: Version = Version.V21) -> dict:
    response: dict = {"idTokenInfo": {"status": "Accepted"}}
    if allowed is not None:
        response["allowedEnergyTransfer"] = allowed
    validate_payload(version, "Authorize", Direction.RESPONSE, response)
    return response


def decide(**overrides) -> NeedsDecision:
    args = {
        "capability": BPT_EV,
        "station": V2X_STATION,
        "preferences": OPTED_IN,
        "version": Version.V21,
        "now": NOW,
        "tz": SP,
    } | overrides
    decision = needs_decision(**args)
    validate_payload(
        args["version"], "NotifyEVChargingNeeds", Direction.RESPONSE, needs_response(decision)
    )
    return decision


# -- AuthorizeResponse.allowedEnergyTransfer ---------------------------------------------------


def test_an_opted_in_user_at_a_v2x_station_is_allowed_bpt():
    """Q01.FR.01: the CSMS returns allowedEnergyTransfer, here with the BPT modes."""
    allowed = allowed_energy_transfer(
        station=V2X_STATION, preferences=OPTED_IN, version=Version.V21, now=NOW, tz=SP
    )
    assert allowed is not None
    assert set(allowed) >= BPT_MODES
    assert set(CHARGING_MODES) <= set(allowed)
    authorize_response(allowed)


@pytest.mark.parametrize(
    "preferences",
    [
        None,  # the token belongs to no user
        attrs.evolve(OPTED_IN, opt_in=False),
        attrs.evolve(  # Tuesdays only
            OPTED_IN, windows=(DischargeWindow(frozenset({1}), dt.time(0), dt.time(0)),)
        ),
    ],
)
def test_v2x_not_allowed_leaves_charging_only(preferences):
    """Q02 scenario step 1a: allowedEnergyTransfer without V2X."""
    allowed = allowed_energy_transfer(
        station=V2X_STATION, preferences=preferences, version=Version.V21, now=NOW, tz=SP
    )
    assert allowed == list(CHARGING_MODES)
    authorize_response(allowed)


def test_the_list_is_omitted_while_the_station_support_is_unknown():
    """Q01.FR.08 / Q02.FR.03: not able to determine it, so omitted."""
    allowed = allowed_energy_transfer(
        station=StationV2XSupport(), preferences=OPTED_IN, version=Version.V21, now=NOW, tz=SP
    )
    assert allowed is None


def test_the_list_is_omitted_for_a_station_that_is_not_v2x_capable():
    """Q01.FR.01 note: no need to return it for non-V2X capable stations."""
    station = StationV2XSupport(enabled=False, operation_modes=frozenset({"CentralSetpoint"}))
    assert (
        allowed_energy_transfer(
            station=station, preferences=OPTED_IN, version=Version.V21, now=NOW, tz=SP
        )
        is None
    )


def test_201_has_no_allowed_energy_transfer():
    station = StationV2XSupport(declared_bidirectional=True)
    allowed = allowed_energy_transfer(
        station=station, preferences=OPTED_IN, version=Version.V201, now=NOW, tz=SP
    )
    assert allowed is None
    authorize_response(allowed, Version.V201)


def test_a_station_registered_bidirectional_counts_before_its_variables_are_read():
    station = StationV2XSupport(declared_bidirectional=True)
    allowed = allowed_energy_transfer(
        station=station, preferences=OPTED_IN, version=Version.V21, now=NOW, tz=SP
    )
    assert allowed is not None
    assert set(allowed) >= BPT_MODES


# -- NotifyEVChargingNeedsResponse -------------------------------------------------------------


def test_allowed_bpt_needs_are_accepted_and_a_v2x_profile_follows():
    """Q01.FR.07 and Q01 step 5: Accepted, then a SetChargingProfile with a V2X mode."""
    decision = decide()
    assert decision == NeedsDecision("Accepted", profile="v2x")
    assert decision.profile_follows
    assert needs_response(decision) == {"status": "Accepted"}


@pytest.mark.parametrize(
    ("preferences", "station", "reason"),
    [
        (None, V2X_STATION, "user_not_opted_in"),
        (attrs.evolve(OPTED_IN, opt_in=False), V2X_STATION, "user_not_opted_in"),
        (
            attrs.evolve(
                OPTED_IN, windows=(DischargeWindow(frozenset({0}), dt.time(20), dt.time(22)),)
            ),
            V2X_STATION,
            "outside_discharge_window",
        ),
        (
            OPTED_IN,
            StationV2XSupport(enabled=True, operation_modes=frozenset({"ChargingOnly"})),
            "operation_mode_unsupported",
        ),
    ],
)
def test_a_bpt_request_that_is_not_allowed_is_rejected(preferences, station, reason):
    """Q01.FR.04: the CSMS does not accept the requestedEnergyTransfer: Rejected."""
    decision = decide(preferences=preferences, station=station)
    assert decision.status == "Rejected"
    assert decision.reason == reason
    assert not decision.profile_follows
    response = needs_response(decision)
    assert response["statusInfo"]["additionalInfo"].startswith(reason)


def test_needs_csms_cannot_decide_are_rejected_as_unavailable():
    """K15 (2.0.1 Rejected: "service not available"): when csms cannot read the transaction or
    the user, it says so rather than promise a profile it cannot send (Q01.FR.07)."""
    decision = NeedsDecision("Rejected", reason=UNAVAILABLE)
    assert not decision.profile_follows
    response = needs_response(decision)
    assert response["statusInfo"]["reasonCode"] == "InternalError"
    assert response["statusInfo"]["additionalInfo"].startswith(UNAVAILABLE)
    for version in (Version.V201, Version.V21):
        validate_payload(version, "NotifyEVChargingNeeds", Direction.RESPONSE, response)


def test_charging_needs_are_accepted_with_a_charging_only_profile_whoever_the_user():
    """Q02.FR.01 (and K15.FR.03 for every ISO 15118 EV): a unidirectional request is accepted
    and a ChargingOnly profile follows."""
    for preferences in (None, OPTED_IN):
        decision = decide(capability=DC_EV, preferences=preferences)
        assert decision == NeedsDecision("Accepted", profile="charging_only")


def test_bpt_needs_wait_for_the_station_support_with_processing():
    """Q01.FR.07 (errata 2025-09) / K15.FR.05: accepted, the profile needs more time."""
    decision = decide(station=StationV2XSupport())
    assert decision.status == "Processing"
    assert decision.profile == "v2x"
    assert decision.profile_follows
    assert needs_response(decision)["statusInfo"]["reasonCode"] == "Processing"


def test_a_station_registered_bidirectional_waits_for_its_modes():
    """K01.FR.115: the V2X profile carries CentralSetpoint only once the station lists it."""
    decision = decide(station=StationV2XSupport(declared_bidirectional=True))
    assert (decision.status, decision.profile) == ("Processing", "v2x")


def test_no_charging_profile_only_when_csms_own_default_profile_applies():
    """Q01 scenario #2: NoChargingProfile signals that no SetChargingProfile follows."""
    decision = decide(default_profile_applies=True)
    assert decision == NeedsDecision("NoChargingProfile")
    assert not decision.profile_follows


def test_the_default_profile_does_not_override_a_rejection():
    decision = decide(preferences=None, default_profile_applies=True)
    assert decision.status == "Rejected"


def test_201_needs_are_accepted_and_charged():
    """K15.FR.03: OCPP 2.0.1 has no V2X authorization and no NoChargingProfile."""
    ev = attrs.evolve(BPT_EV, requested_mode="AC_three_phase", source="custom_data")
    decision = decide(capability=ev, version=Version.V201, default_profile_applies=True)
    assert decision == NeedsDecision("Accepted", profile="charging_only")


def test_the_refusal_order_is_station_user_window():
    assert v2x_refusal(StationV2XSupport(enabled=False), None, Version.V21, NOW, SP) == (
        "operation_mode_unsupported"
    )
    assert v2x_refusal(V2X_STATION, None, Version.V21, NOW, SP) == "user_not_opted_in"
    assert v2x_refusal(V2X_STATION, OPTED_IN, Version.V21, NOW, SP) is None
