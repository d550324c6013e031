"""Inspection workers forked from one copy of the relay made before it serves.

A worker started as a new interpreter imports mailguard and its libraries again
(about 1.3 s of CPU) and loads the recognisers and the NER model itself (another
1.5 s and about 200 MB, per worker). Instead ``prefork`` forks the relay process once,
at start-up, before it has a thread, a store or a socket of its own: that copy (the
zygote) loads the models once and forks each worker from itself. A worker then starts
in milliseconds, a worker killed for overrunning its time is replaced as fast, and
every worker shares the zygote's pages of the models instead of holding its own.

The relay talks to the zygote over a SOCK_SEQPACKET pair (one message per send):

- zygote → relay ``R``: ready (imports done, models loaded where preloading);
- relay → zygote ``F`` with one descriptor, the worker's end of a socket pair;
  zygote → relay ``F`` + pid, with the worker's pidfd, once forked;
- zygote → relay ``X`` + pid + exit code, when a worker it forked has ended.

The relay watches each worker through its pidfd and signals it through the pidfd,
so a reused pid is never killed. When the zygote is gone (or the machine has no
pidfds) the pool starts workers as new interpreters, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import select
import signal
import socket
import struct
import threading
import time
from collections.abc import Callable
from typing import NoReturn

from mailguard import log as mglog
from mailguard.processes import name_process

log = mglog.get_logger()

_PID = struct.Struct("!i")
_EXIT = struct.Struct("!ii")


class ZygoteGone(Exception):
    """The zygote ended: workers are started as new processes from now on."""


def single_threaded() -> bool:
    """Forking is safe only with no other thread (one could hold a lock the copy
    would wait for for ever); native threads count too."""
    try:
        return threading.active_count() == 1 and len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def prefork(serve: Callable[[], None], preload: Callable[[], None] | None) -> Zygote | None:
    """Fork the zygote now; None where that is not safe or not possible here.

    ``serve``: the worker's request loop (it returns when the relay closes its end);
    ``preload``: what to load before the first worker is forked.
    """
    if not hasattr(os, "pidfd_open") or not hasattr(signal, "pidfd_send_signal"):
        return None
    if not single_threaded():
        return None
    try:
        os.close(os.pidfd_open(os.getpid()))  # e.g. a kernel before 5.3, or a sandbox
    except OSError:
        return None
    ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    pid = os.fork()
    if pid == 0:  # the zygote
        ours.close()
        _zygote(theirs, serve, preload)
    theirs.close()
    return Zygote(pid, ours)


# --- the zygote process ----------------------------------------------------------------


def _zygote(
    ctl: socket.socket, serve: Callable[[], None], preload: Callable[[], None] | None
) -> NoReturn:
    code = 0
    try:
        _quiet_signals()
        _close_all_but(ctl.fileno())
        name_process("mg-zygote")
        if preload is not None:
            try:
                preload()
            except Exception as exc:  # a missing model: workers load it on demand
                log.warning("worker_warm_up_failed", error=f"{type(exc).__name__}: {exc}")
        from mailguard import heap

        heap.settle()
        _serve_forks(ctl, serve)
    except BaseException:  # never run the relay's code below us
        code = 1
    os._exit(code)


def _quiet_signals() -> None:
    """The relay's signals are the relay's: a group-wide SIGTERM must not stop the
    zygote while the relay drains (it needs replacements), as for workers."""
    signal.set_wakeup_fd(-1)
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)


def _close_all_but(keep: int) -> None:
    """The relay's listening socket, log files and database handles stay the relay's."""
    for fd in _open_fds():
        if fd > 2 and fd != keep:
            with contextlib.suppress(OSError):
                os.close(fd)


def _open_fds() -> list[int]:
    try:
        return sorted(int(name) for name in os.listdir("/proc/self/fd"))
    except OSError:
        return list(range(3, 1024))


def _serve_forks(ctl: socket.socket, serve: Callable[[], None]) -> None:
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # wakes select through wake_w
    ctl.send(b"R")
    while True:
        readable, _, _ = select.select([ctl, wake_r], [], [])
        if wake_r in readable:
            os.read(wake_r, 4096)
            _report_exits(ctl)
        if ctl in readable:
            message, fds, _, _ = socket.recv_fds(ctl, 16, 1)
            if not message:
                _outlive_workers()  # the relay closed its end or died
                return
            if message == b"F" and fds:
                _fork_worker(ctl, fds[0], serve, (wake_r, wake_w))
            for fd in fds:
                os.close(fd)


def _fork_worker(
    ctl: socket.socket, channel: int, serve: Callable[[], None], wake: tuple[int, int]
) -> None:
    pid = os.fork()
    if pid == 0:  # the worker
        code = 0
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # its own OCR tools are waited
            for fd in (ctl.fileno(), *wake):
                os.close(fd)
            os.dup2(channel, 0)
            os.dup2(channel, 1)
            os.close(channel)
            serve()
        except BaseException:
            code = 1
        os._exit(code)
    # Opened before this process can reap the worker: the pid cannot be reused yet.
    pidfd = os.pidfd_open(pid)
    try:
        socket.send_fds(ctl, [b"F" + _PID.pack(pid)], [pidfd])
    finally:
        os.close(pidfd)


def _outlive_workers(limit: float = 10.0) -> None:
    """Reap the workers (they read the end of their sockets too) before going."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            time.sleep(0.02)


def _report_exits(ctl: socket.socket) -> None:
    while True:
        try:
            pid, status = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return
        with contextlib.suppress(OSError):
            ctl.send(b"X" + _EXIT.pack(pid, os.waitstatus_to_exitcode(status)))


# --- the relay's side ------------------------------------------------------------------


