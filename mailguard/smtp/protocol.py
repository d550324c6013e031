"""aiosmtpd's SMTP protocol with the guarantees a relay in the mail path needs.

- clients the listener refuses (outside the allow-list, or during shutdown) get 421
  and nothing else;
- any exception becomes 451 (aiosmtpd's default is a 500, i.e. a bounce);
- DATA has its own total time limit, and the idle timer stops while we process;
- an abandoned transaction (RSET, EHLO, disconnect) is reset upstream too;
- DATA is read in chunks, not line by line (``smtp.data``), and plain MAIL/RCPT paths
  and the per-connection method tables cost less than aiosmtpd's own way.

aiosmtpd has no public hooks for these, so this subclass uses the private names in
``AIOSMTPD_PRIVATE_NAMES``; pyproject pins aiosmtpd below 1.5 and
tests/unit/test_aiosmtpd_contract.py fails loudly if any of them disappears.
"""

from __future__ import annotations

import asyncio
import inspect
import re
from collections.abc import Coroutine
from typing import Any, Protocol

import aiosmtpd.smtp
from aiosmtpd.smtp import MISSING, SMTP, Session

from mailguard import log as mglog
from mailguard import replies
from mailguard.delivery.upstream import UpstreamTransaction
from mailguard.replies import Reply
from mailguard.smtp.data import Problem, read_data

log = mglog.get_logger()

AIOSMTPD_PRIVATE_NAMES = (
    "_create_session",
    "_create_envelope",
    "_set_rset_state",
    "_reset_timeout",
    "_timeout_cb",
    "_timeout_handle",
    "_writer",
    "_reader",
    "_call_handler_hook",
    "_set_post_data_state",
)
# And of asyncio's StreamReader, to see whether the client's next command is here.
STREAMREADER_PRIVATE_NAMES = ("_buffer",)


_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_SIMPLE_PATH = re.compile(
    rf"<({_ATEXT}(?:\.{_ATEXT})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*)>(?: ([^\s()]+(?: [^\s()]+)*))?"
)


class _ClassMembers:
    """``inspect`` as aiosmtpd's ``SMTP.__init__`` uses it, answered from the class.

    It collects the ``auth_*`` methods of the protocol and the handler with
    ``inspect.getmembers`` (every attribute of both, read one by one) and the EHLO
    hook's signature, on every connection: a third of what accepting one costs. The
    names are looked up once per class here and read from the object as before.
    """

    def __init__(self) -> None:
        self._auth_names: dict[type, tuple[str, ...]] = {}
        self._signatures: dict[Any, inspect.Signature] = {}

    def getmembers(self, obj: Any) -> list[tuple[str, Any]]:
        cls = type(obj)
        names = self._auth_names.get(cls)
        if names is None:
            names = self._auth_names[cls] = tuple(n for n in dir(cls) if n.startswith("auth_"))
        own = [n for n in getattr(obj, "__dict__", ()) if n.startswith("auth_")]
        return sorted((n, getattr(obj, n)) for n in {*names, *own})

    def signature(self, fn: Any) -> inspect.Signature:
        key = (getattr(fn, "__func__", fn), hasattr(fn, "__self__"))
        found = self._signatures.get(key)
        if found is None:
            found = self._signatures[key] = inspect.signature(fn)
        return found

    def __getattr__(self, name: str) -> Any:
        return getattr(inspect, name)


class _ClassDir:
    """``dir()`` as aiosmtpd's ``SMTP.__init__`` uses it (to find the ``handle_*`` and
    ``smtp_*`` methods of the handler and protocol on every connection), with the
    class's names listed once: ``dir`` of a class sorts a few hundred names each time."""

    def __init__(self) -> None:
        self._names: dict[type, tuple[list[str], frozenset[str]]] = {}

    def __call__(self, obj: Any) -> list[str]:
        cls = type(obj)
        known = self._names.get(cls)
        if known is None:
            names = dir(cls)
            known = self._names[cls] = (names, frozenset(names))
        names, named = known
        own = [n for n in getattr(obj, "__dict__", ()) if n not in named]
        return [*names, *own] if own else names


aiosmtpd.smtp.inspect = _ClassMembers()  # type: ignore[attr-defined]
aiosmtpd.smtp.dir = _ClassDir()  # type: ignore[attr-defined]  # a module global shadows the builtin


class Owner(Protocol):
    """What a connection needs from the listener that accepted it."""

    sessions: set[RelaySMTP]
    data_timeout: float
    idle_release: float  # an open transaction idle this long gives its upstream back

    def refusal_for(self, peer: Any) -> Reply | None: ...

    def xforward_allowed(self, peer: Any) -> bool: ...

    def spawn(self, coro: Coroutine[Any, Any, Any]) -> None: ...


