"""Tables that are not spreadsheets: pasted into a body, typed in a .txt, laid out in
HTML, exported by Excel as UTF-16, shown on a slide. Each is counted in rows, as a CSV
is; the look-alikes (prose, addresses, signatures, newsletters, forms) stay text."""

from __future__ import annotations

import time
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser

import pytest

from mailguard.detectors.personal_data import detector as pd
from mailguard.intake.extract import Limits, extract
from tests.support import files

HEADER = files.PATIENT_HEADER


def parsed(raw: bytes):
    return BytesParser(policy=policy.default).parsebytes(raw)


def findings(raw: bytes):
    return pd.findings_from(extract(parsed(raw)))


def rows_of(found, type_: str, where: str) -> int:
    return sum(f.count for f in found if f.type == type_ and f.where == where)


def body_with(lines: list[list[str]], sep: str) -> str:
    table = "\n".join(sep.join(r) for r in lines)
    return (
        "Hi Sam,\n\nThese are the patients for Thursday's clinic at the Riverside "
        f"surgery:\n\n{table}\n\nCould you check they are all booked in?\n\nThanks,\nAlex\n"
    )


def fixed_width(lines: list[list[str]]) -> str:
    widths = [max(len(r[c]) for r in lines) + 3 for c in range(len(lines[0]))]
    return "\n".join("".join(v.ljust(w) for v, w in zip(r, widths, strict=True)) for r in lines)


# --- the leak: found, and counted in rows ----------------------------------------------


@pytest.mark.parametrize("sep", ["\t", ",", ", ", ";", " | "], ids=repr)
def test_patients_pasted_into_a_plain_body_are_four_rows(sep):
    people = files.patients(4)
    found = findings(files.message_with(body=body_with([HEADER, *people], sep)))
    assert rows_of(found, "UK_NHS", "body") == 4, found
    assert rows_of(found, "DATE_OF_BIRTH", "body") == 4, found
    nhs = next(f for f in found if f.type == "UK_NHS")
    assert "4 rows with UK_NHS in column 'NHS number' of body" in nhs.detail
    assert people[0][2] not in nhs.detail  # masked


def test_a_fixed_width_list_and_a_markdown_table_are_tables_too():
    people = files.patients(4)
    markdown = "\n".join(
        [
            "| " + " | ".join(HEADER) + " |",
            "|---|---|---|",
            *("| " + " | ".join(r) + " |" for r in people),
        ]
    )
    for text in (fixed_width([HEADER, *people]), markdown):
        found = findings(files.message_with(body=f"List below.\n\n{text}\n\nRegards"))
        assert rows_of(found, "UK_NHS", "body") == 4, (text, found)


def test_rows_without_a_header_are_all_counted():
    people = files.patients(3)
    found = findings(files.message_with(body=body_with(people, "\t")))
    assert rows_of(found, "UK_NHS", "body") == 3, found


def test_the_table_is_not_counted_again_as_text_but_the_rest_of_the_body_is():
    people = files.patients(4)
    body = body_with([HEADER, *people], "\t") + "\nPS her NHS number is 943 476 5919.\n"
    out = extract(parsed(files.message_with(body=body)))
    [table] = out.tables
    assert table.where == "body" and table.header == tuple(HEADER) and len(table.rows) == 4
    [text] = [t.text for t in out.texts if t.where == "body"]
    assert "Riverside" in text and "943 476 5919" in text
    assert not any(p[2] in text or p[0] in text for p in people)
    found = pd.findings_from(out)
    assert rows_of(found, "UK_NHS", "body") == 5  # 4 rows + 1 in the text, none twice


def test_a_table_in_a_quoted_reply_is_still_a_table():
    people = files.patients(3)
    quoted = "\n".join("> " + "\t".join(r) for r in [HEADER, *people])
    found = findings(
        files.message_with(body=f"See the list you sent.\n\nOn Monday Sam wrote:\n{quoted}\n")
    )
    assert rows_of(found, "UK_NHS", "body") == 3, found


def test_an_html_table_is_four_rows_and_the_plain_alternative_does_not_double_it():
    people = files.patients(4)
    html = f"<p>Hi Sam,</p><p>The clinic list:</p>{files.html_table(people, HEADER)}<p>Thanks</p>"
    found = findings(files.message_with(body="Hi Sam, the list is in the HTML.", html=html))
    assert rows_of(found, "UK_NHS", "body") == 4, found
    both = files.message_with(body=body_with([HEADER, *people], "\t"), html=html)
    assert rows_of(findings(both), "UK_NHS", "body") == 4


