"""The inspection pipeline: detectors report, the engine alone decides."""

from mailguard.detectors import Detector
from mailguard.inspection import pipeline
from mailguard.model import Action, Envelope, Finding, Severity
from mailguard.policy.loader import load_policy
from tests.support.mail import compose

ENVELOPE = Envelope(mail_from="officer@northdown.gov.uk", rcpt_tos=("someone@example.org",))


def _finding(type_: str, count: int = 1) -> Finding:
    return Finding("fake", type_, count, Severity.HIGH, "body", "*** *** 4567")


def test_with_no_detectors_or_rules_everything_passes():
    result = pipeline.inspect(ENVELOPE, compose())
    assert result.decision.action is Action.PASS
    assert result.findings == ()


def test_findings_from_every_detector_are_reported_in_cost_order():
    dets = [
        Detector("slow", lambda m, e, c: [_finding("UK_NINO")], cost=10),
        Detector("cheap", lambda m, e, c: [_finding("bulk")], cost=1),
    ]
    result = pipeline.inspect(ENVELOPE, compose(), detector_set=dets)
    assert [f.type for f in result.findings] == ["bulk", "UK_NINO"]
    assert result.inspected == ("cheap", "slow")


def test_a_crashing_detector_becomes_an_uninspectable_finding_not_a_crash():
    def boom(message, envelope, context):
        raise RuntimeError("parser exploded on jane@example.org")

    result = pipeline.inspect(ENVELOPE, compose(), detector_set=[Detector("boom", boom)])
    [finding] = result.findings
    assert finding.type == "UNINSPECTABLE"
    assert "jane" not in finding.detail
    assert result.inspected == ()


def test_the_policy_decides_from_detector_findings(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(
        "rules:\n"
        "  - {name: hold-nino, description: NINO, when: {finding: {type: UK_NINO}}, action: hold}\n"
    )
    dets = [
        Detector("personal_data", lambda m, e, c: [_finding("UK_NINO")]),
        Detector("bulk_visible", lambda m, e, c: 1 / 0),  # no rule asks for it: never runs
    ]
    result = pipeline.inspect(ENVELOPE, compose(), load_policy(f), detector_set=dets)
    assert result.inspected == ("personal_data",)
    assert result.decision.action is Action.HOLD
    assert result.decision.rules == ("hold-nino",)
    assert result.decision.policy_version == load_policy(f).version


def test_action_strictness_order():
    order = [Action.PASS, Action.TAG, Action.REWRITE, Action.HOLD, Action.REJECT]
    assert sorted(reversed(order), key=lambda a: a.strictness) == order


def test_a_history_that_cannot_be_read_never_stops_inspection():
    class Broken:
        def profile(self, sender, recipients):
            raise OSError("database went away")

    from mailguard.detectors.recipients import near_miss

    raw = b"From: a@northdown.gov.uk\r\nTo: b@example.org\r\nSubject: s\r\n\r\nhello\r\n"
    envelope = Envelope("a@northdown.gov.uk", ("b@example.org",))
    result = pipeline.inspect(
        envelope,
        raw,
        detector_set=[Detector(near_miss.NAME, near_miss.detect, uses_history=True)],
        history=Broken(),
    )
    assert result.decision.action is Action.PASS and result.findings == ()
