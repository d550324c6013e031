"""Detectors that compare a message with the sender's history: near misses, first mail
to a domain, a greeting for someone else, and look-alikes of domains the sender uses.

History is a real SQLiteHistory in tmp_path. Names are generic or Faker en_GB
inventions, and every address is at an example or made-up domain.
"""

from __future__ import annotations

import re
import time

import pytest
from faker import Faker

from mailguard.detectors import DetectionContext, registry
from mailguard.detectors.recipients import lookalike, name_mismatch, near_miss, new_domain
from mailguard.history.model import SentMessage, Sighting
from mailguard.history.sql import SQLiteHistory
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Severity
from mailguard.policy.schema import Organisation

ORG = Organisation(
    name="Northdown", internal_domains=["northdown.gov.uk"], partner_domains=["nhs.net"]
)
SENDER = "case.officer@northdown.gov.uk"
COLLEAGUE = "team.leader@northdown.gov.uk"
DAY = 86400.0


@pytest.fixture
def history(tmp_path):
    store = SQLiteHistory(tmp_path / "history.db")
    yield store
    store.close()


def wrote(history, *recipients, times: int = 3, sender: str = SENDER, days_ago: float = 1):
    """``sender`` sent ``times`` messages to ``recipients``: addresses or (name, address)."""
    pairs = [r if isinstance(r, tuple) else ("", r) for r in recipients]
    start = time.time() - days_ago * DAY
    for i in range(times):
        at = start - i * 60
        sightings = tuple(Sighting(sender, a.lower(), n, at) for n, a in pairs)
        history.record([SentMessage(sender, at, sightings)])


def mail(
    to: str,
    body: str = "Please see the attached notes.",
    *,
    cc: str = "",
    sender: str = SENDER,
    html: bool = False,
) -> ParsedMessage:
    subtype = "html" if html else "plain"
    headers = [f"From: {sender}", f"To: {to}"] + ([f"Cc: {cc}"] if cc else [])
    headers += ["Subject: Your enquiry", f"Content-Type: text/{subtype}; charset=utf-8"]
    return ParsedMessage(("\r\n".join(headers) + "\r\n\r\n" + body + "\r\n").encode())


def run(
    detector,
    history,
    message: ParsedMessage,
    *,
    rcpts: tuple[str, ...] | None = None,
    sender: str = SENDER,
):
    """The detector on ``message``, with the sender's profile for its recipients."""
    if rcpts is None:
        rcpts = tuple(a for _, a in message.addresses("to", "cc"))
    profile = None if history is None else history.profile(sender, rcpts)
    context = DetectionContext(domains=ORG.domains, history=profile)
    return detector.detect(message, Envelope(sender, rcpts), context)


def test_the_history_detectors_are_registered_as_using_history():
    uses = {d.name: d.uses_history for d in registry.DETECTORS}
    for name in (near_miss.NAME, new_domain.NAME, name_mismatch.NAME, lookalike.NAME):
        assert uses[name] is True


# --- recipient_near_miss ----------------------------------------------------------------


def test_an_address_a_letter_away_from_a_frequent_contact_is_a_near_miss(history):
    wrote(history, ("John Smith", "j.smith@example.org"))

    [finding] = run(near_miss, history, mail("J Smyth <j.smyth@example.org>"))

    assert finding.detector == "recipient_near_miss" and finding.type == "RECIPIENT_NEAR_MISS"
    assert finding.count == 1 and finding.where == "recipients"
    assert finding.severity is Severity.MEDIUM  # both outside the organisation
    assert "address differs by a letter or two" in finding.detail
    assert "j***@example.org" in finding.detail
    assert "smyth" not in finding.detail and "smith" not in finding.detail


def test_the_same_name_at_a_webmail_domain_is_a_near_miss_and_high_for_a_partner(history):
    wrote(history, ("Sarah Jones", "sarah.jones@nhs.net"))

    [finding] = run(near_miss, history, mail("sarah.jones@gmail.com"))

    assert finding.severity is Severity.HIGH  # meant for the NHS, going to webmail
    assert "same name at another domain" in finding.detail
    assert "s***@gmail.com" in finding.detail and "s***@nhs.net" in finding.detail
    assert "sarah" not in finding.detail.lower() and "jones" not in finding.detail.lower()


