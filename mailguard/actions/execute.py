"""Carry out the policy's decision for one message received by the relay.

The open upstream transaction (MAIL and RCPTs already accepted upstream) is used
for pass, tag and bcc; hold and split reset it and work on their own. Whatever
happens, the returned reply is only positive when the message is upstream or
durably held.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

from mailguard import log as mglog
from mailguard import replies
from mailguard.actions import notify
from mailguard.delivery import rewrite
from mailguard.delivery.upstream import (
    Delivery,
    UpstreamError,
    UpstreamPool,
    UpstreamTransaction,
    deliver,
)
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Action, Decision, Envelope, Inspection
from mailguard.policy.schema import Policy
from mailguard.quarantine.links import SenderLinks
from mailguard.quarantine.service import QuarantineService
from mailguard.replies import Outcome, Reply

log = mglog.get_logger()


class Actions:
    def __init__(
        self,
        upstream: UpstreamPool,
        quarantine: QuarantineService,
        policy: Callable[[], Policy],
        hostname: str,
        spawn: Callable[[Any], None],
        links: SenderLinks | None = None,
        rules_outside: bool = False,
    ) -> None:
        """``policy`` gives the rules in force now (an empty policy when none is);
        ``links``: signed links for hold notices, when the review UI can serve them;
        ``rules_outside``: name the rules that fired in mail that leaves the council too
        (off: rule names are internal detail an outside reader should not learn)."""
        self.upstream = upstream
        self.quarantine = quarantine
        self._policy = policy
        self.hostname = hostname
        self._spawn = spawn
        self.links = links
        self.rules_outside = rules_outside

    async def carry_out(
        self,
        message_id: str,
        envelope: Envelope,
        raw: bytes,
        inspection: Inspection,
        txn: UpstreamTransaction,
    ) -> Outcome:
        decision = inspection.decision
        policy = self._policy()
        if decision.action is Action.REJECT:
            return Outcome(replies.rejected_by_policy(decision.reason), inspection)
        if decision.action is Action.HOLD:
            await txn.abort()
            return await self._hold(message_id, envelope, raw, inspection, policy)
        if decision.action is Action.REWRITE and decision.rewrite == "split":
            await txn.abort()
            return await self._split(message_id, envelope, raw, inspection, policy)
        out = rewrite.strip_own(raw)
        if decision.action is Action.REWRITE:
            out = rewrite.to_bcc(
                raw,
                internal_domains=policy.organisation.internal_domains,
                sender=envelope.mail_from,
                to_shows=policy.rewrite.to,
                keep_internal_visible=policy.rewrite.keep_internal_visible,
            )
        if decision.action in (Action.TAG, Action.REWRITE):
            rules = self._rules_shown(decision, envelope.rcpt_tos, policy)
            out = rewrite.tag(out, decision.action.value, rules, decision.subject_prefix)
        started = time.perf_counter()
        try:
            upstream = await txn.data(out)
        except UpstreamError as exc:
            log.warning("upstream_lost", stage="DATA", error=str(exc))
            return Outcome(replies.UPSTREAM_LOST, inspection)
        if upstream.code // 100 not in (2, 4, 5):
            return Outcome(replies.UPSTREAM_LOST, inspection, upstream)  # nonsense reply
        if upstream.is_positive:
            self._notify(message_id, envelope, raw, decision, policy)
        return Outcome(upstream, inspection, upstream, time.perf_counter() - started)

    def _rules_shown(
        self, decision: Decision, rcpts: Sequence[str], policy: Policy
    ) -> tuple[str, ...]:
        domains = policy.organisation.domains
        if self.rules_outside or all(domains.is_internal(r) for r in rcpts):
            return tuple(decision.rules)
        return ()

    async def _hold(
        self,
        message_id: str,
        envelope: Envelope,
        raw: bytes,
        inspection: Inspection,
        policy: Policy,
    ) -> Outcome:
        try:
            await self.quarantine.hold(
                message_id, envelope, raw, inspection, policy.quarantine.expire_days
            )
        except Exception as exc:  # disk full, read-only data dir...: never a 250
            log.error(
                "quarantine_write_failed", id=message_id, error=f"{type(exc).__name__}: {exc}"
            )
            return Outcome(replies.QUARANTINE_UNAVAILABLE, inspection)
        self._notify(message_id, envelope, raw, inspection.decision, policy)
        return Outcome(replies.queued(message_id), inspection)

    async def _split(
        self,
        message_id: str,
        envelope: Envelope,
        raw: bytes,
        inspection: Inspection,
        policy: Policy,
    ) -> Outcome:
        decision = inspection.decision
        internal = policy.organisation.internal_domains

        def copy(rcpts: tuple[str, ...]) -> bytes:
            body = rewrite.split_copy(
                raw,
                rcpts,
                internal_domains=internal,
                sender=envelope.mail_from,
                to_shows=policy.rewrite.to,
            )
            rules = self._rules_shown(decision, rcpts, policy)
            return rewrite.tag(body, decision.action.value, rules, None)

        plan = rewrite.split_plan(envelope.rcpt_tos, internal)
        for n, rcpts in enumerate(plan):
            try:
                result = await deliver(
                    self.upstream,
                    envelope.mail_from,
                    rcpts,
                    copy(rcpts),
                    smtputf8=envelope.smtputf8,
                )
            except UpstreamError as exc:
                result = Delivery(Reply(451, f"4.4.2 {exc}"), (), {})
            failure = result.failure
            if failure is None:
                continue
            if n == 0 and not result.accepted:
                # Nothing has left yet: the client keeps the whole message and retries.
                reply = replies.UPSTREAM_LOST if failure.is_transient else failure
                return Outcome(reply, inspection)
            # Some copies are out. The rest must be neither lost nor sent twice by a
            # client retry, so each is held for a reviewer to release.
            missing = tuple(r for r in rcpts if r not in result.accepted)
            leftovers = [missing, *plan[n + 1 :]] if missing else plan[n + 1 :]
            held = await self._hold_undelivered(
                message_id, envelope, inspection, policy, failure, leftovers, copy
            )
            if not held:
                # Better a duplicate for some recipients than a silent loss for others.
                return Outcome(replies.QUARANTINE_UNAVAILABLE, inspection)
            break
        self._notify(message_id, envelope, raw, decision, policy)
        return Outcome(replies.queued(message_id), inspection)

    async def _hold_undelivered(
        self,
        message_id: str,
        envelope: Envelope,
        inspection: Inspection,
        policy: Policy,
        failure: Reply,
        leftovers: list[tuple[str, ...]],
        copy: Callable[[tuple[str, ...]], bytes],
    ) -> bool:
        d = inspection.decision
        stuck = Inspection(
            Decision(
                Action.HOLD,
                d.rules,
                reason=f"split copy not delivered (upstream {failure.code}); release to retry",
                rule=d.rule,
                policy_version=d.policy_version,
                reasons=d.reasons,
            ),
            inspection.findings,
        )
        for k, rcpts in enumerate(leftovers):
            held_env = Envelope(envelope.mail_from, rcpts, smtputf8=envelope.smtputf8)
            try:
                await self.quarantine.hold(
                    f"{message_id}-{k}",
                    held_env,
                    copy(rcpts),
                    stuck,
                    policy.quarantine.expire_days,
                )
            except Exception as exc:
                log.error("split_copy_not_held", id=message_id, copy=k, error=type(exc).__name__)
                return False
        log.warning("split_partly_held", id=message_id, held=len(leftovers))
        return True

    def _notify(
        self,
        message_id: str,
        envelope: Envelope,
        raw: bytes,
        decision: Decision,
        policy: Policy,
    ) -> None:
        if not decision.notify or decision.action not in (Action.HOLD, Action.REWRITE):
            return
        try:
            if not notify.should_notify(envelope.mail_from, ParsedMessage(raw)):
                return
        except Exception:  # a notice is a courtesy: it must never fail the message
            log.warning("notice_skipped", id=message_id, reason="unreadable headers")
            return
        self.send_notice(
            decision.action.value,
            message_id,
            envelope.mail_from,
            len(envelope.rcpt_tos),
            decision.reason,
            decision.rule,
            policy,
            rewrite=decision.rewrite,
            release=decision.release,
        )

    def send_notice(
        self,
        kind: str,
        reference: str,
        sender: str,
        recipient_count: int,
        reason: str,
        rule: str,
        policy: Policy | None = None,
        *,
        rewrite: str | None = None,
        received_at: float | None = None,
        release: str = "reviewer",
    ) -> None:
        """Tell the sender, in the background: a notice never delays or fails mail."""
        if not sender:
            return
        try:
            self._queue_notice(
                kind,
                reference,
                sender,
                recipient_count,
                reason,
                rule,
                policy,
                rewrite,
                received_at,
                release,
            )
        except Exception as exc:
            log.warning("notice_not_sent", id=reference, error=type(exc).__name__)

    def _queue_notice(
        self,
        kind: str,
        reference: str,
        sender: str,
        recipient_count: int,
        reason: str,
        rule: str,
        policy: Policy | None,
        rewrite: str | None,
        received_at: float | None,
        release: str,
    ) -> None:
        if policy is None:
            policy = self._policy()
        notice = notify.build_notice(
            kind,
            sender=sender,
            from_address=policy.notify.from_address or self._default_from(policy),
            reason=reason,
            rule=rule,
            reference=reference,
            recipient_count=recipient_count,
            rewrite=rewrite,
            received_at=received_at,
            link=self.links.url(reference, sender) if self.links and kind == "hold" else None,
            self_release=release == "sender",
        )
        self._spawn(self._send_notice(reference, sender, notice))

    def _default_from(self, policy: Policy) -> str:
        domains = policy.organisation.internal_domains
        return f"postmaster@{domains[0] if domains else self.hostname}"

    async def _send_notice(self, message_id: str, sender: str, notice: bytes) -> None:
        # Null envelope sender, like a bounce: a notice can never cause another notice.
        try:
            result = await deliver(
                self.upstream, "", (sender,), notice, smtputf8=not sender.isascii()
            )
        except (UpstreamError, OSError) as exc:
            log.warning("notice_not_sent", id=message_id, error=str(exc))
            return
        event = "notice_sent" if result.delivered else "notice_refused"
        log.info(event, id=message_id, upstream=result.reply.code)
