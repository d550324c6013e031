"""The policy engine, table-driven: conditions, combinators, strictest wins, allow, monitor."""

from __future__ import annotations

import textwrap

import pytest

from mailguard.intake.mime import ParsedMessage
from mailguard.model import Action, Envelope, Finding, Severity
from mailguard.policy import engine
from mailguard.policy.loader import load_policy
from tests.support.mail import compose

ORG = """
organisation:
  name: Northdown District Council
  internal_domains: [northdown.gov.uk]
  partner_domains: [nhs.net]
groups:
  comms: [press.office@northdown.gov.uk]
"""

OFFICER = "case.officer@northdown.gov.uk"


def policy(tmp_path, rules: str, extra: str = ""):
    f = tmp_path / "policy.yaml"
    f.write_text(ORG + extra + "rules:\n" + textwrap.indent(textwrap.dedent(rules), "  "))
    return load_policy(f).policy


def decide(pol, *, to=(), cc=(), rcpts=None, sender=OFFICER, findings=(), body="Hello"):
    headers = [f"Cc: {', '.join(cc)}"] if cc else []
    raw = compose(
        sender=sender, to=list(to) or ["x@northdown.gov.uk"], body=body, extra_headers=headers
    )
    envelope = Envelope(sender, tuple(rcpts if rcpts is not None else [*to, *cc]))
    return engine.decide(pol, list(findings), envelope, ParsedMessage(raw))


def nino(count=1, where="body", severity=Severity.HIGH):
    return Finding("personal_data", "UK_NINO", count, severity, where, "** ** ** ** *")


def external(n, domain="example.org"):
    return [f"resident{i}@{domain}" for i in range(n)]


BULK = """
- name: bulk-visible
  description: Too many visible external recipients
  when: {visible_external_recipients: {more_than: 10}}
  action: rewrite
  rewrite: bcc
"""


@pytest.mark.parametrize(
    ("to", "cc", "expected"),
    [
        (external(10), [], Action.PASS),
        (external(11), [], Action.REWRITE),
        (external(6), external(6, "example.net"), Action.REWRITE),
        # Internal colleagues never count as exposed.
        ([f"staff{i}@northdown.gov.uk" for i in range(30)], [], Action.PASS),
        ([f"staff{i}@housing.northdown.gov.uk" for i in range(30)], [], Action.PASS),
        # A look-alike of our domain is external.
        ([f"r{i}@evilnorthdown.gov.uk" for i in range(11)], [], Action.REWRITE),
    ],
)
def test_visible_external_recipients(tmp_path, to, cc, expected):
    d = decide(policy(tmp_path, BULK), to=to, cc=cc)
    assert d.action is expected
    if expected is Action.REWRITE:
        assert d.rules == ("bulk-visible",) and d.rewrite == "bcc" and d.notify


def test_bcc_recipients_are_not_visible(tmp_path):
    d = decide(policy(tmp_path, BULK), to=[OFFICER], rcpts=external(40))
    assert d.action is Action.PASS


FINDINGS = """
- name: nino-external
  description: National Insurance numbers to an outside address
  when:
    all:
      - finding: {type: UK_NINO, min_count: 5, min_severity: medium, where: attachment}
      - untrusted_domains: {at_least: 1}
  action: hold
"""


@pytest.mark.parametrize(
    ("findings", "to", "expected"),
    [
        ([nino(5, "attachment:list.xlsx")], ["a@example.org"], Action.HOLD),
        (
            [nino(3, "attachment:a.csv"), nino(2, "attachment:b.csv")],
            ["a@example.org"],
            Action.HOLD,
        ),
        ([nino(4, "attachment:list.xlsx")], ["a@example.org"], Action.PASS),
        ([nino(5, "body")], ["a@example.org"], Action.PASS),
        ([nino(5, "attachment:x.xlsx", Severity.LOW)], ["a@example.org"], Action.PASS),
        # Partners are trusted: the same data to nhs.net is not held by this rule.
        ([nino(5, "attachment:list.xlsx")], ["gp@nhs.net"], Action.PASS),
    ],
)
def test_finding_conditions(tmp_path, findings, to, expected):
    assert decide(policy(tmp_path, FINDINGS), to=to, findings=findings).action is expected


COMBINED = """
- name: tag-external
  description: Mail to outside addresses is tagged
  when: {external_recipients: {at_least: 1}}
  action: tag
  subject_prefix: "[EXTERNAL]"
- name: hold-nino
  description: NINO held
  when: {finding: {type: [UK_NINO, UK_NHS]}}
  action: hold
- name: reject-huge
  description: Too big
  when: {size: {more_than: 10M}}
  action: reject
- name: comms-mailing
  description: The press office may mail out
  when: {sender: {group: comms}}
  action: allow
  exempts: [hold-nino]
"""


def test_every_fired_rule_is_recorded_and_the_strictest_wins(tmp_path):
    d = decide(policy(tmp_path, COMBINED), to=["a@example.org"], findings=[nino()])
    assert d.action is Action.HOLD
    assert d.rules == ("tag-external", "hold-nino")
    assert d.rule == "hold-nino" and d.reason == "NINO held"
    assert d.subject_prefix == "[EXTERNAL]"


