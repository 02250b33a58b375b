"""Counters a node exposes: mailbox depth, drops, restarts and crashes of every child in a tree."""

from __future__ import annotations

import attrs

from ._dynamic import DynamicSupervisor
from ._supervisor import Supervisor


@attrs.frozen
class ChildStats:
    path: str  # "root/stations/CP001"
    kind: str
    generation: int
    running: bool
    mailbox_depth: int
    mailbox_high_water: int
    dropped: int
    restarts: int
    crashes: int


def collect_stats(root: Supervisor | DynamicSupervisor) -> list[ChildStats]:
    """One row per child below ``root``, depth first, supervisors included."""
    rows: list[ChildStats] = []

    def walk(sup: Supervisor | DynamicSupervisor, prefix: str) -> None:
        for child in sup.children():
            path = f"{prefix}/{child.spec.name}"
            ref = child.ref
            rows.append(
                ChildStats(
                    path=path,
                    kind=child.spec.kind,
                    generation=child.incarnation,
                    running=child.running,
                    mailbox_depth=ref.mailbox_depth if ref else 0,
                    mailbox_high_water=ref.mailbox_high_water if ref else 0,
                    dropped=ref.dropped if ref else 0,
                    restarts=child.restarts,
                    crashes=child.crashes,
                )
            )
            nested = child.spec.supervisor_
            if nested is not None:
                walk(nested, path)

    walk(root, root.name)
    return rows
