"""UK personal data: every entity type where it hides, and what must not be flagged."""

from __future__ import annotations

from email import policy
from email.parser import BytesParser

import pytest

from mailguard.detectors.personal_data import detector as pd
from mailguard.intake.extract import extract
from tests.support import files


def findings(raw: bytes):
    return pd.findings_from(extract(BytesParser(policy=policy.default).parsebytes(raw)))


def by_type(found, where: str | None = None) -> dict[str, int]:
    out: dict[str, int] = {}
    for f in found:
        if where is None or f.where == where:
            out[f.type] = out.get(f.type, 0) + f.count
    return out


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Her NHS number is 943 476 5919.", "UK_NHS"),
        ("National Insurance number: AB123456C", "UK_NINO"),
        ("Passport number 123456789 expires soon; passport GB1234567", None),
        ("Card 4111 1111 1111 1111 on file", "CREDIT_CARD"),
        ("Pay to GB82 WEST 1234 5698 7654 32 please", "IBAN_CODE"),
        ("Sort code: 12-34-56, account number 31926819", "UK_SORT_CODE"),
        ("Sort code: 12-34-56, account number 31926819", "UK_BANK_ACCOUNT"),
        ("DOB 14/02/1987, seen today", "DATE_OF_BIRTH"),
        ("Reply to jane.doe@example.org today", "EMAIL_ADDRESS"),
        ("Call her on 020 7946 0123 after 5", "PHONE_NUMBER"),  # an Ofcom drama number
        ("Driving licence MORGA753116SM9IJ", "UK_DRIVING_LICENCE"),
    ],
)
def test_each_identifier_in_a_body(text, expected):
    found = by_type(findings(files.message_with(body=text)), "body")
    if expected:
        assert expected in found, found


@pytest.mark.parametrize(
    "text",
    [
        "Order 1234567890 has shipped",  # fails the NHS checksum
        "NHS number 943 476 5918",  # one digit off: checksum fails
        "Invoice INV-2026-000123, reference 44-10-2026",
        "Meeting at 10:30 on 3 March 2026 in room 12",
        "Kind regards,\nPlanning Team\nNorthdown District Council",
    ],
)
def test_true_negatives_are_not_flagged(text):
    found = by_type(findings(files.message_with(body=text)), "body")
    assert not {"UK_NHS", "UK_NINO", "CREDIT_CARD", "UK_BANK_ACCOUNT", "DATE_OF_BIRTH"} & set(
        found
    ), found


def test_a_csv_counts_records_not_matches():
    rows = files.residents(50)
    found = findings(files.message_with({"list.csv": files.csv_bytes(rows)}))
    counts = by_type(found, "attachment:list.csv")
    for t in ("UK_NINO", "UK_NHS", "UK_POSTCODE", "DATE_OF_BIRTH", "PERSON"):
        assert counts[t] == 50, (t, counts)
    nino = next(f for f in found if f.type == "UK_NINO")
    assert "50 rows with UK_NINO in column 'NI number'" in nino.detail


def test_hidden_and_very_hidden_sheets_and_hidden_columns_are_reported_as_hidden():
    raw = files.message_with(
        {
            "foi.xlsx": files.xlsx_bytes(
                visible=files.residents(2),
                hidden=files.residents(30),
                very_hidden=files.residents(9),
                hidden_column_rows=files.residents(4),
            )
        }
    )
    found = findings(raw)
    visible = by_type(found, "attachment:foi.xlsx")
    hidden = by_type(found, "attachment:foi.xlsx#hidden")
    assert visible["UK_NINO"] == 2
    assert hidden["UK_NINO"] == 30 + 9 + 4
    assert hidden["HIDDEN_CONTENT"] == 30 + 9 + 4


@pytest.mark.parametrize("kind", ["docx", "pdf", "zip", "eml"])
def test_identifiers_inside_documents_archives_and_attached_mail(kind):
    nhs = files.nhs_number()
    line = f"Patient NHS number {nhs}, National Insurance AB123456C"
    if kind == "docx":
        attachment = {
            "letter.docx": files.docx_bytes(["Dear Sir"], table=[["NHS", nhs]], footer=line)
        }
    elif kind == "pdf":
        attachment = {"report.pdf": files.pdf_bytes([line])}
    elif kind == "zip":
        attachment = {"pack.zip": files.zip_bytes({"notes.txt": line.encode()})}
    else:
        attachment = {"fwd.eml": files.message_with(body=line)}
    found = by_type(findings(files.message_with(attachment)))
    assert found.get("UK_NHS", 0) >= 1 and found.get("UK_NINO", 0) >= 1, found


def test_special_category_needs_a_person_or_identifier_nearby():
    near = "Mr John Smith was diagnosed with epilepsy last year."
    assert by_type(findings(files.message_with(body=near))).get("SPECIAL_CATEGORY") == 1
    alone = "Our mental health awareness week starts on Monday."
    assert "SPECIAL_CATEGORY" not in by_type(findings(files.message_with(body=alone)))


@pytest.mark.parametrize(
    ("name", "data"),
    [
        ("bomb.zip", files.zip_bomb(200)),
        ("secret.xlsx", b"\xd0\xcf\x11\xe0" + b"\0" * 2000),
        ("broken.pdf", b"%PDF-1.4 garbage"),
    ],
)
def test_unreadable_files_are_uninspectable_findings(name, data):
    [finding] = findings(files.message_with({name: data}))
    assert (finding.type, finding.where) == ("UNINSPECTABLE", f"attachment:{name}")


