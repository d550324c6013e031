"""Hold, release, reject and expire held mail, with an audit record for each.

One service for the relay, the CLI and the web UI, so every path obeys the
same rules: a message is released at most once, content of rejected mail is
deleted but its record kept, and every state change says who and why.
"""

from __future__ import annotations

import asyncio
import enum
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from email.header import decode_header, make_header

from mailguard import log as mglog
from mailguard.delivery import rewrite
from mailguard.delivery.upstream import Delivery, UpstreamError, UpstreamPool, deliver
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Inspection
from mailguard.policy.schema import Policy
from mailguard.quarantine.store import HeldMessage, QuarantineStore, ReleaseRequest, Search, State

DAY = 86400.0
MAX_REASON = 2000  # characters of a reason or note kept in the audit
log = mglog.get_logger()


class QuarantineError(Exception):
    """A request the quarantine cannot carry out (unknown id, wrong state, upstream down)."""


class NotAllowed(QuarantineError):
    """The person may not do this to this message (role, two-person rule, not theirs)."""


class Role(enum.Enum):
    REVIEWER = "reviewer"  # release, reject, ask for a second opinion
    APPROVER = "approver"  # also approves two-person releases
    ADMIN = "admin"  # also manages users
    DPO = "dpo"  # the data protection officer: reads reports and incidents, decides nothing
    SENDER = "sender"  # through the notice link: only their own message

    @property
    def approves(self) -> bool:
        return self in (Role.APPROVER, Role.ADMIN)

    @property
    def reads_only(self) -> bool:
        return self is Role.DPO


@dataclass(frozen=True, slots=True)
class Actor:
    name: str
    role: Role
    # When this person got the role they act with (an account's creation or its last
    # role change); None when nothing records it (a shell user, a sender's link).
    since: float | None = None

    def held_role_before(self, at: float) -> bool:
        return self.since is None or self.since <= at


@dataclass(frozen=True, slots=True)
class Choices:
    """What one person may do with one held message now: the UI offers exactly these."""

    release: bool = False
    request: bool = False  # ask for a two-person release
    approve: bool = False  # someone else asked; this person may approve
    waiting: bool = False  # asked, and waiting for a different approver
    too_new: bool = False  # an approver whose role is newer than the request
    reject: bool = False


@dataclass(frozen=True, slots=True)
class ReleaseResult:
    held: HeldMessage
    delivery: Delivery