def test_an_html_table_without_th_uses_a_header_that_reads_like_one():
    people = files.patients(4)
    html = files.html_table([HEADER, *people])
    out = extract(parsed(files.message_with(html=html)))
    [table] = out.tables
    assert table.header == tuple(HEADER) and len(table.rows) == 4


@pytest.mark.parametrize("name", ["clinic.txt", "clinic.tsv", "clinic.log"])
def test_a_text_attachment_is_searched_for_tables(name):
    people = files.patients(4)
    data = ("Clinic list\n\n" + "\n".join("\t".join(r) for r in [HEADER, *people])).encode()
    found = findings(files.message_with({name: data}))
    assert rows_of(found, "UK_NHS", f"attachment:{name}") == 4, found


def test_content_types_name_text_and_tab_separated_files():
    people = files.patients(4)
    tsv = "\n".join("\t".join(r) for r in [HEADER, *people]).encode()
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@northdown.gov.uk", "b@example.org", "List"
    msg.set_content("See attached.")
    msg.add_attachment(tsv, maintype="text", subtype="tab-separated-values", filename="export")
    msg.add_attachment(tsv, maintype="text", subtype="plain", filename="export2")
    found = pd.findings_from(extract(msg))
    assert rows_of(found, "UK_NHS", "attachment:export") == 4, found
    assert rows_of(found, "UK_NHS", "attachment:export2") == 4, found


@pytest.mark.parametrize("name", ["Book1.txt", "Book1.csv"])
def test_excel_unicode_text_utf16_with_a_bom_is_read(name):
    people = files.patients(4)
    found = findings(files.message_with({name: files.unicode_text([HEADER, *people])}))
    assert rows_of(found, "UK_NHS", f"attachment:{name}") == 4, found
    assert not [f for f in found if f.type == "UNINSPECTABLE"]


@pytest.mark.parametrize("codec", ["utf-32", "utf-16-be", "utf-8-sig"])
def test_other_byte_order_marks_are_honoured(codec):
    people = files.patients(4)
    text = "\n".join(",".join(r) for r in [HEADER, *people])
    data = (text if codec == "utf-8-sig" else "\ufeff" + text).encode(codec)
    found = findings(files.message_with({"list.csv": data}))
    assert rows_of(found, "UK_NHS", "attachment:list.csv") == 4, found


def test_a_declared_charset_is_honoured_and_unlabelled_text_falls_back_to_windows_1252():
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = "a@northdown.gov.uk", "b@example.org", "Rent"
    msg.set_content("See attached.")
    latin = "Résumé of arrears: £120, Zoë Smith".encode("iso-8859-1")
    msg.add_attachment(latin, maintype="text", subtype="plain", filename="a.txt")
    msg.get_payload()[1].set_param("charset", "iso-8859-1")
    msg.add_attachment(
        "Owed £120 by Zoë".encode("cp1252"), maintype="text", subtype="plain", filename="b.txt"
    )
    msg.add_attachment(
        "Owed £120".encode("utf-16-le"), maintype="text", subtype="plain", filename="c.txt"
    )
    texts = {t.where: t.text for t in extract(msg).texts}
    assert texts["attachment:a.txt"] == "Résumé of arrears: £120, Zoë Smith"
    assert texts["attachment:b.txt"] == "Owed £120 by Zoë"
    assert texts["attachment:c.txt"] == "Owed £120"  # UTF-16 without a BOM


def test_a_slide_deck_table_notes_and_hidden_slide_are_read():
    people = files.patients(4)
    extra = files.patients(2)
    deck = files.pptx_bytes(
        [
            {"title": "Winter pressures", "text": ["Bed occupancy is at 96%", "Discharges up"]},
            {
                "title": "Patients to discharge this week",
                "table": [HEADER, *people],
                "notes": f"Ask the ward about {extra[0][0]}, NHS number {extra[0][2]}.",
            },
            {"title": "Old list", "table": [HEADER, *extra], "hidden": True},
        ]
    )
    raw = files.message_with({"board.pptx": deck})
    out = extract(parsed(raw))
    assert out.problems == []
    sheets = {t.sheet: t for t in out.tables}
    assert set(sheets) == {"slide 2", "slide 3"}
    assert sheets["slide 2"].header == tuple(HEADER) and len(sheets["slide 2"].rows) == 4
    assert sheets["slide 3"].sheet_hidden
    [text] = [t.text for t in out.texts if t.where == "attachment:board.pptx" and not t.hidden]
    assert text.index("Winter pressures") < text.index("Bed occupancy") < text.index("Patients to")
    assert extra[0][2] in text  # speaker notes
    found = pd.findings_from(out)
    assert rows_of(found, "UK_NHS", "attachment:board.pptx") == 5, found  # 4 rows + notes
    assert rows_of(found, "UK_NHS", "attachment:board.pptx#hidden") == 2, found


