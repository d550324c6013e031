"""Judgment, not keywords: whose data it is, where in the message it sits, and who
receives it. Each class is tested both ways: the leak found, its look-alike passed."""

from __future__ import annotations

import pytest
from faker import Faker

from mailguard.addresses import Domains
from mailguard.detectors import DetectionContext
from mailguard.detectors.personal_data import detector as pd
from mailguard.detectors.recipients import attachment_mismatch
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope
from mailguard.policy.schema import Organisation
from tests.support import files

COUNCIL = "revenues@anyshire.gov.uk"
CONTEXT = DetectionContext(domains=Domains(("anyshire.gov.uk",), ("nhs.net",)))


def detect(body: str, to: str = "someone@example.org", attachments=None, context=CONTEXT):
    raw = files.message_with(attachments, body=body, sender=COUNCIL, to=to)
    address = to.rpartition("<")[2].rstrip(">")
    envelope = Envelope(COUNCIL, (address,))
    message = ParsedMessage(raw)
    found = pd.detect(message, envelope, context)
    found += attachment_mismatch.detect(message, envelope, context)
    return {f.type: f.count for f in found}


# A spaCy model finds most names, not every one: the test's names are fixed.
_fake = Faker("en_GB")


def name() -> str:
    _fake.seed_instance(14)  # the same name whichever tests run, in whatever order
    return f"{_fake.first_name()} {_fake.last_name()}"


# --- special category: a fact about a person, not a word ------------------------------


@pytest.mark.parametrize(
    "body",
    [
        # job titles and team names in a signature
        "Thanks for the update, I will pass it on.\n\nKind regards\n\n{name}\n"
        "Learning Disability Nurse\nCommunity Mental Health Team\nAnyshire County Council\n"
        "Tel 01632 960123",
        "Please contact {name}, our Substance Misuse Service lead, about the contract.",
        "{name}\nHead of Safeguarding and Domestic Abuse Services",
        # an out-of-office reply from a mental-health professional
        "Thank you for your email. I am currently on annual leave until Monday. For urgent "
        "mental health matters please contact {name} in the duty team.",
        # a residents' newsletter
        "Our memory cafe for people living with dementia meets every Tuesday in the "
        "library. Carers are welcome. Contact {name} to book a place.",
        # a law firm whose name is a benefit's acronym
        "We have instructed DLA Piper on the lease; {name} will send the draft.",
        # other languages: Polish "dla" is "for", Italian "Roma" is Rome
        "Dzien dobry, przesylam informacje dla mieszkancow osiedla, {name} prosi o "
        "kontakt w sprawie umowy najmu i oplat za lokal.",
        "Buongiorno, la riunione a Roma con {name} si terra presso la sede del comune "
        "la prossima settimana, come concordato.",
        # a disclaimer
        "Please see the minutes attached.\n\nThis email and any attachments are "
        "confidential and intended solely for the named recipient. If you have received "
        "this email in error, please notify {name} and delete it. Views expressed about "
        "mental health or criminal offences are not those of the council.",
    ],
)
def test_sensitive_words_that_state_no_fact_about_anyone_are_not_special_category(body):
    assert "SPECIAL_CATEGORY" not in detect(body.format(name=name()))


@pytest.mark.parametrize(
    "body",
    [
        "{name} was diagnosed with epilepsy last year and cannot drive.",
        "I am writing about {name}. She was sectioned under the Mental Health Act "
        "on Friday and is on the ward.",
        "{name} (DOB 12/03/1961) has a learning disability and lives alone.",
        "Re {name}: the police arrested him on Friday and he is now on probation.",
        "Mr {surname} is Roma and the family have asked for a Romani interpreter.",
        "Her DLA award was stopped, and Mrs {surname} is appealing the decision.",
    ],
)
def test_a_fact_about_a_named_person_is_special_category(body):
    person = name()
    found = detect(body.format(name=person, surname=person.split()[-1]))
    assert found.get("SPECIAL_CATEGORY", 0) >= 1, found


def test_a_table_of_people_with_a_condition_column_counts_every_row():
    rows = [
        [*r[:5], "dementia" if i % 2 else "type 2 diabetes"]
        for i, r in enumerate(files.residents(6))
    ]
    header = ["Name", "Address", "Postcode", "NI number", "NHS number", "Condition"]
    found = detect("List attached.", attachments={"l.csv": files.csv_bytes(rows, header)})
    assert found["SPECIAL_CATEGORY"] == 6


