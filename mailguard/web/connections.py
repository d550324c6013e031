"""uvicorn's HTTP protocol with the limits a UI on the council network needs.

uvicorn times out idle keep-alive connections, but not a connection that never sends
a request, nor one that sends its headers a byte at a time; and its concurrency limit
counts every socket, so 100 silent connections from one machine answered 503 to every
reviewer. Here each client address may hold ``per_address`` connections (more are
closed at once; a trusted reverse proxy has no cap), and a request's headers must
arrive within ``header_timeout``.
"""

from __future__ import annotations

import asyncio

from uvicorn.protocols.http.h11_impl import H11Protocol

from mailguard import log as mglog

log = mglog.get_logger()


def guarded_protocol(
    per_address: int, header_timeout: float, proxies: frozenset[str] = frozenset()
) -> type[H11Protocol]:
    """``proxies``: trusted reverse proxies, which carry everyone's connections and so
    have no per-address cap."""

    class GuardedH11Protocol(H11Protocol):
        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._header_timer: asyncio.TimerHandle | None = None
            host = self.client[0] if self.client else None
            same = sum(1 for c in self.connections if getattr(c, "client", None)
                       and c.client[0] == host)  # fmt: skip
            if host is not None and host not in proxies and same > per_address:
                log.warning("web_connection_refused", client=host, open=same - 1)
                transport.close()
                return
            self._await_headers()

        def _await_headers(self) -> None:
            self._stop_waiting()
            self._header_timer = self.loop.call_later(header_timeout, self._too_slow)

        def _stop_waiting(self) -> None:
            timer = getattr(self, "_header_timer", None)
            if timer is not None:
                timer.cancel()
                self._header_timer = None

        def _too_slow(self) -> None:
            self._header_timer = None
            if self.cycle is None or self.cycle.response_complete:
                self.transport.close()  # no complete request in time: not a browser

        def handle_events(self) -> None:
            before = self.cycle
            super().handle_events()
            if self.cycle is not before:  # a whole request's headers arrived
                self._stop_waiting()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._await_headers()  # the next request on this connection, too

        def connection_lost(self, exc: Exception | None) -> None:
            self._stop_waiting()
            super().connection_lost(exc)

    return GuardedH11Protocol
