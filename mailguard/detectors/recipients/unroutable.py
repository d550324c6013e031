"""Recipient domains that cannot receive mail: no MX, no A/AAAA, or a null MX.

Such an address is almost surely mistyped. The relay asks DNS while the client is
still sending (see ``inspection.dns``); this detector only reads the answers, so it
stays a pure function. A domain DNS could not answer for in time is never reported.
"""

from __future__ import annotations

from mailguard.addresses import domain_of
from mailguard.detectors import DetectionContext, Detector
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Finding, Severity

NAME = "unroutable_domain"


def detect(message: ParsedMessage, envelope: Envelope, context: DetectionContext) -> list[Finding]:
    dead = sorted({d for r in envelope.rcpt_tos if context.dns.get(d := domain_of(r)) == "none"})
    if not dead:
        return []
    detail = f"no mail server for {', '.join(dead)} (no MX or address record)"
    return [Finding(NAME, NAME.upper(), len(dead), Severity.MEDIUM, "recipients", detail)]


DETECTOR = Detector(
    NAME,
    detect,
    emits={"UNROUTABLE_DOMAIN": Severity.MEDIUM},
    uses_dns=True,
    summary="a recipient domain with no mail server (needs DNS from the relay)",
)
