"""Facts about a message that policy conditions read, computed lazily and once.

Recipient facts need no NLP: who is internal, partner or outside, and who can see
whom in To/Cc. Attachment facts need a MIME walk, paid only if a rule asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

from mailguard.addresses import domain_of
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Finding
from mailguard.policy.schema import Organisation


class Facts:
    def __init__(
        self,
        envelope: Envelope,
        message: ParsedMessage,
        findings: Sequence[Finding],
        organisation: Organisation,
    ) -> None:
        self.envelope = envelope
        self.message = message
        self.findings = findings
        self.domains = organisation.domains

    @cached_property
    def visible_recipients(self) -> tuple[str, ...]:
        """Distinct addresses in To and Cc, as every recipient sees them."""
        seen: dict[str, None] = {}
        for _, addr in self.message.addresses("to", "cc"):
            seen.setdefault(addr.lower(), None)
        return tuple(seen)

    @cached_property
    def visible_external(self) -> tuple[str, ...]:
        return self.domains.external(self.visible_recipients)

    @cached_property
    def external_recipients(self) -> tuple[str, ...]:
        return self.domains.external(self.envelope.rcpt_tos)

    @cached_property
    def untrusted_domains(self) -> frozenset[str]:
        """Recipient domains that are neither ours nor a partner's."""
        rcpts = self.envelope.rcpt_tos
        return frozenset(domain_of(r) for r in rcpts if not self.domains.is_trusted(r))

    @cached_property
    def recipient_domains(self) -> frozenset[str]:
        return frozenset(domain_of(r) for r in self.envelope.rcpt_tos)

    @cached_property
    def attachment_types(self) -> frozenset[str]:
        """File extensions and MIME types of every attachment, lower case."""
        types: set[str] = set()
        for part in self.message.message.walk():
            filename = part.get_filename()
            if not filename and part.get_content_disposition() != "attachment":
                continue
            types.add(part.get_content_type().lower())
            if filename and "." in filename:
                types.add(filename.rsplit(".", 1)[1].lower())
        return frozenset(types)

    @property
    def size(self) -> int:
        return len(self.message.raw)
