"""Text extraction: every place personal data hides, and hostile files within budget."""

from __future__ import annotations

import time
from email import policy
from email.parser import BytesParser

import pytest

from mailguard.intake.extract import Limits, extract
from mailguard.intake.mime import ParsedMessage
from tests.support import files


def extracted(raw: bytes, limits: Limits | None = None):
    return extract(BytesParser(policy=policy.default).parsebytes(raw), limits)


def test_plain_and_html_bodies_become_text():
    raw = files.message_with(
        body="Plain NI AB123456C", html="<p>Html <b>body</b><script>x=1</script></p>"
    )
    out = extracted(raw)
    texts = [t.text for t in out.texts if t.where == "body"]
    assert any("AB123456C" in t for t in texts)
    assert any("Html body" in t and "x=1" not in t for t in texts)


def test_csv_stays_a_table_with_its_header():
    rows = files.residents(20)
    out = extracted(files.message_with({"list.csv": files.csv_bytes(rows)}))
    [table] = out.tables
    assert table.where == "attachment:list.csv"
    assert table.header == tuple(files.HEADER)
    assert len(table.rows) == 20 and table.rows[0][3] == rows[0][3]


def test_xlsx_reads_visible_hidden_and_very_hidden_sheets():
    raw = files.message_with(
        {
            "foi.xlsx": files.xlsx_bytes(
                visible=files.residents(3),
                hidden=files.residents(4),
                very_hidden=files.residents(5),
            )
        }
    )
    out = extracted(raw)
    by_sheet = {t.sheet: t for t in out.tables}
    assert set(by_sheet) == {"Summary", "Residents", "Old data", "Lookup"}
    assert not by_sheet["Residents"].sheet_hidden
    assert by_sheet["Old data"].sheet_hidden and len(by_sheet["Old data"].rows) == 4
    assert by_sheet["Lookup"].sheet_hidden and len(by_sheet["Lookup"].rows) == 5


def test_xlsx_hidden_columns_are_marked():
    raw = files.message_with({"c.xlsx": files.xlsx_bytes(hidden_column_rows=files.residents(3))})
    [table] = [t for t in extracted(raw).tables if t.sheet == "Contacts"]
    assert table.hidden_cols == frozenset({1, 2, 3, 4, 5, 6})
    assert table.is_hidden(0, 4) and not table.is_hidden(0, 0)


def test_docx_paragraphs_tables_and_footers():
    rows = files.residents(2)
    raw = files.message_with(
        {
            "letter.docx": files.docx_bytes(
                ["Dear Sir", "Your reference is below."],
                table=[files.HEADER, *rows],
                footer="Case officer: J Bloggs",
            )
        }
    )
    out = extracted(raw)
    [text] = [t.text for t in out.texts if t.where == "attachment:letter.docx"]
    assert "Dear Sir" in text and "J Bloggs" in text
    [table] = [t for t in out.tables if t.where == "attachment:letter.docx"]
    assert list(table.header) == files.HEADER and [list(r) for r in table.rows] == rows


def test_a_docx_layout_table_stays_text():
    layout = [["Anyshire County Council", "Our ref: HB/123"], ["County Hall", "Date: 3 May"]]
    raw = files.message_with({"letter.docx": files.docx_bytes(["Dear Sir"], table=layout)})
    out = extracted(raw)
    assert not out.tables
    [text] = [t.text for t in out.texts if t.where == "attachment:letter.docx"]
    assert "Our ref: HB/123" in text


def test_pdf_text_is_extracted():
    raw = files.message_with({"report.pdf": files.pdf_bytes(["Patient NHS 943 476 5919"])})
    [text] = [t.text for t in extracted(raw).texts if t.where == "attachment:report.pdf"]
    assert "943 476 5919" in text


def test_zip_and_nested_message_are_opened_with_their_paths():
    inner = files.message_with({"inner.csv": files.csv_bytes(files.residents(2))})
    raw = files.message_with(
        {
            "pack.zip": files.zip_bytes(
                {"a/list.csv": files.csv_bytes(files.residents(2)), "notes.txt": b"NI AB123456C"}
            ),
            "fwd.eml": inner,
        }
    )
    out = extracted(raw)
    wheres = {t.where for t in out.tables} | {t.where for t in out.texts}
    assert "attachment:pack.zip/a/list.csv" in wheres
    assert "attachment:pack.zip/notes.txt" in wheres
    assert "attachment:fwd.eml/inner.csv" in wheres
    assert out.problems == []


@pytest.mark.parametrize(
    ("name", "data", "reason"),
    [
        ("bomb.zip", files.zip_bomb(200), "zip bomb"),
        ("secret.xlsx", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\0" * 4000, "encrypted"),
        ("broken.pdf", b"%PDF-1.7\n1 0 obj <<< garbage", "could not be read"),
        ("broken.xlsx", b"PK\x03\x04 not really a zip", "not a valid zip"),
    ],
)
def test_hostile_or_broken_files_are_problems_not_crashes(name, data, reason):
    started = time.monotonic()
    out = extracted(files.message_with({name: data}))
    assert time.monotonic() - started < 5
    [problem] = out.problems
    assert problem.where == f"attachment:{name}"
    assert reason in problem.reason


def test_nesting_deeper_than_the_budget_is_a_problem():
    data = files.csv_bytes(files.residents(1))
    for n in range(6):
        data = files.zip_bytes({f"level{n}.zip" if n else "x.csv": data})
    out = extracted(files.message_with({"deep.zip": data}), Limits(max_depth=3))
    assert any("nested too deeply" in p.reason for p in out.problems)


def test_a_tiny_xlsx_claiming_a_huge_sheet_is_refused_quickly():
    import io

    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    sheet["A1"] = "Name"
    sheet["XFD1048576"] = "x"
    buf = io.BytesIO()
    book.save(buf)
    started = time.monotonic()
    out = extracted(files.message_with({"sparse.xlsx": buf.getvalue()}))
    assert time.monotonic() - started < 3
    [problem] = out.problems
    assert "over the budget" in problem.reason


def test_a_csv_over_the_cell_budget_is_a_problem():
    data = b"1,2,3,4\n" * 2000
    out = extracted(files.message_with({"wide.csv": data}), Limits(max_cells=1000))
    [problem] = out.problems
    assert problem.where == "attachment:wide.csv" and "cells" in problem.reason


def test_headers_read_alone_are_the_headers_read_with_the_body():
    """Mail no content detector reads is parsed for its headers only; what recipient
    rules and the history see must not depend on that."""
    raw = files.message_with({"list.csv": files.csv_bytes(files.residents(3))}, body="See list")
    alone, whole = ParsedMessage(raw), ParsedMessage(raw, whole=True)
    assert alone.headers.items() == whole.headers.items()
    assert alone.addressing() == whole.addressing()
    assert whole.headers is whole.message  # one parse when the body is wanted anyway
