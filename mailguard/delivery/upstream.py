"""Pooled connections to the upstream MTA, used as a real-time SMTP proxy.

Each client transaction is mirrored upstream as it happens (MAIL at MAIL, RCPT at
RCPT), like Postfix's before-queue proxy: a recipient the upstream refuses is refused
to our client at RCPT with the upstream's own reply, so no per-recipient failure is
ever swallowed after DATA. DATA goes upstream only once the message is inspected, and
the client hears 250 only after the upstream's 250.

Any doubt about the upstream connection (refused, timed out, dropped) surfaces as
``UpstreamError``, which the relay turns into a 4xx so the client keeps the message.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import time
from dataclasses import dataclass
from typing import Any

import aiosmtplib
import aiosmtplib.protocol
from aiosmtplib import SMTPResponse

from mailguard.config import Settings
from mailguard.replies import Reply

_SMTP_ERRORS = (aiosmtplib.SMTPException, OSError, asyncio.TimeoutError, ValueError)


# --- aiosmtplib's DATA encoding, without its two regular expressions -------------------
# aiosmtplib rewrites every line ending with a regex, then dot-stuffs with ``(?m)^\.``,
# which tries every byte: 2 ms on the relay's loop for a 200 KB message. Everything
# the relay sends already ends its lines CRLF (RFC 5321 DATA), so both reduce to
# counting and one ``bytes.replace``; anything else still takes aiosmtplib's way.
# tests/unit/test_aiosmtpd_contract.py checks both names are still there.
_normalize = aiosmtplib.protocol.normalize_message_line_endings


def has_bare_line_ending(data: bytes) -> bool:
    """True when a CR or LF appears outside a CRLF pair (SMTP smuggling, RFC 5321 2.3.8).

    The relay ends DATA only at CRLF.CRLF, but the upstream might honour ``\\n.\\r\\n``;
    refusing any bare line ending means one DATA can never become two messages.
    """
    crlf = data.count(b"\r\n")
    return data.count(b"\n") != crlf or data.count(b"\r") != crlf


def _line_endings(message: bytes) -> bytes:
    if has_bare_line_ending(message):
        return _normalize(message)
    return message if message.endswith(b"\r\n") else message + b"\r\n"


class _DotStuffing:
    """``PERIOD_REGEX.sub(b"..", message)`` for a message whose lines all end CRLF."""

    def sub(self, repl: bytes, message: bytes) -> bytes:
        stuffed = message.replace(b"\r\n.", b"\r\n" + repl)
        return b"." + stuffed if stuffed.startswith(b".") else stuffed


aiosmtplib.protocol.normalize_message_line_endings = _line_endings  # type: ignore[assignment]
aiosmtplib.protocol.PERIOD_REGEX = _DotStuffing()  # type: ignore[assignment]


class UpstreamError(Exception):
    """The upstream could not be reached or the conversation broke off."""


@dataclass(frozen=True, slots=True)
class UpstreamConfig:
    host: str
    port: int
    local_hostname: str
    connect_timeout: float = 10.0
    command_timeout: float = 60.0
    data_timeout: float = 600.0
    max_connections: int = 64
    idle_timeout: float = 30.0
    max_reuse: int = 1000
    tls: str = "none"  # none | opportunistic | required
    tls_context: ssl.SSLContext | None = None


def upstream_tls_context(settings: Settings) -> ssl.SSLContext:
    """Verify the upstream's certificate against the given CA file or the system's."""
    ca = str(settings.upstream_tls_ca) if settings.upstream_tls_ca else None
    context = ssl.create_default_context(cafile=ca)
    if not settings.upstream_tls_verify:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def config_from(settings: Settings, **overrides: Any) -> UpstreamConfig:
    """The upstream half of the settings (``runtime`` builds every pool from it)."""
    values: dict[str, Any] = {
        "host": settings.upstream[0],
        "port": settings.upstream[1],
        "local_hostname": settings.hostname,
        "connect_timeout": settings.upstream_connect_timeout,
        "command_timeout": settings.upstream_timeout,
        "data_timeout": settings.upstream_data_timeout,
        "max_connections": settings.upstream_max_connections,
        "idle_timeout": settings.upstream_idle_timeout,
        "max_reuse": settings.upstream_max_reuse,
        "tls": settings.upstream_tls,
        "tls_context": upstream_tls_context(settings) if settings.upstream_tls != "none" else None,
    }
    return UpstreamConfig(**{**values, **overrides})


@dataclass(slots=True)
class _Connection:
    smtp: aiosmtplib.SMTP
    uses: int = 0
    idle_since: float = 0.0


class UpstreamPool:
    """Keeps warm connections so a message costs MAIL/RCPT/DATA, not a TCP+EHLO setup."""

    def __init__(self, config: UpstreamConfig) -> None:
        self.config = config
        self._idle: list[_Connection] = []
        self._slots = asyncio.Semaphore(config.max_connections)
        self._closing = False
        self._lent = 0
        self.opened = 0  # connections made over the pool's life, for tests and metrics

    async def begin(
        self, sender: str, options: list[str], *, smtputf8: bool
    ) -> tuple[Reply, UpstreamTransaction | None]:
        """Open a transaction upstream with MAIL FROM.

        Returns the upstream's reply, and the transaction when it answered 2xx.
        """
        try:
            await asyncio.wait_for(self._slots.acquire(), self.config.connect_timeout)
        except TimeoutError:
            raise UpstreamError("no free upstream connection") from None
        self._lent += 1
        conn: _Connection | None = None
        try:
            conn, reused = await self._take()
            try:
                reply = await self._mail(conn, sender, options, smtputf8)
            except UpstreamError:
                if not reused:
                    raise
                # A cached connection may have been closed by the upstream while idle;
                # MAIL has no side effects, so one retry on a fresh connection is safe.
                conn = None
                conn = await self._connect()
                reply = await self._mail(conn, sender, options, smtputf8)
        except BaseException:
            if conn is not None:
                _discard(conn)  # interrupted mid-command: the stream may be out of step
            self._lent -= 1
            self._slots.release()
            raise
        txn = UpstreamTransaction(self, conn)
        if not reply.is_positive:
            await txn.abort()
            return reply, None
        return reply, txn

    async def _take(self) -> tuple[_Connection, bool]:
        now = time.monotonic()
        while self._idle:
            conn = self._idle.pop()
            if conn.smtp.is_connected and now - conn.idle_since < self.config.idle_timeout:
                return conn, True
            _discard(conn)
        return await self._connect(), False

    async def _connect(self) -> _Connection:
        cfg = self.config
        smtp = aiosmtplib.SMTP(
            hostname=cfg.host,
            port=cfg.port,
            local_hostname=cfg.local_hostname,
            timeout=cfg.command_timeout,
            start_tls=False,
        )
        try:
            await smtp.connect(timeout=cfg.connect_timeout)
            try:
                await smtp.ehlo()
            except aiosmtplib.SMTPHeloError:
                await smtp.helo()
            await self._start_tls(smtp)
        except _SMTP_ERRORS as exc:
            smtp.close()
            raise UpstreamError(f"cannot connect upstream: {type(exc).__name__}") from None
        except BaseException:  # cancelled mid-handshake, or TLS refused: close the socket
            smtp.close()
            raise
        self.opened += 1
        return _Connection(smtp)

    async def _start_tls(self, smtp: aiosmtplib.SMTP) -> None:
        cfg = self.config
        if cfg.tls == "none":
            return
        if not smtp.supports_extension("starttls"):
            if cfg.tls == "required":
                raise UpstreamError("upstream offers no STARTTLS and upstream_tls is required")
            return
        await smtp.starttls(tls_context=cfg.tls_context)
        await smtp.ehlo()  # RFC 3207 4.2: forget what was said before TLS

    async def _mail(
        self, conn: _Connection, sender: str, options: list[str], smtputf8: bool
    ) -> Reply:
        smtp = conn.smtp
        params: list[bytes] = []
        for option in options:
            keyword = option.split("=", 1)[0].upper()
            if keyword == "SMTPUTF8":
                continue  # added below only when needed and offered
            if keyword in ("BODY", "SIZE") and not smtp.supports_extension(
                "8bitmime" if keyword == "BODY" else "size"
            ):
                continue  # like Postfix: send 8-bit anyway rather than refuse
            params.append(option.encode("ascii"))
        if smtputf8:
            if not smtp.supports_extension("smtputf8"):
                return Reply(451, "4.5.4 Upstream mail server does not offer SMTPUTF8")
            params.append(b"SMTPUTF8")
        try:
            return await self._command(conn, b"MAIL", b"FROM:" + _path(sender), *params)
        except UpstreamError:
            _discard(conn)
            raise

    async def _command(self, conn: _Connection, *args: bytes) -> Reply:
        try:
            response = await conn.smtp.execute_command(*args)
        except _SMTP_ERRORS as exc:
            raise UpstreamError(
                f"upstream {args[0].decode()} failed: {type(exc).__name__}"
            ) from None
        return _reply(response)

    def _release(self, conn: _Connection, *, reusable: bool) -> None:
        conn.uses += 1
        if (
            reusable
            and not self._closing
            and conn.smtp.is_connected
            and conn.uses < self.config.max_reuse
        ):
            conn.idle_since = time.monotonic()
            self._idle.append(conn)
        else:
            _discard(conn, polite=reusable)
        self._lent -= 1
        self._slots.release()

    async def close(self) -> None:
        self._closing = True
        idle, self._idle = self._idle, []
        for conn in idle:
            _discard(conn, polite=True)
        await asyncio.sleep(0)

    @property
    def idle_count(self) -> int:
        return len(self._idle)

    @property
    def in_use(self) -> int:
        """Connections lent to a transaction right now."""
        return self._lent


class UpstreamTransaction:
    """One MAIL..DATA exchange on a pooled connection. Always ends in ``finish`` or ``abort``."""

    def __init__(self, pool: UpstreamPool, conn: _Connection) -> None:
        self._pool = pool
        self._conn: _Connection | None = conn
        self._busy = False  # a command is on the wire; if interrupted, never reuse
        self.accepted: list[str] = []

    @property
    def open(self) -> bool:
        return self._conn is not None

    async def rcpt(self, recipient: str, options: list[str]) -> Reply:
        conn = self._require()
        params = [o.encode("ascii") for o in options]
        # Cleared only when the reply arrived: if this await is cancelled, the reply is
        # still on its way and the connection must never be reused (abort discards it).
        self._busy = True
        try:
            reply = await self._pool._command(conn, b"RCPT", b"TO:" + _path(recipient), *params)
        except UpstreamError:
            self._conn = None
            self._pool._release(conn, reusable=False)
            raise
        self._busy = False
        if reply.is_positive:
            self.accepted.append(recipient)
        return reply

    async def data(self, content: bytes) -> Reply:
        """Send the message; the connection goes back to the pool either way."""
        conn = self._require()
        self._conn = None
        reusable = False
        try:
            response = await conn.smtp.data(content, timeout=self._pool.config.data_timeout)
            reusable = True
            return _reply(response)
        except aiosmtplib.SMTPDataError as exc:
            if exc.code < 400:  # e.g. a stray 250: the stream is out of step
                raise UpstreamError(f"upstream answered DATA with {exc.code}") from None
            # A refusal of the DATA command itself leaves the upstream transaction open;
            # never hand such a connection to the next client.
            return Reply(exc.code, exc.message)
        except _SMTP_ERRORS as exc:
            raise UpstreamError(f"upstream DATA failed: {type(exc).__name__}") from None
        finally:
            self._pool._release(conn, reusable=reusable)

    async def abort(self) -> None:
        """RSET upstream so nothing is delivered, and give the connection back."""
        conn, self._conn = self._conn, None
        if conn is None:
            return
        reusable = False
        try:
            if not self._busy:
                response = await conn.smtp.execute_command(b"RSET")
                reusable = response.code == 250
        except _SMTP_ERRORS:
            pass
        finally:
            self._pool._release(conn, reusable=reusable)

    def _require(self) -> _Connection:
        if self._conn is None:
            raise UpstreamError("upstream transaction is no longer open")
        return self._conn


def _path(address: str) -> bytes:
    # aiosmtpd hands us "<>" for the null sender and surrogate-escaped UTF-8 otherwise.
    if address in ("", "<>"):
        return b"<>"
    return b"<" + address.encode("utf-8", "surrogateescape") + b">"


def _reply(response: SMTPResponse) -> Reply:
    return Reply(response.code, response.message)


def _discard(conn: _Connection, *, polite: bool = False) -> None:
    smtp = conn.smtp
    if polite and smtp.is_connected:
        task = asyncio.ensure_future(_quit(smtp))
        _background.add(task)
        task.add_done_callback(_background.discard)
    else:
        smtp.close()


async def _quit(smtp: aiosmtplib.SMTP) -> None:
    with contextlib.suppress(*_SMTP_ERRORS):
        await smtp.quit(timeout=5)
    smtp.close()


_background: set[asyncio.Task[None]] = set()


@dataclass(frozen=True, slots=True)
class Delivery:
    """What the upstream made of one complete send."""

    reply: Reply  # the DATA reply, or the reason nothing was sent
    accepted: tuple[str, ...]
    refused: dict[str, Reply]

    @property
    def delivered(self) -> bool:
        """Every recipient has it. A partial send is not a delivery."""
        return self.reply.is_positive and bool(self.accepted) and not self.refused

    @property
    def failure(self) -> Reply | None:
        """Why it is not delivered: temporary (4xx) if anything could still change."""
        if self.delivered:
            return None
        if not self.reply.is_positive:
            return self.reply
        replies = list(self.refused.values())
        worst = next((r for r in replies if r.is_transient), replies[0] if replies else None)
        return worst or Reply(451, "4.3.0 Not delivered")


async def deliver(
    pool: UpstreamPool, sender: str, rcpt_tos: tuple[str, ...], raw: bytes, *, smtputf8: bool
) -> Delivery:
    """Send one whole message in one transaction (release, split copies, notices).

    Raises UpstreamError when the upstream cannot be reached or drops the connection.
    """
    reply, txn = await pool.begin(sender, [], smtputf8=smtputf8)
    if txn is None:
        return Delivery(reply, (), {})
    refused: dict[str, Reply] = {}
    try:
        for rcpt in rcpt_tos:
            answer = await txn.rcpt(rcpt, [])
            if not answer.is_positive:
                refused[rcpt] = answer
        if not txn.accepted:
            transient = [r for r in refused.values() if r.is_transient]
            reply = transient[0] if transient else next(iter(refused.values()))
            return Delivery(reply, (), refused)
        reply = await txn.data(raw)
        return Delivery(reply, tuple(txn.accepted) if reply.is_positive else (), refused)
    finally:
        if txn.open:
            await txn.abort()
