"""The history store interface; ``history.sql`` implements it on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Protocol

from mailguard.history.model import HistoryStats, SenderProfile, SentMessage

DEFAULT_MAX_AGE_DAYS = 365


class HistoryReader(Protocol):
    def profile(self, sender: str, recipients: Sequence[str]) -> SenderProfile:
        """What ``sender`` did within the retention period that bears on ``recipients``."""
        ...

    def close(self) -> None: ...


class HistoryStore(HistoryReader, Protocol):
    def record(self, messages: Iterable[SentMessage]) -> int:
        """Add messages in one transaction; returns how many were new (by key)."""
        ...

    def knows(self, key: bytes) -> bool:
        """True when a message with this key was recorded before."""
        ...

    def prune(self, now: float) -> int:
        """Forget what was last seen before the retention period; returns rows removed."""
        ...

    def forget(self, address: str) -> int:
        """Forget an address as sender and as recipient (a leaver, an erasure request)."""
        ...

    def stats(self) -> HistoryStats: ...
