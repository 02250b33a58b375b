"""The pure decisions of the station layer: id-token status (C01), boot (B01-B03)."""

from __future__ import annotations

import datetime as dt

import pytest

from csms.protocol import BootState
from csms.services.authorization import UNKNOWN_TOKEN, token_status
from csms.services.provisioning import boot_registration_status, initial_boot_state

NOW = dt.datetime(2026, 1, 5, 10, 0, tzinfo=dt.UTC)


@pytest.mark.parametrize(
    ("status", "expires_at", "unknown_allowed", "expected"),
    [
        ("Accepted", None, False, "Accepted"),
        ("Accepted", NOW + dt.timedelta(seconds=1), False, "Accepted"),
        ("Accepted", NOW, False, "Expired"),  # C01: lapsed at expires_at
        ("Blocked", NOW - dt.timedelta(days=1), False, "Expired"),
        ("Unknown", None, True, "Unknown"),  # 2.1 has the status
        ("Unknown", None, False, "Invalid"),  # 2.0.1 does not
        ("Blocked", None, False, "Blocked"),
    ],
)
def test_token_status(status, expires_at, unknown_allowed, expected):
    assert token_status(status, expires_at, NOW, unknown_allowed=unknown_allowed) == expected


def test_an_unknown_token_is_invalid():
    assert UNKNOWN_TOKEN == "Invalid"


def test_boot_answers_the_registration_status_and_rejects_strangers():
    assert boot_registration_status("Pending") == "Pending"
    assert boot_registration_status(None) == "Rejected"


def test_only_a_station_accepted_and_booted_before_skips_the_boot():
    assert initial_boot_state("Accepted", NOW) is BootState.ACCEPTED
    assert initial_boot_state("Accepted", None) is BootState.UNKNOWN
    assert initial_boot_state("Pending", NOW) is BootState.UNKNOWN
    assert initial_boot_state(None, None) is BootState.UNKNOWN
