"""A firmware campaign as a pure state machine: one update across many stations, at most
``max_concurrent`` at once, halted once ``failure_threshold`` stations failed.

The campaign's stations are each ``pending``, ``running``, ``installed``, ``failed`` or
``skipped`` (already on the target version); ``Counts`` keeps how many are in each. ``step``
takes one input and returns the next campaign:

- ``Opened``: the campaign's actor (re)starts it: one with no station left completes.
- ``Launched``: a pending station's job is being started (it holds a slot from now on).
- ``Skipped``: a pending station is already on the target version.
- ``Deferred``: a station being started was not connected: pending again (the actor retries it
  later, and counts it failed after a few tries).
- ``Ended``: a running station's job ended, installed or failed (a job that could not even be
  started counts as failed). Reaching the threshold halts the campaign; the last station
  ending completes it.
- ``Pause`` / ``Resume`` / ``Cancel``: the operator's. A paused campaign starts no job and
  resumes where it stood; a halted one may be resumed too (the operator looked at the
  failures), and halts again at its next failure while the threshold stays reached;
  canceled is final.

``launchable`` says how many stations to start now; ``in_window`` whether the campaign's
optional daily window (UTC times of day) is open, outside which no job starts. Jobs already
running when a campaign halts, pauses or is canceled run to their end and are counted (OCPP
cannot stop an update the station accepted); ``settled`` says when nothing of the campaign runs
any more.
"""

from __future__ import annotations

import datetime as dt
from typing import Literal

import attrs

__all__ = [
    "Campaign",
    "CampaignState",
    "Cancel",
    "Counts",
    "Deferred",
    "Ended",
    "Input",
    "Launched",
    "Opened",
    "Pause",
    "Resume",
    "Skipped",
    "in_window",
    "launchable",
    "settled",
    "should_skip",
    "step",
]

CampaignState = Literal["running", "paused", "halted", "completed", "canceled"]
FINAL: frozenset[str] = frozenset({"completed", "canceled"})


@attrs.frozen
class Counts:
    pending: int = 0
    running: int = 0
    installed: int = 0
    failed: int = 0
    skipped: int = 0

    @property
    def total(self) -> int:
        return self.pending + self.running + self.installed + self.failed + self.skipped


@attrs.frozen
class Campaign:
    state: CampaignState
    max_concurrent: int
    failure_threshold: int | None
    counts: Counts
    #: why it halted or was canceled
    reason: str | None = None


@attrs.frozen
class Opened:
    pass


@attrs.frozen
class Launched:
    pass


@attrs.frozen
class Skipped:
    pass


@attrs.frozen
class Deferred:
    pass


@attrs.frozen
class Ended:
    installed: bool


@attrs.frozen
class Pause:
    pass


@attrs.frozen
class Resume:
    pass


@attrs.frozen
class Cancel:
    pass


Input = Opened | Launched | Skipped | Deferred | Ended | Pause | Resume | Cancel


def should_skip(current_version: str | None, target_version: str | None) -> bool:
    """A station already on the target version is not updated again."""
    return target_version is not None and current_version == target_version


def in_window(start: dt.time | None, end: dt.time | None, at: dt.time) -> bool:
    """Whether ``at`` is within the daily window from ``start`` (included) to ``end`` (not): a
    window whose end comes before its start spans midnight (22:00-05:00); no window is always
    open. Jobs already running are not held by a closing window (OCPP cannot stop them)."""
    if start is None or end is None:
        return True
    if start < end:
        return start <= at < end
    return at >= start or at < end


def launchable(campaign: Campaign) -> int:
    """How many pending stations to start now (0 unless running)."""
    if campaign.state != "running":
        return 0
    counts = campaign.counts
    return max(0, min(counts.pending, campaign.max_concurrent - counts.running))


def settled(campaign: Campaign) -> bool:
    """Nothing of the campaign runs and nothing more will start without the operator."""
    return campaign.counts.running == 0 and campaign.state != "running"


def _halted(campaign: Campaign) -> bool:
    threshold = campaign.failure_threshold
    return threshold is not None and campaign.counts.failed >= threshold


def _finish(campaign: Campaign) -> Campaign:
    counts = campaign.counts
    if campaign.state == "running" and counts.pending == 0 and counts.running == 0:
        return attrs.evolve(campaign, state="completed")
    return campaign


def step(campaign: Campaign, event: Input) -> Campaign:
    counts = campaign.counts
    match event:
        case Opened():
            return _finish(campaign)
        case Launched():
            if launchable(campaign) == 0:
                return campaign  # no slot: the actor asked out of turn
            moved = attrs.evolve(counts, pending=counts.pending - 1, running=counts.running + 1)
            return attrs.evolve(campaign, counts=moved)
        case Skipped():
            if counts.pending == 0 or campaign.state in FINAL:
                return campaign
            moved = attrs.evolve(counts, pending=counts.pending - 1, skipped=counts.skipped + 1)
            return _finish(attrs.evolve(campaign, counts=moved))
        case Deferred():
            if counts.running == 0:
                return campaign
            moved = attrs.evolve(counts, running=counts.running - 1, pending=counts.pending + 1)
            return attrs.evolve(campaign, counts=moved)
        case Ended(installed=installed):
            if counts.running == 0:
                return campaign
            if installed:
                moved = attrs.evolve(
                    counts, running=counts.running - 1, installed=counts.installed + 1
                )
            else:
                moved = attrs.evolve(counts, running=counts.running - 1, failed=counts.failed + 1)
            after = attrs.evolve(campaign, counts=moved)
            if not installed and after.state == "running" and _halted(after):
                reason = f"{moved.failed} stations failed (threshold {after.failure_threshold})"
                return attrs.evolve(after, state="halted", reason=reason)
            return _finish(after)
        case Pause():
            if campaign.state != "running":
                return campaign
            return attrs.evolve(campaign, state="paused")
        case Resume():
            if campaign.state not in ("paused", "halted"):
                return campaign
            return _finish(attrs.evolve(campaign, state="running", reason=None))
        case Cancel():
            if campaign.state in FINAL:
                return campaign
            return attrs.evolve(campaign, state="canceled", reason="canceled by the operator")
