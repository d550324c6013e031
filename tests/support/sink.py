"""The upstream MTA of every test: an aiosmtpd server that records what it gets and
misbehaves on request."""

from __future__ import annotations

import asyncio
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP

from tests.support.net import HOST, free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    content: bytes
    mail_options: list[str]
    tls: bool = False  # the session had done STARTTLS


@dataclass
class SinkBehaviour:
    """How the fake upstream MTA misbehaves; tests flip these at will."""

    refuse_rcpt: dict[str, str] = field(default_factory=dict)  # address -> reply
    data_reply: str | None = None  # e.g. "451 4.3.0 try later"
    data_delay: float = 0.0
    drop_on_data: bool = False


class _SinkHandler:
    def __init__(self, sink: Sink) -> None:
        self.sink = sink

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        reply = self.sink.behaviour.refuse_rcpt.get(address)
        if reply:
            return reply
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        b = self.sink.behaviour
        with self.sink.lock:
            self.sink.data_started += 1
        if b.data_delay:
            await asyncio.sleep(b.data_delay)
        if b.drop_on_data:
            server.transport.close()
            return "250 never seen"
        if b.data_reply:
            return b.data_reply
        with self.sink.lock:
            self.sink.messages.append(
                Received(
                    envelope.mail_from,
                    list(envelope.rcpt_tos),
                    envelope.original_content,
                    list(envelope.mail_options),
                    session.ssl is not None,
                )
            )
        return "250 2.0.0 Ok: queued as SINK"


class _CountingSMTP(SMTP):
    line_length_limit = 1024 * 1024  # like Postfix, the upstream accepts long lines

    def __init__(self, sink: Sink, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._sink = sink

    def connection_made(self, transport):
        if self.transport is None:
            with self._sink.lock:
                self._sink.connections += 1
        super().connection_made(transport)


class Sink(Controller):
    """The upstream MTA: an aiosmtpd server in its own thread that records what it gets."""

    def __init__(self, port: int | None = None, **smtp_options: Any) -> None:
        """``smtp_options`` go to aiosmtpd's SMTP, e.g. ``tls_context`` for STARTTLS."""
        self.messages: list[Received] = []
        self.connections = 0
        self.data_started = 0  # DATA commands received, finished or not
        self.lock = threading.Lock()
        self.behaviour = SinkBehaviour()
        super().__init__(
            _SinkHandler(self),
            hostname=HOST,
            port=port or free_port(),
            enable_SMTPUTF8=True,
            ready_timeout=10,
            **smtp_options,
        )

    def start(self) -> None:
        super().start()
        with self.lock:
            self.connections = 0  # Controller.start() makes one probe connection

    def stop(self, no_assert: bool = False) -> None:
        if self._thread is None:
            return  # a test stopped it already, to play "upstream down"
        super().stop(no_assert)

    def reset(self) -> None:
        """Forget what arrived and how often it was connected to, and behave again (a
        sink shared by several tests)."""
        with self.lock:
            self.messages.clear()
            self.connections = 0
            self.data_started = 0
        self.behaviour = SinkBehaviour()

    def factory(self):
        return _CountingSMTP(self, self.handler, **self.SMTP_kwargs)

    def wait_for(self, count: int, timeout: float = 10.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                if len(self.messages) >= count:
                    return list(self.messages)
            time.sleep(0.02)
        with self.lock:
            return list(self.messages)
