"""The SMTP listener: who may connect, the open sessions, and saying goodbye."""

from __future__ import annotations

import asyncio
import errno
import ipaddress
import socket
import ssl
from collections.abc import Callable, Coroutine
from typing import Any

from mailguard import __version__, replies
from mailguard import log as mglog
from mailguard.config import Settings
from mailguard.replies import Reply
from mailguard.smtp.handler import RelayHandler
from mailguard.smtp.protocol import RelaySMTP

log = mglog.get_logger()


class Listener:
    """Accepts clients on ``settings.listen`` and hands each to a ``RelaySMTP``."""

    def __init__(
        self,
        settings: Settings,
        handler: RelayHandler,
        spawn: Callable[[Coroutine[Any, Any, Any]], None],
        tls_context: ssl.SSLContext | None = None,
    ) -> None:
        self.settings = settings
        self.handler = handler
        self.spawn = spawn  # short jobs (an upstream RSET) that shutdown waits for
        self.data_timeout = settings.data_timeout
        self.idle_release = settings.upstream_idle_release
        self.sessions: set[RelaySMTP] = set()
        self.draining = False
        self.tls_context = tls_context  # for STARTTLS (server_tls)
        self._server: asyncio.base_events.Server | None = None

    def refusal_for(self, peer: Any) -> Reply | None:
        if self.draining:
            return replies.SHUTTING_DOWN
        address = _address(peer)
        if address is None:
            return replies.CLIENT_NOT_ALLOWED
        if any(address in net for net in self.settings.allow):
            return None
        log.warning("client_refused", client=str(address))
        return replies.CLIENT_NOT_ALLOWED

    def xforward_allowed(self, peer: Any) -> bool:
        address = _address(peer)
        return address is not None and any(address in n for n in self.settings.xforward_allow)

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
            tls_context=self.tls_context,
            require_starttls=s.tls_required,
        )

    async def start(self, sock: socket.socket | None = None) -> None:
        """``sock``: a socket already listening (a supervisor's, shared by its relays)."""
        host, port = self.settings.listen
        loop = asyncio.get_running_loop()
        try:
            if sock is not None:
                self._server = await loop.create_server(self._protocol, sock=sock)
                return
            self._server = await loop.create_server(
                self._protocol, host=host, port=port, reuse_address=True
            )
        except OSError as exc:
            raise OSError(exc.errno, f"SMTP {host}:{port} (setting listen): {_why(exc)}") from None

    @property
    def in_flight(self) -> int:
        return sum(1 for session in self.sessions if session.busy)

    def close(self) -> None:
        """Stop listening and tell every client still connected that we are going."""
        if self._server is not None:
            self._server.close()
        for session in list(self.sessions):
            session.say_goodbye(replies.SHUTTING_DOWN)


def listening_socket(settings: Settings) -> socket.socket:
    """The listen port bound once, for several relay processes to accept on."""
    host, port = settings.listen
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    try:
        return socket.create_server((host, port), family=family, backlog=1024)
    except OSError as exc:
        raise OSError(exc.errno, f"SMTP {host}:{port} (setting listen): {_why(exc)}") from None


def server_tls(settings: Settings) -> ssl.SSLContext | None:
    """Made at start-up: a bad certificate stops the relay, not a client's STARTTLS."""
    if settings.tls_cert is None or settings.tls_key is None:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(str(settings.tls_cert), str(settings.tls_key))
    return context


def _address(peer: Any) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        address = ipaddress.ip_address(peer[0].split("%", 1)[0])
    except (TypeError, ValueError, IndexError):
        return None
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        return address.ipv4_mapped
    return address


def _why(exc: OSError) -> str:
    return "address already in use" if exc.errno == errno.EADDRINUSE else exc.strerror or str(exc)
