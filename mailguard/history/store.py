"""The history store interface. SQLite is the embedded default; PostgreSQL can follow."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from mailguard.history.model import HistoryStats, SenderProfile, Sighting

DEFAULT_MAX_AGE_DAYS = 365


class HistoryReader(Protocol):
    def profile(self, sender: str, recipients: Sequence[str]) -> SenderProfile:
        """What ``sender`` did within the retention period that bears on ``recipients``."""
        ...


class HistoryStore(HistoryReader, Protocol):
    def record(self, sightings: Iterable[Sighting], messages: Iterable[tuple[str, float]]) -> None:
        """Add sightings, and one message per (sender, time) pair, in one transaction."""
        ...

    def seen_message(self, key: bytes, at: float) -> bool:
        """True when this Message-ID was learned before; remembers it otherwise."""
        ...

    def prune(self, now: float) -> int:
        """Forget what was last seen before the retention period; returns rows removed."""
        ...

    def forget(self, address: str) -> int:
        """Forget an address as sender and as recipient (a leaver, an erasure request)."""
        ...

    def stats(self) -> HistoryStats: ...

    def close(self) -> None: ...