class QuarantineService:
    def __init__(
        self,
        store: QuarantineStore,
        upstream: UpstreamPool | None = None,
        on_released: Callable[[Envelope, bytes, bool], None] | None = None,
        policy: Callable[[], Policy] = Policy,
    ) -> None:
        """``on_released`` hears of each delivered release: a reviewer confirmed that
        these recipients were meant, which the sender history should learn. ``policy``
        gives the organisation and rewrite settings for a release as Bcc."""
        self.store = store
        self.upstream = upstream
        self.on_released = on_released
        self.policy = policy

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
            subject=subject_of(raw),
            reasons=d.reasons,
        )
        await asyncio.to_thread(self.store.add, held, raw)
        return held

    def get(self, message_id: str) -> HeldMessage:
        held = self.store.get(message_id)
        if held is None:
            raise QuarantineError(f"no held message {message_id}")
        return held

    def search(self, search: Search) -> tuple[list[HeldMessage], int]:
        return self.store.search(search)

    def choices(self, held: HeldMessage, actor: Actor) -> Choices:
        if held.state is not State.HELD or actor.role.reads_only:
            return Choices()
        staff = actor.role is not Role.SENDER
        asked = held.request
        approver = asked is not None and actor.role.approves and asked.by != actor.name
        too_new = approver and asked is not None and not actor.held_role_before(asked.at)
        return Choices(
            release=self.may_release_directly(held, actor),
            request=staff and held.release == "approver" and asked is None,
            approve=approver and not too_new,
            waiting=asked is not None and not (approver and not too_new),
            too_new=too_new,
            reject=staff or actor.name.lower() == held.mail_from.lower(),
        )

    def may_release_directly(self, held: HeldMessage, actor: Actor) -> bool:
        """What the UI offers: a release button, or a request for a second person."""
        try:
            self._check_release(held, actor)
        except NotAllowed:
            return False
        return True

    def _check_release(self, held: HeldMessage, actor: Actor) -> None:
        _decides(actor)
        if actor.role is Role.SENDER:
            if held.release != "sender" or actor.name.lower() != held.mail_from.lower():
                raise NotAllowed("only a reviewer can release this message")
        elif held.release == "approver":
            raise NotAllowed(
                "this rule needs two people: a reviewer asks for release, and a different"
                " approver approves it"
            )

    async def release(
        self,
        message_id: str,
        actor: Actor,
        reason: str,
        *,
        recipients: Sequence[str] | None = None,
        as_bcc: bool = False,
    ) -> ReleaseResult:
        """Deliver the held message without inspecting it again: as it was, to some of
        its recipients, or with the visible outside recipients moved to Bcc."""
        held = self.get(message_id)
        self._check_release(held, actor)
        _need_reason(reason)
        return await self._release(held, actor, reason, "released", recipients, as_bcc)

    def request_release(self, message_id: str, actor: Actor, reason: str) -> HeldMessage:
        """First half of a two-person release."""
        held = self.get(message_id)
        _decides(actor)
        if actor.role is Role.SENDER:
            raise NotAllowed("only a reviewer can ask for a release")
        if held.release != "approver":
            raise QuarantineError("this message needs no approval: release it directly")
        _need_reason(reason)
        request = ReleaseRequest(actor.name, reason.strip(), time.time())
        if not self.store.set_request(message_id, request):
            raise QuarantineError(f"message {message_id} is not held or already has a request")
        self.store.audit(message_id, actor.name, "release_requested", reason.strip())
        return self.get(message_id)

    async def approve(
        self,
        message_id: str,
        actor: Actor,
        reason: str = "",
        *,
        recipients: Sequence[str] | None = None,
        as_bcc: bool = False,
    ) -> ReleaseResult:
        """Second half: a different person with the approver role releases it."""
        _decides(actor)
        held = self.get(message_id)
        if not actor.role.approves:
            raise NotAllowed("only an approver can approve a release")
        if held.request is None:
            raise QuarantineError("nobody has asked for this release yet")
        if held.request.by == actor.name:
            raise NotAllowed("the person who asked for the release cannot also approve it")
        if not actor.held_role_before(held.request.at):
            raise NotAllowed(
                f"{actor.name} became {actor.role.value} after this release was asked for;"
                " an approver who held the role then must approve it"
            )
        if len(reason) > MAX_REASON:
            raise QuarantineError(f"keep the note under {MAX_REASON} characters")
        note = f"approved request by {held.request.by}: {held.request.reason}"
        if reason.strip():
            note += f"; {reason.strip()}"
        return await self._release(held, actor, note, "approved", recipients, as_bcc)

    async def _release(
        self,
        held: HeldMessage,
        actor: Actor,
        reason: str,
        action: str,
        recipients: Sequence[str] | None,
        as_bcc: bool,
    ) -> ReleaseResult:
        if self.upstream is None:
            raise QuarantineError("no upstream configured to release to")
        message_id = held.id
        rcpts = _subset(held, recipients)
        if not self.store.transition(message_id, State.HELD, State.RELEASING):
            raise QuarantineError(f"message {message_id} is {held.state.value}, not held")
        raw = self.store.content(message_id)
        if raw is None:  # cannot happen for a held message; never pretend it was sent
            self.store.transition(message_id, State.RELEASING, State.HELD)
            raise QuarantineError(f"message {message_id} has no stored content")
        out = rewrite.strip_own(self._as_bcc(raw, held) if as_bcc else raw)
        try:
            delivery = await deliver(
                self.upstream, held.mail_from, rcpts, out, smtputf8=held.smtputf8
            )
        except (UpstreamError, OSError) as exc:
            self.store.transition(message_id, State.RELEASING, State.HELD)
            self.store.audit(message_id, actor.name, "release_failed", f"upstream: {exc}")
            raise QuarantineError(f"upstream unavailable, message stays held: {exc}") from None
        if not delivery.delivered:
            self.store.transition(message_id, State.RELEASING, State.HELD)
            self.store.audit(
                message_id, actor.name, "release_failed", f"upstream said {delivery.reply.code}"
            )
            raise QuarantineError(
                f"upstream refused the release ({delivery.reply}); message stays held"
            )
        self.store.transition(message_id, State.RELEASING, State.RELEASED)
        note = reason.strip()
        if len(rcpts) < len(held.rcpt_tos):
            note += f" (to {len(rcpts)} of {len(held.rcpt_tos)} recipients)"
        if as_bcc:
            note += " (outside recipients moved to Bcc)"
        if delivery.refused:
            note += f" ({len(delivery.refused)} recipient(s) refused upstream)"
        if actor.role is Role.SENDER:
            action = "released_by_sender"
        self.store.audit(message_id, actor.name, action, note)
        if self.on_released is not None:
            try:
                by_reviewer = actor.role is not Role.SENDER  # a second person looked
                self.on_released(Envelope(held.mail_from, delivery.accepted), raw, by_reviewer)
            except Exception as exc:  # the release happened; learning is a bonus
                log.error("history_note_failed", error=f"{type(exc).__name__}: {exc}")
        return ReleaseResult(self.get(message_id), delivery)

    def _as_bcc(self, raw: bytes, held: HeldMessage) -> bytes:
        policy = self.policy()
        return rewrite.to_bcc(
            raw,
            internal_domains=policy.organisation.internal_domains,
            sender=held.mail_from,
            to_shows=policy.rewrite.to,
            keep_internal_visible=policy.rewrite.keep_internal_visible,
        )

    def reject(self, message_id: str, actor: Actor, reason: str) -> HeldMessage:
        """Never deliver it: the content is deleted, the record and audit stay."""
        held = self.get(message_id)
        _decides(actor)
        if actor.role is Role.SENDER and actor.name.lower() != held.mail_from.lower():
            raise NotAllowed("only the sender or a reviewer can cancel this message")
        _need_reason(reason)
        if not self.store.transition(message_id, State.HELD, State.REJECTED, drop_content=True):
            raise QuarantineError(f"message {message_id} is {held.state.value}, not held")
        action = "cancelled_by_sender" if actor.role is Role.SENDER else "rejected"
        self.store.audit(message_id, actor.name, action, reason.strip())
        return self.get(message_id)

    def ask_review(self, message_id: str, actor: Actor, note: str) -> HeldMessage:
        """The sender asks a reviewer to look at it (from the notice link)."""
        held = self.get(message_id)
        if actor.name.lower() != held.mail_from.lower():
            raise NotAllowed("only the sender can ask for a review from the notice link")
        if held.review_requested:
            raise QuarantineError("a review has been asked for already")
        if not self.store.set_review_requested(message_id):
            raise QuarantineError(f"message {message_id} is {held.state.value}, not held")
        self.store.audit(message_id, actor.name, "review_requested", _bounded(note) or "-")
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

    def forget_released(self, keep_days: float, now: float | None = None) -> list[str]:
        """Delete the content of mail released more than ``keep_days`` ago: a released
        message has left, and its copy here is personal data with no further use. The
        record and the audit stay."""
        before = (time.time() if now is None else now) - keep_days * DAY
        forgotten = []
        for message_id in self.store.released_content_before(before):
            if self.store.drop_content(message_id):
                self.store.audit(
                    message_id,
                    "mailguard",
                    "content_deleted",
                    f"released over {keep_days:g} days ago",
                )
                forgotten.append(message_id)
        return forgotten


def _decides(actor: Actor) -> None:
    if actor.role.reads_only:
        raise NotAllowed(f"{actor.name} is {actor.role.value}: reads, does not decide on held mail")


def _need_reason(reason: str) -> None:
    if not reason.strip():
        raise QuarantineError("give a reason: it is kept in the audit")
    if len(reason) > MAX_REASON:
        raise QuarantineError(f"keep the reason under {MAX_REASON} characters")


def _bounded(text: str) -> str:
    return text.strip()[:MAX_REASON]


def _subset(held: HeldMessage, recipients: Sequence[str] | None) -> tuple[str, ...]:
    if recipients is None:
        return held.rcpt_tos
    wanted = {r.lower() for r in recipients}
    chosen = tuple(r for r in held.rcpt_tos if r.lower() in wanted)
    unknown = wanted - {r.lower() for r in chosen}
    if unknown or not chosen:
        raise QuarantineError("release only to recipients of the held message (at least one)")
    return chosen


def subject_of(raw: bytes) -> str:
    """The Subject for the review list, decoded, one line, bounded."""
    try:
        value = ParsedMessage(raw).headers.get("Subject", "")
        text = str(make_header(decode_header(str(value))))
    except Exception:
        return ""
    return " ".join(text.split())[:300]
