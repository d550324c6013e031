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
from pathlib import Path
from typing import NoReturn

from mailguard import heap
from mailguard import log as mglog
from mailguard.processes import name_process

log = mglog.get_logger()

_PID = struct.Struct("!i")
_EXIT = struct.Struct("!ii")


class ZygoteGone(Exception):
    """The zygote ended: workers are started as new processes from now on."""


class ForkFailed(Exception):
    """This worker could not be forked (a process limit, memory); the next may be."""


def single_threaded() -> bool:
    """Forking is safe only with no other thread (one could hold a lock the copy
    would wait for for ever); native threads count too."""
    try:
        return threading.active_count() == 1 and len(os.listdir("/proc/self/task")) == 1
    except OSError:
        return False


def prefork(serve: Callable[[], None], preload: Callable[[], None] | None) -> Zygote | None:
    """Fork the zygote now; None (and a log line saying why) where that is not safe or
    not possible here.

    ``serve``: the worker's request loop (it returns when the relay closes its end);
    ``preload``: what to load before the first worker is forked.
    """
    why = _cannot_fork()
    if why is not None:
        log.warning("worker_zygote_not_started", why=why, action="new processes")
        return None
    try:
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        pid = os.fork()
    except OSError as exc:
        log.warning("worker_zygote_not_started", why=str(exc), action="new processes")
        return None
    if pid == 0:  # the zygote: whatever happens, never back into the relay's code
        try:
            ours.close()
            _zygote(theirs, serve, preload)
        finally:
            os._exit(1)
    theirs.close()
    return Zygote(pid, ours)


def _cannot_fork() -> str | None:
    if not hasattr(os, "pidfd_open") or not hasattr(signal, "pidfd_send_signal"):
        return "no pidfd support in this Python"
    if not single_threaded():
        return "another thread is running (OPENBLAS_NUM_THREADS above 1?)"
    try:
        os.close(os.pidfd_open(os.getpid()))  # e.g. a kernel before 5.3, or a sandbox
    except OSError as exc:
        return f"no pidfds: {exc}"
    return None


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
    try:
        while True:
            readable, _, _ = select.select([ctl, wake_r], [], [])
            if wake_r in readable:
                os.read(wake_r, 4096)
                _report_exits(ctl)
            if ctl in readable:
                message, fds, _, _ = socket.recv_fds(ctl, 16, 1)
                if not message:
                    return  # the relay closed its end or died
                if message[:1] == b"F" and fds:
                    _fork_worker(ctl, message[1:], fds[0], serve, (wake_r, wake_w))
                for fd in fds:
                    os.close(fd)
    finally:
        _end_workers()


def _fork_worker(
    ctl: socket.socket,
    request: bytes,
    channel: int,
    serve: Callable[[], None],
    wake: tuple[int, int],
) -> None:
    """``request``: the relay's number for this fork, echoed so that a late answer is
    never taken for the next one's."""
    try:
        pid = os.fork()
    except OSError:  # a pids limit, no memory: this worker only; the relay starts one
        ctl.send(b"E" + request)
        return
    if pid == 0:  # the worker
        try:
            signal.set_wakeup_fd(-1)
            signal.signal(signal.SIGCHLD, signal.SIG_DFL)  # its own OCR tools are waited
            for fd in (ctl.fileno(), *wake):
                os.close(fd)
            os.dup2(channel, 0)
            os.dup2(channel, 1)
            os.close(channel)
            serve()
        finally:
            os._exit(0)
    try:
        # Opened before this process can reap the worker: the pid cannot be reused yet.
        pidfd = os.pidfd_open(pid)
    except OSError:
        os.kill(pid, signal.SIGKILL)
        ctl.send(b"E" + request)
        return
    try:
        socket.send_fds(ctl, [b"F" + request + _PID.pack(pid)], [pidfd])
    finally:
        os.close(pidfd)


def _end_workers(grace: float = 2.0) -> None:
    """The relay is gone: nobody waits for the workers' answers. Idle ones read the end
    of their sockets at once; a busy one is killed after ``grace`` s (we are its
    parent, so the pid is still its own), and all are reaped."""
    deadline = time.monotonic() + grace
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid:
            continue
        if time.monotonic() >= deadline:
            for child in _children():
                with contextlib.suppress(OSError):
                    os.kill(child, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.02)


