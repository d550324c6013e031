"""What the history knows, as detectors and the learner see it."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# A contact written to at least this often is someone the sender means to reach.
FREQUENT = 3


@dataclass(frozen=True, slots=True)
class Sighting:
    """One recipient of one sent message."""

    sender: str
    recipient: str
    name: str  # display name in To/Cc, "" for Bcc or a bare address
    at: float  # Unix time


@dataclass(frozen=True, slots=True)
class SentMessage:
    """One delivered or past sent message, as the history keeps it: addresses only.

    ``key`` (a digest of the Message-ID) makes learning the same message twice, from
    the relay and again from a mailbox, count it once.
    """

    sender: str
    at: float
    sightings: tuple[Sighting, ...]
    key: bytes | None = None
    weight: int = 1  # a reviewer-confirmed recipient counts as more than one sighting
    confirmed: bool = False  # a reviewer released it: its domains are meant (look-alikes)


@dataclass(frozen=True, slots=True)
class Contact:
    address: str
    name: str
    count: int
    last_seen: float


@dataclass(frozen=True, slots=True)
class SenderProfile:
    """The part of one sender's history that matters for one message.

    ``known`` and ``domains`` cover only this message's recipients; ``frequent`` is
    the sender's most written-to contacts (bounded, for near-miss comparison).
    """

    sender: str
    messages: int = 0
    known: Mapping[str, Contact] = field(default_factory=dict)
    frequent: tuple[Contact, ...] = ()
    domains: Mapping[str, int] = field(default_factory=dict)
    frequent_domains: tuple[str, ...] = ()
    org_domains: Mapping[str, int] = field(default_factory=dict)  # anyone here wrote there
    names: Mapping[str, str] = field(default_factory=dict)  # recipient → name anyone used
    # Recipient domains a reviewer released this sender's mail to (never learned from
    # mail flow): a look-alike stops being one only when a person says so.
    confirmed_domains: frozenset[str] = frozenset()
    # Most mail goes to people the sender knows; only a new recipient needs the
    # (large, for a shared mailbox) list of frequent contacts, so it loads on demand.
    frequent_loader: Callable[[], tuple[Contact, ...]] | None = field(
        default=None, repr=False, compare=False
    )
    _loaded: list[tuple[Contact, ...]] = field(default_factory=list, repr=False, compare=False)

    def count(self, address: str) -> int:
        contact = self.known.get(address)
        return contact.count if contact else 0

    def frequent_contacts(self) -> tuple[Contact, ...]:
        if self.frequent_loader is None:
            return self.frequent
        if not self._loaded:
            self._loaded.append(self.frequent_loader())
        return self._loaded[0]


@dataclass(frozen=True, slots=True)
class HistoryStats:
    senders: int
    contacts: int
    domains: int
    oldest: float | None
    newest: float | None


@dataclass(slots=True)
class LearnSummary:
    messages: int = 0
    sightings: int = 0
    duplicates: int = 0  # already learned (same Message-ID)
    too_old: int = 0
    unusable: int = 0  # no sender or no recipients
    unreadable: int = 0
    senders: set[str] = field(default_factory=set)
