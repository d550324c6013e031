"""Detectors: pure functions from a parsed message to findings.

A detector never decides what happens to a message; it only reports what it saw. The
policy engine turns all findings into one decision.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from mailguard.history.model import SenderProfile
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Finding
from mailguard.policy.schema import Identifier, Organisation


@dataclass(frozen=True, slots=True)
class DetectionContext:
    """What a detector may know beyond the message.

    The site's settings; the sender's history (None when there is no history store
    or no sender); DNS answers for recipient domains gathered by the relay while the
    client was still sending (``DomainStatus`` values; missing = not looked up).
    """

    identifiers: tuple[Identifier, ...] = ()
    organisation: Organisation | None = None
    history: SenderProfile | None = None
    domains: Mapping[str, str] = field(default_factory=dict)


DetectFn = Callable[[ParsedMessage, Envelope, DetectionContext], Sequence[Finding]]


@dataclass(frozen=True, slots=True)
class Detector:
    """A named detector. ``cost`` orders them: cheap facts first, like Rspamd's symbols.

    ``warm_up`` loads what the detector needs (a model) when a worker starts.
    """

    name: str
    run: DetectFn
    cost: int = 0
    warm_up: Callable[[], None] | None = None
    uses_history: bool = False


def registered() -> tuple[Detector, ...]:
    """The detectors a relay runs, cheapest first."""
    from mailguard.detectors import (
        bulk_recipients,
        lookalike,
        name_mismatch,
        near_miss,
        new_domain,
        personal_data,
        unroutable,
    )

    return (
        Detector(bulk_recipients.NAME, bulk_recipients.detect, cost=1),
        Detector(lookalike.NAME, lookalike.detect, cost=2, uses_history=True),
        Detector(new_domain.NAME, new_domain.detect, cost=3, uses_history=True),
        Detector(near_miss.NAME, near_miss.detect, cost=4, uses_history=True),
        Detector(name_mismatch.NAME, name_mismatch.detect, cost=5, uses_history=True),
        Detector(unroutable.NAME, unroutable.detect, cost=6),
        Detector(personal_data.NAME, personal_data.detect, cost=100, warm_up=personal_data.warm_up),
    )
