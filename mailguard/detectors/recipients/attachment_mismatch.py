"""A letter attached for one person, sent to another.

The misdirected letter is the commonest council breach after Bcc: a decision
letter, an assessment or a bill addressed to Mr Patel goes to Sarah Jones because
the wrong file or the wrong contact was picked. The letter says who it is for (its
addressee block and greeting); the envelope and the display names say who gets it.
Reported only when every outside recipient is a person we can name and none of
them is the letter's addressee.
"""

from __future__ import annotations

from mailguard.detectors import Cost, DetectionContext, Detector, goes_outside
from mailguard.detectors.personal_data import subject
from mailguard.intake.extract import contents_of
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Finding, Severity

NAME = "attachment_mismatch"


def detect(message: ParsedMessage, envelope: Envelope, context: DetectionContext) -> list[Finding]:
    recipients = subject.outside_recipients(message, envelope, context.domains)
    if not recipients or not all(r.names for r in recipients):
        return []  # a shared or role mailbox may be the right one: we cannot tell
    extracted = contents_of(message, outside=goes_outside(envelope, context))
    findings = []
    for part in extracted.texts:
        if not part.where.startswith("attachment:"):
            continue
        people = subject.addressees(part.text)
        if not people:
            continue
        if any(subject.is_addressed_to(p, r) for p in people for r in recipients):
            continue
        if all(any(subject.clearly_someone_else(p, r) for p in people) for r in recipients):
            findings.append(
                Finding(
                    NAME,
                    "ATTACHMENT_MISMATCH",
                    1,
                    Severity.HIGH,
                    part.where,
                    f"a letter addressed to {subject.initials(people[0])} is going to "
                    f"{len(recipients)} other person(s)",
                )
            )
    return findings


DETECTOR = Detector(
    NAME,
    detect,
    emits={"ATTACHMENT_MISMATCH": Severity.HIGH},
    cost=Cost.CONTENT,
    summary="a letter attached is addressed to someone other than the recipients",
)
