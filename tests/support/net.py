"""Loopback only: the address every test server binds, and ports nobody else holds."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import zlib

HOST = "127.0.0.1"

_HANDED_OUT: set[int] = set()

# Under pytest-xdist each worker process takes only the ports that are its own (by a
# hash of the number: Linux hands out only odd ports for bind(("", 0)), so not by the
# number modulo the workers), so two workers can never be handed the same port in the
# moment between free_port() and the server binding it, nor while a test keeps a port
# free on purpose (an upstream that is "down", a relay restarted on its port).
_WORKERS = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1") or 1)
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0) % _WORKERS


def ours(port: int) -> bool:
    """Whether this test process may use ``port`` (always, without xdist)."""
    return zlib.crc32(port.to_bytes(2, "big")) % _WORKERS == _WORKER


def free_port() -> int:
    """A port nobody listens on, never one this test run handed out before: two
    calls in a row (web port, then SMTP port) must not get the same one back."""
    while True:
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        if ours(port) and port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


async def eventually(predicate, within: float = 10.0, interval: float = 0.1) -> bool:
    """Wait until predicate() is true (a log line, a delivery); False on timeout."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if predicate():
            return True
        await asyncio.sleep(interval)
    return bool(predicate())