def test_a_workbook_embedded_in_a_deck_is_read():
    deck = files.pptx_bytes([{"title": "Chart"}])
    deck = _add_member(deck, "ppt/embeddings/Microsoft_Excel_Worksheet.xlsx",
                       files.xlsx_bytes(visible=files.residents(3)))  # fmt: skip
    out = extract(parsed(files.message_with({"deck.pptx": deck})))
    wheres = {t.where for t in out.tables}
    assert "attachment:deck.pptx/Microsoft_Excel_Worksheet.xlsx" in wheres, wheres


def _add_member(archive: bytes, name: str, data: bytes) -> bytes:
    import io
    import zipfile

    buf = io.BytesIO(archive)
    with zipfile.ZipFile(buf, "a") as z:
        z.writestr(name, data)
    return buf.getvalue()


# --- the look-alikes: text, not tables ------------------------------------------------

LOOKALIKES = {
    "prose with commas": (
        "Thank you for your letter, which we received on Monday,\n"
        "and have passed to the team, who will reply shortly.\n"
        "In the meantime, if you need us, please call, or email.\n"
        "We are sorry, again, for the delay, and thank you, Mrs Patel.\n"
    ),
    "short sentences with a comma each": (
        "We met on Tuesday, as agreed.\nThe plan, however, has changed.\n"
        "Please call me, or email, soon.\n"
    ),
    "address block": "Mrs J Patel\nFlat 2, 14 Mill Lane\nNewtown, Anytown\nAnyshire, AB1 2CD\n",
    "address block with trailing commas": "14 Mill Lane,\nNewtown,\nAnytown,\nAB1 2CD\n",
    "form": "Name: Jane Smith\nDate: 12/03/1980\n",
    "aligned form": "Name:       Jane Smith\nDOB:        12/03/1980\nNHS no:     943 476 5919\n",
    "signature with pipes": (
        "Jane Smith | Housing Officer\nNorthdown Council | Tel 01234 567890\n"
        "www.northdown.gov.uk | @northdown\n"
    ),
    "prose with double spaces": (
        "The meeting is on Tuesday.  Please bring the papers.\n"
        "We will discuss the budget.  Then the plan for spring.\n"
        "Lunch is provided.  Parking is limited, sorry.\n"
    ),
}


@pytest.mark.parametrize("name", LOOKALIKES)
def test_plain_text_lookalikes_stay_text(name):
    body = LOOKALIKES[name]
    out = extract(parsed(files.message_with(body=body)))
    assert out.tables == [], out.tables
    [text] = [t.text for t in out.texts if t.where == "body"]
    assert " ".join(text.split()) == " ".join(body.split())


SIGNATURE = (
    "<p>Kind regards</p><table border=0 cellpadding=0><tr>"
    "<td><img src='cid:logo' width=80></td>"
    "<td><b>Jane Smith</b><br>Head of Adult Social Care<br>Northdown District Council<br>"
    "Tel: 01234 567890<br>Mob: 07700 900123</td></tr>"
    "<tr><td colspan=2><i>This email may contain confidential information.</i></td></tr></table>"
)
SIGNATURE_ROWS = (
    "<table><tr><td>T:</td><td>01234 567890</td></tr><tr><td>M:</td><td>07700 900123</td></tr>"
    "<tr><td>E:</td><td>jane.smith@northdown.gov.uk</td></tr>"
    "<tr><td>W:</td><td>www.northdown.gov.uk</td></tr></table>"
)
_STORY = (
    "Our memory cafe meets every Tuesday at the library: a cup of tea and a chat for people "
    "living with dementia and the family and friends who care for them."
)
NEWSLETTER = (
    "<table role=presentation width=600><tr><td><h1>Residents' news</h1></td></tr>"
    "<tr><td><table width=100%>"
    + "".join(
        f"<tr><td width=200><img src='cid:pic{i}'></td>"
        f"<td><h2>Story {i}</h2><p>{_STORY}</p></td></tr>"
        for i in range(4)
    )
    + "</table></td></tr></table>"
)
NEWSLETTER_COLUMNS = (
    "<table width=600>"
    + "".join(
        f"<tr><td><h2>News {i}</h2><p>{_STORY}</p></td><td><p>{_STORY}</p></td></tr>"
        for i in range(3)
    )
    + "</table>"
)
EVENT_CARDS = (
    "<table>"
    + "".join(
        "<tr>"
        + "".join(
            "<td><b>Carers' group</b><br>Tuesdays 10am<br>Town Hall<br>Free</td>" for _ in range(3)
        )
        + "</tr>"
        for _ in range(3)
    )
    + "</table>"
)