@pytest.mark.parametrize(
    "shown",
    ["Sarah Jones", "Jones, Sarah", "Dr Sarah Jones", "SARAH JONES", "Mrs. Sarah Jones"],
)
def test_the_other_sarah_jones_in_the_address_book_is_a_near_miss(history, shown):
    wrote(history, ("Sarah Jones", "sj.housing@example-trust.org.uk"))

    [finding] = run(near_miss, history, mail(f'"{shown}" <sarahj1988@example.com>'))

    assert "same display name" in finding.detail
    assert "sarahj1988" not in finding.detail and "Jones" not in finding.detail


def test_a_new_internal_address_near_a_colleague_is_only_low(history):
    wrote(history, "p.khan@northdown.gov.uk")

    [finding] = run(near_miss, history, mail("s.khan@northdown.gov.uk"))

    assert finding.severity is Severity.LOW


def test_an_outside_address_near_a_colleague_is_high(history):
    wrote(history, "priya.patel@northdown.gov.uk")

    [finding] = run(near_miss, history, mail("priya.patel@northdown.gov.com"))

    assert finding.severity is Severity.HIGH


def test_someone_written_to_only_once_before_is_still_new(history):
    wrote(history, "j.smith@example.org")
    wrote(history, "j.smyth@example.org", times=1)

    assert len(run(near_miss, history, mail("j.smyth@example.org"))) == 1


def test_near_misses_are_found_whatever_the_case_of_the_address(history):
    wrote(history, "j.smith@example.org")

    message = mail("J.Smyth@Example.ORG")
    [finding] = run(near_miss, history, message, rcpts=("J.SMYTH@EXAMPLE.ORG",))

    assert finding.count == 1


def test_every_near_miss_is_counted_and_at_most_three_are_described(history):
    frequent = [f"{c}.smith@example.org" for c in "abcd"]
    wrote(history, *frequent)
    typos = [a.replace("smith", "smyth") for a in frequent]

    [finding] = run(near_miss, history, mail(", ".join(typos)))

    assert finding.count == 4
    assert finding.detail.count("is new to this sender") == 3


def test_a_similar_colleague_the_sender_also_writes_to_is_not_a_near_miss(history):
    wrote(history, "j.smith@northdown.gov.uk", "j.smyth@northdown.gov.uk")

    assert run(near_miss, history, mail("j.smyth@northdown.gov.uk")) == []


def test_the_frequent_contact_being_on_the_message_too_is_not_a_near_miss(history):
    wrote(history, ("Sarah Jones", "sarah.jones@nhs.net"))

    message = mail("sarah.jones@nhs.net", cc="Sarah Jones <sarah.jones@gmail.com>")

    assert run(near_miss, history, message) == []


def test_without_history_or_frequent_contacts_there_are_no_near_misses(history):
    assert run(near_miss, None, mail("j.smyth@example.org")) == []
    assert run(near_miss, history, mail("j.smyth@example.org")) == []
    wrote(history, "j.smith@example.org", times=2)  # not yet frequent
    assert run(near_miss, history, mail("j.smyth@example.org")) == []


@pytest.mark.parametrize("role", ["info", "enquiries", "planning", "safeguarding", "office"])
def test_a_shared_mailbox_at_another_organisation_is_not_a_near_miss(history, role):
    wrote(history, f"{role}@eastshire.gov.uk")

    assert run(near_miss, history, mail(f"{role}@westshire.gov.uk")) == []


def test_different_people_are_not_near_misses(history):
    names = Faker("en_GB")
    names.seed_instance(1066)
    people = [
        (names.name(), f"contact{i}.{names.last_name().lower()}@example.org") for i in range(5)
    ]
    wrote(history, *people)

    new_name, new_local = "Olu Adeyemi", "olu.adeyemi"
    assert run(near_miss, history, mail(f"{new_name} <{new_local}@example.org>")) == []


def test_a_short_local_part_at_another_domain_is_not_a_near_miss(history):
    wrote(history, "bob@example.org")

    assert run(near_miss, history, mail("bob@example.net")) == []


