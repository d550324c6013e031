"""First mail from this sender to an outside domain.

On its own this is ordinary (people meet new contacts every week), so the finding
is low severity; medium when nobody in the organisation has written there before.
Rules combine it with personal data. Partner domains are trusted by configuration
and never reported. Quiet until the sender has a history worth comparing with.
"""

from __future__ import annotations

from mailguard.addresses import domain_of
from mailguard.detectors import DetectionContext, Detector
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Finding, Severity

NAME = "new_external_domain"
MIN_HISTORY = 10  # messages from this sender before "first time" means anything


def detect(message: ParsedMessage, envelope: Envelope, context: DetectionContext) -> list[Finding]:
    profile = context.history
    if profile is None or profile.messages < MIN_HISTORY:
        return []
    domains = {domain_of(r) for r in envelope.rcpt_tos} - {""}
    new = sorted(
        d
        for d in domains
        if context.domains.trust_of(d) == "external" and profile.domains.get(d, 0) == 0
    )
    if not new:
        return []
    unknown = [d for d in new if profile.org_domains.get(d, 0) == 0]
    detail = f"first mail from this sender to {', '.join(new)}"
    if unknown:
        detail += f"; nobody here has written to {', '.join(unknown)} before"
    severity = Severity.MEDIUM if unknown else Severity.LOW
    return [Finding(NAME, NAME.upper(), len(new), severity, "recipients", detail)]


DETECTOR = Detector(
    NAME,
    detect,
    emits={"NEW_EXTERNAL_DOMAIN": Severity.LOW},
    uses_history=True,
    summary="first mail from this sender to an outside domain (medium: from anyone here)",
)
