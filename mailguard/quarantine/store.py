"""What a quarantine store holds, and the interface every backend offers.

``sql.py`` implements it on SQLite (the embedded default) and on PostgreSQL, which
several relays and review UIs share.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Protocol

from mailguard.model import Finding, RuleReason


class State(enum.Enum):
    HELD = "held"
    RELEASING = "releasing"  # claimed by one releaser; nobody else may release it
    RELEASED = "released"
    REJECTED = "rejected"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class ReleaseRequest:
    """The first half of a two-person release: who asked, and why."""

    by: str
    reason: str
    at: float


@dataclass(frozen=True, slots=True)
class HeldMessage:
    id: str
    state: State
    created_at: float
    expires_at: float
    mail_from: str
    rcpt_tos: tuple[str, ...]
    size: int
    rules: tuple[str, ...]
    rule: str
    reason: str
    release: str
    policy_version: str
    findings: tuple[Finding, ...]
    smtputf8: bool = False
    subject: str = ""
    request: ReleaseRequest | None = None
    review_requested: bool = False  # the sender asked a reviewer to look at it
    # Every enforced rule that fired, most serious first (older holds: none recorded).
    reasons: tuple[RuleReason, ...] = ()
    released_at: float | None = None  # its content is deleted some days after this


@dataclass(frozen=True, slots=True)
class Search:
    """What the review list shows: filters, free text, and one page."""

    state: State | None = None
    rule: str | None = None
    sender: str | None = None
    since: float | None = None
    until: float | None = None
    text: str | None = None  # id, sender, recipient or subject contains it
    offset: int = 0
    limit: int = 50


@dataclass(frozen=True, slots=True)
class AuditEntry:
    message_id: str
    at: float
    actor: str
    action: str
    reason: str


class QuarantineStore(Protocol):
    def add(self, held: HeldMessage, raw: bytes) -> None:
        """Store durably: when this returns, the message survives a crash."""

    def get(self, message_id: str) -> HeldMessage | None: ...

    def content(self, message_id: str) -> bytes | None: ...

    def list(self, state: State | None = None, limit: int = 100) -> list[HeldMessage]: ...

    def search(self, search: Search) -> tuple[list[HeldMessage], int]:
        """One page of matching messages, newest first, and how many match in all."""
        ...

    def counts(self) -> dict[str, int]:
        """How many messages are in each state (for metrics)."""
        ...

    def rules(self) -> list[str]:
        """Every rule that has held something, for the list's filter."""
        ...

    def set_request(self, message_id: str, request: ReleaseRequest | None) -> bool:
        """Record (or withdraw, with None) a release request on a held message."""
        ...

    def set_review_requested(self, message_id: str) -> bool: ...

    def transition(
        self, message_id: str, from_state: State, to_state: State, *, drop_content: bool = False
    ) -> bool:
        """Atomically move one message between states; False if it was not in from_state."""
        ...

    def interrupted_releases(self, claimed_before: float) -> list[str]:
        """Messages claimed for release before this time and never finished."""
        ...

    def audit(self, message_id: str, actor: str, action: str, reason: str) -> None: ...

    def audit_log(
        self,
        message_id: str | None = None,
        *,
        limit: int | None = None,
        offset: int = 0,
        newest_first: bool = False,
    ) -> list[AuditEntry]: ...

    def due_to_expire(self, now: float) -> list[HeldMessage]: ...

    def released_content_before(self, before: float) -> list[str]:
        """Released before this time, and their content still kept."""
        ...

    def drop_content(self, message_id: str) -> bool: ...

    def close(self) -> None: ...
