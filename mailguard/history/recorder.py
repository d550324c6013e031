"""The relay's side of learning: note every delivered message, write in batches.

Learning must never slow or endanger mail: noting is an in-memory append, the
write happens in a thread once a second, and a failed write is logged and
dropped (history is a hint, not a record).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from mailguard import logging as mglog
from mailguard.history.learn import sightings_of
from mailguard.history.model import Sighting
from mailguard.history.store import HistoryStore
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope

log = mglog.get_logger()

MAX_PENDING = 100_000  # sightings; beyond this the oldest are dropped


class HistoryRecorder:
    def __init__(self, store: HistoryStore, *, interval: float = 1.0) -> None:
        self.store = store
        self.interval = interval
        self._sightings: list[Sighting] = []
        self._messages: list[tuple[str, float]] = []
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def note(self, envelope: Envelope, raw: bytes) -> None:
        """Remember who this delivered message went to. Bounces teach nothing."""
        if not envelope.mail_from:
            return
        now = time.time()
        found = sightings_of(envelope.mail_from, envelope.rcpt_tos, ParsedMessage(raw), now)
        if not found:
            return
        self._sightings.extend(found)
        self._messages.append((envelope.mail_from.lower(), now))
        if len(self._sightings) > MAX_PENDING:
            excess = len(self._sightings) - MAX_PENDING
            del self._sightings[:excess]
            self.dropped += excess

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()

    async def flush(self) -> None:
        if not self._messages:
            return
        sightings, messages = self._sightings, self._messages
        self._sightings, self._messages = [], []
        try:
            await asyncio.to_thread(self.store.record, sightings, messages)
        except Exception as exc:
            log.error(
                "history_write_failed",
                error=f"{type(exc).__name__}: {exc}",
                messages=len(messages),
            )

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()
        await asyncio.to_thread(self.store.close)
