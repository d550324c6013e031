"""Loopback only: the address every test server binds, and ports nobody else holds."""

from __future__ import annotations

import asyncio
import socket
import time

HOST = "127.0.0.1"

_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A port nobody listens on, never one this test run handed out before: two
    calls in a row (web port, then SMTP port) must not get the same one back."""
    while True:
        with socket.socket() as s:
            s.bind((HOST, 0))
            port = s.getsockname()[1]
        if port not in _HANDED_OUT:
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
