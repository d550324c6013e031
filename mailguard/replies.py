"""Every SMTP reply mailguard itself makes, by name.

Rule of the house: 4xx for anything that is our problem or might go away (the
client keeps the message and retries), 5xx only for a deliberate refusal.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from mailguard.model import Inspection


@dataclass(frozen=True, slots=True)
class Reply:
    code: int
    text: str

    def __str__(self) -> str:
        if "\r" not in self.text and "\n" not in self.text:
            return f"{self.code} {self.text}"  # one line: every reply of the hot path
        # Several lines become a multi-line reply; CR/LF can never inject a command.
        lines = [ln for ln in re.split(r"[\r\n]+", self.text) if ln] or [""]
        head = [f"{self.code}-{ln}" for ln in lines[:-1]]
        return "\r\n".join([*head, f"{self.code} {lines[-1]}"])

    @property
    def is_positive(self) -> bool:
        return 200 <= self.code < 300

    @property
    def is_transient(self) -> bool:
        return 400 <= self.code < 500

    @property
    def is_permanent(self) -> bool:
        return 500 <= self.code < 600


OK_SENDER = Reply(250, "2.1.0 Ok")
OK_RECIPIENT = Reply(250, "2.1.5 Ok")


def queued(message_id: str) -> Reply:
    return Reply(250, f"2.0.0 Ok: queued as {message_id}")


def rejected_by_policy(reason: str) -> Reply:
    return Reply(550, f"5.7.1 {reason or 'Message refused by data-leak policy'}")


# Connection-level.
CLIENT_NOT_ALLOWED = Reply(421, "4.7.1 Client host not permitted to relay through mailguard")
SHUTTING_DOWN = Reply(421, "4.3.2 mailguard shutting down, try again later")
TIMEOUT = Reply(421, "4.4.2 Error: timeout exceeded")

# Transaction-level, our side.
TOO_MANY_RECIPIENTS = Reply(452, "4.5.3 Error: too many recipients")
BARE_LINE_ENDING = Reply(550, "5.6.0 Message refused: bare CR or LF line ending (RFC 5321 2.3.8)")
NUL_BYTE = Reply(550, "5.6.0 Message refused: it contains NUL bytes, which SMTP does not carry")
UTF8_SENDER = Reply(553, "5.6.7 Non-ASCII addresses not permitted for that sender without SMTPUTF8")
UTF8_RECIPIENT = Reply(
    553, "5.6.7 Non-ASCII addresses not permitted for that recipient without SMTPUTF8"
)
CLIENT_BUSY = Reply(451, "4.7.0 Too many open transactions from your address, try again later")
IDLE_RELEASED = Reply(
    451, "4.4.2 Transaction idle too long: the upstream connection was released, start again"
)
XFORWARD_OK = Reply(250, "2.0.0 Ok")
XFORWARD_REFUSED = Reply(550, "5.7.0 Error: insufficient authorization")
XFORWARD_IN_TRANSACTION = Reply(503, "5.5.1 Error: MAIL transaction in progress")
XFORWARD_SYNTAX = Reply(501, "5.5.4 Syntax: XFORWARD attribute=value...")
INTERNAL_ERROR = Reply(451, "4.3.0 Internal error in mailguard, try again later")
INSPECTION_FAILED = Reply(451, "4.3.0 Message could not be inspected, try again later")
QUARANTINE_UNAVAILABLE = Reply(
    451, "4.3.0 Message must be held but the quarantine is unavailable, try again later"
)

# Upstream trouble: always temporary so the client keeps the message.
UPSTREAM_UNAVAILABLE = Reply(451, "4.4.1 Upstream mail server unavailable, try again later")
UPSTREAM_LOST = Reply(451, "4.4.2 Connection to upstream mail server lost, try again later")
NO_TRANSACTION = Reply(451, "4.3.0 Upstream transaction was lost, please start again")


@dataclass(slots=True)
class Outcome:
    """The reply a message earned, and what led to it (for the log and metrics)."""

    reply: Reply
    inspection: Inspection | None = None
    upstream: Reply | None = None
    upstream_seconds: float | None = None  # how long the upstream took over the body