def test_one_word_display_names_are_not_compared(history):
    wrote(history, ("Sarah", "s.jones@example.org"))

    assert run(near_miss, history, mail("Sarah <s.pritchard@example.net>")) == []


def test_a_contact_whose_history_aged_out_is_not_compared(tmp_path):
    store = SQLiteHistory(tmp_path / "history.db", max_age_days=30)
    wrote(store, "j.smith@example.org", days_ago=40)

    assert run(near_miss, store, mail("j.smyth@example.org")) == []
    store.close()


def test_copying_yourself_is_not_a_near_miss(history):
    sender = "a.khan@northdown.gov.uk"
    wrote(history, "s.khan@northdown.gov.uk", sender=sender)

    message = mail("client@example.org", cc=sender, sender=sender)

    assert run(near_miss, history, message, sender=sender) == []


@pytest.mark.parametrize("role", ["headteacher", "clerk", "complaints", "licensing"])
def test_the_same_role_mailbox_at_another_school_or_parish_is_not_a_near_miss(history, role):
    wrote(history, f"{role}@oakfield-primary.sch.uk")

    assert run(near_miss, history, mail(f"{role}@ashgrove-primary.sch.uk")) == []


def test_the_same_role_display_name_at_another_school_is_not_a_near_miss(history):
    wrote(history, ("School Office", "office@oakfield-primary.sch.uk"))

    message = mail("School Office <admin@ashgrove-primary.sch.uk>")

    assert run(near_miss, history, message) == []


# --- new_external_domain ----------------------------------------------------------------


def test_first_mail_to_a_domain_nobody_here_knows_is_medium(history):
    wrote(history, "a.client@example.org", times=10)

    [finding] = run(new_domain, history, mail("new.person@example.net"))

    assert finding.detector == "new_external_domain" and finding.type == "NEW_EXTERNAL_DOMAIN"
    assert finding.severity is Severity.MEDIUM and finding.count == 1
    assert finding.where == "recipients"
    assert finding.detail == (
        "first mail from this sender to example.net; nobody here has written to example.net before"
    )
    assert "new.person" not in finding.detail


def test_first_mail_to_a_domain_a_colleague_writes_to_is_low(history):
    wrote(history, "a.client@example.org", times=10)
    wrote(history, "someone@example.net", times=1, sender=COLLEAGUE)

    [finding] = run(new_domain, history, mail("new.person@example.net"))

    assert finding.severity is Severity.LOW
    assert finding.detail == "first mail from this sender to example.net"


def test_several_new_domains_are_counted_and_listed_in_order(history):
    wrote(history, "a.client@example.org", times=10)
    wrote(history, "x@example.com", times=1, sender=COLLEAGUE)

    message = mail("b@EXAMPLE.NET, c@example.com, d@example.org")
    [finding] = run(new_domain, history, message)

    assert finding.count == 2 and finding.severity is Severity.MEDIUM
    assert finding.detail == (
        "first mail from this sender to example.com, example.net;"
        " nobody here has written to example.net before"
    )


def test_new_domains_stay_quiet_until_the_sender_has_ten_messages(history):
    wrote(history, "a.client@example.org", times=9)
    assert run(new_domain, history, mail("new.person@example.net")) == []

    wrote(history, "a.client@example.org", times=1)
    assert len(run(new_domain, history, mail("new.person@example.net"))) == 1


def test_a_domain_the_sender_wrote_to_before_is_not_new(history):
    wrote(history, "a.client@example.org", times=9)
    wrote(history, "old.contact@example.net", times=1)

    assert run(new_domain, history, mail("another.person@example.net")) == []


@pytest.mark.parametrize(
    "address",
    ["colleague@northdown.gov.uk", "someone@adults.northdown.gov.uk", "gp.surgery@nhs.net"],
)
def test_internal_and_partner_domains_are_never_new(history, address):
    wrote(history, "a.client@example.org", times=10)

    assert run(new_domain, history, mail(address)) == []


def test_without_history_there_is_no_new_domain_finding():
    assert run(new_domain, None, mail("new.person@example.net")) == []


