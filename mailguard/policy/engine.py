"""One decision from all findings: every rule that fires is recorded, the strictest
action wins (reject > hold > rewrite > tag > pass), as in Mailman 3's rule → chain.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from mailguard.intake.mime import ParsedMessage
from mailguard.model import Action, Decision, Envelope, Finding


class Rule(Protocol):
    name: str
    action: Action
    description: str

    def matches(
        self, findings: Sequence[Finding], envelope: Envelope, message: ParsedMessage
    ) -> bool: ...


def decide(
    rules: Sequence[Rule],
    findings: Sequence[Finding],
    envelope: Envelope,
    message: ParsedMessage,
) -> Decision:
    fired = [r for r in rules if r.matches(findings, envelope, message)]
    if not fired:
        return Decision(Action.PASS)
    action = Action.strictest([r.action for r in fired])
    reason = next(r.description for r in fired if r.action is action)
    return Decision(action, tuple(r.name for r in fired), reason)
