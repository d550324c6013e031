"""The relay's side of learning: note every delivered message, write in batches.

Learning must never slow or endanger mail: noting is an in-memory append, the
write happens in a thread once a second, and a failed write is logged and
dropped (history is a hint, not a record).
"""

from __future__ import annotations

import asyncio
import contextlib
import time

from mailguard import log as mglog
from mailguard.history.learn import sent_message
from mailguard.history.model import SentMessage
from mailguard.history.store import HistoryStore
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope

log = mglog.get_logger()

MAX_PENDING = 20_000  # messages; if writes stall, the oldest are dropped


class HistoryRecorder:
    def __init__(self, store: HistoryStore, *, interval: float = 1.0) -> None:
        self.store = store
        self.interval = interval
        self._pending: list[SentMessage] = []
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def note(self, envelope: Envelope, raw: bytes) -> None:
        """Remember who this delivered message went to. Bounces teach nothing."""
        if not envelope.mail_from:
            return
        sent = sent_message(envelope.mail_from, envelope.rcpt_tos, ParsedMessage(raw), time.time())
        if sent is None:
            return
        self._pending.append(sent)
        if len(self._pending) > MAX_PENDING:
            del self._pending[0]
            self.dropped += 1

    def start(self) -> None:
        self._task = asyncio.ensure_future(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            await self.flush()

    async def flush(self) -> None:
        if not self._pending:
            return
        batch, self._pending = self._pending, []
        try:
            await asyncio.to_thread(self.store.record, batch)
        except Exception as exc:
            log.error(
                "history_write_failed", error=f"{type(exc).__name__}: {exc}", messages=len(batch)
            )

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()  # the store itself is closed by whoever opened it