def test_a_domain_last_written_to_before_the_retention_period_is_new_again(tmp_path):
    store = SQLiteHistory(tmp_path / "history.db", max_age_days=30)
    wrote(store, "a.client@example.org", times=10)
    wrote(store, "old.contact@example.net", times=1, days_ago=45)

    [finding] = run(new_domain, store, mail("old.contact@example.net"))

    assert finding.severity is Severity.MEDIUM
    store.close()


def test_a_sender_whose_history_aged_out_is_quiet_again(tmp_path):
    store = SQLiteHistory(tmp_path / "history.db", max_age_days=30)
    wrote(store, "a.client@example.org", times=10, days_ago=45)

    assert run(new_domain, store, mail("new.person@example.net")) == []
    store.close()


# --- name_mismatch ----------------------------------------------------------------------

TOM = "Tom Baker <tom.baker@example.org>"


def test_a_greeting_for_someone_else_is_a_name_mismatch(history):
    [finding] = run(name_mismatch, history, mail(TOM, "Dear Mrs Patel,\r\n\r\nPlease see below."))

    assert finding.detector == "name_mismatch" and finding.type == "NAME_MISMATCH"
    assert (finding.count, finding.severity, finding.where) == (1, Severity.MEDIUM, "body")
    assert finding.detail == (
        "greeting names P*** but the only outside recipient is T*** B*** (from the display name)"
    )


def test_the_recipient_can_be_known_from_the_history(history):
    wrote(history, ("Sarah Jones", "sj1974@example.com"), sender=COLLEAGUE)

    [finding] = run(name_mismatch, history, mail("sj1974@example.com", "Hi Tom,\r\n\r\nThanks."))

    assert finding.detail.endswith("is S*** J*** (from the history)")


def test_the_recipient_can_be_known_from_a_first_dot_last_address(history):
    [finding] = run(name_mismatch, history, mail("sarah.jones@example.com", "Dear Mr Okafor,"))

    assert finding.detail == (
        "greeting names O*** but the only outside recipient is S*** J*** (from the address)"
    )


def test_an_html_only_greeting_is_read_too(history):
    body = "<html><body><p>Dear&nbsp;Mrs&nbsp;Patel,</p><p>Please see below.</p></body></html>"

    [finding] = run(name_mismatch, history, mail(TOM, body, html=True))

    assert "greeting names P***" in finding.detail


def test_a_partner_recipient_with_internal_colleagues_copied_is_checked(history):
    message = mail(
        "Sarah Jones <sarah.jones@nhs.net>",
        "Dear Dr Okafor,\r\n\r\nThe referral is attached.",
        cc="colleague@northdown.gov.uk",
    )

    assert len(run(name_mismatch, history, message)) == 1


def test_mismatches_are_found_whatever_the_case_of_the_address(history):
    wrote(history, ("Sarah Jones", "sj1974@example.com"))

    message = mail("SJ1974@Example.COM", "DEAR MR OKAFOR,")

    assert len(run(name_mismatch, history, message, rcpts=("SJ1974@EXAMPLE.COM",))) == 1


def test_dear_councillor_with_another_surname_is_a_mismatch(history):
    message = mail("Cllr John Smith <john.smith@example.org>", "Dear Councillor Jones,")

    [finding] = run(name_mismatch, history, message)

    assert "greeting names J***" in finding.detail


@pytest.mark.parametrize("seed", range(5))
def test_the_detail_never_holds_the_names_themselves(history, seed):
    names = Faker("en_GB")
    names.seed_instance(seed)
    first, last = names.first_name(), names.last_name()
    greeted = names.last_name()
    while name_mismatch.same_person(greeted, [f"{first} {last}"]):
        greeted = names.last_name()
    message = mail(f"{first} {last} <{first.lower()}@example.org>", f"Dear Mr {greeted},")

    [finding] = run(name_mismatch, history, message)

    words = set(re.findall(r"\w+", finding.detail.lower()))
    assert not words & {w.lower() for w in re.findall(r"\w+", f"{first} {last} {greeted}")}


