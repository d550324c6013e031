"""Inspection off the event loop, in a pool of worker processes sized to the CPU.

A slow or huge message occupies one worker while the relay keeps answering every
other session. A worker that dies breaks the pool; the pool is rebuilt and the
affected messages get a 4xx, never a lost message.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import signal
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool

from mailguard import logging as mglog
from mailguard import pipeline
from mailguard.model import Envelope, Inspection

log = mglog.get_logger()


class InspectionError(Exception):
    """The message could not be inspected in time; the relay answers 4xx."""


def _worker_init() -> None:
    # Signals are for the relay process: it drains in-flight messages on SIGTERM and
    # needs its workers alive to do so, even when the whole process group is signalled.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


def _warm_up() -> int:
    return 0


class InspectionPool:
    def __init__(self, workers: int, timeout: float) -> None:
        self.workers = workers
        self.timeout = timeout
        self._executor: ProcessPoolExecutor | None = None
        self.busy = 0

    async def start(self) -> None:
        self._executor = self._new_executor()
        loop = asyncio.get_running_loop()
        # Start every worker now so the first messages do not pay for process start-up.
        await asyncio.gather(
            *(loop.run_in_executor(self._executor, _warm_up) for _ in range(self.workers))
        )

    def _new_executor(self) -> ProcessPoolExecutor:
        # "spawn": workers must not inherit the relay's sockets or event loop.
        return ProcessPoolExecutor(
            max_workers=self.workers,
            mp_context=multiprocessing.get_context("spawn"),
            initializer=_worker_init,
        )

    async def inspect(self, envelope: Envelope, raw: bytes) -> Inspection:
        self.busy += 1
        try:
            try:
                return await self._run(envelope, raw)
            except BrokenProcessPool:
                # Inspection is a pure function, so running it again is safe. Only once:
                # a message that kills workers every time must not take the pool down
                # in a loop; it gets a 4xx and the next one a fresh pool.
                log.error("worker_pool_broken", action="replaced, retrying once")
                return await self._run(envelope, raw)
        except BrokenProcessPool:
            log.error("worker_pool_broken", action="replaced, message deferred")
            raise InspectionError("an inspection worker died") from None
        finally:
            self.busy -= 1

    async def _run(self, envelope: Envelope, raw: bytes) -> Inspection:
        executor = self._executor
        if executor is None:
            raise InspectionError("inspection pool is not running")
        loop = asyncio.get_running_loop()
        try:
            future = loop.run_in_executor(executor, pipeline.inspect, envelope, raw)
            return await asyncio.wait_for(future, self.timeout)
        except TimeoutError:
            raise InspectionError(f"inspection took longer than {self.timeout:g}s") from None
        except BrokenProcessPool:
            self._replace(executor)
            raise

    def _replace(self, broken: ProcessPoolExecutor) -> None:
        if self._executor is broken:
            self._executor = self._new_executor()
            broken.shutdown(wait=False, cancel_futures=True)

    async def close(self) -> None:
        executor, self._executor = self._executor, None
        if executor is not None:
            await asyncio.get_running_loop().run_in_executor(
                None, lambda: executor.shutdown(wait=True, cancel_futures=True)
            )
