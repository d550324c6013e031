"""The thread under a reply: personal data in quoted or forwarded history going to
someone who was not on that thread.

A reply to a contractor often carries the internal discussion beneath it, another
resident's diagnosis included; the sender reads only what they typed. A reply that
quotes only what the recipient wrote themselves, or a thread the recipient was on,
tells them nothing new and is not reported.
"""

from __future__ import annotations

import re

from mailguard.detectors import Cost, DetectionContext, Detector
from mailguard.detectors.personal_data import subject
from mailguard.detectors.personal_data.detector import SEVERITY, scanned_contents, types_in
from mailguard.intake import quoting
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Finding, Severity

NAME = "quoted_history"
# What makes history matter: identifiers, dates of birth, special category data.
SENSITIVE = frozenset({t for t, s in SEVERITY.items() if s is Severity.HIGH} | {"DATE_OF_BIRTH"})
_HEADER_LINE = re.compile(
    r"^[ \t>*]*(?:from|to|cc|sent|date):.*$|^[ \t>]*on .{4,300}wrote:.*$",
    re.IGNORECASE | re.MULTILINE,
)


def detect(message: ParsedMessage, envelope: Envelope, context: DetectionContext) -> list[Finding]:
    extracted, scanned = scanned_contents(message, envelope, context)
    thread = "\n".join(p.text for p in extracted.texts if p.where == "quoted")
    if not thread.strip():
        return []
    recipients = subject.outside_recipients(message, envelope, context.domains)
    new = [r for r in recipients if not _on_thread(r, thread)]
    if not new:
        return []
    kinds = sorted(types_in(scanned, "quoted") & SENSITIVE)
    if not kinds:
        return []
    return [
        Finding(
            NAME,
            "QUOTED_HISTORY",
            len(new),
            Severity.HIGH,
            "quoted",
            f"the quoted thread holds {', '.join(kinds)}; {len(new)} outside recipient(s)"
            " were not on it",
        )
    ]


def _on_thread(recipient: subject.Recipient, thread: str) -> bool:
    """The recipient's address is in the thread, or their name is in one of its
    From/To/Cc lines (Outlook often shows names only)."""
    if recipient.address.lower() in {a.lower() for a in quoting.ADDRESS.findall(thread)}:
        return True
    if not recipient.known:
        return False
    headers = {subject.fold(w) for line in _HEADER_LINE.findall(thread)
               for w in re.findall(r"\w+", line)}  # fmt: skip
    names = {n for n in recipient.names if len(n) > 2}
    return bool(names) and len(names & headers) >= min(2, len(names))


DETECTOR = Detector(
    NAME,
    detect,
    emits={"QUOTED_HISTORY": Severity.HIGH},
    cost=Cost.CONTENT,
    summary="personal data in a quoted or forwarded thread going to someone not on it",
)
