"""Value objects that cross module boundaries: what the relay saw, what detectors
found and what the policy decided.

They are immutable and picklable because inspection runs in worker processes.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field

from mailguard.addresses import domain_of


class Action(enum.Enum):
    """What happens to a message. Declared from mildest to strictest."""

    PASS = "pass"
    TAG = "tag"
    REWRITE = "rewrite"
    HOLD = "hold"
    REJECT = "reject"

    @property
    def strictness(self) -> int:
        return _ACTION_ORDER.index(self)


_ACTION_ORDER = tuple(Action)


class Severity(enum.Enum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"

    @property
    def rank(self) -> int:
        return _SEVERITY_ORDER.index(self)


_SEVERITY_ORDER = tuple(Severity)


@dataclass(frozen=True, slots=True)
class Envelope:
    """The SMTP envelope: who the message is really from and to.

    ``mail_from`` is ``""`` for the null sender (bounces).
    """

    mail_from: str
    rcpt_tos: tuple[str, ...]
    mail_options: tuple[str, ...] = ()
    smtputf8: bool = False
    client_address: str | None = None

    @property
    def sender_domain(self) -> str:
        return domain_of(self.mail_from)


@dataclass(frozen=True, slots=True)
class Finding:
    """One kind of thing a detector noticed, counted.

    ``detail`` is for humans and never holds the personal data itself.
    """

    detector: str
    type: str
    count: int
    severity: Severity
    where: str
    detail: str = ""
    table: str = ""  # KNOWN_RECORD: which of the council's tables

    def to_json(self) -> dict[str, object]:
        out: dict[str, object] = {
            "detector": self.detector,
            "type": self.type,
            "count": self.count,
            "severity": self.severity.value,
            "where": self.where,
            "detail": self.detail,
        }
        if self.table:
            out["table"] = self.table
        return out


@dataclass(frozen=True, slots=True)
class RuleReason:
    """One enforced rule that fired, in the words a reviewer reads."""

    rule: str
    action: Action
    reason: str


@dataclass(frozen=True, slots=True)
class Decision:
    """The policy's single verdict for a message, with what the actions need to carry it out.

    ``rules`` lists every rule that fired (monitored and allow rules too);
    ``reason`` is the winning rule's description, shown to the sender.
    """

    action: Action
    rules: tuple[str, ...] = ()
    reason: str = ""
    rule: str = ""  # the rule whose action won
    rewrite: str | None = None  # "bcc" or "split" when action is REWRITE
    subject_prefix: str | None = None
    notify: bool = False
    release: str = "reviewer"
    monitored: tuple[str, ...] = ()  # fired in monitor mode: logged, not enforced
    would_action: Action | None = None  # what monitor-mode rules would have done
    policy_version: str = ""
    # Every enforced rule that fired, most serious first (the winner leads): a reviewer
    # sees all the reasons, not only the strictest.
    reasons: tuple[RuleReason, ...] = ()
    # "ok" or "unavailable" when a rule asked the directory; the rules it left
    # undecided (neither true nor false) while it could not be asked.
    directory: str = ""
    undetermined: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Addressing:
    """Whom the headers name (To/Cc display names) and the Message-ID, read in the
    inspection worker so the relay's event loop never parses headers to learn."""

    named: tuple[tuple[str, str], ...] = ()  # (display name, address)
    message_id: str | None = None


@dataclass(frozen=True, slots=True)
class Inspection:
    """Everything ``pipeline.inspect`` learnt about one message."""

    decision: Decision
    findings: tuple[Finding, ...] = ()
    inspected: tuple[str, ...] = field(default=())
    elapsed_ms: float = 0.0
    addressing: Addressing = Addressing()