def test_details_never_contain_the_personal_data():
    rows = files.residents(5)
    body = f"NI {rows[0][3]}, NHS {rows[0][4]}, email a.person@example.org"
    found = findings(files.message_with({"r.csv": files.csv_bytes(rows)}, body=body))
    text = " ".join(f.detail for f in found)
    for row in rows:
        for value in (row[0], row[3], row[4]):
            assert value not in text
    assert "a.person" not in text


def test_a_councils_own_identifiers_are_found_from_the_policy(tmp_path):
    from mailguard.policy.loader import load_policy

    f = tmp_path / "p.yaml"
    f.write_text(
        "identifiers:\n"
        "  - {name: COUNCIL_TAX_REF, pattern: 'CT\\d{8}', context: [council tax], severity: high}\n"
        "  - {name: UPRN, pattern: '\\b\\d{12}\\b', context: [uprn], needs_context: true}\n"
        "rules:\n"
        "  - {name: ct, when: {finding: {type: COUNCIL_TAX_REF, min_count: 3}}, action: hold}\n"
    )
    ids = load_policy(f).policy.identifiers
    rows = [[f"CT{10000000 + i}", f"{100000000000 + i}"] for i in range(4)]
    raw = files.message_with(
        {"ct.csv": files.csv_bytes(rows, ["Account", "UPRN"])},
        body="Council tax account CT12345678. Property 123456789012 (no context here).",
    )
    found = pd.findings_from(extract(BytesParser(policy=policy.default).parsebytes(raw)), ids)
    assert by_type(found, "attachment:ct.csv") == {"COUNCIL_TAX_REF": 4, "UPRN": 4}
    assert by_type(found, "body") == {"COUNCIL_TAX_REF": 1}
    [ct] = [f for f in found if f.type == "COUNCIL_TAX_REF" and f.where == "body"]
    assert ct.severity.value == "high" and "12345678" not in ct.detail


def test_lint_rejects_a_finding_type_nobody_declared(tmp_path):
    from mailguard.policy.loader import PolicyError, load_policy

    f = tmp_path / "p.yaml"
    f.write_text("rules:\n  - {name: r, when: {finding: {type: COUNCIL_TAX}}, action: hold}\n")
    with pytest.raises(PolicyError, match="unknown finding type COUNCIL_TAX"):
        load_policy(f)


def test_one_unreadable_part_does_not_hide_the_others():
    raw = files.message_with(
        {"list.csv": files.csv_bytes(files.residents(20))},
        body="Referral: patient diagno\u017fed with cancer, NHS 943 476 5919",  # long s
    )
    found = by_type(findings(raw), "attachment:list.csv")
    assert found["UK_NINO"] == 20


def test_a_headerless_export_never_prints_a_record_as_the_column_name():
    rows = files.residents(20)
    data = files.csv_bytes(rows[1:], header=rows[0])
    found = findings(files.message_with({"export.csv": data}))
    text = " ".join(f.detail for f in found)
    assert not any(value in text for value in rows[0])
    assert any(f.type == "UK_NINO" for f in found)


def test_a_short_header_row_is_not_a_crash():
    data = files.csv_bytes(files.residents(20), header=["Name", "Address", "Postcode", "NI number"])
    assert by_type(findings(files.message_with({"ragged.csv": data})))["UK_NINO"] == 20


def test_real_excel_dates_are_dates_of_birth():
    import datetime as dt
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet.append(["Name", "Date of birth"])
    for n in range(20):
        sheet.append([files.fake.name(), dt.date(1950 + n, 3, 12)])
    buf = io.BytesIO()
    book.save(buf)
    found = by_type(findings(files.message_with({"dob.xlsx": buf.getvalue()})))
    assert found["DATE_OF_BIRTH"] == 20


@pytest.mark.parametrize(
    "text",
    [
        "The cabinet agreed the adoption of the Local Plan.\nCall 020 7946 0123",
        "We are closed for the bank holiday; our reference is 20240527.",
        "In accordance with the terms, invoice 40012345 is now due.",
        "Remittance advice:\n"
        + "\n".join(
            f"Payment ref {n}" for n in ["9434765919", "4505577104", "9876543210", "5990128088"]
        ),
    ],
)
def test_ordinary_council_mail_is_not_personal_data(text):
    found = by_type(findings(files.message_with(body=text)))
    assert not {"SPECIAL_CATEGORY", "UK_BANK_ACCOUNT", "UK_NHS"} & set(found), found


def test_parts_not_reached_within_the_time_budget_are_reported_not_skipped():
    raw = files.message_with(
        {
            "a.csv": files.csv_bytes(files.residents(5)),
            "b.csv": files.csv_bytes(files.residents(5)),
        }
    )
    out = extract(BytesParser(policy=policy.default).parsebytes(raw))
    found = pd.findings_from(out, time_budget=0.0)
    assert {(f.type, f.where) for f in found} == {
        ("UNINSPECTABLE", "body"),
        ("UNINSPECTABLE", "attachment:a.csv"),
        ("UNINSPECTABLE", "attachment:b.csv"),
    }