# --- numbers need context -------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        "Your council tax account 30418827 is now in credit by £42.10.",
        "Rent account number: 40118365. Your next payment is due on Monday.",
        "Customer account 21934408 - please quote this on all correspondence.",
        "Your account number is 30418827; please quote it when you call.",
        "Purchase order 4010232137 has been approved by the budget holder.",
        "Order number 9434765919 will be delivered on Thursday.",
        "Invoice 4505577104 is now 30 days overdue.",
        "Please pay by bank transfer to Anyshire County Council, sort code 20-00-00, "
        "account number 12345678, quoting the invoice number.",
        "Our bank details: Barclays, sort code 20-45-77, account 30418827.",
    ],
)
def test_reference_and_organisation_numbers_are_not_bank_or_nhs_numbers(body):
    found = detect(body)
    assert not {"UK_BANK_ACCOUNT", "UK_SORT_CODE", "UK_NHS"} & set(found), found


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("Please refund to her bank account 30418827, sort code 20-45-77.", "UK_BANK_ACCOUNT"),
        ("Building society account 30418827 is in his name.", "UK_BANK_ACCOUNT"),
        ("His NHS number is 943 476 5919.", "UK_NHS"),
        ("The patient, 943 476 5919, was discharged from the ward today.", "UK_NHS"),
    ],
)
def test_a_persons_bank_and_nhs_numbers_still_count(body, expected):
    assert expected in detect(body)


def test_the_councils_own_details_from_the_policy_are_not_personal_data():
    organisation = Organisation(
        name="Anyshire County Council",
        internal_domains=["anyshire.gov.uk"],
        bank_accounts=["20-00-00 12345678"],
        phone_numbers=["01632 960000"],
        addresses=["County Hall, Market Street, Anytown AN1 1AA"],
    )
    context = DetectionContext(domains=CONTEXT.domains, own=organisation.own_details)
    body = (
        "Sort code 20-00-00, account 12345678. Call 01632 960000 or write to County "
        "Hall, Market Street, Anytown AN1 1AA."
    )
    found = detect(body, context=context)
    assert not {"UK_BANK_ACCOUNT", "UK_SORT_CODE", "PHONE_NUMBER", "UK_POSTCODE"} & set(found)
    someone = "Sort code 20-45-77, account 30418827. Call 01632 960123, AN2 3BB."
    assert {"UK_BANK_ACCOUNT", "UK_SORT_CODE"} <= set(detect(someone, context=context))


def test_an_identifier_quoted_again_down_a_thread_is_one_person():
    nhs = files.nhs_number()
    body = "\n\n".join(f"> NHS number {nhs} - see below" for _ in range(6))
    assert detect(body)["UK_NHS"] == 1


# --- whose data, to whom ------------------------------------------------------------------

LETTER = (
    "Dear Mr Patel,\n\nThank you for your letter. Your National Insurance number "
    "AB123456C has been added to your housing benefit claim, and the credit was refunded "
    "to your bank account 31926819, sort code 20-45-77.\n\nYours sincerely\n\nRevenues"
)


@pytest.mark.parametrize("to", ['"Ravi Patel" <ravi.patel77@example.com>', "rpatel70@example.com"])
def test_a_persons_own_data_addressed_to_them_is_recipient_own_data(to):
    assert detect(LETTER, to=to).get("RECIPIENT_OWN_DATA") == 1


@pytest.mark.parametrize(
    ("body", "to"),
    [
        (LETTER, '"Sarah Jones" <sjones@example.com>'),  # someone else
        (LETTER.replace("Dear Mr Patel", "Dear Sir or Madam"), "ravi.patel77@example.com"),
        (LETTER + "\nNI AB123456C, AB654321D, BC123456A", "ravi.patel77@example.com"),
    ],
)
def test_not_own_data_when_someone_else_nobody_or_many_people(body, to):
    assert "RECIPIENT_OWN_DATA" not in detect(body, to=to)


def _decision_letter(title_surname: str) -> dict[str, bytes]:
    lines = [
        f"{title_surname.split()[0]} R {title_surname.split()[1]}",
        "14 Acacia Avenue",
        "Anytown",
        "AN1 2CD",
        f"Dear {title_surname}",
        "Your date of birth 12/03/1961 and NHS number 943 476 5919 are on the assessment.",
    ]
    return {"decision.pdf": files.pdf_bytes(lines)}


def test_a_letter_for_one_resident_sent_to_another_is_an_attachment_mismatch():
    found = detect("Please find attached.", "sarah.jones@example.com", _decision_letter("Mr Patel"))
    assert found.get("ATTACHMENT_MISMATCH") == 1
    assert "RECIPIENT_OWN_DATA" not in found


def test_the_residents_own_letter_sent_to_them_is_not_a_mismatch():
    found = detect(
        "Please find attached.",
        '"Ravi Patel" <ravi.patel77@example.com>',
        _decision_letter("Mr Patel"),
    )
    assert "ATTACHMENT_MISMATCH" not in found
    assert found.get("RECIPIENT_OWN_DATA") == 1


def test_a_letter_sent_to_a_firms_shared_mailbox_is_not_judged():
    found = detect(
        "Please find attached.", "enquiries@smithlaw.example", _decision_letter("Mr Patel")
    )
    assert "ATTACHMENT_MISMATCH" not in found


def test_a_reply_knows_the_recipient_by_the_name_in_the_quoted_message():
    body = (
        "Dear Mrs Okafor,\n\nYour Blue Badge application has been approved and the badge "
        "will arrive within ten days.\n\nKind regards\nBlue Badge Team\n\n"
        "From: Grace Okafor <sunflower1962@example.com>\nSent: 3 March 2026 10:12\n"
        "Subject: Blue Badge\n\nHello, has my application been decided yet?"
    )
    found = detect(body, to="sunflower1962@example.com")
    assert found.get("SPECIAL_CATEGORY") and found.get("RECIPIENT_OWN_DATA") == 1
    assert "RECIPIENT_OWN_DATA" not in detect(body, to="rainbow1970@example.com")


