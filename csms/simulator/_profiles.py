"""The charging profiles one simulated EVSE holds (pure): installed and replaced as K01 says,
the one that rules chosen by purpose and stack level, and their validity while the CSMS is out
of reach (maxOfflineDuration, invalidAfterOfflineDuration: Q11/Q12). Each keeps its whole
schedule: the power comes from the period in force at the time asked (`Schedule`)."""

from __future__ import annotations

import datetime
from collections.abc import Callable
from typing import Any, Final

import attrs

from ._ev import ActiveProfile, period_watts, schedules

__all__ = ["UNNAMED", "ProfileStack", "Schedule", "schedule_of"]

_RECURRENCE: Final = {"Daily": 86_400.0, "Weekly": 7 * 86_400.0}


@attrs.frozen
class Schedule:
    """A profile's schedule: its periods ``(startPeriod s, signed W)`` from ``start``.

    ``start`` None: always in force, at its first period (a power given without a schedule,
    and what a pure caller without a clock sees). A Recurring schedule starts again every day
    or week; ``duration`` (s) ends it (and each recurrence)."""

    periods: tuple[tuple[float, float | None], ...]
    start: datetime.datetime | None = None
    duration: float | None = None
    recurrence: float | None = None  # seconds: Daily or Weekly

    @classmethod
    def constant(cls, watts: float | None) -> Schedule:
        return cls(((0.0, watts),))

    @property
    def asks(self) -> bool:
        """Whether any period asks for a power (one that does not only removes others)."""
        return any(watts is not None for _, watts in self.periods)

    def _offset(self, now: datetime.datetime | None) -> float | None:
        """Seconds into the schedule at ``now``; None outside it."""
        if self.start is None or now is None:
            return 0.0
        offset = (now - self.start).total_seconds()
        if offset < 0:
            return None
        if self.recurrence is not None:
            offset %= self.recurrence
        if self.duration is not None and offset >= self.duration:
            return None
        return offset

    def watts_at(self, now: datetime.datetime | None) -> float | None:
        """The power of the period in force at ``now`` (the last one started); None before
        the schedule starts or after its duration."""
        offset = self._offset(now)
        if offset is None:
            return None
        current = [watts for begin, watts in self.periods if begin <= offset]
        return current[-1] if current else None

    def next_change(self, now: datetime.datetime) -> datetime.datetime | None:
        """The first moment after ``now`` at which the period in force changes (a period
        begins, the schedule starts or ends); None when none will."""
        if self.start is None:
            return None
        offset = (now - self.start).total_seconds()
        if offset < 0:
            return self.start
        base = 0.0
        if self.recurrence is not None:
            base = offset - offset % self.recurrence
            offset -= base
        edges = [begin for begin, _ in self.periods[1:]]
        if self.duration is not None:
            edges.append(self.duration)
        if self.recurrence is not None:
            edges.append(self.recurrence)
        ahead = [edge for edge in edges if edge > offset]
        if not ahead:
            return None
        return self.start + datetime.timedelta(seconds=base + min(ahead))


def schedule_of(profile: dict[str, Any], installed: datetime.datetime | None) -> Schedule:
    """A SetChargingProfile's first schedule with each period's power (`period_watts`),
    counted from its ``startSchedule`` when Absolute or Recurring, else (Relative, or no
    ``startSchedule``) from ``installed``."""
    found = schedules(profile)
    schedule = found[0] if found else {}
    unit = str(schedule.get("chargingRateUnit", "W"))
    periods = tuple(
        (
            float(period.get("startPeriod", 0)),
            period_watts(period, period.get("operationMode"), unit, period.get("numberPhases", 3)),
        )
        for period in schedule.get("chargingSchedulePeriod") or ()
    )
    kind = profile.get("chargingProfileKind", "Absolute")
    start = installed
    if kind != "Relative" and schedule.get("startSchedule"):
        start = datetime.datetime.fromisoformat(str(schedule["startSchedule"]))
        if start.tzinfo is None:  # a time without a zone is UTC, as OCPP's are
            start = start.replace(tzinfo=datetime.UTC)
    duration = schedule.get("duration")
    recurrence = _RECURRENCE.get(profile.get("recurrencyKind", "")) if kind == "Recurring" else None
    return Schedule(
        periods or ((0.0, None),),
        start,
        None if duration is None else float(duration),
        recurrence,
    )


#: K01: a TxProfile rules over a TxDefaultProfile, which rules over the rest.
_PURPOSE_RANK: Final = {"TxProfile": 2, "TxDefaultProfile": 1}
#: The profile installed when only a power is given (tests, older callers).
UNNAMED: Final = ActiveProfile(-(2**31), "TxDefaultProfile", "Absolute", None, "W", 3)


class ProfileStack:
    """Profiles by id, each with its schedule."""

    __slots__ = ("profiles",)

    def __init__(self) -> None:
        self.profiles: dict[int, tuple[ActiveProfile, Schedule]] = {}

    def install(self, profile: ActiveProfile, schedule: Schedule) -> None:
        """``profile`` replaces the one with its id and the one with its purpose and stack
        level (K01.FR.05); one that asks for no power only removes those."""
        level = (profile.purpose, profile.stack_level)
        for old, _ in list(self.profiles.values()):
            if old.id == profile.id or (old.purpose, old.stack_level) == level:
                del self.profiles[old.id]
        if schedule.asks:
            self.profiles[profile.id] = (profile, schedule)

    def update(self, profile_id: int, watts: float) -> None:
        """A dynamic update (K28): ``watts`` from now on, for as long as the profile lasts."""
        profile, _ = self.profiles[profile_id]
        self.profiles[profile_id] = (profile, Schedule.constant(watts))

    def next_change(self, now: datetime.datetime) -> datetime.datetime | None:
        """The first moment after ``now`` at which a profile's period in force changes."""
        changes = [s.next_change(now) for _, s in self.profiles.values()]
        return min((c for c in changes if c is not None), default=None)

    def remove(self, matches: Callable[[ActiveProfile], bool]) -> bool:
        """Remove the profiles that ``matches``; whether there was one."""
        gone = [p.id for p, _ in self.profiles.values() if matches(p)]
        for profile_id in gone:
            del self.profiles[profile_id]
        return bool(gone)

    def ruling(
        self, offline_seconds: float, now: datetime.datetime | None = None
    ) -> tuple[ActiveProfile | None, float | None]:
        """The profile that rules at ``now`` and the power of its period in force: the highest
        purpose, then stack level, among the valid ones with a period in force (before its
        start or after its duration a profile leaves the rule to the others). Offline longer
        than its maxOfflineDuration a profile is skipped until the CSMS is back (Q11), or
        removed for good with invalidAfterOfflineDuration (Q12)."""
        valid = []
        for profile, schedule in list(self.profiles.values()):
            limit = profile.max_offline
            if limit is not None and offline_seconds > limit:
                if profile.invalid_after_offline:
                    del self.profiles[profile.id]
                continue
            watts = schedule.watts_at(now)
            if watts is not None:
                valid.append((profile, watts))
        if not valid:
            return None, None
        return max(valid, key=lambda pw: (_PURPOSE_RANK.get(pw[0].purpose, 0), pw[0].stack_level))
