"""Facts about a message that policy conditions read, computed lazily and once.

Recipient facts need no NLP: who is internal, partner or outside, and who can see
whom in To/Cc. Attachment facts need a MIME walk, paid only if a rule asks.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cached_property

from mailguard.addresses import domain_of
from mailguard.directory.model import NO_DIRECTORY, UNKNOWN, DirectoryAnswers, Entry, Kind, Unknown
from mailguard.intake.extract import filename_of
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
        directory: DirectoryAnswers = NO_DIRECTORY,
    ) -> None:
        self.envelope = envelope
        self.message = message
        self.findings = findings
        self.domains = organisation.domains
        self.directory = directory
        self.asked_directory = False  # some condition read it: the decision says how it was

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
        """Outside addresses the message reaches, distribution lists expanded (a list
        the directory cannot be asked about counts as itself)."""
        return self.domains.external(self._expanded[0])

    @cached_property
    def _expanded(self) -> tuple[tuple[str, ...], bool]:
        """Every address reached, lists expanded; and whether every list was known."""
        reached: dict[str, None] = {}
        complete = True
        for rcpt in self.envelope.rcpt_tos:
            entry = self.internal_entry(rcpt)
            if isinstance(entry, Unknown):
                complete = False
            if isinstance(entry, Entry) and entry.kind is Kind.LIST:
                reached.update(dict.fromkeys(entry.members))
            else:
                reached.setdefault(rcpt.lower(), None)
        return tuple(reached), complete

    def internal_entry(self, address: str) -> Entry | Unknown | None:
        """The directory's entry for an internal address (None for an outside one, or
        when there is no directory)."""
        if not self.directory.configured or not self.domains.is_internal(address):
            return None
        self.asked_directory = True
        return self.directory.lookup(address)

    def reached(self) -> int | Unknown:
        """How many people the message reaches, lists expanded."""
        addresses, complete = self._expanded
        return len(addresses) if complete else UNKNOWN

    def unknown_internal(self) -> int | Unknown:
        """Internal recipients the directory has no mailbox or list for."""
        if not self.directory.configured:
            return UNKNOWN
        self.asked_directory = True
        count = 0
        for rcpt in self.envelope.rcpt_tos:
            entry = self.internal_entry(rcpt)
            if isinstance(entry, Unknown):
                return UNKNOWN
            count += entry is None and self.domains.is_internal(rcpt)
        return count

    def sender_entry(self) -> Entry | Unknown | None:
        if not self.directory.configured:
            return UNKNOWN
        self.asked_directory = True
        return self.directory.lookup(self.envelope.mail_from)

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
            filename = filename_of(part)
            if not filename and part.get_content_disposition() != "attachment":
                continue
            types.add(part.get_content_type().lower())
            if filename and "." in filename:
                types.add(filename.rsplit(".", 1)[1].lower())
        return frozenset(types)

    @property
    def size(self) -> int:
        return len(self.message.raw)