@pytest.mark.parametrize(
    ("to", "greeting"),
    [
        (TOM, "Dear Tom,"),
        (TOM, "Dear Mr Baker,"),
        (TOM, "Hi Tom Baker"),
        (TOM, "Good morning Tom,"),
        (TOM, "Dear Dr. Baker"),
        ('"Baker, Tom" <tb@example.org>', "Dear Mr Baker,"),
        ("Robert Jones <rj@example.org>", "Hi Bob,"),
        ("Bob Jones <rj@example.org>", "Dear Robert,"),
        ("Robert Jones <rj@example.org>", "Hi Rob,"),
        ("Christopher Hall <ch@example.org>", "Hi Chris,"),
        ("Elizabeth Khan <ek@example.org>", "Dear Liz,"),
        ("J. Smith <js@example.org>", "Dear Jane,"),
        ("Sarah Jones <sj@example.org>", "Dear Sara,"),
        ("Catherine Bell <cb@example.org>", "Dear Katherine,"),
        ("=?utf-8?q?Si=C3=A2n_Evans?= <se@example.org>", "Dear Sian,"),
        ("=?utf-8?q?Si=C3=A2n_Evans?= <se@example.org>", "Dear Siân,"),
        ("Sean O'Brien <so@example.org>", "Dear Mr O'Brien,"),
        ("Sean O'Brien <so@example.org>", "Dear Mr O\u2019Brien,"),
        ("Mary Smith-Jones <ms@example.org>", "Dear Mrs Smith-Jones,"),
        ("Mary-Jane Hughes <mh@example.org>", "Hi Mary-Jane,"),
        ("Cllr John Smith <john.smith@example.org>", "Dear Councillor Smith,"),
        ('"sarah.jones@example.org" <sarah.jones@example.org>', "Dear Sarah,"),
    ],
)
def test_greetings_that_fit_the_recipient_are_not_mismatches(history, to, greeting):
    assert run(name_mismatch, history, mail(to, f"{greeting}\r\n\r\nThank you.")) == []


@pytest.mark.parametrize(
    "greeting",
    [
        "Dear all,",
        "Good Morning All,",
        "Dear Sir/Madam,",
        "Dear Sir or Madam,",
        "Dear Sir,",
        "Dear Madam,",
        "Dear Colleagues,",
        "Hi team,",
        "Hello there,",
        "Dear Councillor,",
        "Dear Resident,",
        "Dear Applicant,",
        "Dear Parent/Carer,",
        "Dear Mr & Mrs Patel,",
        "Dear Mr and Mrs Patel,",
        "Hi Priya & Sanjay,",
        "hi priya,",
        "Hi,\r\nPlease find attached.",
        "Please find attached the report.",
    ],
)
def test_greetings_to_nobody_in_particular_are_not_mismatches(history, greeting):
    assert run(name_mismatch, history, mail(TOM, f"{greeting}\r\n\r\nThank you.")) == []


@pytest.mark.parametrize(
    "body",
    [
        "Thanks, see below.\r\n\r\n> Dear Mrs Patel,\r\n> Please could you",
        "Forwarding as promised.\r\n-----Original Message-----\r\nDear Mrs Patel,",
        "See below.\r\nFrom: Priya Patel\r\nSent: Monday\r\n\r\nDear Mrs Patel,",
        "On Mon, 1 Jan 2024 at 10:00, Priya wrote:\r\n> Dear Mrs Patel,",
        "Thanks.\r\nRegards\r\nAlex\r\nDear Mrs Patel,",  # beyond the opening lines
    ],
)
def test_a_greeting_inside_a_quoted_reply_is_not_a_mismatch(history, body):
    assert run(name_mismatch, history, mail(TOM, body)) == []


def test_two_outside_recipients_are_not_checked(history):
    message = mail(f"{TOM}, Sarah Jones <sarah.jones@example.net>", "Dear Mrs Patel,")

    assert run(name_mismatch, history, message) == []


def test_an_outside_recipient_only_in_bcc_is_not_checked(history):
    message = mail("colleague@northdown.gov.uk", "Dear Mrs Patel,")
    rcpts = ("colleague@northdown.gov.uk", "tom.baker@example.org")

    assert run(name_mismatch, history, message, rcpts=rcpts) == []


