"""aiosmtpd hooks: mirror the transaction upstream, hand the message on, answer only
when safe.

The client hears 250 for a message only after the upstream said 250 for it. Every
other outcome is a 4xx (our trouble or the upstream's), the upstream's own refusal
passed back, or a deliberate policy reject.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import email.utils
import re
import secrets
import time
from collections.abc import Awaitable, Callable

from aiosmtpd.smtp import Envelope as SMTPEnvelope

from mailguard import log as mglog
from mailguard import replies
from mailguard.addresses import domain_of
from mailguard.delivery.upstream import (
    UpstreamError,
    UpstreamPool,
    UpstreamTransaction,
    has_bare_line_ending,
)
from mailguard.metrics import Metrics
from mailguard.model import Envelope
from mailguard.replies import Outcome
from mailguard.smtp.protocol import RelaySession, RelaySMTP

log = mglog.get_logger()


def new_message_id() -> str:
    return secrets.token_hex(8).upper()


# What happens to a whole message once it is received: inspect it, carry out the
# decision on the open upstream transaction (the relay wires this up).
Process = Callable[[str, Envelope, bytes, UpstreamTransaction], Awaitable[Outcome]]


class RelayHandler:
    def __init__(
        self,
        upstream: UpstreamPool,
        process: Process,
        *,
        max_recipients: int,
        is_draining: Callable[[], bool],
        on_recipient: Callable[[str], None] | None = None,
        metrics: Metrics | None = None,
        per_client: int = 32,
        received_by: str | None = None,
        share_wait: float = 10.0,
    ) -> None:
        """``on_recipient`` hears of each recipient the upstream accepted (to start
        its DNS lookup while the client is still sending); ``per_client``: open upstream
        transactions one client address may hold; ``received_by``: our host name, to
        prepend a Received: line (None: the bytes go on unchanged)."""
        self.upstream = upstream
        self.process = process
        self.max_recipients = max_recipients
        self.per_client = per_client
        self.share_wait = share_wait
        self.received_by = received_by
        self._is_draining = is_draining
        self._on_recipient = on_recipient
        self.metrics = metrics or Metrics()

    async def handle_EHLO(
        self,
        server: RelaySMTP,
        session: RelaySession,
        envelope: SMTPEnvelope,
        hostname: str,
        responses: list[str],
    ) -> list[str]:
        """aiosmtpd's EHLO lines, plus PIPELINING (commands are read in order, each
        answered in turn) and XFORWARD for the clients allowed to send it."""
        session.host_name = hostname
        extra = ["250-PIPELINING"]
        if server.offers_xforward():
            extra.append("250-XFORWARD " + " ".join(server.XFORWARD_ATTRIBUTES))
        return [*responses[:-1], *extra, responses[-1]]

    async def handle_MAIL(
        self,
        server: RelaySMTP,
        session: RelaySession,
        envelope: SMTPEnvelope,
        address: str,
        mail_options: list[str],
    ) -> str:
        if self._is_draining():
            server.close_after_reply()
            return str(replies.SHUTTING_DOWN)
        if not envelope.smtp_utf8 and not address.isascii():
            self._log_refused(session, "MAIL", replies.UTF8_SENDER, "utf8_without_smtputf8")
            return str(replies.UTF8_SENDER)
        host = session.peer[0] if session.peer else ""
        if not await self._client_share(server, host):
            self._log_refused(session, "MAIL", replies.CLIENT_BUSY, "too_many_transactions")
            return str(replies.CLIENT_BUSY)
        try:
            reply, txn = await self.upstream.begin(
                address, mail_options, smtputf8=envelope.smtp_utf8
            )
        except UpstreamError as exc:
            log.warning("upstream_unavailable", stage="MAIL", error=str(exc))
            self.metrics.upstream_errors.labels("MAIL").inc()
            return str(replies.UPSTREAM_UNAVAILABLE)
        if txn is None:
            return str(reply)  # the upstream's own refusal, passed back
        session.txn = txn
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return str(replies.OK_SENDER)

    async def _client_share(self, server: RelaySMTP, host: str) -> bool:
        """Wait (up to ``share_wait``) while this address already holds its share of the
        upstream pool: a burst from the council's own MTA queues a moment instead of
        hearing 4xx, and a flood of idle clients from one host still cannot take it all."""
        deadline = time.monotonic() + self.share_wait
        while server.transactions_from(host) >= self.per_client:
            if time.monotonic() >= deadline:
                return False
            await asyncio.sleep(0.05)
        return True

    async def handle_RCPT(
        self,
        server: RelaySMTP,
        session: RelaySession,
        envelope: SMTPEnvelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if len(envelope.rcpt_tos) >= self.max_recipients:
            return str(replies.TOO_MANY_RECIPIENTS)
        if not envelope.smtp_utf8 and not address.isascii():
            self._log_refused(session, "RCPT", replies.UTF8_RECIPIENT, "utf8_without_smtputf8")
            return str(replies.UTF8_RECIPIENT)
        txn = session.txn
        if txn is None or not txn.open:
            return str(replies.IDLE_RELEASED if session.released else replies.NO_TRANSACTION)
        try:
            reply = await txn.rcpt(address, rcpt_options)
        except UpstreamError as exc:
            session.txn = None
            log.warning("upstream_lost", stage="RCPT", error=str(exc))
            self.metrics.upstream_errors.labels("RCPT").inc()
            return str(replies.UPSTREAM_LOST)
        if not reply.is_positive:
            log.info("rcpt_refused", domain=domain_of(address), upstream=reply.code)
            return str(reply)  # e.g. 550 5.1.1 unknown user: only this recipient fails
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        if self._on_recipient is not None:
            self._on_recipient(address)
        return str(replies.OK_RECIPIENT)

    async def handle_DATA(
        self, server: RelaySMTP, session: RelaySession, envelope: SMTPEnvelope
    ) -> str:
        # Inspection and upstream delivery have their own budgets; the client's
        # idle timer must not cut the connection while we work on its message.
        server.pause_timeout()
        started = time.perf_counter()
        message_id = new_message_id()
        txn, session.txn = session.txn, None
        session.in_data = True
        raw: bytes = envelope.original_content or b""
        outcome = Outcome(replies.INTERNAL_ERROR)
        try:
            outcome = await self._received(message_id, session, envelope, raw, txn)
        except Exception:
            log.exception("internal_error", id=message_id)
        finally:
            if txn is not None and txn.open:
                await txn.abort()
            session.in_data = False
            server.resume_timeout()
        with contextlib.suppress(Exception):  # the reply must not depend on logging
            self._log_message(message_id, session, envelope, raw, outcome, started)
            self.metrics.message(
                outcome.inspection,
                outcome.reply.code,
                time.perf_counter() - started,
                outcome.upstream_seconds,
            )
            if outcome.reply is replies.UPSTREAM_LOST:
                self.metrics.upstream_errors.labels("DATA").inc()
        reply = outcome.reply
        if reply.is_positive:
            reply = replies.queued(message_id)
        return str(reply)

    async def _received(
        self,
        message_id: str,
        session: RelaySession,
        envelope: SMTPEnvelope,
        raw: bytes,
        txn: UpstreamTransaction | None,
    ) -> Outcome:
        if txn is None or not txn.open:
            return Outcome(replies.IDLE_RELEASED if session.released else replies.NO_TRANSACTION)
        if has_bare_line_ending(raw):
            return Outcome(replies.BARE_LINE_ENDING)
        if b"\x00" in raw:  # RFC 5321 and 8BITMIME carry no NUL; a parser cut at one
            return Outcome(replies.NUL_BYTE)  # would let the rest pass uninspected
        if self.received_by is not None:
            raw = received_line(session, self.received_by, message_id, envelope.smtp_utf8) + raw
        env = Envelope(
            mail_from="" if envelope.mail_from == "<>" else envelope.mail_from or "",
            rcpt_tos=tuple(envelope.rcpt_tos),
            mail_options=tuple(envelope.mail_options),
            smtputf8=envelope.smtp_utf8,
            client_address=session.peer[0] if session.peer else None,
        )
        return await self.process(message_id, env, raw, txn)

    @staticmethod
    def _log_refused(session: RelaySession, stage: str, reply: replies.Reply, why: str) -> None:
        """A message refused before DATA still gets its ``message`` event."""
        log.info("message", id=None, **_client(session), stage=stage, refused=why, reply=reply.code)

    @staticmethod
    def _log_message(
        message_id: str,
        session: RelaySession,
        envelope: SMTPEnvelope,
        raw: bytes,
        outcome: Outcome,
        started: float,
    ) -> None:
        """One event per message: counts, domains and codes, never addresses or content."""
        inspection = outcome.inspection
        decision = inspection.decision if inspection else None
        log.info(
            "message",
            id=message_id,
            **_client(session),
            size=len(raw),
            rcpts=len(envelope.rcpt_tos),
            sender_domain=domain_of(envelope.mail_from or "") or None,
            action=decision.action.value if decision else None,
            rules=list(decision.rules) if decision else [],
            would_action=decision.would_action.value
            if decision and decision.would_action
            else None,
            policy=decision.policy_version or None if decision else None,
            # Decided while the directory could not be asked: these rules were not applied.
            directory=decision.directory or None if decision else None,
            undetermined=list(decision.undetermined)
            if decision and decision.undetermined
            else None,
            findings=[f.type for f in inspection.findings] if inspection else [],
            inspect_ms=round(inspection.elapsed_ms, 2) if inspection else None,
            upstream=str(outcome.upstream) if outcome.upstream else None,
            reply=outcome.reply.code,
            ms=round((time.perf_counter() - started) * 1000, 2),
        )


def _client(session: RelaySession) -> dict[str, str | None]:
    """Who sent it: behind Postfix, the original client its XFORWARD named (with
    Postfix as ``via``), else the connecting address."""
    peer = session.peer[0] if session.peer else None
    xf = session.xforward
    if not xf.get("ADDR"):
        return {"client": peer, "helo": session.host_name or None}
    return {
        "client": xf["ADDR"].removeprefix("IPV6:"),
        "client_name": xf.get("NAME"),
        "helo": xf.get("HELO"),
        "via": peer,
    }


def received_line(session: RelaySession, by: str, message_id: str, smtputf8: bool) -> bytes:
    """RFC 5321 4.4's trace line for the original client (XFORWARD's, when Postfix
    passed it on), folded before the date."""
    client = _client(session)
    helo = _clean(client.get("helo") or "unknown")
    name = _clean(client.get("client_name") or "unknown")
    address = _clean(client.get("client") or "unknown")
    proto = "UTF8SMTP" if smtputf8 else "ESMTP"
    stamp = email.utils.format_datetime(dt.datetime.now(dt.UTC).astimezone())
    return (
        f"Received: from {helo} ({name} [{address}])\r\n"
        f"\tby {_clean(by)} (mailguard) with {proto} id {message_id};\r\n\t{stamp}\r\n"
    ).encode()


def _clean(text: str) -> str:
    """Nothing a client said may break the header: printable, no spaces or brackets."""
    return re.sub(r"[^\x21-\x7e]|[()\[\];]", "?", text)[:255] or "unknown"
