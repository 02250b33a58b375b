"""The charging profiles one simulated EVSE holds (pure): installed and replaced as K01 says,
the one that rules chosen by purpose and stack level, and their validity while the CSMS is out
of reach (maxOfflineDuration, invalidAfterOfflineDuration: Q11/Q12)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from ._ev import ActiveProfile

__all__ = ["UNNAMED", "ProfileStack"]

#: K01: a TxProfile rules over a TxDefaultProfile, which rules over the rest.
_PURPOSE_RANK: Final = {"TxProfile": 2, "TxDefaultProfile": 1}
#: The profile installed when only a power is given (tests, older callers).
UNNAMED: Final = ActiveProfile(-(2**31), "TxDefaultProfile", "Absolute", None, "W", 3)


class ProfileStack:
    """Profiles by id, each with the signed power it asks for."""

    __slots__ = ("profiles",)

    def __init__(self) -> None:
        self.profiles: dict[int, tuple[ActiveProfile, float]] = {}

    def install(self, profile: ActiveProfile, watts: float | None) -> None:
        """``profile`` replaces the one with its id and the one with its purpose and stack
        level (K01.FR.05); one that asks for no power (None) only removes those."""
        level = (profile.purpose, profile.stack_level)
        for old, _ in list(self.profiles.values()):
            if old.id == profile.id or (old.purpose, old.stack_level) == level:
                del self.profiles[old.id]
        if watts is not None:
            self.profiles[profile.id] = (profile, watts)

    def update(self, profile_id: int, watts: float) -> None:
        self.profiles[profile_id] = (self.profiles[profile_id][0], watts)

    def remove(self, matches: Callable[[ActiveProfile], bool]) -> bool:
        """Remove the profiles that ``matches``; whether there was one."""
        gone = [p.id for p, _ in self.profiles.values() if matches(p)]
        for profile_id in gone:
            del self.profiles[profile_id]
        return bool(gone)

    def ruling(self, offline_seconds: float) -> tuple[ActiveProfile | None, float | None]:
        """The profile that rules and its power: the highest purpose, then stack level, among
        the valid ones. Offline longer than its maxOfflineDuration a profile is skipped until
        the CSMS is back (Q11), or removed for good with invalidAfterOfflineDuration (Q12)."""
        valid = []
        for profile, watts in list(self.profiles.values()):
            limit = profile.max_offline
            if limit is not None and offline_seconds > limit:
                if profile.invalid_after_offline:
                    del self.profiles[profile.id]
                continue
            valid.append((profile, watts))
        if not valid:
            return None, None
        return max(valid, key=lambda pw: (_PURPOSE_RANK.get(pw[0].purpose, 0), pw[0].stack_level))