@pytest.mark.parametrize(
    "body",
    [
        "Mr Okafor, your account has been disabled until you reset the password.",
        "We raised £400 for Cancer Research UK; thank you to Mrs Jones for the cakes.",
        "Tom Price's probation period ends on Friday; his manager will confirm it.",
        "Mrs Khan has brought Alzheimer's Society leaflets for the reception desk.",
    ],
)
def test_everyday_senses_and_charity_names_are_not_special_category(body):
    assert "SPECIAL_CATEGORY" not in detect(body)


def test_a_bounce_returns_the_senders_own_message_to_them():
    import email.policy
    from email.message import EmailMessage
    from email.parser import BytesParser

    original = BytesParser(policy=email.policy.default).parsebytes(
        files.message_with(body=f"Her NHS number is {files.nhs_number()}.")
    )
    report = EmailMessage()
    report["From"] = "MAILER-DAEMON@mx.anyshire.gov.uk"
    report["To"] = "resident@example.com"
    report["Subject"] = "Undelivered Mail Returned to Sender"
    report.set_content("This is the mail system. Your message could not be delivered.")
    report.add_attachment(original)
    raw = report.as_bytes()
    envelope = Envelope("", ("resident@example.com",))
    found = {f.type for f in pd.detect(ParsedMessage(raw), envelope, CONTEXT)}
    assert {"UK_NHS", "RECIPIENT_OWN_DATA"} <= found


def test_a_luhn_valid_reference_is_not_a_card_but_a_card_is():
    assert "CREDIT_CARD" not in detect("Payment reference 4111111111111111 received.")
    assert "CREDIT_CARD" in detect("Her Visa card 4111111111111111 expires in May.")
    assert "CREDIT_CARD" in detect("Paid with 4111 1111 1111 1111 yesterday.")


def test_a_colleague_introduced_by_role_is_not_a_fact_but_someones_social_worker_is():
    assert "SPECIAL_CATEGORY" not in detect("Mrs Jones, our social worker, will call you.")
    assert "SPECIAL_CATEGORY" in detect("Mr Hughes told his social worker on Monday.")


def test_a_multi_agency_thread_is_not_a_revealing_list_but_a_support_group_is():
    from mailguard.detectors.recipients import bulk_visible

    body = "Dear all,\nThe safeguarding strategy meeting for the family is on Tuesday.\n"
    agencies = ", ".join(
        f"officer@{d}"
        for d in [
            "police.example",
            "school.example",
            "gp.example",
            "housing.example",
            "probation.example",
            "charity.example",
        ]
    )
    residents = ", ".join(f"member{i}@gmail.com" for i in range(6))

    def severity(to: str) -> str:
        raw = files.message_with(body=body, sender=COUNCIL, to=to)
        envelope = Envelope(COUNCIL, tuple(a.strip() for a in to.split(",")))
        [found] = [
            f
            for f in bulk_visible.detect(ParsedMessage(raw), envelope, CONTEXT)
            if f.type == "BULK_VISIBLE"
        ]
        return found.severity.value

    assert severity(agencies) != "high"
    assert severity(residents) == "high"


@pytest.mark.parametrize(
    ("body", "fact"),
    [
        ("I was diagnosed with epilepsy last year, so I cannot drive to the hearing.", False),
        ("My name is Mrs Grace Okafor and I have multiple sclerosis.", False),
        ("Robin Jones in my team has sent in a fit note for anxiety.", True),
        ("My client, Mr Tom Hughes, was diagnosed with epilepsy in 2019.", True),
    ],
)
def test_the_writers_own_condition_is_theirs_to_tell_but_a_colleagues_is_not(body, fact):
    assert ("SPECIAL_CATEGORY" in detect(body)) is fact


def test_an_invoices_bank_details_are_its_issuers():
    body = (
        "INVOICE 622840\nAnyshire County Council\nAmount: £1,787.87\n"
        "Sort code 37-05-70 Account 39761366"
    )
    assert not {"UK_BANK_ACCOUNT", "UK_SORT_CODE"} & set(detect(body))


def test_served_a_sentence_for_an_offence_is_criminal_data():
    body = "Re Jon Hart, who has applied to volunteer. He has served 18 months for ABH."
    assert "SPECIAL_CATEGORY" in detect(body)


@pytest.mark.parametrize("name", ["Ian Ward", "Sarah Hall", "Peter Green", "Anne Hill"])
def test_a_resident_whose_surname_is_also_a_place_word_is_still_a_person(name):
    body = (
        f"Following our assessment, {name} has a diagnosis of vascular dementia and"
        " now needs daily home care visits."
    )
    assert "SPECIAL_CATEGORY" in detect(body, to="someone@example.org")


def test_a_building_named_like_a_person_is_still_a_building():
    body = "Oak House has a new lift, and the dementia cafe meets there on Fridays."
    assert "SPECIAL_CATEGORY" not in detect(body, to="someone@example.org")
