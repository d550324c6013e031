"""Older and open formats read like their modern kin: sheets, hidden parts, messages."""

from __future__ import annotations

import gzip
import io
import random
import struct
import time
from email import message_from_bytes

import pytest

from mailguard.intake.budget import Limits
from mailguard.intake.extract import extract
from tests.support import files
from tests.support.fuzzmail import hostile_new_formats


def extracted(attachments: dict[str, bytes], **limits):
    return extract(message_from_bytes(files.message_with(attachments)), Limits(**limits))


def residents_table(out):
    [table] = [t for t in out.tables if t.sheet == "Residents"]
    return table


def test_a_legacy_xls_keeps_its_hidden_rows_and_columns():
    rows = files.residents(6)
    table = residents_table(
        extracted({"t.xls": files.xls_bytes(rows, hidden_rows=(2,), hidden_cols=(3,))})
    )
    assert table.header == tuple(files.HEADER) and len(table.rows) == 6
    assert table.rows[2][0] == rows[2][0]
    assert table.hidden_rows == frozenset({2}) and table.hidden_cols == frozenset({3})


def test_a_hidden_xls_or_ods_sheet_is_marked_hidden():
    rows = files.residents(3)
    for name, data in (("t.xls", files.xls_bytes(rows, hidden_sheet=True)),
                       ("t.ods", files.ods_bytes(rows, hidden_sheet=True))):  # fmt: skip
        assert residents_table(extracted({name: data})).sheet_hidden, name


def test_an_odt_keeps_its_table_and_sets_apart_what_the_page_does_not_show():
    rows = files.residents(4)
    data = files.odt_bytes(
        ["Dear resident,"], table=[files.HEADER, *rows], hidden="a note kept out of sight",
        deleted="a sentence deleted with track changes on",
    )  # fmt: skip
    out = extracted({"letter.odt": data})
    [table] = out.tables
    assert len(table.rows) == 4
    visible = {t.where: t.text for t in out.texts if not t.hidden}
    hidden = {t.where: t.text for t in out.texts if t.hidden}
    assert "Dear resident" in visible["attachment:letter.odt"]
    assert "out of sight" in hidden["attachment:letter.odt#redacted:hidden text"]
    assert "track changes" in hidden["attachment:letter.odt#redacted:tracked deletion"]
    assert "out of sight" not in visible["attachment:letter.odt"]


def test_a_legacy_word_doc_written_by_libreoffice_is_read_with_its_table():
    rows = files.residents(4)
    out = extracted(
        {
            "letter.doc": files.doc_bytes(
                ["Dear colleague,", "The list:"], table=[files.HEADER, *rows]
            )
        }
    )
    [table] = out.tables
    assert table.header == tuple(files.HEADER) and len(table.rows) == 4
    assert table.rows[1][0] == rows[1][0]
    assert "Dear colleague" in {t.where: t.text for t in out.texts}["attachment:letter.doc"]
    assert out.problems == []


