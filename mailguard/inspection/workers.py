"""Inspection off the event loop, in supervised worker processes sized to the CPU.

Why not ``concurrent.futures.ProcessPoolExecutor``: its feeder and manager threads
cost the relay's event loop ~0.5 ms of CPU per message (GIL hand-offs, measured with
bench/relay_bench.py), one dead worker breaks the whole pool, and a hung worker can
never be killed. Here each worker is a child process spoken to over its stdin/stdout
pipes straight from the event loop (forked from the zygote where one was started,
``zygote.py``; else each a new interpreter):

- a slow or huge message occupies one worker while the relay serves everyone else;
- a worker over its time budget is killed and replaced, its message gets a 4xx;
- a worker that dies is replaced at once; a message it was inspecting is retried once
  on another worker (inspection is a pure function), so the pool never shrinks to zero.

Wire format both ways: 4-byte big-endian length, then a pickle.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import os
import pickle
import signal
import struct
import sys
from collections.abc import Callable
from typing import Any, Protocol

from mailguard import heap
from mailguard import log as mglog
from mailguard.history.store import HistoryReader
from mailguard.inspection import zygote
from mailguard.inspection.context import InspectionContext
from mailguard.model import Envelope, Inspection
from mailguard.policy.loader import LoadedPolicy
from mailguard.processes import name_process, python_module
from mailguard.records.store import RecordsReader

log = mglog.get_logger()

_LEN = struct.Struct("!I")
_READY = b"R"
DEFAULT_TARGET = "mailguard.inspection.pipeline:inspect"


class InspectionError(Exception):
    """The message could not be inspected in time; the relay answers 4xx."""


class _WorkerGone(Exception):
    """The worker process ended or its pipes broke mid-request."""


class _Process(Protocol):
    """What the pool needs of a worker process: a spawned one or a forked one."""

    @property
    def returncode(self) -> int | None: ...

    async def wait(self) -> int | None: ...

    def kill(self) -> None: ...


class _Worker:
    def __init__(
        self, proc: _Process, requests: asyncio.StreamWriter, replies: asyncio.StreamReader
    ) -> None:
        self.proc = proc
        self.requests, self.replies = requests, replies
        self.generation = -1  # which set_policy call this worker holds (-1: none yet)

    @property
    def alive(self) -> bool:
        return self.proc.returncode is None

    async def exchange(self, policy: bytes, payload: bytes) -> bytes:
        try:
            self.requests.write(_LEN.pack(len(policy)))
            if policy:
                self.requests.write(policy)
            self.requests.write(_LEN.pack(len(payload)))
            self.requests.write(payload)
            await self.requests.drain()
            (size,) = _LEN.unpack(await self.replies.readexactly(_LEN.size))
            return await self.replies.readexactly(size)
        except (OSError, asyncio.IncompleteReadError) as exc:
            raise _WorkerGone(type(exc).__name__) from None

    def kill(self) -> None:
        if self.alive:
            with contextlib.suppress(ProcessLookupError):
                self.proc.kill()


class InspectionPool:
    def __init__(
        self,
        workers: int,
        timeout: float,
        *,
        target: str = DEFAULT_TARGET,
        start_timeout: float = 120.0,
        forker: zygote.Zygote | None = None,
    ) -> None:
        """``forker``: the zygote ``prefork`` made for ``target``, to fork workers from."""
        self.size = workers
        self.forker = forker
        self.timeout = timeout
        self.target = target
        self.start_timeout = start_timeout
        self._idle: asyncio.Queue[_Worker] = asyncio.Queue()
        self._workers: set[_Worker] = set()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._closing = False
        self.replaced = 0
        self._policy_blob = pickle.dumps((None, None))
        self._generation = 0  # counts set_policy calls; a worker behind is sent the new one

    def set_policy(self, policy: LoadedPolicy | None, context: InspectionContext) -> None:
        """Workers pick the new policy, and the site's context with it, up with their
        next message."""
        self._policy_blob = pickle.dumps((policy, context), protocol=pickle.HIGHEST_PROTOCOL)
        self._generation += 1

    @property
    def busy(self) -> int:
        return len(self._workers) - self._idle.qsize()

    async def start(self) -> None:
        """Start every worker now so the first messages pay no start-up cost."""
        if self.forker is not None:
            try:
                await self.forker.start(self.start_timeout)
            except zygote.ZygoteGone as exc:
                log.error("worker_zygote_failed", error=str(exc), action="new processes")
        workers = await asyncio.gather(*(self._spawn() for _ in range(self.size)))
        for worker in workers:
            self._adopt(worker)

    async def _spawn(self) -> _Worker:
        if self.forker is not None and self.forker.alive:
            try:
                forked = await self.forker.fork(self.start_timeout)
            except zygote.ZygoteGone as exc:
                log.error("worker_zygote_lost", error=str(exc), action="new processes")
            except zygote.ForkFailed as exc:
                log.error("worker_fork_failed", error=str(exc), action="a new process")
            else:
                return await self._greeted(_Worker(forked, forked.writer, forked.reader))
        proc = await asyncio.create_subprocess_exec(
            *python_module("mailguard.inspection.workers"),
            self.target,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
        )
        assert proc.stdin is not None and proc.stdout is not None
        return await self._greeted(_Worker(proc, proc.stdin, proc.stdout))

    async def _greeted(self, worker: _Worker) -> _Worker:
        """The worker, once it said it is ready."""
        try:
            ready = await asyncio.wait_for(worker.replies.readexactly(1), self.start_timeout)
        except (TimeoutError, asyncio.IncompleteReadError):
            worker.kill()
            raise InspectionError("inspection worker failed to start") from None
        if ready != _READY:
            worker.kill()
            raise InspectionError("inspection worker failed to start")
        return worker

    def _adopt(self, worker: _Worker) -> None:
        self._workers.add(worker)
        self._idle.put_nowait(worker)
        self._spawn_task(self._supervise(worker))

    def _spawn_task(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _supervise(self, worker: _Worker) -> None:
        code = await worker.proc.wait()
        self._workers.discard(worker)
        if self._closing:
            return
        log.error("worker_died", exit_code=code, action="replacing")
        delay = 0.5
        while not self._closing:
            try:
                replacement = await self._spawn()
            except (InspectionError, OSError) as exc:
                log.error("worker_spawn_failed", error=str(exc), retry_in_s=delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30.0)
                continue
            self.replaced += 1
            self._adopt(replacement)
            return

    async def inspect(self, envelope: Envelope, raw: bytes, **extras: Any) -> Inspection:
        """``extras`` are passed on to the target as keyword arguments (``dns`` answers)."""
        payload = pickle.dumps((envelope, raw, extras), protocol=pickle.HIGHEST_PROTOCOL)
        deadline = asyncio.get_running_loop().time() + self.timeout
        try:
            ok, value = await self._call(payload, deadline)
        except _WorkerGone:
            # Inspection is pure, so running it again is safe. Only once: a message
            # that kills every worker it meets gets a 4xx instead.
            log.error("worker_lost_mid_message", action="retrying once")
            try:
                ok, value = await self._call(payload, deadline)
            except _WorkerGone:
                raise InspectionError("inspection worker died twice on this message") from None
        if not ok:
            raise InspectionError(f"inspection failed in worker: {value}")
        return value

    async def _call(self, payload: bytes, deadline: float) -> tuple[bool, Any]:
        loop = asyncio.get_running_loop()
        try:
            async with asyncio.timeout_at(deadline):
                worker = await self._take()
        except TimeoutError:
            raise InspectionError("no inspection worker became free in time") from None
        policy = b""
        if worker.generation != self._generation:
            policy = self._policy_blob
            worker.generation = self._generation
        exchange = asyncio.ensure_future(worker.exchange(policy, payload))
        try:
            done, _ = await asyncio.wait({exchange}, timeout=max(0.0, deadline - loop.time()))
        except asyncio.CancelledError:
            self._abandon(worker, exchange, deadline)  # the client went away
            raise
        if not done:
            exchange.cancel()
            worker.kill()  # stuck on this message; the supervisor starts a fresh one
            raise InspectionError(f"inspection took longer than {self.timeout:g}s")
        try:
            data = exchange.result()
        except _WorkerGone:
            worker.kill()
            raise
        self._idle.put_nowait(worker)
        return pickle.loads(data)

    def _abandon(self, worker: _Worker, exchange: asyncio.Future[bytes], deadline: float) -> None:
        """Let a worker finish a request nobody waits for, then reuse it (or kill it)."""

        def expire() -> None:
            exchange.cancel()
            worker.kill()

        watchdog = asyncio.get_running_loop().call_at(deadline, expire)

        def finished(task: asyncio.Future[bytes]) -> None:
            watchdog.cancel()
            if task.cancelled() or task.exception() is not None or not worker.alive:
                worker.kill()
            else:
                self._idle.put_nowait(worker)

        exchange.add_done_callback(finished)

    async def _take(self) -> _Worker:
        while True:
            worker = await self._idle.get()
            if worker.alive:
                return worker

    async def close(self) -> None:
        self._closing = True
        for worker in list(self._workers):
            worker.requests.close()  # EOF: the worker finishes and exits
        procs = [w.proc.wait() for w in self._workers]
        if procs:
            _, pending = await asyncio.wait([asyncio.ensure_future(p) for p in procs], timeout=5)
            if pending:
                for worker in self._workers:
                    worker.kill()
        for task in list(self._tasks):
            task.cancel()
        if self.forker is not None:
            await self.forker.close()


# --- the worker process ------------------------------------------------------------


def _load_target(spec: str) -> Callable[..., Inspection]:
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def _serve_requests(spec: str, warm: bool = True) -> None:
    # Signals are for the relay: it drains in-flight messages on SIGTERM and needs
    # its workers alive to do so, even when the whole process group is signalled.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    name_process("mg-worker")
    requests = open(0, "rb", closefd=False)  # noqa: SIM115  # sys.stdin may be None
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print() must never corrupt the reply stream
    inspect = _load_target(spec)
    module = importlib.import_module(spec.partition(":")[0])
    policy: LoadedPolicy | None = None
    context: InspectionContext | None = None
    history: HistoryReader | None = None
    records: RecordsReader | None = None
    replies.write(_READY)
    replies.flush()
    # A worker started as a new interpreter loads the models after saying ready: the
    # relay starts at once, and only a message that arrives in the first seconds waits
    # for them; a forked one's zygote loaded them before forking it (``warm`` False).
    # MAILGUARD_PRELOAD_NLP=0 (small sites, tests) loads nothing ahead: an idle worker
    # then holds no Presidio or spaCy (~1.3 s of CPU and ~200 MB less), and its first
    # message that needs them loads them.
    if warm:
        _warm_up(module)
        heap.settle()
    while True:
        blob = _read_frame(requests)
        if blob is None:
            return  # the relay closed our stdin: shut down
        if blob:
            policy, new_context = pickle.loads(blob)
            if new_context != context:
                if history is not None:
                    history.close()
                context, history = new_context, _open_history(new_context)
                records = new_context.open_records() if new_context else None
        body = _read_frame(requests)
        if body is None:
            return
        envelope, raw, extras = pickle.loads(body)
        try:
            result: tuple[bool, Any] = (
                True,
                inspect(envelope, raw, policy, history=history, records=records, **extras),
            )
        except Exception as exc:  # reported to the relay, which answers 4xx
            result = (False, type(exc).__name__)
        data = pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL)
        replies.write(_LEN.pack(len(data)))
        replies.write(data)
        replies.flush()


def _warm_up(module: Any) -> None:
    warm_up = getattr(module, "warm_up", None)
    if callable(warm_up) and os.environ.get("MAILGUARD_PRELOAD_NLP", "1") != "0":
        try:
            warm_up()
        except Exception as exc:  # a missing model must not kill the worker in a loop
            log.warning("worker_warm_up_failed", error=f"{type(exc).__name__}: {exc}")


_PREFORKED: list[zygote.Zygote] = []


def prefork(spec: str = DEFAULT_TARGET) -> None:
    """Fork the zygote for this process's inspection pool: call it at start-up, before
    the event loop, a thread or a store exists. Without one (or where forking is not
    safe or possible) the pool starts workers as new interpreters."""
    if os.environ.get("MAILGUARD_FORK_WORKERS", "1") == "0":
        return
    forker = zygote.prefork(
        lambda: _serve_requests(spec, warm=False),
        lambda: _warm_up(importlib.import_module(spec.partition(":")[0])),
    )
    if forker is not None:
        _PREFORKED.append(forker)


def preforked() -> zygote.Zygote | None:
    """The zygote ``prefork`` made, for the one pool that uses it."""
    return _PREFORKED.pop() if _PREFORKED else None


def _open_history(context: InspectionContext | None) -> HistoryReader | None:
    """Opened once per worker and context: the relay's history, read-only."""
    try:
        return context.open_history() if context else None
    except Exception as exc:  # inspect without history rather than not at all
        log.warning("worker_history_unavailable", error=type(exc).__name__)
        return None


def _read_frame(stream: Any) -> bytes | None:
    header = stream.read(_LEN.size)
    if len(header) < _LEN.size:
        return None
    (size,) = _LEN.unpack(header)
    data = stream.read(size)
    return data if len(data) == size else None


if __name__ == "__main__":
    mglog.configure(os.environ.get("MAILGUARD_LOG_LEVEL", "warning"))
    _serve_requests(sys.argv[1] if len(sys.argv) > 1 else DEFAULT_TARGET)
