"""Detectors: pure functions from a parsed message to findings.

A detector never decides what happens to a message; it only reports what it saw. The
policy engine turns all findings into one decision. Each detector module declares
its ``DETECTOR`` (name, finding types, cost); ``registry`` lists them once.
"""

from __future__ import annotations

import contextlib
import contextvars
import enum
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mailguard.addresses import Domains
from mailguard.history.model import SenderProfile
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Finding, Severity

if TYPE_CHECKING:
    from mailguard.detectors.personal_data.identifiers import Identifier
    from mailguard.records.store import RecordsReader


@dataclass(frozen=True, slots=True)
class OwnDetails:
    """The organisation's own name, bank accounts, phone numbers (digits only) and
    postcodes (no spaces, upper case): never personal data wherever they appear."""

    name: str = ""
    numbers: frozenset[str] = frozenset()
    postcodes: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class DetectionContext:
    """What a detector may know beyond the message.

    The site's identifiers, domains and own details (from the policy); the sender's
    history (None
    when there is no history store or no sender); DNS answers for recipient domains
    gathered while the client was still sending (``DomainStatus`` values; missing =
    not looked up); the council's own tables (None: no records store).
    """

    identifiers: tuple[Identifier, ...] = ()
    domains: Domains = field(default_factory=Domains)
    history: SenderProfile | None = None
    dns: Mapping[str, str] = field(default_factory=dict)
    own: OwnDetails = field(default_factory=OwnDetails)
    records: RecordsReader | None = None


DetectFn = Callable[[ParsedMessage, Envelope, DetectionContext], Sequence[Finding]]


class Cost(enum.IntEnum):
    """Cheap facts first, like Rspamd's symbols: a rule that cannot fire any more
    never makes the message pay for the expensive ones."""

    RECIPIENTS = 1  # addresses, headers, history, DNS answers: microseconds
    CONTENT = 2  # every body part and attachment, patterns and NER: milliseconds


@dataclass(frozen=True, slots=True)
class Detector:
    """One detector, declared once: its name in findings and policies, the finding
    types it reports with their usual severity (a recipient detector raises or lowers
    it case by case, as its summary says), and what it costs.

    ``warm_up`` loads what the detector needs (a model) when a worker starts.
    """

    name: str
    run: DetectFn
    emits: Mapping[str, Severity] = field(default_factory=dict)
    cost: Cost = Cost.RECIPIENTS
    uses_history: bool = False
    uses_dns: bool = False  # reads the DNS answers the relay gathers at RCPT time
    site_types: bool = False  # also reports the policy's own ``identifiers``
    uses_records: bool = False  # reads the council's imported tables (``records``)
    warm_up: Callable[[], None] | None = None
    summary: str = ""


class ModelNeeded(BaseException):  # a signal, not an error: it passes every handler
    """Raised where a detector would load the NER model while ``without_model`` is in
    force: the message goes to a worker process, which has the model, instead."""


_MODEL_ALLOWED = contextvars.ContextVar("model_allowed", default=True)


@contextlib.contextmanager
def without_model() -> Iterator[None]:
    """Inspection on the relay's own event loop never loads or runs the model."""
    token = _MODEL_ALLOWED.set(False)
    try:
        yield
    finally:
        _MODEL_ALLOWED.reset(token)


def model_allowed() -> bool:
    return _MODEL_ALLOWED.get()


def goes_outside(envelope: Envelope, context: DetectionContext) -> bool:
    """Some reading costs seconds (OCR of a scan) and matters only for mail that leaves
    the council, where a rule could still fire on what it finds."""
    return bool(context.domains.external(envelope.rcpt_tos))
