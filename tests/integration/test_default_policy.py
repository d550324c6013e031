"""The shipped council policy on realistic synthetic mail, through `mailguard check`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from mailguard.cli import main
from tests.support import files

DEFAULT = Path(__file__).parents[2] / "policies" / "council-default.yaml"
COUNCIL = "northdown.gov.uk"
OFFICER = f"case.officer@{COUNCIL}"


@pytest.fixture(scope="module")
def site_policy(tmp_path_factory):
    d = tmp_path_factory.mktemp("policy")
    f = d / "site.yaml"
    f.write_text(
        f"include: [{DEFAULT}]\n"
        f"organisation: {{name: Northdown, internal_domains: [{COUNCIL}], "
        "partner_domains: [nhs.net]}\n"
    )
    return f


def nhs_invalid() -> str:
    good = files.nhs_number().replace(" ", "")
    bad = good[:9] + str((int(good[9]) + 1) % 10)
    return f"{bad[:3]} {bad[3:6]} {bad[6:]}"


SAR_LETTER = [
    "Subject access response, reference SAR-2041",
    "Your tenancy file is attached. Third-party details are redacted.",
    f"The neighbour, Mr John Carter of 4 Mill Lane, NHS number {files.nhs_number()},",
    "reported concerns about his own mental health and self-harm.",
    "Regards, Housing Team",
]

SCANNED_LETTER = [
    "Mrs M Holloway",
    "14 Acacia Avenue",
    "Anytown",
    "AN1 2CD",
    "",
    "Dear Mrs Holloway",
    "",
    "Your council tax reduction has been approved from 1 April.",
    "Your reference is CTR-20418.",
]

CASES = {
    "bulk table to an unknown domain": (
        "contractor@example.org",
        lambda: files.message_with({"residents.csv": files.csv_bytes(files.residents(50))}),
        "hold",
        "hold-bulk-personal-data",
    ),
    "one NHS number in a referral to a partner": (
        "gp.surgery@nhs.net",
        lambda: files.message_with(
            body=f"Referral for Mrs Patel, NHS number {files.nhs_number()}. Thanks."
        ),
        "pass",
        None,
    ),
    "hidden sheet of residents to a partner": (
        "team@nhs.net",
        lambda: files.message_with({"stats.xlsx": files.xlsx_bytes(hidden=files.residents(40))}),
        "hold",
        "hold-hidden-personal-data",
    ),
    "health condition of a named person to an unknown domain": (
        "journalist@example.org",
        lambda: files.message_with(
            body="Re Mr David Jones: he was diagnosed with epilepsy in March."
        ),
        "hold",
        "hold-special-category",
    ),
    "bank details to an unknown domain": (
        "supplier@example.com",
        lambda: files.message_with(body="Sort code 12-34-56, account number 31926819."),
        "hold",
        "hold-bank-details",
    ),
    "internal table of NI numbers": (
        f"payroll@{COUNCIL}",
        lambda: files.message_with({"staff.csv": files.csv_bytes(files.residents(30))}),
        "tag",
        "tag-internal-personal-data",
    ),
    "a resident's own NI number in a reply to them": (
        "resident@example.org",
        lambda: files.message_with(
            body="Dear Mr Khan,\nWe have updated the record for NI number AB123456C.\n"
        ),
        "pass",
        None,
    ),
    "ten-digit order numbers that fail the NHS checksum": (
        "orders@example.com",
        lambda: files.message_with(body="Orders: " + ", ".join(nhs_invalid() for _ in range(8))),
        "pass",
        None,
    ),
    "a referral to a typo of nhs.net": (
        "gp.surgery@nhs.nett",
        lambda: files.message_with(
            body=f"Referral for Mrs Patel, NHS number {files.nhs_number()}. Thanks."
        ),
        "hold",
        "hold-lookalike-with-data",
    ),
    "a plain note to a typo of gmail.com": (
        "someone@gmial.com",
        lambda: files.message_with(body="See you at the meeting on Tuesday."),
        "hold",
        "hold-lookalike-misdirection",
    ),
    "a newsletter to six residents with every address visible": (
        "r0@gmail.com",
        lambda: files.message_with(
            body="Dear residents,\nThe park fun day is on Saturday from 11am.\n",
            to=", ".join(f"r{i}@{d}" for i, d in enumerate(["gmail.com", "hotmail.co.uk"] * 3)),
        ),
        "rewrite",
        "private-addresses-visible",
    ),
    "a resident's own decision about their health, in a reply to them": (
        "grace.okafor@example.org",
        lambda: files.message_with(
            body="Dear Mrs Okafor,\nYour Blue Badge has been approved because of your "
            "epilepsy; your NHS number 943 476 5919 is on the file.\n",
            to='"Grace Okafor" <grace.okafor@example.org>',
        ),
        "pass",
        None,
    ),
    "the same decision sent to someone else": (
        "s.jones@example.org",
        lambda: files.message_with(
            body="Dear Mrs Okafor,\nYour Blue Badge has been approved because of your "
            "epilepsy; your NHS number 943 476 5919 is on the file.\n",
            to='"Sarah Jones" <s.jones@example.org>',
        ),
        "hold",
        "hold-special-category",
    ),
    "an invoice with the council's own bank details and account references": (
        "accounts@supplier.example",
        lambda: files.message_with(
            body="Invoice 40012345 for £1,200. Please pay by bank transfer to Northdown "
            "District Council, sort code 20-00-00, account 12345678. Your customer account "
            "30418827.\n"
        ),
        "pass",
        None,
    ),
    "a clinical job title in a signature": (
        "someone@example.org",
        lambda: files.message_with(
            body="Thanks for the update.\n\nKind regards\nJo Bloggs\nLearning Disability "
            "Nurse\nCommunity Mental Health Team\nTel: 020 7946 0123"
        ),
        "pass",
        None,
    ),
    "a mailing with residents' visible addresses and NHS numbers": (
        "resident0@example.org",
        lambda: files.message_with(
            body="Patients: " + ", ".join(f"NHS {files.nhs_number()}" for _ in range(2)),
            to=", ".join(f"resident{i}@example.org" for i in range(12)),
        ),
        "hold",
        "hold-bulk-visible-with-personal-data",
    ),
    "a support group mailing with every address visible": (
        "member0@gmail.com",
        lambda: files.message_with(
            body="Dear all,\nThe Thursday recovery group meets at the library at 7pm.\n",
            to=", ".join(f"member{i}@gmail.com" for i in range(6)),
        ),
        "hold",
        "hold-revealing-visible-list",
    ),
    "internal bulk mail to forty colleagues": (
        f"colleague0@{COUNCIL}",
        lambda: files.message_with(
            body="Dear all,\nThe staff car park is closed on Friday.\n",
            to=", ".join(f"colleague{i}@{COUNCIL}" for i in range(40)),
        ),
        "pass",
        None,
    ),
    "committee papers to four councillors at personal addresses": (
        "cllr.one@gmail.com",
        lambda: files.message_with(
            {"agenda.pdf": files.pdf_bytes(["Planning committee agenda", "Item 1: minutes"])},
            body="Dear Councillors,\nPlease find attached the agenda for Tuesday.\n",
            to="cllr.one@gmail.com, cllr.two@btinternet.com, cllr.three@outlook.com,"
            " cllr.four@gmail.com",
        ),
        "pass",
        None,
    ),
    **{
        f"a resident list as {kind} to an unknown domain": (
            "contractor@example.org",
            (lambda kind=kind, build=build: files.message_with({f"tenants.{kind}": build()})),
            "hold",
            "hold-bulk-personal-data",
        )
        for kind, build in (
            ("xls", lambda: files.xls_bytes(files.residents(30))),
            ("ods", lambda: files.ods_bytes(files.residents(30))),
            (
                "odt",
                lambda: files.odt_bytes(["Tenants"], table=[files.HEADER, *files.residents(30)]),
            ),
            ("rtf", lambda: files.rtf_bytes(files.residents(30))),
            (
                "doc",
                lambda: files.doc_bytes(["Tenants"], table=[files.HEADER, *files.residents(30)]),
            ),
        )
    },
    "a hidden LibreOffice sheet of residents to a partner": (
        "team@nhs.net",
        lambda: files.message_with(
            {"stats.ods": files.ods_bytes(files.residents(20), hidden_sheet=True)}
        ),
        "hold",
        "hold-hidden-personal-data",
    ),
    "a saved email full of residents attached as octet-stream": (
        "contractor@example.org",
        lambda: files.message_with(
            {"forwarded.dat": files.message_with({"r.csv": files.csv_bytes(files.residents(30))})}
        ),
        "hold",
        "hold-bulk-personal-data",
    ),
    "a scanned care letter (image-only PDF) to a webmail address": (
        "someone@gmail.com",
        lambda: files.message_with(
            {
                "letter.pdf": files.scanned_pdf(
                    [files.letter_image(files.care_letter("Margaret Holloway"))]
                )
            }
        ),
        "hold",
        "hold-special-category",
    ),
    "a phone photo of the care letter to a webmail address": (
        "someone@gmail.com",
        lambda: files.message_with(
            {"IMG_2041.jpg": files.letter_image(files.care_letter("Margaret Holloway"), photo=True)}
        ),
        "hold",
        "hold-special-category",
    ),
    "a poster for a community event to a webmail address": (
        "someone@gmail.com",
        lambda: files.message_with({"fair.png": files.poster_image()}),
        "pass",
        None,
    ),
    "a subject-access PDF with black boxes over text still there": (
        "requester@gmail.com",
        lambda: files.message_with({"sar-response.pdf": files.redacted_pdf(SAR_LETTER, (2, 3))}),
        "hold",
        "hold-redaction-failure",
    ),
    "a properly redacted subject-access PDF": (
        "requester@gmail.com",
        lambda: files.message_with(
            {"sar-response.pdf": files.redacted_pdf(SAR_LETTER, (2, 3), proper=True)}
        ),
        "pass",
        None,
    ),
    "a PDF with a resident's details in white on white": (
        "requester@gmail.com",
        lambda: files.message_with(
            {"notes.pdf": files.white_text_pdf(["Case notes attached"], SAR_LETTER[2:4])}
        ),
        "hold",
        "hold-redaction-failure",
    ),
    "a Word letter whose redactions are tracked deletions and hidden runs": (
        "requester@gmail.com",
        lambda: files.message_with(
            {
                "letter.docx": files.docx_with_unseen(
                    ["Dear requester,", "Please find the information you asked for."],
                    deleted=SAR_LETTER[2],
                    vanished=SAR_LETTER[3],
                )
            }
        ),
        "hold",
        "hold-redaction-failure",
    ),
    "a legacy Word letter whose redaction is a tracked deletion": (
        "requester@gmail.com",
        lambda: files.message_with(
            {
                "letter.doc": files.doc_with_unseen(
                    ["Dear requester,", "Please find the information you asked for."],
                    deleted=f"{SAR_LETTER[2]} {SAR_LETTER[3]}",
                )
            }
        ),
        "hold",
        "hold-redaction-failure",
    ),
    "the same legacy Word letter with the resident's details properly removed": (
        "requester@gmail.com",
        lambda: files.message_with(
            {
                "letter.doc": files.doc_with_unseen(
                    ["Dear requester,", "Please find the information you asked for."]
                )
            }
        ),
        "pass",
        None,
    ),
    "a reply to a contractor carrying the internal thread about a resident's health": (
        "repairs@contractor-ltd.co.uk",
        lambda: files.message_with(
            to="repairs@contractor-ltd.co.uk",
            body=(
                "Hi,\n\nPlease can you book the adaptation at 4 Mill Lane for next week.\n\n"
                "Thanks,\nSam\n\n"
                "From: Ruth Okafor <ruth.okafor@northdown.gov.uk>\n"
                "Sent: 02 December 2026 16:40\n"
                "To: Sam Patel <sam.patel@northdown.gov.uk>\n"
                "Subject: RE: Mill Lane\n\n"
                f"Mrs Edna Clarke (NHS {files.nhs_number()}) was discharged on Friday after a\n"
                "fall; she has advanced Parkinson's disease and her daughter says she is\n"
                "depressed. The OT wants the rail fitted before the weekend.\n"
            ),
        ),
        "hold",
        "hold-quoted-history",
    ),
    "a reply to a supplier quoting only the supplier's own message": (
        "accounts@supplier-ltd.co.uk",
        lambda: files.message_with(
            to="accounts@supplier-ltd.co.uk",
            body=(
                "Thank you, we will pay this by the end of the month.\n\nRegards,\nFinance\n\n"
                "On 1 Dec 2026, at 09:12, Supplier Accounts <accounts@supplier-ltd.co.uk> wrote:\n"
                "> Please find invoice 8812 attached. Our bank details:\n"
                "> sort code 20-00-00, account 12345678, IBAN GB29NWBK60161331926819\n"
            ),
        ),
        "pass",
        None,
    ),
    "a saved Outlook message with a resident list attached, to an unknown domain": (
        "contractor@example.org",
        lambda: files.message_with(
            {
                "FW Tenants.msg": files.msg_bytes(
                    "Tenants",
                    "List attached.",
                    attachments={"tenants.csv": files.csv_bytes(files.residents(30))},
                )
            }
        ),
        "hold",
        "hold-bulk-personal-data",
    ),
    "a saved Outlook message inside a saved message, about a resident's health": (
        "someone@gmail.com",
        lambda: files.message_with(
            {
                "chain.msg": files.msg_bytes(
                    "FW: case",
                    "See the message attached.",
                    attached_message=(
                        "case.msg",
                        "Case notes",
                        "\n".join(files.care_letter("Margaret Holloway")),
                    ),
                )
            }
        ),
        "hold",
        "hold-special-category",
    ),
    "a scanned letter to Mrs Holloway attached to an email to Mr Patel": (
        "ravi.patel77@example.com",
        lambda: files.message_with(
            {"letter.pdf": files.scanned_pdf([files.letter_image(SCANNED_LETTER)])},
            to='"Ravi Patel" <ravi.patel77@example.com>',
        ),
        "hold",
        "hold-letter-for-someone-else",
    ),
    "Mrs Holloway's own scanned letter attached to an email to her": (
        "margaret.holloway@example.com",
        lambda: files.message_with(
            {"letter.pdf": files.scanned_pdf([files.letter_image(SCANNED_LETTER)])},
            to='"Margaret Holloway" <margaret.holloway@example.com>',
        ),
        "pass",
        None,
    ),
    "a signature block": (
        "someone@example.org",
        lambda: files.message_with(
            body="Thanks,\nJo Bloggs\nPlanning Officer\nNorthdown District Council\n"
            "Tel: 020 7946 0123\nnorthdown.gov.uk"
        ),
        "pass",
        None,
    ),
}


@pytest.mark.parametrize("case", list(CASES))
def test_default_policy_decides_like_a_data_protection_officer(case, site_policy, tmp_path):
    rcpt, build, action, rule = CASES[case]
    eml = tmp_path / "m.eml"
    eml.write_bytes(build())
    # In-process: the same click command, without paying a model load per case
    # (tests/integration/test_check_cli.py runs the command as a subprocess).
    result = CliRunner().invoke(
        main,
        [
            "check",
            "--json",
            "--policy",
            str(site_policy),
            "--data-dir",
            str(tmp_path),
            "--mail-from",
            OFFICER,
            "--rcpt",
            rcpt,
            str(eml),
        ],
    )
    assert result.exit_code == 0, result.output
    verdict = json.loads(result.stdout)
    assert verdict["action"] == action, verdict
    if rule:
        assert rule in verdict["rules"]
    for finding in verdict["findings"]:
        assert set(finding) == {"detector", "type", "count", "severity", "where", "detail"}
