"""Failed redactions: words a document still carries where its reader sees a black
box, white paper or nothing (a PDF box drawn over text, white text, Word's tracked
deletions and hidden or white runs, OpenDocument's hidden text, deletions and
comments). The sender believes them gone; the recipient can copy them out.

The text itself comes from ``intake`` (parts marked ``#redacted``); this says what
kinds of personal data are in it, by the same scan as ``personal_data``.
"""

from __future__ import annotations

from mailguard.detectors import Cost, DetectionContext, Detector
from mailguard.detectors.personal_data.detector import scanned_contents, types_in
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Finding, Severity

NAME = "redaction"


def detect(message: ParsedMessage, envelope: Envelope, context: DetectionContext) -> list[Finding]:
    extracted, scanned = scanned_contents(message, envelope, context)
    findings = []
    for part in extracted.texts:
        if "#redacted" not in part.where:
            continue
        kinds = sorted(types_in(scanned, part.where))
        lines = sum(1 for line in part.text.splitlines() if line.strip())
        what = f"; personal data in it: {', '.join(kinds)}" if kinds else ""
        _, _, unseen = part.where.partition("#redacted:")
        findings.append(
            Finding(
                NAME,
                "REDACTION_FAILURE",
                lines,
                Severity.HIGH if kinds else Severity.MEDIUM,
                part.where,
                f"{lines} line(s) of text hidden but still in the file"
                f"{f' ({unseen})' if unseen else ''}{what}",
            )
        )
    return findings


DETECTOR = Detector(
    NAME,
    detect,
    emits={"REDACTION_FAILURE": Severity.HIGH},
    cost=Cost.CONTENT,
    summary="text left under black boxes, in white, hidden or as tracked deletions",
)