class ForkedWorker:
    """A worker the zygote forked: its socket to the relay, and its pidfd."""

    def __init__(
        self,
        zygote: Zygote,
        pid: int,
        pidfd: int,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> None:
        self.pid = pid
        self.reader, self.writer = reader, writer
        self._zygote = zygote
        self._pidfd: int | None = pidfd
        loop = asyncio.get_running_loop()
        self._ended: asyncio.Future[None] = loop.create_future()
        loop.add_reader(pidfd, self._on_exit)

    def _on_exit(self) -> None:
        if self._pidfd is not None:
            asyncio.get_running_loop().remove_reader(self._pidfd)
            os.close(self._pidfd)
            self._pidfd = None
        if not self._ended.done():
            self._ended.set_result(None)
        self.writer.close()

    @property
    def returncode(self) -> int | None:
        """None while it runs; once ended, its exit code as the zygote reported it
        (-9: killed), or 0 when that report never came."""
        if not self._ended.done():
            return None
        return self._zygote.exit_codes.get(self.pid, 0)

    async def wait(self) -> int:
        await self._ended
        # The zygote reaps it a moment after the pidfd says it ended.
        for _ in range(20):
            if self.pid in self._zygote.exit_codes or not self._zygote.alive:
                break
            await asyncio.sleep(0.01)
        return self._zygote.exit_codes.pop(self.pid, 0)

    def kill(self) -> None:
        if self._pidfd is not None:
            with contextlib.suppress(ProcessLookupError, OSError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)


class Zygote:
    """The relay's handle on the zygote, its child process."""

    def __init__(self, pid: int, ctl: socket.socket) -> None:
        self.pid = pid
        self.ctl = ctl
        self.alive = True
        self.closing = False
        self.exit_codes: dict[int, int] = {}
        self._pidfd: int | None = os.pidfd_open(pid)  # our child: not reaped before this
        self._watched = False
        self._ready: asyncio.Future[None] | None = None
        self._forked: asyncio.Future[tuple[int, int]] | None = None
        self._lock = asyncio.Lock()

    async def start(self, limit: float) -> None:
        loop = asyncio.get_running_loop()
        self.ctl.setblocking(False)
        self._ready = loop.create_future()
        loop.add_reader(self.ctl.fileno(), self._on_message)
        if self._pidfd is not None:
            loop.add_reader(self._pidfd, self._collect)
            self._watched = True
        try:
            await asyncio.wait_for(self._ready, limit)
        except (TimeoutError, ZygoteGone):
            await self.close(grace=0)
            raise ZygoteGone("the worker zygote did not start") from None

    def _on_message(self) -> None:
        try:
            message, fds, _, _ = socket.recv_fds(self.ctl, 16, 1)
        except (BlockingIOError, InterruptedError):
            return
        except OSError:
            message, fds = b"", []
        if not message:
            self._lost()
            return
        kind = message[:1]
        if kind == b"R" and self._ready is not None and not self._ready.done():
            self._ready.set_result(None)
        elif kind == b"F" and fds and self._forked is not None and not self._forked.done():
            (pid,) = _PID.unpack(message[1:])
            self._forked.set_result((pid, fds.pop()))
        elif kind == b"X":
            pid, code = _EXIT.unpack(message[1:])
            self.exit_codes[pid] = code
        for fd in fds:
            os.close(fd)

    def _lost(self) -> None:
        """No more forks: the zygote ended, or we are closing."""
        if not self.alive:
            return
        self.alive = False
        with contextlib.suppress(Exception):
            asyncio.get_running_loop().remove_reader(self.ctl.fileno())
        for pending in (self._ready, self._forked):
            if pending is not None and not pending.done():
                pending.set_exception(ZygoteGone("the worker zygote ended"))
        self.ctl.close()

    def _collect(self) -> None:
        """Reap the zygote once it has ended (it is our child)."""
        if self._pidfd is None:
            return
        try:
            pid, _ = os.waitpid(self.pid, os.WNOHANG)
        except ChildProcessError:
            pid = self.pid
        if pid == 0:
            return  # still running
        if self._watched:
            asyncio.get_running_loop().remove_reader(self._pidfd)
        os.close(self._pidfd)
        self._pidfd = None
        if not self.closing:
            log.error("worker_zygote_died", action="new workers start as new processes")
        self._lost()

    async def fork(self, limit: float) -> ForkedWorker:
        """A new worker, connected and running its request loop."""
        async with self._lock:
            if not self.alive:
                raise ZygoteGone("the worker zygote ended")
            ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
            self._forked = asyncio.get_running_loop().create_future()
            try:
                socket.send_fds(self.ctl, [b"F"], [theirs.fileno()])
            except OSError:
                ours.close()
                self._lost()
                raise ZygoteGone("the worker zygote ended") from None
            finally:
                theirs.close()
            try:
                pid, pidfd = await asyncio.wait_for(self._forked, limit)
            except (TimeoutError, ZygoteGone):
                ours.close()
                raise ZygoteGone("the worker zygote did not fork a worker") from None
        reader, writer = await asyncio.open_unix_connection(sock=ours)
        return ForkedWorker(self, pid, pidfd, reader, writer)

    async def close(self, grace: float = 5.0) -> None:
        """The zygote reads the end of its socket and exits (its workers read the end
        of theirs when the pool closes them); killed if it has not within ``grace`` s."""
        self.closing = True
        self._lost()
        loop = asyncio.get_running_loop()
        deadline = loop.time() + grace
        while self._pidfd is not None:
            if loop.time() >= deadline:
                with contextlib.suppress(OSError):
                    signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)
                deadline = loop.time() + 5.0
            await asyncio.sleep(0.02)
            self._collect()
