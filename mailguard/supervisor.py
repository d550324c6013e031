"""Several relay processes on one listening socket, so that every core takes mail.

The supervisor binds the listen port once (a taken port still fails start-up with
the same message), then starts ``processes`` relays that accept on the inherited
socket: the kernel hands each new connection to whichever relay asks first, which
is the least busy one. It passes SIGHUP on (one policy reload for all) and SIGTERM
(each relay drains its own messages), and replaces a relay that dies. The relays'
counters meet in one directory (prometheus_client's multiprocess mode), so the
first relay's ``/metrics`` shows them all; that relay alone serves the review UI
and does the housekeeping.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import pickle
import shutil
import signal
import socket
import sqlite3
import sys
from pathlib import Path

import structlog

from mailguard import __version__
from mailguard import log as mglog
from mailguard.config import Settings
from mailguard.db import private_dir
from mailguard.inspection.workers import prefork
from mailguard.policy.loader import LoadedPolicy, PolicyError, load_policy
from mailguard.processes import python_module
from mailguard.relay import Share, run, serve
from mailguard.smtp.listener import listening_socket

log = mglog.get_logger()

START_TIMEOUT = 300.0  # a relay opens its stores and starts its workers in this time
_READY = b"R"


class RelayProcessError(OSError):
    """A relay process could not start; its own log line says why."""


class Supervisor:
    def __init__(
        self, settings: Settings, policy: LoadedPolicy | None, sock: socket.socket
    ) -> None:
        self.settings = settings
        self.count = settings.processes
        self.sock = sock
        self.policy = policy
        self.metrics_dir = _fresh_metrics_dir(settings.data_dir)
        self.procs: dict[int, asyncio.subprocess.Process] = {}
        self._watchers: list[asyncio.Task[None]] = []
        self.stopping = False
        self.replaced = 0

    async def start(self) -> None:
        """The first relay alone, then the rest together: it creates or upgrades the
        database schema before anyone else opens it."""
        started = await asyncio.gather(self._start(0), return_exceptions=True)
        if not isinstance(started[0], BaseException):
            started += await asyncio.gather(
                *(self._start(i) for i in range(1, self.count)), return_exceptions=True
            )
        failed = [r for r in started if isinstance(r, BaseException)]
        for i, proc in enumerate(started):
            if not isinstance(proc, BaseException):
                self.procs[i] = proc
        if failed:
            await self.stop()
            raise RelayProcessError(f"a relay process could not start: {failed[0]}")
        self._watchers = [asyncio.ensure_future(self._watch(i)) for i in range(self.count)]

    async def _start(self, index: int) -> asyncio.subprocess.Process:
        env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(self.metrics_dir)}
        proc = await asyncio.create_subprocess_exec(
            *python_module("mailguard.supervisor"),
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE,
            pass_fds=(self.sock.fileno(),), env=env,
        )  # fmt: skip
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(pickle.dumps((self.settings, self.policy, index, self.sock.fileno())))
        await proc.stdin.drain()
        proc.stdin.close()
        try:
            said = await asyncio.wait_for(proc.stdout.read(1), START_TIMEOUT)
        except TimeoutError:
            said = b""
        if said != _READY:
            with contextlib.suppress(ProcessLookupError):
                proc.kill()
            code = await proc.wait()
            raise RelayProcessError(f"relay process {index} exited with status {code}")
        return proc

    async def _watch(self, index: int) -> None:
        """A relay that dies is replaced; its connections are lost, the port is not."""
        while True:
            code = await self.procs[index].wait()
            _mark_dead(self.procs[index].pid)
            if self.stopping:
                return
            log.error("relay_process_died", process=index, exit_code=code, action="replacing")
            delay = 0.5
            while not self.stopping:
                try:
                    self.procs[index] = await self._start(index)
                except (OSError, RelayProcessError) as exc:
                    log.error("relay_process_start_failed", process=index, error=str(exc),
                              retry_in_s=delay)  # fmt: skip
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 30.0)
                    continue
                self.replaced += 1
                log.info("relay_process_replaced", process=index)
                break

    def tell_all(self, sig: int) -> None:
        for proc in self.procs.values():
            if proc.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    proc.send_signal(sig)

    async def stop(self) -> None:
        """Every relay drains (up to shutdown_grace), then the supervisor ends."""
        self.stopping = True
        self.tell_all(signal.SIGTERM)
        waits = [asyncio.ensure_future(p.wait()) for p in self.procs.values()]
        if waits:
            _, pending = await asyncio.wait(waits, timeout=self.settings.shutdown_grace + 15)
            if pending:
                self.tell_all(signal.SIGKILL)
                await asyncio.wait(pending, timeout=5)
        for task in self._watchers:
            task.cancel()


async def supervise(settings: Settings, policy: LoadedPolicy | None) -> None:
    """``serve`` with ``processes`` > 1: run until SIGTERM/SIGINT, SIGHUP reloads all."""
    was = private_dir(settings.data_dir)
    if was is not None:
        log.warning("data_dir_tightened", path=str(settings.data_dir), was=f"{was:04o}")
    sock = listening_socket(settings)
    supervisor = Supervisor(settings, policy, sock)
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: supervisor.tell_all(signal.SIGHUP))
    try:
        await supervisor.start()
        host, port = settings.listen
        log.info(
            "ready",
            processes=supervisor.count,
            policy_version=policy.version if policy else None,
            listen=f"{host}:{port}",
            upstream=f"{settings.upstream[0]}:{settings.upstream[1]}",
            workers=settings.workers,
            max_size=settings.max_size,
            version=__version__,
        )
        await stop.wait()
        log.info("shutting_down", processes=supervisor.count)
        await supervisor.stop()
    finally:
        sock.close()
    log.info("stopped")


def _fresh_metrics_dir(data_dir: Path) -> Path:
    """The relays' shared counters start from zero with each run, as one relay's do."""
    path = data_dir / "metrics"
    shutil.rmtree(path, ignore_errors=True)
    path.mkdir(mode=0o700, parents=True)
    return path


def _mark_dead(pid: int) -> None:
    with contextlib.suppress(Exception):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def _relay_process() -> None:
    """One relay of several: its settings come on stdin, its socket as an inherited fd."""
    settings, policy, index, fd = pickle.load(sys.stdin.buffer)
    ready = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # a stray print() must never look like the ready byte
    mglog.configure(settings.log_level)
    structlog.contextvars.bind_contextvars(process=index)
    if settings.policy is not None:  # a replaced relay takes the policy as it is now
        try:
            policy = load_policy(settings.policy)
        except PolicyError as exc:
            log.error("policy_reload_failed", why="relay process started",
                      problems=[str(p) for p in exc.problems])  # fmt: skip
    share = Share(index, settings.processes, socket.socket(fileno=fd))

    def say_ready() -> None:
        ready.write(_READY)
        ready.flush()

    prefork()  # before the event loop, a thread or a store exists
    try:
        run(settings, serve(settings, policy, share, say_ready))
    except (OSError, sqlite3.Error) as exc:
        log.error("cannot_start", process=index, error=getattr(exc, "strerror", None) or str(exc))
        sys.exit(1)


if __name__ == "__main__":
    _relay_process()
