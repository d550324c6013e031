"""The inspection pipeline: detectors report, the engine alone decides."""

from dataclasses import dataclass

from mailguard import pipeline
from mailguard.detectors import Detector
from mailguard.model import Action, Envelope, Finding, Severity
from tests.mail import compose

ENVELOPE = Envelope(mail_from="officer@northdown.gov.uk", rcpt_tos=("someone@example.org",))


def _finding(type_: str, count: int = 1) -> Finding:
    return Finding("fake", type_, count, Severity.HIGH, "body", "*** *** 4567")


@dataclass
class CountRule:
    name: str
    action: Action
    type: str
    description: str = "explained to the sender"

    def matches(self, findings, envelope, message):
        return any(f.type == self.type for f in findings)


def test_with_no_detectors_or_rules_everything_passes():
    result = pipeline.inspect(ENVELOPE, compose())
    assert result.decision.action is Action.PASS
    assert result.findings == ()


def test_findings_from_every_detector_are_reported_in_cost_order():
    dets = [
        Detector("slow", lambda m, e: [_finding("UK_NINO")], cost=10),
        Detector("cheap", lambda m, e: [_finding("bulk")], cost=1),
    ]
    result = pipeline.inspect(ENVELOPE, compose(), detector_set=dets)
    assert [f.type for f in result.findings] == ["bulk", "UK_NINO"]
    assert result.inspected == ("cheap", "slow")


def test_a_crashing_detector_becomes_an_uninspectable_finding_not_a_crash():
    def boom(message, envelope):
        raise RuntimeError("parser exploded on jane@example.org")

    result = pipeline.inspect(ENVELOPE, compose(), detector_set=[Detector("boom", boom)])
    [finding] = result.findings
    assert finding.type == "UNINSPECTABLE"
    assert "jane" not in finding.detail
    assert result.inspected == ()


def test_every_fired_rule_is_recorded_and_the_strictest_action_wins():
    dets = [Detector("d", lambda m, e: [_finding("UK_NINO"), _finding("bulk")])]
    rules = [
        CountRule("tag-bulk", Action.TAG, "bulk"),
        CountRule("hold-nino", Action.HOLD, "UK_NINO", "National Insurance numbers"),
        CountRule("never", Action.REJECT, "IBAN_CODE"),
    ]
    result = pipeline.inspect(ENVELOPE, compose(), detector_set=dets, rules=rules)
    assert result.decision.action is Action.HOLD
    assert result.decision.rules == ("tag-bulk", "hold-nino")
    assert result.decision.reason == "National Insurance numbers"


def test_action_strictness_order():
    order = [Action.PASS, Action.TAG, Action.REWRITE, Action.HOLD, Action.REJECT]
    assert sorted(reversed(order), key=lambda a: a.strictness) == order
    assert Action.strictest([]) is Action.PASS
