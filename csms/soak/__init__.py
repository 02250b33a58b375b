"""The reliability harness: ``csms soak`` runs a fleet of simulated stations against
a node in a child process while faults are injected, then checks the stations' ledger of what
was acknowledged against PostgreSQL; ``csms soak --fuzz`` throws malformed frames at the real
listener. See docs/RELIABILITY.md."""

from ._check import LedgerCheck, StationEnd, Violation, check_ledger
from ._fleet import Fleet

__all__ = ["Fleet", "LedgerCheck", "StationEnd", "Violation", "check_ledger"]