@pytest.mark.parametrize(
    "html",
    [SIGNATURE, SIGNATURE_ROWS, NEWSLETTER, NEWSLETTER_COLUMNS, EVENT_CARDS],
    ids=["signature", "signature rows", "newsletter", "newsletter columns", "event cards"],
)
def test_html_layout_tables_stay_text(html):
    out = extract(parsed(files.message_with(body="See below.", html=html)))
    assert out.tables == [], out.tables
    texts = " ".join(t.text for t in out.texts if t.where == "body")
    assert (
        "Story" in texts
        or "Smith" in texts
        or "01234" in texts
        or "Carers" in texts
        or "News" in texts
    )


def test_a_data_table_inside_a_layout_table_is_found():
    people = files.patients(4)
    html = (
        "<table role=presentation width=600><tr><td><p>Dear colleague,</p>"
        f"{files.html_table(people, HEADER)}<p>Regards</p></td></tr></table>{SIGNATURE}"
    )
    out = extract(parsed(files.message_with(html=html)))
    [table] = out.tables
    assert len(table.rows) == 4
    [text] = [t.text for t in out.texts if t.where == "body" and "Dear colleague" in t.text]
    assert "Head of Adult Social Care" in text and people[0][2] not in text


def test_a_case_list_with_a_notes_column_is_still_data():
    people = files.patients(4)
    note = "Lives alone, daughter visits weekly, needs a ramp fitted before discharge from ward 4."
    html = files.html_table([[*p, note] for p in people], [*HEADER, "Notes"])
    found = findings(files.message_with(html=html))
    assert rows_of(found, "UK_NHS", "body") == 4, found


# --- budgets and broken files ---------------------------------------------------------


def test_a_huge_pasted_table_over_the_cell_budget_is_a_problem_and_the_text_is_kept():
    body = "\n".join(f"{i}\t{i * 7}\tAB{i:06d}C" for i in range(2000))
    out = extract(parsed(files.message_with(body=body)), Limits(max_cells=1000))
    assert any(p.where == "body" and "cells" in p.reason for p in out.problems)
    assert any("AB000005C" in t.text for t in out.texts)


def test_a_big_text_file_is_searched_quickly():
    people = files.patients(50)
    lines = [
        f"2026-03-0{i % 9 + 1} 10:{i % 60:02d} GET /page/{i} 200 {i * 13} bytes"
        for i in range(60_000)
    ]
    table = "\n".join("\t".join(r) for r in [HEADER, *people])
    data = (
        "\n".join(lines[:30_000]) + "\n\n" + table + "\n\n" + "\n".join(lines[30_000:])
    ).encode()
    started = time.monotonic()
    out = extract(parsed(files.message_with({"server.log": data})))
    assert time.monotonic() - started < 10
    assert [len(t.rows) for t in out.tables] == [50]


def _laughs() -> bytes:
    entities = "".join(
        f'<!ENTITY l{i} "{("&l" + str(i - 1) + ";") * 10 if i else "lol"}">' for i in range(10)
    )
    return (
        f'<?xml version="1.0"?><!DOCTYPE p:sld [{entities}]>'
        '<p:sld xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main">'
        "<p:cSld><p:spTree>&l9;</p:spTree></p:cSld></p:sld>"
    ).encode()


def _replace(archive: bytes, name: str, data: bytes) -> bytes:
    import io
    import zipfile

    src = zipfile.ZipFile(io.BytesIO(archive))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for item in src.infolist():
            dst.writestr(item.filename, data if item.filename == name else src.read(item))
    return out.getvalue()