def test_the_release_needs_the_strictest_of_every_hold_that_fired(tmp_path):
    """A lenient site rule ahead of a strict one must not loosen who may release."""
    rules = """
    - name: site-hold-outside
      when: {external_recipients: {at_least: 1}}
      action: hold
      release: sender
    - name: hold-nino-list
      when: {finding: {type: UK_NINO, min_count: 10}}
      action: hold
      release: approver
    - name: hold-nino
      when: {finding: {type: UK_NINO}}
      action: hold
      release: reviewer
    """
    pol = policy(tmp_path, rules)
    listed = decide(pol, to=["a@example.org"], findings=[nino(count=12)])
    assert (listed.action, listed.release, listed.rule) == (
        Action.HOLD, "approver", "hold-nino-list"
    )  # fmt: skip
    one = decide(pol, to=["a@example.org"], findings=[nino()])
    assert (one.release, one.rule) == ("reviewer", "hold-nino")
    plain = decide(pol, to=["a@example.org"])
    assert (plain.release, plain.rule) == ("sender", "site-hold-outside")


def test_every_enforced_reason_is_kept_most_serious_first(tmp_path):
    rules = """
    - name: tag-outside
      description: Mail leaving the council is marked.
      when: {external_recipients: {at_least: 1}}
      action: tag
    - name: hold-nino
      description: A National Insurance number to an outside address.
      when: {finding: {type: UK_NINO}}
      action: hold
    - name: hold-nino-list
      description: Ten or more National Insurance numbers.
      when: {finding: {type: UK_NINO, min_count: 10}}
      action: hold
      release: approver
    - name: watch-outside
      when: {external_recipients: {at_least: 1}}
      action: hold
      mode: monitor
    """
    d = decide(policy(tmp_path, rules), to=["a@example.org"], findings=[nino(count=12)])
    assert [(r.rule, r.action) for r in d.reasons] == [
        ("hold-nino-list", Action.HOLD),
        ("hold-nino", Action.HOLD),
        ("tag-outside", Action.TAG),
    ]  # the monitored rule changes nothing, so it gives no reason
    assert d.reasons[0].reason == d.reason == "Ten or more National Insurance numbers."


def test_allow_exempts_only_the_rules_it_names(tmp_path):
    d = decide(
        policy(tmp_path, COMBINED),
        sender="press.office@northdown.gov.uk",
        to=["a@example.org"],
        findings=[nino()],
    )
    assert d.action is Action.TAG
    assert d.rules == ("tag-external", "hold-nino", "comms-mailing")


def test_allow_without_exempts_exempts_everything(tmp_path):
    rules = COMBINED.replace("  exempts: [hold-nino]\n", "")
    d = decide(
        policy(tmp_path, rules),
        sender="press.office@northdown.gov.uk",
        to=["a@example.org"],
        findings=[nino()],
    )
    assert d.action is Action.PASS


@pytest.mark.parametrize(
    ("cond", "matches"),
    [
        ("{any: [{sender: {domain: example.com}}, {recipient_domain: example.org}]}", True),
        ("{any: [{sender: {domain: example.com}}, {recipient_domain: example.net}]}", False),
        ("{not: {recipient_domain: example.org}}", False),
        ("{not: {recipient_domain: example.net}}", True),
        ("{sender: {domain: northdown.gov.uk}, recipient_domain: [example.org]}", True),
        ("{sender: {address: CASE.OFFICER@northdown.gov.uk}}", True),
        ("{attachment: {type: xlsx}}", False),
        ("{size: {at_most: 1M}}", True),
    ],
)
def test_combinators_and_simple_conditions(tmp_path, cond, matches):
    rules = f"- {{name: r, when: {cond}, action: reject}}\n"
    d = decide(policy(tmp_path, rules), to=["a@example.org"])
    assert (d.action is Action.REJECT) is matches


def test_attachment_type_by_extension_and_mime_type(tmp_path):
    from email.message import EmailMessage

    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = OFFICER, "a@example.org", "list"
    msg.set_content("see attached")
    msg.add_attachment(b"a,b\n", maintype="text", subtype="csv", filename="Residents.CSV")
    raw = msg.as_bytes().replace(b"\n", b"\r\n")
    for cond, hit in [("csv", True), ("text/csv", True), ("xlsx", False)]:
        pol = policy(
            tmp_path, f"- {{name: r, when: {{attachment: {{type: {cond}}}}}, action: hold}}\n"
        )
        d = engine.decide(pol, [], Envelope(OFFICER, ("a@example.org",)), ParsedMessage(raw))
        assert (d.action is Action.HOLD) is hit, cond


def test_monitor_mode_records_but_passes(tmp_path):
    pol = policy(tmp_path, FINDINGS, extra="mode: monitor\n")
    d = decide(pol, to=["a@example.org"], findings=[nino(9, "attachment:x.xlsx")])
    assert d.action is Action.PASS
    assert d.rules == ("nino-external",) and d.monitored == ("nino-external",)
    assert d.would_action is Action.HOLD


def test_a_rule_can_enforce_inside_a_monitored_policy(tmp_path):
    rules = FINDINGS + "  mode: enforce\n"
    pol = policy(tmp_path, rules, extra="mode: monitor\n")
    d = decide(pol, to=["a@example.org"], findings=[nino(9, "attachment:x.xlsx")])
    assert d.action is Action.HOLD and d.monitored == ()


def test_no_policy_passes_everything():
    d = engine.decide(
        None, [nino(100)], Envelope(OFFICER, ("a@example.org",)), ParsedMessage(compose())
    )
    assert d.action is Action.PASS and d.rules == ()


def test_a_malformed_to_header_still_counts_the_readable_recipients(tmp_path):
    raw = b'From: a@northdown.gov.uk\r\nTo: r1@example.org, "\r\nCc: r2@example.org\r\n\r\nx\r\n'
    rules = "- {name: r, when: {visible_external_recipients: {at_least: 2}}, action: tag}\n"
    d = engine.decide(
        policy(tmp_path, rules), [], Envelope(OFFICER, ("r1@example.org",)), ParsedMessage(raw)
    )
    assert d.action is Action.TAG
