"""A message is read as the standard library's parser reads it, however it is parsed."""

from __future__ import annotations

import random
from email import policy
from email.parser import BytesParser

import pytest

from mailguard.intake.extract import filename_of
from mailguard.intake.mime import ParsedMessage, _single_part
from mailguard.intake.structure import bounded
from tests.support import files
from tests.support.fuzzmail import random_message
from tests.support.mail import compose

LETTER = compose(body=files.fake.paragraph(nb_sentences=20))
ODD = {
    "lf-only": b"From: a@b.org\nTo: c@d.org\nSubject: hi\n\nbody line\nsecond\n",
    "no-body": b"From: a@b.org\r\nSubject: headers only\r\n",
    "empty-body": b"From: a@b.org\r\nSubject: x\r\n\r\n",
    "no-headers": b"\r\n\r\nbody after two blank lines\r\n",
    "no-headers-lf": b"\n\nbody\n",
    "bare-cr": b"From: a@b.org\rSubject: x\r\n\r\nbody\r\n",
    "not-a-header": b"From: a@b.org\r\nthis is no header\r\nSubject: x\r\n\r\nbody\r\n",
    "continuation-first": b" folded\r\nFrom: a@b.org\r\n\r\nbody\r\n",
    "form-feed": b"From: a@b.org\r\nSubject: x\x0c\r\n\r\nTo: c@d.org\r\n\r\nbody\r\n",
    "unix-from": b"From someone Tue Dec  1 10:00:00 2026\r\nFrom: a@b.org\r\n\r\nbody\r\n",
    "eight-bit": "From: Zoë <a@b.org>\r\nSubject: café\r\n\r\nnaïve\r\n".encode(),
    "folded": b"From: a@b.org\r\nSubject: one\r\n two\r\n\tthree\r\n\r\nbody\r\n",
    "crlf-then-lf": b"From: a@b.org\r\nSubject: x\r\n\nbody\r\n\r\nmore\n",
    "message-part": b"Content-Type: message/rfc822\r\n\r\nFrom: a@b.org\r\n\r\ninner\r\n",
    "multipart": (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n\r\none\r\n--b--\r\n'
    ),
    "letter": LETTER,
}


def shape(message):
    """Everything a detector can read of a parsed message."""
    parts = message.walk() if message.is_multipart() else [message]
    return [
        (
            p.get_unixfrom(),
            p.items(),
            p.get_payload(decode=True) if not p.is_multipart() else None,
            [type(d).__name__ for d in p.defects],
            p.preamble,
            p.epilogue,
        )
        for p in parts
    ]


def parsed_by_the_library(raw: bytes):
    """The stdlib's parse of what ``structure`` leaves of the message (all of it,
    unless it nests too deep)."""
    return BytesParser(policy=policy.compat32).parsebytes(bounded(raw).raw)


@pytest.mark.parametrize("raw", ODD.values(), ids=ODD.keys())
def test_odd_messages_are_read_as_the_library_reads_them(raw):
    assert shape(ParsedMessage(raw, whole=True).message) == shape(parsed_by_the_library(raw))
    quick = _single_part(raw)
    assert quick is None or shape(quick) == shape(parsed_by_the_library(raw))


def test_generated_broken_mail_is_read_as_the_library_reads_it():
    rng = random.Random(7)
    for _ in range(300):
        raw = random_message(rng, "a@northdown.gov.uk", "b@example.org")
        ours = ParsedMessage(raw, whole=True).message
        assert shape(ours) == shape(parsed_by_the_library(raw)), raw[:300]


NAMED = [
    b'Content-Type: text/plain\r\nContent-Disposition: attachment; filename="a.csv"\r\n\r\nx',
    b"Content-Type: application/pdf; NAME=Report.PDF\r\n\r\nx",
    b"Content-Type: text/csv; name*0*=utf-8''list%20one; name*1=.csv\r\n\r\nx",
    b"Content-Disposition: inline; FILENAME*=utf-8''r%C3%A9sum%C3%A9.docx\r\n\r\nx",
    b'Content-Type: text/plain; name=""\r\n\r\nx',
    b"Content-Type: text/plain; charset=utf-8\r\n\r\nx",
    b"Subject: nothing named\r\n\r\nx",
]


def test_a_parts_file_name_is_the_one_the_library_reads():
    rng = random.Random(11)
    generated = [random_message(rng, "a@northdown.gov.uk", "b@x.org") for _ in range(200)]
    for raw in NAMED + generated:
        for part in parsed_by_the_library(raw).walk():
            assert filename_of(part) == part.get_filename(), raw[:200]
