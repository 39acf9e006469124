"""What every kind of source is: a small class that fetches what is new where notices are
published, and what a fetch returns. Polling, storing and scheduling are not its business.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from alerts.extract.model import Notice


@dataclass(frozen=True)
class Batch:
    """Notices read from one place of a source (a file, a page, a feed entry)."""

    origin: str  # stored as the notices' origin: where a person can find them again
    notices: tuple[Notice, ...]


@dataclass(frozen=True)
class Fetched:
    """What one fetch found: batches of notices, and what could not be read, with why."""

    batches: tuple[Batch, ...] = ()
    problems: tuple[tuple[str, str], ...] = field(default=())  # (where, why)


class Source(Protocol):
    """One configured source, ready to fetch."""

    name: str

    async def fetch(self) -> Fetched:
        """Read what the source holds now; never raises for a place that cannot be read
        (it becomes a problem of the result), so one bad item never hides the others."""
        ...
