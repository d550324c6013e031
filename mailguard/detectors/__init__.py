"""Detectors: pure functions from a parsed message to findings.

A detector never decides what happens to a message; it only reports what it saw. The
policy engine turns all findings into one decision.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Finding
from mailguard.policy.schema import Identifier, Organisation


@dataclass(frozen=True, slots=True)
class DetectionContext:
    """What a detector may know beyond the message: the site's own settings."""

    identifiers: tuple[Identifier, ...] = ()
    organisation: Organisation | None = None


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


def registered() -> tuple[Detector, ...]:
    """The detectors a relay runs, cheapest first."""
    from mailguard.detectors import bulk_recipients, lookalike, personal_data

    return (
        Detector(bulk_recipients.NAME, bulk_recipients.detect, cost=1),
        Detector(lookalike.NAME, lookalike.detect, cost=2),
        Detector(personal_data.NAME, personal_data.detect, cost=100, warm_up=personal_data.warm_up),
    )