def test_an_internal_colleague_also_in_to_may_be_the_one_greeted(history):
    message = mail(f"Priya Patel <p.patel@northdown.gov.uk>, {TOM}", "Dear Mrs Patel,")

    assert run(name_mismatch, history, message) == []


def test_mail_only_to_colleagues_is_not_checked(history):
    message = mail("Tom Baker <tom.baker@northdown.gov.uk>", "Dear Mrs Patel,")

    assert run(name_mismatch, history, message) == []


@pytest.mark.parametrize(
    "to",
    [
        "sj1974@example.com",  # nothing says who this is
        "Northdown Housing Trust <lettings@example.org>",  # an organisation, not a person
        "Oakfield Solicitors LLP <conveyancing@example.org>",
    ],
)
def test_an_unknown_or_organisational_recipient_is_not_checked(history, to):
    assert run(name_mismatch, history, mail(to, "Dear Mrs Patel,")) == []


@pytest.mark.parametrize(
    ("to", "greeting"),
    [
        ("Thomas Baker <tb@example.org>", "Hi Tom,"),
        ("Joanne Hughes <jh@example.org>", "Hi Jo,"),
        ("Muhammad Khan <mk@example.org>", "Dear Mohammed,"),
        ("Shaun Murphy <sm@example.org>", "Dear Sean,"),
        ("Geoffrey Lane <gl@example.org>", "Hi Jeff,"),
        ("Catherine Bell <cb@example.org>", "Hi Cathy,"),
        ("Stephen Ward <sw@example.org>", "Hi Steven,"),
    ],
)
def test_common_nicknames_and_spellings_are_not_mismatches(history, to, greeting):
    assert run(name_mismatch, history, mail(to, f"{greeting}\r\n\r\nThanks.")) == []


@pytest.mark.parametrize(
    "greeting",
    [
        "Dear Headteacher,",
        "Dear Occupier,",
        "Dear Landlord,",
        "Dear Chair,",
        "Dear Professor Smith,",
        "Dear Doctor Smith,",
        "Dear Revd Smith,",
        "Dear Mr/Mrs Smith,",
    ],
)
def test_role_greetings_and_longer_titles_are_not_mismatches(history, greeting):
    message = mail("Jane Smith <jane.smith@example.org>", f"{greeting}\r\n\r\nThanks.")

    assert run(name_mismatch, history, message) == []


@pytest.mark.parametrize("greeting", ["Dear Priya and Sanjay,", "Hi Priya and Sanjay"])
def test_a_greeting_to_two_first_names_joined_by_and_is_not_a_mismatch(history, greeting):
    message = mail("Sanjay Mistry <sanjay.mistry@example.org>", f"{greeting}\r\n\r\nThanks.")

    assert run(name_mismatch, history, message) == []


def test_a_raw_utf8_display_name_is_read_as_the_name_it_spells(history):
    message = mail("Siân Evans <se@example.org>", "Dear Siân,\r\n\r\nThanks.")

    assert run(name_mismatch, history, message) == []


def test_a_greeting_run_into_the_first_sentence_is_read_correctly(history):
    message = mail(
        "John Smith <john.smith@example.org>", "Dear Mr Smith Thank you for your letter."
    )

    assert run(name_mismatch, history, message) == []


def test_a_surname_greeting_to_a_first_name_only_contact_is_not_a_mismatch(history):
    message = mail("Priya <priya.patel@example.org>", "Dear Ms Patel,\r\n\r\nThanks.")

    assert run(name_mismatch, history, message) == []


@pytest.mark.parametrize("local", ["parish.clerk", "head.teacher", "office.manager"])
def test_a_role_address_is_not_taken_for_a_persons_name(history, local):
    message = mail(f"{local}@oakfield.org.uk", "Dear Mrs Smith,\r\n\r\nThanks.")

    assert run(name_mismatch, history, message) == []


# --- lookalike_domain with history ------------------------------------------------------


def test_a_look_alike_of_a_domain_the_sender_writes_to_often_is_reported(history):
    wrote(history, "lettings@oakfieldhousing.org.uk")

    [finding] = run(lookalike, history, mail("lettings@oakfieldhousimg.org.uk"))

    assert finding.severity is Severity.MEDIUM and finding.count == 1
    assert finding.detail == "oakfieldhousimg.org.uk looks like oakfieldhousing.org.uk"
    assert "lettings" not in finding.detail


