"""The directory as the relay uses it: cached, bounded in time, honest when down.

A message never waits on a domain controller for longer than ``timeout``; while the
directory is down it waits not at all (no lookups until ``retry_interval`` has
passed), and its rules see "unknown". Answers are kept for ``cache_ttl`` and
refreshed in the background once half as old, so an ordinary message is answered
from memory.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
import time
from collections.abc import Callable, Iterable
from typing import TypeVar

import cachetools

from mailguard.config import DirectorySettings
from mailguard.directory.ldap import DirectoryError, LdapDirectory
from mailguard.directory.model import DirectoryAnswers, Entry, Person
from mailguard.log import get_logger
from mailguard.metrics import Metrics

log = get_logger()
T = TypeVar("T")

NEGATIVE_TTL = 120.0
_BATCH = 200  # addresses in one search (the LDAP client splits it into filters of 50)
_SEARCHES_AT_ONCE = 2


def _what(exc: BaseException) -> str:
    """A DirectoryError says it plainly; a surprise is named by its type."""
    return str(exc) if isinstance(exc, DirectoryError) else f"{type(exc).__name__}: {exc}"


def _retrieved(job: asyncio.Future[object]) -> None:
    if not job.cancelled():
        job.exception()


class Directory:
    def __init__(
        self,
        settings: DirectorySettings,
        *,
        client: LdapDirectory | None = None,
        metrics: Metrics | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.settings = settings
        self.client = client or LdapDirectory(settings)
        self.metrics = metrics
        self.clock = clock
        self._cache: cachetools.LRUCache[str, tuple[float, Entry | None]] = cachetools.LRUCache(
            settings.cache_size
        )
        self._lock = threading.Lock()
        self._pool = concurrent.futures.ThreadPoolExecutor(4, thread_name_prefix="directory")
        self._refreshing: set[str] = set()
        self._waiting: dict[str, asyncio.Future[Entry | None]] = {}
        self._batch: list[str] = []
        self._in_flight = 0
        self.up: bool | None = None  # None: not asked yet
        self.watched = False  # a watcher probes it while down (the relay's)
        self.error = ""
        self._retry_at = 0.0

    # --- state -----------------------------------------------------------------------
    @property
    def state(self) -> str:
        return {None: "unknown", True: "up", False: "down"}[self.up]

    def _failed(self, error: str) -> None:
        if self.up is not False or error != self.error:
            log.error("directory_unavailable", error=error, retry_in_s=self.settings.retry_interval)
        self.up, self.error = False, error
        self._retry_at = self.clock() + self.settings.retry_interval

    def _answered(self) -> None:
        if self.up is False:
            log.info("directory_available")
        self.up, self.error = True, ""

    def probe(self) -> bool:
        """Ask the directory whether it answers (start-up, health checks, retries)."""
        try:
            self.client.check()
        except Exception as exc:  # DirectoryError, or a surprise: down either way
            self._failed(_what(exc))
            return False
        self._answered()
        return True

    async def aprobe(self) -> bool:
        return await self._in_thread(self.probe)

    # --- answers ---------------------------------------------------------------------
    def _cached(self, addresses: Iterable[str]) -> tuple[dict[str, Entry | None], list[str]]:
        """Entries still good, and the addresses that must be asked (stale ones are
        used and refreshed in the background)."""
        now = self.clock()
        ttl = self.settings.cache_ttl
        known: dict[str, Entry | None] = {}
        missing: list[str] = []
        stale: list[str] = []
        with self._lock:
            for address in {a.lower() for a in addresses if "@" in a}:
                hit = self._cache.get(address)
                # "No such address" is kept briefly: a new starter's mailbox counts soon.
                good_for = ttl if hit is None or hit[1] is not None else min(ttl, NEGATIVE_TTL)
                if hit is None or now - hit[0] > good_for:
                    missing.append(address)
                    if hit is not None:
                        known[address] = hit[1]  # better than nothing if the directory is down
                    continue
                known[address] = hit[1]
                if now - hit[0] > good_for / 2 and address not in self._refreshing:
                    stale.append(address)
                    self._refreshing.add(address)
        if stale:
            self._pool.submit(self._refresh, stale)
        return known, sorted(missing)

    def _fetch(self, addresses: list[str]) -> dict[str, Entry | None]:
        found = self.client.entries(addresses)
        now = self.clock()
        with self._lock:
            for address, entry in found.items():
                self._cache[address] = (now, entry)
        self._answered()
        return found

    def _refresh(self, addresses: list[str]) -> None:
        try:
            self._fetch(addresses)
        except DirectoryError as exc:
            self._failed(str(exc))
        finally:
            with self._lock:
                self._refreshing.difference_update(addresses)

    def _count(self, result: str, n: int) -> None:
        if self.metrics is not None and n:
            self.metrics.directory_lookups.labels(result).inc(n)

    async def answers(self, addresses: Iterable[str]) -> DirectoryAnswers:
        """For the relay: within ``timeout`` at worst, and at once while it is down."""
        known, missing = self._cached(addresses)
        self._count("cached", len(known.keys() - set(missing)))  # not the stale fallbacks
        if not missing:
            return DirectoryAnswers(known, available=True, configured=True)
        if self.up is False and (self.watched or self.clock() < self._retry_at):
            # Down: the watcher (``aprobe`` every retry_interval) says when it is back;
            # until then no message waits for it.
            self._count("unavailable", len(missing))
            return DirectoryAnswers(known, available=False, configured=True)
        job = asyncio.gather(*(self._ask(a) for a in missing))
        job.add_done_callback(_retrieved)  # a caller that timed out leaves it behind
        try:
            results = await asyncio.wait_for(asyncio.shield(job), self.settings.timeout)
            found = dict(zip(missing, results, strict=True))
        except TimeoutError:
            self._failed(f"no answer within {self.settings.timeout:g}s")
        except Exception as exc:  # DirectoryError, or a surprise: decided without it
            self._failed(_what(exc))
        else:
            self._count("asked", len(missing))
            return DirectoryAnswers({**known, **found}, available=True, configured=True)
        self._count("unavailable", len(missing))
        return DirectoryAnswers(known, available=False, configured=True)

    # --- one search for many messages ------------------------------------------------
    def _ask(self, address: str) -> asyncio.Future[Entry | None]:
        """The answer for one address, asked together with every other message's: while
        a search is out, new addresses wait for the next, so twenty messages arriving
        at once cost one or two searches, not twenty."""
        waiting = self._waiting.get(address)
        if waiting is None:
            waiting = self._waiting[address] = asyncio.get_running_loop().create_future()
            self._batch.append(address)
            if self._in_flight < _SEARCHES_AT_ONCE:
                asyncio.get_running_loop().call_soon(self._search_batch)
        return waiting

    def _search_batch(self) -> None:
        if not self._batch or self._in_flight >= _SEARCHES_AT_ONCE:
            return
        batch, self._batch = self._batch[:_BATCH], self._batch[_BATCH:]
        try:
            job = asyncio.get_running_loop().run_in_executor(self._pool, self._fetch, batch)
        except RuntimeError:  # closed: nobody waits for ever
            self._answer(batch, None, DirectoryError("the directory client is closed"))
            return
        self._in_flight += 1
        job.add_done_callback(lambda done: self._searched(batch, done))

    def _searched(self, batch: list[str], done: asyncio.Future[dict[str, Entry | None]]) -> None:
        self._in_flight -= 1
        if done.cancelled():  # closing: an error the message's handler expects
            self._answer(batch, None, DirectoryError("the directory client is closed"))
        else:
            error = done.exception()
            self._answer(batch, None if error else done.result(), error)
        self._search_batch()  # what gathered meanwhile

    def _answer(
        self,
        batch: list[str],
        found: dict[str, Entry | None] | None,
        error: BaseException | None,
    ) -> None:
        for address in batch:
            waiting = self._waiting.pop(address, None)
            if waiting is None or waiting.done():
                continue
            if error is not None or found is None:
                waiting.set_exception(error or DirectoryError("no answer"))
            else:
                waiting.set_result(found.get(address))

    def answers_now(self, addresses: Iterable[str]) -> DirectoryAnswers:
        """For ``check`` and ``replay``: the same answers, asked synchronously."""
        known, missing = self._cached(addresses)
        if not missing:
            return DirectoryAnswers(known, available=True, configured=True)
        if self.up is False and self.clock() < self._retry_at:  # each file not a timeout
            return DirectoryAnswers(known, available=False, configured=True)
        try:
            found = self._fetch(missing)
        except Exception as exc:  # DirectoryError, or a surprise: judged without it
            self._failed(_what(exc))
            return DirectoryAnswers(known, available=False, configured=True)
        return DirectoryAnswers({**known, **found}, available=True, configured=True)

    # --- staff -----------------------------------------------------------------------
    async def _in_thread(self, call: Callable[..., T], *args: object) -> T:
        """Raises DirectoryError when the directory cannot be asked."""
        return await asyncio.get_running_loop().run_in_executor(self._pool, call, *args)

    async def authenticate(self, login: str, password: str) -> Person | None:
        return await self._in_thread(self.client.authenticate, login, password)

    async def person(self, login: str) -> Person | None:
        return await self._in_thread(self.client.person, login)

    async def holds(self, login: str) -> bool:
        return await self._in_thread(self.client.holds, login)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self.client.close()
