"""Hold, release, reject and expire held mail, with an audit record for each.

One service for the relay, the CLI and (later) the web UI, so every path obeys the
same rules: a message is released at most once, content of rejected mail is
deleted but its record kept, and every state change says who and why.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass

from mailguard import logging as mglog
from mailguard.delivery.upstream import Delivery, UpstreamError, UpstreamPool, deliver
from mailguard.model import Envelope, Inspection
from mailguard.quarantine.store import HeldMessage, QuarantineStore, State

DAY = 86400.0
log = mglog.get_logger()


class QuarantineError(Exception):
    """A request the quarantine cannot carry out (unknown id, wrong state, upstream down)."""


@dataclass(frozen=True, slots=True)
class ReleaseResult:
    held: HeldMessage
    delivery: Delivery


class QuarantineService:
    def __init__(
        self,
        store: QuarantineStore,
        upstream: UpstreamPool | None = None,
        on_released: Callable[[Envelope, bytes], None] | None = None,
    ) -> None:
        """``on_released`` hears of each delivered release: a reviewer confirmed that
        these recipients were meant, which the sender history should learn."""
        self.store = store
        self.upstream = upstream
        self.on_released = on_released

    async def hold(
        self,
        message_id: str,
        envelope: Envelope,
        raw: bytes,
        inspection: Inspection,
        expire_days: int,
    ) -> HeldMessage:
        """Store the original bytes durably; only then may the relay answer 250."""
        d = inspection.decision
        now = time.time()
        held = HeldMessage(
            id=message_id,
            state=State.HELD,
            created_at=now,
            expires_at=now + expire_days * DAY,
            mail_from=envelope.mail_from,
            rcpt_tos=envelope.rcpt_tos,
            size=len(raw),
            rules=d.rules,
            rule=d.rule,
            reason=d.reason,
            release=d.release,
            policy_version=d.policy_version,
            findings=inspection.findings,
            smtputf8=envelope.smtputf8,
        )
        await asyncio.to_thread(self.store.add, held, raw)
        return held

    def get(self, message_id: str) -> HeldMessage:
        held = self.store.get(message_id)
        if held is None:
            raise QuarantineError(f"no held message {message_id}")
        return held

    async def release(self, message_id: str, by: str, reason: str) -> ReleaseResult:
        """Deliver the original bytes upstream, without inspecting them again."""
        if self.upstream is None:
            raise QuarantineError("no upstream configured to release to")
        held = self.get(message_id)
        if not self.store.transition(message_id, State.HELD, State.RELEASING):
            raise QuarantineError(f"message {message_id} is {held.state.value}, not held")
        raw = self.store.content(message_id)
        if raw is None:  # cannot happen for a held message; never pretend it was sent
            self.store.transition(message_id, State.RELEASING, State.HELD)
            raise QuarantineError(f"message {message_id} has no stored content")
        try:
            delivery = await deliver(
                self.upstream, held.mail_from, held.rcpt_tos, raw, smtputf8=held.smtputf8
            )
        except (UpstreamError, OSError) as exc:
            self.store.transition(message_id, State.RELEASING, State.HELD)
            self.store.audit(message_id, by, "release_failed", f"upstream: {exc}")
            raise QuarantineError(f"upstream unavailable, message stays held: {exc}") from None
        if not delivery.delivered:
            self.store.transition(message_id, State.RELEASING, State.HELD)
            self.store.audit(
                message_id, by, "release_failed", f"upstream said {delivery.reply.code}"
            )
            raise QuarantineError(
                f"upstream refused the release ({delivery.reply}); message stays held"
            )
        self.store.transition(message_id, State.RELEASING, State.RELEASED)
        note = reason
        if delivery.refused:
            note += f" ({len(delivery.refused)} recipient(s) refused upstream)"
        self.store.audit(message_id, by, "released", note)
        if self.on_released is not None:
            try:
                self.on_released(Envelope(held.mail_from, delivery.accepted), raw)
            except Exception as exc:  # the release happened; learning is a bonus
                log.error("history_note_failed", error=f"{type(exc).__name__}: {exc}")
        return ReleaseResult(self.get(message_id), delivery)

    def reject(self, message_id: str, by: str, reason: str) -> HeldMessage:
        """Never deliver it: the content is deleted, the record and audit stay."""
        held = self.get(message_id)
        if not self.store.transition(message_id, State.HELD, State.REJECTED, drop_content=True):
            raise QuarantineError(f"message {message_id} is {held.state.value}, not held")
        self.store.audit(message_id, by, "rejected", reason)
        return self.get(message_id)

    def recover_interrupted_releases(self, older_than: float) -> list[str]:
        """A release that crashed mid-way (CLI killed, relay restarted) is held again.

        ``older_than`` must exceed the longest a release can take, so that one still
        running elsewhere is never undone; its outcome at the upstream is unknown,
        and a second release may deliver twice rather than never.
        """
        recovered = []
        for message_id in self.store.interrupted_releases(time.time() - older_than):
            if self.store.transition(message_id, State.RELEASING, State.HELD):
                self.store.audit(
                    message_id,
                    "mailguard",
                    "release_interrupted",
                    "held again: the release did not finish",
                )
                recovered.append(message_id)
        return recovered

    def expire(self, now: float | None = None) -> list[HeldMessage]:
        """Held too long: treated as rejected (content deleted), so nothing leaks late."""
        expired = []
        for held in self.store.due_to_expire(time.time() if now is None else now):
            if self.store.transition(held.id, State.HELD, State.EXPIRED, drop_content=True):
                self.store.audit(held.id, "mailguard", "expired", "not reviewed in time")
                expired.append(held)
        return expired
