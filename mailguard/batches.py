"""Writes the relay makes about mail, never in its way: noted in memory on the event
loop, written in batches from a thread each second, and a failed write is logged and
dropped (a history or a ledger row is worth less than a delayed message)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Sequence
from typing import Generic, TypeVar

from mailguard import log as mglog

log = mglog.get_logger()
T = TypeVar("T")


class Batches(Generic[T]):
    def __init__(
        self, write: Callable[[Sequence[T]], object], event: str, *, limit: int,
        interval: float = 1.0,
    ) -> None:  # fmt: skip
        self._write = write
        self._event = event  # logged when a write fails: "history_write_failed"...
        self.limit = limit  # pending items; if writes stall, the oldest are dropped
        self.interval = interval
        self._pending: list[T] = []
        self._task: asyncio.Task[None] | None = None
        self.dropped = 0

    def note(self, item: T) -> None:
        self._pending.append(item)
        if len(self._pending) > self.limit:
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
            await asyncio.to_thread(self._write, batch)
        except Exception as exc:
            log.error(self._event, error=f"{type(exc).__name__}: {exc}", messages=len(batch))

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.flush()  # the store itself is closed by whoever opened it