def test_the_same_look_alike_is_unnoticed_without_the_history(history):
    assert run(lookalike, None, mail("lettings@oakfieldhousimg.org.uk")) == []
    assert run(lookalike, history, mail("lettings@oakfieldhousimg.org.uk")) == []


def test_a_domain_written_to_twice_is_not_yet_a_reference(history):
    wrote(history, "lettings@oakfieldhousing.org.uk", times=2)

    assert run(lookalike, history, mail("lettings@oakfieldhousimg.org.uk")) == []


def test_the_frequent_domain_itself_is_not_a_look_alike(history):
    wrote(history, "lettings@oakfieldhousing.org.uk")

    assert run(lookalike, history, mail("repairs@oakfieldhousing.org.uk")) == []


@pytest.mark.parametrize(("frequent", "other"), [("nhs.net", "nhs.uk"), ("gmail.com", "mail.com")])
def test_well_known_neighbours_of_frequent_domains_are_never_reported(history, frequent, other):
    wrote(history, f"someone@{frequent}")

    assert run(lookalike, history, mail(f"someone.else@{other}")) == []


def test_a_frequent_domain_that_aged_out_is_no_longer_a_reference(tmp_path):
    store = SQLiteHistory(tmp_path / "history.db", max_age_days=30)
    wrote(store, "lettings@oakfieldhousing.org.uk", days_ago=45)

    assert run(lookalike, store, mail("lettings@oakfieldhousimg.org.uk")) == []
    store.close()


@pytest.mark.parametrize(
    ("frequent", "other"),
    [
        ("bolton.gov.uk", "boston.gov.uk"),
        ("harrow.gov.uk", "harlow.gov.uk"),
        ("eastsussex.gov.uk", "westsussex.gov.uk"),
    ],
)
def test_a_neighbouring_council_is_real_only_once_a_person_says_so(history, frequent, other):
    """Mail flowing to a domain never makes it real: that is how a typo domain used
    during the monitor week would become "normal". An admin or a reviewer decides."""
    wrote(history, f"planning@{frequent}")
    wrote(history, f"licensing@{other}", times=20, sender=COLLEAGUE)
    assert run(lookalike, history, mail(f"planning@{other}")) != []

    known = Organisation(**{**ORG.model_dump(), "known_domains": [other]})
    profile = history.profile(SENDER, (f"planning@{other}",))
    envelope = Envelope(SENDER, (f"planning@{other}",))
    context = DetectionContext(domains=known.domains, history=profile)
    assert lookalike.detect(mail(f"planning@{other}"), envelope, context) == []

    at = time.time()
    sighting = Sighting(SENDER, f"planning@{other}", "", at)
    history.record([SentMessage(SENDER, at, (sighting,), confirmed=True)])  # a reviewer's release
    assert run(lookalike, history, mail(f"planning@{other}")) == []


def test_a_typo_domain_written_to_often_stays_a_look_alike(history):
    wrote(history, "resident@gmial.com", times=30)
    wrote(history, "other@gmial.com", times=30, sender=COLLEAGUE)

    [finding] = run(lookalike, history, mail("resident@gmial.com"))
    assert finding.severity is Severity.HIGH


def test_an_apostrophe_in_a_surname_is_not_an_initial_that_matches_anyone(history):
    message = mail("Sean O'Brien <sob@example.org>", "Dear Mrs Okafor,\r\n\r\nThanks.")

    [finding] = run(name_mismatch, history, message)

    assert finding.type == "NAME_MISMATCH"


@pytest.mark.parametrize(
    "shown",
    ['"Sarah Jones (Northdown Homes)"', '"Sarah Jones - Housing Officer"'],
)
def test_a_display_name_with_a_role_or_organisation_after_it_still_names_the_person(history, shown):
    message = mail(f"{shown} <sj@example.org>", "Dear Mr Okafor,\r\n\r\nThanks.")

    [finding] = run(name_mismatch, history, message)

    assert "S*** J***" in finding.detail
