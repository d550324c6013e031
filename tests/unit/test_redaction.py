"""Failed redactions: what the reader cannot see is found, and named by what hides it."""

from __future__ import annotations

from email import message_from_bytes

from mailguard.intake.budget import Limits
from mailguard.intake.extract import extract
from tests.support import files

LETTER = [
    "Northdown District Council - Subject Access Request",
    "Dear requester, the records you asked for are below.",
    "Neighbour complaint made by Mrs Joan Perry of 4 Mill Lane",
    "Her NHS number is 943 476 5919",
    "Yours sincerely, Information Governance",
]


def unseen(attachments: dict[str, bytes]) -> dict[str, str]:
    out = extract(message_from_bytes(files.message_with(attachments)), Limits(outside=True))
    return {t.where: t.text for t in out.texts if t.hidden}


def test_a_searchable_scan_blacked_out_on_the_image_still_gives_away_its_text_layer():
    hidden = unseen({"scan.pdf": files.searchable_scan_pdf(LETTER, boxed=(2, 3))})
    [(where, text)] = hidden.items()
    assert where == "attachment:scan.pdf#redacted:page 1 under a box"
    assert "Joan Perry" in text and "943 476 5919" in text
    assert "Dear requester" not in text


def test_a_searchable_scan_without_boxes_hides_nothing():
    assert unseen({"scan.pdf": files.searchable_scan_pdf(LETTER)}) == {}


def test_each_kind_of_unseen_text_is_named_so_the_reviewer_knows_where_to_look():
    word = files.docx_with_unseen(
        ["Dear requester,"], deleted=LETTER[2], vanished=LETTER[3], white="Case ref 18213"
    )
    pdf = files.redacted_pdf(LETTER, (2,))
    white = files.white_text_pdf(LETTER[:2], LETTER[3:4])
    hidden = unseen({"letter.docx": word, "boxed.pdf": pdf, "notes.pdf": white})
    assert sorted(hidden) == [
        "attachment:boxed.pdf#redacted:page 1 under a box",
        "attachment:letter.docx#redacted:hidden text",
        "attachment:letter.docx#redacted:tracked deletion",
        "attachment:letter.docx#redacted:white text",
        "attachment:notes.pdf#redacted:page 1 white text",
    ]
    assert "Joan Perry" in hidden["attachment:letter.docx#redacted:tracked deletion"]
    assert "943 476 5919" in hidden["attachment:notes.pdf#redacted:page 1 white text"]