def test_a_damaged_doc_is_uninspectable_not_a_crash():
    data = files.doc_bytes(["Dear colleague,"])
    out = extracted({"broken.doc": data[: len(data) // 3]})
    [problem] = out.problems
    assert problem.where == "attachment:broken.doc" and not problem.structural


def doc_texts(data: bytes) -> tuple[dict[str, str], dict[str, str]]:
    out = extracted({"letter.doc": data})
    assert out.problems == []
    visible = {t.where: t.text for t in out.texts if not t.hidden}
    hidden = {t.where: t.text for t in out.texts if t.hidden}
    return visible, hidden


def test_a_doc_sets_apart_its_tracked_deletion_hidden_run_and_white_run_as_redacted():
    name, condition = files.fake.name(), "type 2 diabetes"
    data = files.doc_with_unseen(
        ["Dear requester,", "Please find the information you asked for."],
        deleted=f"{name}, NHS number 943 476 5919", vanished=condition, white="Flat 4B",
    )  # fmt: skip
    visible, hidden = doc_texts(data)
    assert hidden == {
        "attachment:letter.doc#redacted:tracked deletion": f"{name}, NHS number 943 476 5919",
        "attachment:letter.doc#redacted:hidden text": condition,
        "attachment:letter.doc#redacted:white text": "Flat 4B",
    }
    seen = visible["attachment:letter.doc"]
    assert "Please find the information" in seen and "Details:" in seen
    assert name not in seen and "943 476" not in seen and condition not in seen
    assert "Flat 4B" not in seen


def test_a_plain_doc_has_no_redacted_text():
    visible, hidden = doc_texts(files.doc_with_unseen(["Dear requester,", "All done."]))
    assert hidden == {} and "All done." in visible["attachment:letter.doc"]


def test_a_comment_in_a_doc_is_read_as_text_as_word_shows_it_in_the_margin():
    name = files.fake.name()
    visible, hidden = doc_texts(
        files.doc_with_comment(["Dear colleague,", "See the note."], f"Ask {name} first")
    )
    assert hidden == {} and f"Ask {name} first" in visible["attachment:letter.doc"]


def chpx_places(data: bytes) -> tuple[str, int, int, int]:
    """Where the character-formatting table is: the table stream's name, the
    PlcBteChpx's offset and length in it, and the first ChpxFkp page's number."""
    import olefile

    ole = olefile.OleFileIO(io.BytesIO(data))
    word = ole.openstream("WordDocument").read()
    table_name = "1Table" if struct.unpack_from("<H", word, 0x0A)[0] & 0x0200 else "0Table"
    table = ole.openstream(table_name).read()
    ole.close()
    fc, lcb = struct.unpack_from("<II", word, 0xFA)
    n = (lcb - 4) // 8
    return table_name, fc, lcb, struct.unpack_from("<I", table, fc + 4 * (n + 1))[0] & 0x3FFFFF


def chpx_page(data: bytes, pn: int) -> bytes:
    import olefile

    ole = olefile.OleFileIO(io.BytesIO(data))
    word = ole.openstream("WordDocument").read()
    ole.close()
    return word[pn * 512 : pn * 512 + 512]


def chpx_damaged(data: bytes, damage: str) -> bytes:
    table_name, fc, lcb, pn = chpx_places(data)
    if damage == "table longer than its stream":
        return files.ole_patched(data, "WordDocument", 0xFE, struct.pack("<I", 10**6))
    if damage == "page past the end of the document":
        return files.ole_patched(data, table_name, fc + lcb - 4, struct.pack("<I", 0x3FFFFF))
    if damage == "more runs than a page holds":
        return files.ole_patched(data, "WordDocument", pn * 512 + 511, b"\xff")
    assert damage == "properties running off the page"
    # One run (the last byte) whose properties start at the page's last word (rgb 0xFF)
    # and claim 255 bytes there.
    one_run = files.ole_patched(data, "WordDocument", pn * 512 + 510, b"\xff\x01")
    return files.ole_patched(one_run, "WordDocument", pn * 512 + 8, b"\xff")


@pytest.mark.parametrize(
    "damage",
    [
        "table longer than its stream",
        "page past the end of the document",
        "more runs than a page holds",
        "properties running off the page",
    ],
)
def test_a_doc_with_a_damaged_character_formatting_table_is_uninspectable_not_a_crash(damage):
    data = chpx_damaged(files.doc_with_unseen(["Dear requester,"], deleted="a name"), damage)
    out = extracted({"broken.doc": data})
    [problem] = out.problems
    assert problem.where == "attachment:broken.doc" and not problem.structural
    assert problem.reason == "a damaged Word document"


def test_a_doc_whose_formatting_is_garbled_is_read_or_uninspectable_never_a_crash():
    data = files.doc_with_unseen(["Dear requester,"], deleted="a name", white="an address")
    table_name, fc, lcb, pn = chpx_places(data)
    page = pn * 512
    crun = chpx_page(data, pn)[511]
    heads = 4 * (crun + 1) + crun  # run boundaries and property offsets, then properties
    rng = random.Random(16)
    read = 0
    for _ in range(20):
        garbled = {
            "page.doc": files.ole_patched(data, "WordDocument", page, rng.randbytes(511)),
            "bounds.doc": files.ole_patched(data, "WordDocument", page, rng.randbytes(heads)),
            "props.doc": files.ole_patched(
                data, "WordDocument", page + heads, rng.randbytes(511 - heads)
            ),
            "plc.doc": files.ole_patched(data, table_name, fc, rng.randbytes(lcb)),
        }
        out = extracted(garbled)
        assert {p.reason for p in out.problems} <= {"a damaged Word document"}
        read += len(garbled) - len(out.problems)
    assert read > 0


def test_an_rtf_export_is_read_with_its_table():
    out = extracted({"export.rtf": files.rtf_bytes(files.residents(5))})
    [table] = out.tables
    assert table.header == tuple(files.HEADER) and len(table.rows) == 5


def test_a_saved_outlook_message_is_read_with_its_attachments_and_messages_inside():
    data = files.msg_bytes(
        "Tenants", "List attached, and the earlier message.",
        attachments={"tenants.csv": files.csv_bytes(files.residents(3))},
        attached_message=("earlier.msg", "Earlier", "The first draft of the list."),
    )  # fmt: skip
    out = extracted({"saved.msg": data})
    texts = {t.where: t.text for t in out.texts}
    assert "Subject: Tenants" in texts["attachment:saved.msg"]
    assert "first draft" in texts["attachment:saved.msg/earlier.msg"]
    [table] = out.tables
    assert table.where == "attachment:saved.msg/tenants.csv" and len(table.rows) == 3


def test_a_saved_email_sent_as_octet_stream_is_opened():
    inner = files.message_with({"r.csv": files.csv_bytes(files.residents(2))})
    out = extracted({"forwarded.dat": inner})
    assert [t.where for t in out.tables] == ["attachment:forwarded.dat/r.csv"]


def test_a_tar_gz_export_is_opened_member_by_member_and_links_are_not_followed():
    data = files.tar_gz_bytes(
        {"export/residents.csv": files.csv_bytes(files.residents(4))}, link="/etc/passwd"
    )
    out = extracted({"export.tar.gz": data})
    [table] = out.tables
    assert table.where == "attachment:export.tar.gz/export/residents.csv" and len(table.rows) == 4
    assert out.problems == [] and not any("root:" in t.text for t in out.texts)


def test_a_7z_archive_is_opened_member_by_member_inside_other_archives_too():
    csv = files.csv_bytes(files.residents(6))
    inner = files.sevenzip_bytes({"care/clients.csv": csv, "readme.txt": b"Quarterly export"})
    out = extracted({"export.7z": inner, "bundle.zip": files.zip_bytes({"nested.7z": inner})})
    assert sorted((t.where, len(t.rows)) for t in out.tables) == [
        ("attachment:bundle.zip/nested.7z/care/clients.csv", 6),
        ("attachment:export.7z/care/clients.csv", 6),
    ]
    assert out.problems == []


def test_a_7z_that_declares_more_than_the_budget_is_refused_before_it_is_expanded():
    data = files.sevenzip_bytes({"a.csv": b"name,dob\n" * 10, "b.bin": b"x" * (3 * 1024 * 1024)})
    out = extracted({"two.7z": data}, max_bytes=2 * 1024 * 1024)
    [problem] = out.problems
    assert problem.where == "attachment:two.7z" and "bomb" in problem.reason
    assert out.tables == []


def test_a_gzipped_csv_is_read_as_the_csv():
    out = extracted({"list.csv.gz": gzip.compress(files.csv_bytes(files.residents(3)))})
    [table] = out.tables
    assert len(table.rows) == 3


@pytest.mark.parametrize("name", list(hostile_new_formats()))
def test_hostile_files_in_the_new_formats_end_quickly_and_never_crash(name):
    data = hostile_new_formats()[name]
    started = time.monotonic()
    out = extracted({name: data})
    assert time.monotonic() - started < 10
    if name not in ("repeated.ods", "deep.rtf"):  # bounded, and nothing hidden: read
        [problem] = out.problems
        assert problem.where == f"attachment:{name}"
    assert sum(len(t.rows) for t in out.tables) <= 5000  # a billion rows stay a few