def _hostile_deck(name: str) -> tuple[bytes, str]:
    deck = files.pptx_bytes([{"title": "Hello", "table": [HEADER, *files.patients(3)]}])
    slide = "ppt/slides/slide1.xml"
    if name == "laughs.pptx":
        return _replace(deck, slide, _laughs()), "could not be read"
    if name == "bomb.pptx":
        return _replace(deck, slide, b"<a>" + b" " * 20 * 1024 * 1024 + b"</a>"), "zip bomb"
    if name == "truncated.pptx":
        return deck[: len(deck) // 2], "not a valid zip"
    if name == "notapptx.pptx":
        return files.zip_bytes({"x.txt": b"hello"}), "not a PowerPoint"
    return _replace(deck, slide, b"<p:sld><unclosed"), "could not be read"


@pytest.mark.parametrize(
    "name", ["laughs.pptx", "bomb.pptx", "truncated.pptx", "notapptx.pptx", "garbage.pptx"]
)
def test_a_hostile_or_broken_deck_is_a_problem_and_costs_nothing_else(name):
    data, reason = _hostile_deck(name)
    people = files.patients(4)
    raw = files.message_with(
        {name: data, "list.csv": files.csv_bytes(people, HEADER)},
        body=body_with([HEADER, *people], "\t"),
    )
    started = time.monotonic()
    out = extract(parsed(raw))
    assert time.monotonic() - started < 5
    [problem] = out.problems
    assert problem.where == f"attachment:{name}" and reason in problem.reason, problem
    found = pd.findings_from(out)
    assert rows_of(found, "UK_NHS", "attachment:list.csv") == 4
    assert rows_of(found, "UK_NHS", "body") == 4
    assert rows_of(found, "UNINSPECTABLE", f"attachment:{name}") == 1


def test_a_deck_nested_past_the_depth_budget_is_a_problem():
    inner = files.pptx_bytes([{"title": "Inner"}])
    for n in range(5):
        inner = _add_member(
            files.pptx_bytes([{"title": f"Level {n}"}]), f"ppt/embeddings/d{n}.pptx", inner
        )
    out = extract(parsed(files.message_with({"deep.pptx": inner})), Limits(max_depth=3))
    assert any("nested too deeply" in p.reason for p in out.problems)


def test_hostile_charsets_do_not_break_a_body():
    for charset in ("punycode", "idna", "x-no-such-charset", "rot13", "utf-7"):
        raw = (
            "From: a@northdown.gov.uk\r\nTo: b@example.org\r\nSubject: x\r\n"
            f"Content-Type: text/plain; charset={charset}\r\n\r\n"
            "NI number AB123456C\r\n"
        ).encode()
        out = extract(parsed(raw))
        assert out.problems == [] and "AB123456C" in out.texts[0].text, charset


def test_html_with_more_cells_than_the_parser_keeps_is_read_as_text(monkeypatch):
    from mailguard.intake import htmltext

    monkeypatch.setattr(htmltext, "MAX_CELLS", 10)
    people = files.patients(4)
    out = extract(parsed(files.message_with(html=files.html_table(people, HEADER))))
    assert out.tables == [] and out.problems == []
    assert any(people[3][2] in t.text for t in out.texts)


def test_a_soft_wrapped_format_flowed_body_is_unwrapped_before_rows_are_read():
    people = files.patients(4)
    note = "needs an interpreter at every appointment and transport from home"
    rows = ["\t".join([*HEADER, "Notes"]), *("\t".join([*p, note]) for p in people)]
    wrapped = "\r\n".join(r[:60] + " \r\n" + r[60:] if len(r) > 60 else r for r in rows)
    raw = (
        "From: a@northdown.gov.uk\r\nTo: b@example.org\r\nSubject: list\r\n"
        "Content-Type: text/plain; charset=utf-8; format=flowed; delsp=yes\r\n\r\n"
        f"Clinic list:\r\n\r\n{wrapped}\r\n\r\nThanks\r\n"
    ).encode()
    found = findings(raw)
    assert rows_of(found, "UK_NHS", "body") == 4, found


def test_a_diagnosis_column_in_a_pasted_table_is_special_category_in_every_row():
    people = files.patients(4)
    diagnoses = ["schizophrenia", "type 2 diabetes", "HIV positive", "epilepsy"]
    lines = [[*HEADER, "Diagnosis"], *([*p, d] for p, d in zip(people, diagnoses, strict=True))]
    found = findings(files.message_with(body=body_with(lines, "\t")))
    assert rows_of(found, "SPECIAL_CATEGORY", "body") == 4, found


def test_a_pasted_case_list_with_long_notes_is_still_a_table():
    people = files.patients(4)
    note = (
        "Lives alone since March; daughter visits weekly. Needs a ramp fitted and a key safe "
        "before discharge from ward 4, and a care package of four calls a day."
    )
    found = findings(
        files.message_with(
            body=body_with([[*HEADER, "Notes"], *([*p, note] for p in people)], "\t")
        )
    )
    assert rows_of(found, "UK_NHS", "body") == 4, found


def test_the_same_table_in_both_alternatives_counts_once_even_if_only_the_html_has_a_header():
    header = ["Client", "Born 19xx", "NHS no 2024"]  # digits: plain text cannot call it a header
    people = files.patients(4)
    html = files.html_table(people, header)
    raw = files.message_with(body=body_with([header, *people], "\t"), html=html)
    out = extract(parsed(raw))
    [table] = out.tables
    assert table.header == tuple(header) and len(table.rows) == 4