class RelaySession(Session):
    """aiosmtpd's session plus the upstream side of the current transaction."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        super().__init__(loop)
        self.txn: UpstreamTransaction | None = None
        self.in_data = False
        # What Postfix's XFORWARD said of the original client, for this transaction.
        self.xforward: dict[str, str] = {}
        self.released = False  # the transaction idled and its upstream was given back
        self.idle_timer: asyncio.TimerHandle | None = None

    @property
    def busy(self) -> bool:
        return self.txn is not None or self.in_data


class RelaySMTP(SMTP):
    """One client connection."""

    # RFC 5321 allows 1000 octets per line, but Exchange and scripts send longer ones and
    # Postfix accepts them; refusing with aiosmtpd's "500 Line too long" would bounce mail.
    # 1 MiB: a base64 attachment sent without line breaks fits; the buffer stays bounded.
    line_length_limit = 1024 * 1024

    def __init__(self, handler: Any, owner: Owner, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self._owner = owner
        self._refused = False
        self._close_after_reply = False
        self._held: list[bytes] = []  # replies to pipelined commands, not yet sent

    # --- connection gate -------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self.transport is None:  # a new connection, not the STARTTLS upgrade
            refusal = self._owner.refusal_for(transport.get_extra_info("peername"))
            if refusal is not None:
                self._refused = True
                transport.write(f"{refusal}\r\n".encode())  # type: ignore[attr-defined]
                transport.close()
                return
            self._owner.sessions.add(self)
        super().connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if not self._refused:
            super().data_received(data)

    def eof_received(self) -> bool | None:
        return False if self._refused else super().eof_received()

    def connection_lost(self, error: Exception | None) -> None:
        if self._refused:
            return
        if isinstance(self.session, RelaySession) and self.session.idle_timer is not None:
            self.session.idle_timer.cancel()
        self._owner.sessions.discard(self)
        self._abort_transaction()
        super().connection_lost(error)

    # --- sessions and transactions ---------------------------------------------------
    def _create_session(self) -> RelaySession:
        return RelaySession(self.loop)

    def _create_envelope(self) -> Any:
        # aiosmtpd makes a new envelope on RSET, HELO/EHLO, STARTTLS and after DATA:
        # whatever transaction was open upstream is over too, and (as in Postfix) the
        # XFORWARD attributes that came with it.
        self._abort_transaction()
        session = self.session
        if isinstance(session, RelaySession):
            session.xforward = {}
            session.released = False
        return super()._create_envelope()

    def transactions_from(self, host: str) -> int:
        """Open upstream transactions held by other connections from this address."""
        return sum(
            1
            for other in self._owner.sessions
            if other is not self
            and isinstance(other.session, RelaySession)
            and other.session.txn is not None
            and other.session.peer
            and other.session.peer[0] == host
        )

    # --- XFORWARD (Postfix's XFORWARD_README) ---------------------------------------
    XFORWARD_ATTRIBUTES = ("NAME", "ADDR", "PORT", "PROTO", "HELO", "IDENT", "SOURCE")

    def offers_xforward(self) -> bool:
        return self.session is not None and self._owner.xforward_allowed(self.session.peer)

    async def smtp_XFORWARD(self, arg: str) -> None:
        session = self.session
        assert isinstance(session, RelaySession)
        if not self.offers_xforward():
            await self.push(str(replies.XFORWARD_REFUSED))
            return
        if self.envelope is not None and self.envelope.mail_from:
            await self.push(str(replies.XFORWARD_IN_TRANSACTION))
            return
        attributes = {}
        for item in (arg or "").split():
            name, sep, value = item.partition("=")
            if not sep or name.upper() not in self.XFORWARD_ATTRIBUTES:
                await self.push(str(replies.XFORWARD_SYNTAX))
                return
            attributes[name.upper()] = _xtext(value)
        if not attributes:
            await self.push(str(replies.XFORWARD_SYNTAX))
            return
        session.xforward.update({k: v for k, v in attributes.items() if v is not None})
        await self.push(str(replies.XFORWARD_OK))

    def _abort_transaction(self) -> None:
        session = self.session
        if isinstance(session, RelaySession) and session.txn is not None:
            txn, session.txn = session.txn, None
            self._owner.spawn(txn.abort())

    @property
    def busy(self) -> bool:
        return isinstance(self.session, RelaySession) and self.session.busy

    async def handle_exception(self, error: Exception) -> str:
        log.error("session_error", error=type(error).__name__, detail=str(error))
        self._abort_transaction()
        self._set_rset_state()
        return str(replies.INTERNAL_ERROR)

    async def push(self, status: Any) -> None:
        """Replies to pipelined commands go out together (RFC 2920, as Postfix's smtpd
        does): a 250 is held while the client's next command is already here, and
        sent with the next reply that is not, so a pipelined MAIL, RCPT, DATA costs
        one write to the client instead of three. Anything but a 250 goes at once."""
        reply = status.encode() if isinstance(status, str) else status
        self._held.append(reply + b"\r\n")
        if reply.startswith(b"250") and not self._close_after_reply and self._next_is_here():
            return
        self._flush_replies()
        await self._writer.drain()
        if self._close_after_reply and self.transport is not None:
            self.transport.close()

    def _next_is_here(self) -> bool:
        return b"\r\n" in self._reader._buffer  # type: ignore[attr-defined]

    def _flush_replies(self) -> None:
        if self._held and self.transport is not None:
            self._writer.write(b"".join(self._held))
        self._held.clear()

    def close_after_reply(self) -> None:
        self._close_after_reply = True

    def say_goodbye(self, reply: Reply) -> None:
        self._flush_replies()
        if self.transport is not None:
            self._writer.write(f"{reply}\r\n".encode())
            self.transport.close()

    # --- addresses -------------------------------------------------------------------
    def _getaddr(self, arg: str) -> tuple[str | None, str | None]:
        """``<local@domain> PARAMS`` answered without aiosmtpd's way (a class defined
        and the RFC 5322 header parser run on every MAIL and RCPT: a twentieth of
        the relay's CPU); anything else, quoted, routed or odd, goes that way."""
        simple = _SIMPLE_PATH.fullmatch(arg)
        if simple is None:
            return super()._getaddr(arg)
        address = simple.group(1)
        if self.local_part_limit and len(address.rpartition("@")[0]) > self.local_part_limit:
            return None, None
        return address, simple.group(2) or ""

    # --- DATA ------------------------------------------------------------------------
    async def smtp_DATA(self, arg: str) -> None:
        """aiosmtpd's DATA with the message read in chunks (``smtp.data``)."""
        if await self.check_helo_needed() or await self.check_auth_needed("DATA"):
            return
        assert self.envelope is not None
        if not self.envelope.rcpt_tos:
            await self.push("503 Error: need RCPT command")
            return
        if arg:
            await self.push("501 Syntax: DATA")
            return
        self._reset_timeout(self._owner.data_timeout)
        await self.push("354 End data with <CR><LF>.<CR><LF>")
        try:
            data = await read_data(self._reader, self.data_size_limit, self.line_length_limit)
        except asyncio.CancelledError:  # the connection went during DATA
            self._writer.close()
            raise
        except asyncio.IncompleteReadError:
            self._writer.close()
            return
        if data.problem is Problem.TOO_LONG:
            await self.push("500 Line too long (see RFC5321 4.5.3.1.6)")
        elif data.problem is Problem.TOO_MUCH:
            await self.push("552 Error: Too much mail data")
        if data.problem is not None:
            self._set_post_data_state()
            return
        self.envelope.content = self.envelope.original_content = data.content
        status = await self._call_handler_hook("DATA")
        self._set_post_data_state()
        await self.push("250 OK" if status is MISSING else status)

    # --- timeouts --------------------------------------------------------------------
    def _reset_timeout(self, duration: float | None = None) -> None:
        super()._reset_timeout(duration)
        session = self.session
        if not isinstance(session, RelaySession):
            return
        if session.idle_timer is not None:
            session.idle_timer.cancel()
            session.idle_timer = None
        # Armed after each command while a transaction is open, never during DATA (its
        # own duration): a client that stops talking gives the upstream connection back.
        if duration is None and session.txn is not None:
            session.idle_timer = self.loop.call_later(self._owner.idle_release, self._idle)

    def _idle(self) -> None:
        session = self.session
        if isinstance(session, RelaySession) and session.txn is not None and not session.in_data:
            log.info("upstream_released_idle", idle_s=self._owner.idle_release)
            self._abort_transaction()
            session.released = True

    def _timeout_cb(self) -> None:
        log.info("client_timeout")
        self._flush_replies()
        if self.transport is not None:
            self._writer.write(f"{replies.TIMEOUT}\r\n".encode())
        super()._timeout_cb()

    def pause_timeout(self) -> None:
        if self._timeout_handle is not None:
            self._timeout_handle.cancel()

    def resume_timeout(self) -> None:
        if self.transport is not None:
            self._reset_timeout()


def _xtext(value: str) -> str | None:
    """RFC 3461 xtext ("+2B" is "+"); Postfix's [UNAVAILABLE] and [TEMPUNAVAIL] are None."""
    if value.upper() in ("[UNAVAILABLE]", "[TEMPUNAVAIL]"):
        return None
    return re.sub(r"\+([0-9A-Fa-f]{2})", lambda m: chr(int(m.group(1), 16)), value)[:255]