def _children() -> list[int]:
    pid = os.getpid()
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


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
        self._code: int | None = None
        loop = asyncio.get_running_loop()
        self._ended: asyncio.Future[None] = loop.create_future()
        loop.add_reader(pidfd, self._on_exit)

    def _on_exit(self) -> None:
        if self._pidfd is not None:
            asyncio.get_running_loop().remove_reader(self._pidfd)
            # Ours to reap only if it became our child (the zygote died and we are PID 1
            # or a subreaper); otherwise the zygote reaps it and reports the code.
            with contextlib.suppress(ChildProcessError, OSError):
                info = os.waitid(os.P_PIDFD, self._pidfd, os.WEXITED | os.WNOHANG)
                if info is not None:
                    self._code = _exit_code(info)
            os.close(self._pidfd)
            self._pidfd = None
        if not self._ended.done():
            self._ended.set_result(None)
        self.writer.close()

    def _reported(self) -> int | None:
        if self._code is None:
            self._code = self._zygote.exit_codes.pop(self.pid, None)
        return self._code

    @property
    def returncode(self) -> int | None:
        """None while it runs; once it has ended, its exit code if known (else -1)."""
        if not self._ended.done():
            return None
        code = self._reported()
        return -1 if code is None else code

    async def wait(self) -> int | None:
        """Its exit code (-9: killed), or None if the zygote ended before reporting it."""
        await self._ended
        # The zygote reaps it a moment after the pidfd says it ended.
        deadline = asyncio.get_running_loop().time() + 10.0
        while self._reported() is None and self._zygote.alive:
            if asyncio.get_running_loop().time() >= deadline:
                break
            await asyncio.sleep(0.01)
        return self._reported()

    def kill(self) -> None:
        if self._pidfd is not None:
            with contextlib.suppress(ProcessLookupError, OSError):
                signal.pidfd_send_signal(self._pidfd, signal.SIGKILL)


def _exit_code(info: os.waitid_result) -> int:
    if info.si_code == os.CLD_EXITED:
        return info.si_status
    return -info.si_status  # killed or dumped: the signal, as asyncio reports it


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
        self._forks: dict[int, asyncio.Future[tuple[int, int]]] = {}
        self._next = 0

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
            message, fds, _, _ = socket.recv_fds(self.ctl, 64, 1)
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
        elif kind == b"F" and fds:
            (number,) = _PID.unpack(message[1:5])
            (pid,) = _PID.unpack(message[5:9])
            self.exit_codes.pop(pid, None)  # a pid used before, by a worker long gone
            pending = self._forks.pop(number, None)
            if pending is not None and not pending.done():
                pending.set_result((pid, fds.pop()))
            else:  # nobody waits for it any more (cancelled, or given up on)
                with contextlib.suppress(OSError):
                    signal.pidfd_send_signal(fds[0], signal.SIGKILL)
        elif kind == b"E":
            (number,) = _PID.unpack(message[1:5])
            pending = self._forks.pop(number, None)
            if pending is not None and not pending.done():
                pending.set_exception(ForkFailed("the worker zygote could not fork"))
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
        pending = [self._ready, *self._forks.values()]
        self._forks.clear()
        for future in pending:
            if future is not None and not future.done():
                future.set_exception(ZygoteGone("the worker zygote ended"))
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
        """A new worker, connected and running its request loop. ``ForkFailed``: this
        one could not be forked; ``ZygoteGone``: none will be (the zygote is closed if
        it did not answer within ``limit``)."""
        if not self.alive:
            raise ZygoteGone("the worker zygote ended")
        self._next += 1
        number = self._next
        ours, theirs = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
        answer = self._forks[number] = asyncio.get_running_loop().create_future()
        try:
            try:
                socket.send_fds(self.ctl, [b"F" + _PID.pack(number)], [theirs.fileno()])
            except OSError:
                self._lost()
                raise ZygoteGone("the worker zygote ended") from None
            finally:
                theirs.close()
            try:
                pid, pidfd = await asyncio.wait_for(answer, limit)
            except TimeoutError:
                await self.close(grace=0)  # stuck: its late answers must not be trusted
                raise ZygoteGone("the worker zygote did not answer") from None
            try:
                reader, writer = await asyncio.open_unix_connection(sock=ours)
                return ForkedWorker(self, pid, pidfd, reader, writer)
            except BaseException:
                with contextlib.suppress(OSError):
                    signal.pidfd_send_signal(pidfd, signal.SIGKILL)
                os.close(pidfd)
                raise
        except BaseException:
            self._forks.pop(number, None)
            ours.close()
            raise

    async def close(self, grace: float = 5.0) -> None:
        """The zygote reads the end of its socket, ends its workers and exits; killed if
        it has not within ``grace`` s."""
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
