"""The listening relay: who may connect, limits, timeouts and graceful shutdown."""

from __future__ import annotations

import asyncio
import ipaddress
import signal
import time
from collections.abc import Coroutine
from typing import Any

from aiosmtpd.smtp import SMTP, Session

from mailguard import __version__
from mailguard import logging as mglog
from mailguard.config import Settings
from mailguard.delivery.upstream import UpstreamConfig, UpstreamPool, UpstreamTransaction
from mailguard.smtp import replies
from mailguard.smtp.handler import RelayHandler
from mailguard.smtp.replies import Reply
from mailguard.workers import InspectionPool

log = mglog.get_logger()


class RelaySession(Session):
    """aiosmtpd's session plus the upstream side of the current transaction."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.txn: UpstreamTransaction | None = None
        self.in_data = False

    @property
    def busy(self) -> bool:
        return self.txn is not None or self.in_data


class RelaySMTP(SMTP):
    """aiosmtpd's protocol with the guarantees a relay in the mail path needs.

    - clients outside the allow-list or arriving during shutdown get 421 and nothing else;
    - any exception becomes 451 (aiosmtpd's default is a 500, i.e. a bounce);
    - DATA has its own total time limit, and the idle timer stops while we process;
    - an abandoned transaction (RSET, EHLO, disconnect) is reset upstream too.
    """

    def __init__(self, handler: RelayHandler, relay: Relay, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._relay = relay
        self._refused = False
        self._close_after_reply = False

    # --- connection gate -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None:  # a new connection, not the STARTTLS upgrade
            refusal = self._relay.refusal_for(transport.get_extra_info("peername"))
            if refusal is not None:
                self._refused = True
                transport.write(f"{refusal}\r\n".encode())  # type: ignore[attr-defined]
                transport.close()
                return
            self._relay.sessions.add(self)
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def eof_received(self) -> bool | None:
        return False if self._refused else super().eof_received()

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        self._relay.sessions.discard(self)
        self._abort_transaction()
        super().connection_lost(error)

    # --- sessions and transactions ---------------------------------------------------
    def _create_session(self) -> RelaySession:
        return RelaySession(self.loop)

    def _create_envelope(self) -> Any:
        # aiosmtpd makes a new envelope on RSET, HELO/EHLO, STARTTLS and after DATA:
        # whatever transaction was open upstream is over too.
        self._abort_transaction()
        return super()._create_envelope()

    def _abort_transaction(self) -> None:
        session = self.session
        if isinstance(session, RelaySession) and session.txn is not None:
            txn, session.txn = session.txn, None
            self._relay.spawn(txn.abort())

    @property
    def busy(self) -> bool:
        return isinstance(self.session, RelaySession) and self.session.busy

    async def handle_exception(self, error: Exception) -> str:
        log.error("session_error", error=type(error).__name__, detail=str(error))
        self._abort_transaction()
        self._set_rset_state()
        return str(replies.INTERNAL_ERROR)

    async def push(self, status: Any) -> None:
        await super().push(status)
        if self._close_after_reply and self.transport is not None:
            self.transport.close()

    def close_after_reply(self) -> None:
        self._close_after_reply = True

    def say_goodbye(self, reply: Reply) -> None:
        if self.transport is not None:
            self._writer.write(f"{reply}\r\n".encode())
            self.transport.close()

    # --- timeouts --------------------------------------------------------------------
    async def smtp_DATA(self, arg: str) -> None:
        self._reset_timeout(self._relay.settings.data_timeout)
        await super().smtp_DATA(arg)

    def _timeout_cb(self) -> None:
        log.info("client_timeout")
        if self.transport is not None:
            self._writer.write(f"{replies.TIMEOUT}\r\n".encode())
        super()._timeout_cb()

    def pause_timeout(self) -> None:
        if self._timeout_handle is not None:
            self._timeout_handle.cancel()

    def resume_timeout(self) -> None:
        if self.transport is not None:
            self._reset_timeout()


class Relay:
    """Owns the listener, the upstream pool and the inspection workers."""

    def __init__(self, settings: Settings, inspector: InspectionPool | None = None) -> None:
        self.settings = settings
        self.sessions: set[RelaySMTP] = set()
        self.draining = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._server: asyncio.base_events.Server | None = None
        self.upstream = UpstreamPool(
            UpstreamConfig(
                host=settings.upstream[0],
                port=settings.upstream[1],
                local_hostname=settings.hostname,
                connect_timeout=settings.upstream_connect_timeout,
                command_timeout=settings.upstream_timeout,
                data_timeout=settings.upstream_data_timeout,
                max_connections=settings.upstream_max_connections,
                idle_timeout=settings.upstream_idle_timeout,
                max_reuse=settings.upstream_max_reuse,
            )
        )
        self.inspector = inspector or InspectionPool(settings.workers, settings.inspect_timeout)
        self.handler = RelayHandler(
            self.upstream,
            self.inspector,
            max_recipients=settings.max_recipients,
            is_draining=lambda: self.draining,
        )

    def refusal_for(self, peer: Any) -> Reply | None:
        if self.draining:
            return replies.SHUTTING_DOWN
        try:
            address = ipaddress.ip_address(peer[0].split("%", 1)[0])
        except (TypeError, ValueError, IndexError):
            return replies.CLIENT_NOT_ALLOWED
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if any(address in net for net in self.settings.allow):
            return None
        log.warning("client_refused", client=str(address))
        return replies.CLIENT_NOT_ALLOWED

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def _protocol(self) -> RelaySMTP:
        s = self.settings
        return RelaySMTP(
            self.handler,
            self,
            data_size_limit=s.max_size,
            enable_SMTPUTF8=True,
            decode_data=False,
            hostname=s.hostname,
            ident=f"mailguard {__version__} ESMTP",
            timeout=s.command_timeout,
        )

    async def start(self) -> None:
        s = self.settings
        s.data_dir.mkdir(parents=True, exist_ok=True)
        await self.inspector.start()
        loop = asyncio.get_running_loop()
        host, port = s.listen
        self._server = await loop.create_server(
            self._protocol, host=host, port=port, reuse_address=True
        )
        log.info(
            "ready",
            listen=f"{host}:{port}",
            upstream=f"{s.upstream[0]}:{s.upstream[1]}",
            workers=s.workers,
            max_size=s.max_size,
            version=__version__,
        )

    @property
    def in_flight(self) -> int:
        return sum(1 for session in self.sessions if session.busy)

    async def shutdown(self) -> None:
        """Stop taking mail (421), let in-flight messages finish, then close."""
        self.draining = True
        grace = self.settings.shutdown_grace
        log.info("shutting_down", in_flight=self.in_flight, grace_s=grace)
        deadline = time.monotonic() + grace
        # In-flight is derived from live sessions; polling it is simpler than events.
        while self.in_flight and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
        if self.in_flight:
            log.warning("shutdown_grace_expired", in_flight=self.in_flight)
        if self._server is not None:
            self._server.close()
        for session in list(self.sessions):
            session.say_goodbye(replies.SHUTTING_DOWN)
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)
        await self.upstream.close()
        await self.inspector.close()
        log.info("stopped")


async def serve(settings: Settings) -> None:
    """Run until SIGTERM/SIGINT; SIGHUP never kills the relay."""
    relay = Relay(settings)
    await relay.start()
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    loop.add_signal_handler(signal.SIGTERM, stop.set)
    loop.add_signal_handler(signal.SIGINT, stop.set)
    loop.add_signal_handler(signal.SIGHUP, lambda: log.info("reload_requested", reloaded=[]))
    await stop.wait()
    await relay.shutdown()
