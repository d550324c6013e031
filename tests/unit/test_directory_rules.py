"""Policy rules that read the council's directory: groups, departments, list sizes and
unknown internal addresses, and what a rule does when the directory cannot be asked."""

from __future__ import annotations

import textwrap

import pytest

from mailguard.directory.model import DirectoryAnswers, Entry, Kind
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Action, Envelope, Finding, Severity
from mailguard.policy import engine
from mailguard.policy.loader import load_policy
from mailguard.policy.readiness import directory_keys, unprotected
from tests.support.mail import compose

ORG = """
organisation: {name: Northdown, internal_domains: [northdown.gov.uk], partner_domains: [nhs.net]}
groups:
  comms: [press.office@northdown.gov.uk]
rules:
"""

RULES = """
- name: health-from-revenues
  description: Health data is never sent from Revenues.
  when:
    all:
      - sender: {group: Revenues}
      - finding: {type: SPECIAL_CATEGORY}
  action: hold
- name: health-outside-care
  description: Health data leaves only from Adult Social Care, and only to nhs.net.
  when:
    all:
      - finding: {type: SPECIAL_CATEGORY}
      - not: {all: [{sender: {group: Adult Social Care}}, {recipient_domain: [nhs.net]}]}
  action: hold
- name: many-outside
  description: More than 10 people outside the council.
  when: {external_recipients: {more_than: 10}}
  action: tag
- name: reaches-many
  description: Reaches more than 30 people.
  when: {recipients: {more_than: 30}}
  action: tag
- name: mistyped-colleague
  description: An internal address nobody has.
  when: {unknown_internal_recipients: {at_least: 1}}
  action: hold
  release: sender
- name: democratic-services
  description: Committee papers from Democratic Services are tagged.
  when: {sender: {department: Democratic Services}}
  action: tag
"""

REVENUES = "rates.officer@northdown.gov.uk"
CARE = "social.worker@northdown.gov.uk"
CLERK = "committee.clerk@northdown.gov.uk"
PANEL = "tenants-panel@northdown.gov.uk"
HEALTH = Finding("personal_data", "SPECIAL_CATEGORY", 1, Severity.HIGH, "body", "health")


def answers(available: bool = True) -> DirectoryAnswers:
    panel = tuple(f"tenant{i}@example.org" for i in range(40))
    entries = {
        REVENUES: Entry(Kind.PERSON, "Revenues and Benefits", ("revenues", "all staff")),
        CARE: Entry(Kind.PERSON, "Adult Social Care", ("adult social care", "all staff")),
        CLERK: Entry(Kind.PERSON, "Democratic Services", ("all staff",)),
        PANEL: Entry(Kind.LIST, members=panel),
    }
    if not available:
        return DirectoryAnswers({}, available=False, configured=True)
    return DirectoryAnswers(entries, available=True, configured=True)


@pytest.fixture
def pol(tmp_path):
    f = tmp_path / "policy.yaml"
    f.write_text(ORG + textwrap.indent(textwrap.dedent(RULES), "  "))
    return load_policy(f).policy


def decide(pol, sender, rcpts, findings=(), directory=None):
    raw = compose(sender=sender, to=list(rcpts[:1]), body="Hello")
    env = Envelope(sender, tuple(rcpts))
    return engine.decide(pol, list(findings), env, ParsedMessage(raw), "", directory or answers())


def test_health_data_from_revenues_is_held_but_care_may_send_it_to_the_nhs(pol):
    held = decide(pol, REVENUES, ["gp.practice@nhs.net"], [HEALTH])
    assert held.action is Action.HOLD and "health-from-revenues" in held.rules
    passed = decide(pol, CARE, ["gp.practice@nhs.net"], [HEALTH])
    assert passed.action is Action.PASS and passed.directory == "ok"
    elsewhere = decide(pol, CARE, ["someone@example.org"], [HEALTH])
    assert elsewhere.rules == ("health-outside-care",)


def test_a_distribution_list_counts_as_its_members(pol):
    decision = decide(pol, CLERK, [PANEL])
    assert {"many-outside", "reaches-many", "democratic-services"} <= set(decision.rules)
    alone = decide(pol, REVENUES, ["one.resident@example.org"])
    assert alone.rules == ()


def test_an_internal_address_the_directory_does_not_know_is_held_for_the_sender(pol):
    decision = decide(pol, REVENUES, ["rates.ofiser@northdown.gov.uk"])
    assert decision.rules == ("mistyped-colleague",) and decision.release == "sender"


def test_department_names_compare_without_case(pol, tmp_path):
    f = tmp_path / "p2.yaml"
    f.write_text(
        ORG + "  - {name: d, when: {sender: {department: democratic SERVICES}}, action: tag}\n"
    )
    assert decide(load_policy(f).policy, CLERK, ["x@example.org"]).rules == ("d",)


def test_with_the_directory_down_its_rules_neither_fire_nor_hold_back_the_rest(pol):
    down = answers(available=False)
    decision = decide(pol, REVENUES, ["gp.practice@nhs.net"], [HEALTH], down)
    # Neither the Revenues rule nor its negation can be told; the decision says so.
    assert decision.action is Action.PASS
    assert decision.directory == "unavailable"
    assert set(decision.undetermined) == {
        "health-from-revenues", "health-outside-care", "democratic-services"
    }  # fmt: skip
    # Rules that need nothing from the directory still decide.
    many = decide(pol, REVENUES, [f"r{i}@example.org" for i in range(12)], [], down)
    assert "many-outside" in many.rules


def test_a_rule_can_hold_what_it_cannot_check_while_the_directory_is_down(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(
        ORG + "  - {name: fail-closed, when: {all: [{directory_available: false},"
        " {finding: {type: SPECIAL_CATEGORY}}]}, action: hold}\n"
    )
    pol = load_policy(f).policy
    assert decide(pol, REVENUES, ["a@example.org"], [HEALTH], answers(False)).action is Action.HOLD
    assert decide(pol, REVENUES, ["a@example.org"], [HEALTH]).action is Action.PASS


def test_policy_groups_still_win_without_asking_the_directory(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(ORG + "  - {name: press, when: {sender: {group: comms}}, action: tag}\n")
    pol = load_policy(f).policy
    decision = decide(pol, "press.office@northdown.gov.uk", ["a@example.org"], (), answers(False))
    assert decision.rules == ("press",) and decision.directory == ""


def test_the_relay_warns_when_rules_need_a_directory_that_is_not_configured(pol):
    assert directory_keys(pol) == [
        "group 'Revenues'", "group 'Adult Social Care'", "recipients",
        "unknown_internal_recipients", "department 'Democratic Services'",
    ]  # fmt: skip
    assert any("no directory is configured" in w for w in unprotected(pol, directory=False))
    assert not any("directory" in w for w in unprotected(pol, directory=True))
