"""A message is read as the standard library's parser reads it, however it is parsed."""

from __future__ import annotations

import base64
import random
from email import policy
from email.message import Message
from email.parser import BytesParser

import pytest

from mailguard.intake.extract import filename_of
from mailguard.intake.mime import ParsedMessage, payload_bytes
from mailguard.intake.quickparse import multipart, single_part
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
    "charset-pair-not-a-header": (
        b"Content-Type: text/plain; charset*=utf-8''x\nnot a header \xe9\n\nbody\n"
    ),
    "charset-pair-unix-from": b"Content-Type: text/plain; charset*=utf-8''x\nFrom \xe9\n\nbody\n",
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


def anatomy(message):
    """All the parser leaves in a message object, its parts' included."""
    payload = message._payload
    if isinstance(payload, list):
        payload = [anatomy(p) for p in payload]
    return (
        message.get_unixfrom(),
        message._headers,
        payload,
        message.preamble,
        message.epilogue,
        [type(d).__name__ for d in message.defects],
        message.get_default_type(),
        message._charset,
    )


def parsed_by_the_library(raw: bytes):
    """The stdlib's parse of what ``structure`` leaves of the message (all of it,
    unless it nests too deep)."""
    return BytesParser(policy=policy.compat32).parsebytes(bounded(raw).raw)


@pytest.mark.parametrize("raw", ODD.values(), ids=ODD.keys())
def test_odd_messages_are_read_as_the_library_reads_them(raw):
    assert shape(ParsedMessage(raw, whole=True).message) == shape(parsed_by_the_library(raw))
    quick = single_part(raw) or multipart(raw)
    assert quick is None or anatomy(quick) == anatomy(parsed_by_the_library(raw))


def test_generated_broken_mail_is_read_as_the_library_reads_it():
    rng = random.Random(7)
    for _ in range(300):
        raw = random_message(rng, "a@northdown.gov.uk", "b@example.org")
        ours = ParsedMessage(raw, whole=True).message
        assert shape(ours) == shape(parsed_by_the_library(raw)), raw[:300]


MULTIPART = {
    "preamble-epilogue": (
        b'Content-Type: multipart/mixed; boundary="b"\r\n\r\nThis is MIME.\r\n\r\n'
        b"--b\r\nContent-Type: text/plain\r\n\r\none\r\n--b\r\n\r\ntwo\r\n\r\n"
        b"--b--\r\nafter\r\n\r\n"
    ),
    "space-after-delimiters": (
        b"Content-Type: multipart/mixed; boundary=b\n\n--b \t\nA: 1\n\nx\n--b-- \n"
    ),
    "close-at-end-of-file": b"Content-Type: multipart/mixed; boundary=b\n\n--b\n\nx\n--b--",
    "empty-part": b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\n--b--\r\n",
    "headers-only-part": (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nA: 1\r\n--b--\r\n"
    ),
    "boundary-mid-line": (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx --b\r\n--bb\r\n"
        b"--b-x\r\n--b--x\r\n--b--\r\n"
    ),
    "nested": (
        b'Content-Type: multipart/mixed; boundary="out"\r\n\r\n--out\r\n'
        b'Content-Type: multipart/alternative; boundary="in"\r\n\r\npre\r\n--in\r\n\r\n'
        b"plain\r\n--in\r\nContent-Type: text/html\r\n\r\n<p>html</p>\r\n--in--\r\n\r\n"
        b"--out\r\nContent-Type: text/csv\r\n\r\na,b\r\n--out--\r\n"
    ),
    "nested-epilogue": (
        b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n"
        b"Content-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\n\r\nx\r\n--i--\r\n"
        b"tail\r\n--o--\r\n"
    ),
    "nested-unclosed": (
        b"Content-Type: multipart/mixed; boundary=o\r\n\r\n--o\r\n"
        b"Content-Type: multipart/mixed; boundary=i\r\n\r\n--i\r\n\r\nx\r\n--o--\r\n"
    ),
    "nested-same-boundary": (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n"
    ),
    "no-close": b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\r\n",
    "no-opening": b"Content-Type: multipart/mixed; boundary=b\r\n\r\nx\r\n--b--\r\n",
    "no-delimiters": b"Content-Type: multipart/mixed; boundary=b\r\n\r\nx\r\n",
    "no-boundary": b"Content-Type: multipart/mixed\r\n\r\n--b\r\n\r\nx\r\n--b--\r\n",
    "doubled-delimiter": (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b\r\n\r\nx\r\n--b--\r\n"
    ),
    "delimiter-then-close": (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n--b--\r\nafter\r\n"
    ),
    "encoded-multipart": (
        b"Content-Type: multipart/mixed; boundary=b\r\nContent-Transfer-Encoding: base64\r\n"
        b"\r\n--b\r\n\r\nx\r\n--b--\r\n"
    ),
    "digest": b"Content-Type: multipart/digest; boundary=b\r\n\r\n--b\r\n\r\nA: 1\r\n--b--\r\n",
    "message-part": (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n"
        b"Content-Type: message/rfc822\r\n\r\nFrom: a@b.org\r\n\r\nin\r\n--b--\r\n"
    ),
    "special-characters": (
        b'Content-Type: multipart/mixed; boundary="=_a.b+(c)?*"\r\n\r\n--=_a.b+(c)?*\r\n'
        b"\r\nx\r\n--=_a.b+(c)?*--\r\n"
    ),
    "lone-cr": b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\n\r\nx\ry\r\n--b--\r\n",
    "part-not-a-header": (
        b"Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nnot a header\r\n--b--\r\n"
    ),
    "part-folded-first": b"Content-Type: multipart/mixed; boundary=b\n\n--b\n folded\n\nx\n--b--\n",
    "charset-pair-on-a-broken-header": (
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n"
        b"Content-Type: text/plain; charset*=utf-8''x\n\xe9\n--b--\n"
    ),
    "nul-in-charset": (
        b"Content-Type: multipart/mixed; boundary=b\n\n--b\n"
        b'Content-Type: text/plain; charset="utf\x008"\n\xe9t\xe9\n--b--\n'
    ),
    "line-break-in-boundary": (
        b"Content-Type: multipart/mixed; boundary*=utf-8''b%0Ax\n\n--b\nx\n\n--b\nx--\n"
    ),
    "eight-bit": (
        "Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nSubject: café\r\n\r\n"
        "naïve\r\n--b--\r\n"
    ).encode(),
}


@pytest.mark.parametrize("raw", MULTIPART.values(), ids=MULTIPART.keys())
def test_multipart_messages_are_read_as_the_library_reads_them(raw):
    library = anatomy(parsed_by_the_library(raw))
    assert anatomy(ParsedMessage(raw, whole=True).message) == library
    quick = multipart(raw)
    assert quick is None or anatomy(quick) == library


def _varied_multipart(rng: random.Random, boundary: str, depth: int = 0) -> str:
    """A MIME tree, mostly well formed, with the variations real clients produce."""
    maybe = rng.random
    subtype = rng.choice(
        ["mixed", "alternative", "related", "digest"] if maybe() < 0.1 else ["mixed"]
    )
    lines = [f'Content-Type: multipart/{subtype}; boundary="{boundary}"']
    if maybe() < 0.05:
        lines.append("Content-Transfer-Encoding: base64")
    lines.append("")
    if maybe() < 0.4:
        lines += rng.choice([[""], ["This is a multi-part message in MIME format."], ["a", ""]])
    for n in range(rng.randrange(1, 4)):
        lines.append(f"--{boundary}" + rng.choice(["", "", " ", "\t "]))
        if maybe() < 0.03:
            lines.append(f"--{boundary}")
        if depth < 2 and maybe() < 0.3:
            lines.append(_varied_multipart(rng, f"{boundary}.{n}", depth + 1))
            continue
        kind = "message/rfc822" if maybe() < 0.03 else rng.choice(["text/plain", "text/csv"])
        if maybe() < 0.15:
            lines.append("")  # no headers
        else:
            lines.append(f"Content-Type: {kind}; name=part{n}")
            if maybe() < 0.3:
                lines.append("Content-Transfer-Encoding: base64")
            if maybe() < 0.05:
                lines.append("this line is no header")
            lines.append("")
        body = rng.choice(
            [
                [],
                [""],
                [files.fake.sentence() for _ in range(rng.randrange(1, 30))],
                [f"x --{boundary}", f"--{boundary}x", f"--{boundary}--x", "-- ", "é"],
            ]
        )
        lines += body
    if maybe() < 0.9:
        lines.append(f"--{boundary}--" + rng.choice(["", " "]))
    if maybe() < 0.3:
        lines += rng.choice([[""], ["epilogue"], ["", "", "x"], [f"--{boundary}"]])
    return "\n".join(lines)


def test_generated_multipart_mail_is_read_as_the_library_reads_it():
    rng = random.Random(3)
    quick_ones = 0
    for _ in range(600):
        text = "From: a@northdown.gov.uk\n" + _varied_multipart(rng, rng.choice(["b", "=_x.y"]))
        text += rng.choice(["", "\n", "\n\n"])
        raw = text.encode("utf-8", "surrogateescape")
        if rng.random() < 0.5:
            raw = raw.replace(b"\n", b"\r\n")
        library = anatomy(parsed_by_the_library(raw))
        assert anatomy(ParsedMessage(raw, whole=True).message) == library, raw[:600]
        quick = multipart(raw)
        quick_ones += quick is not None
    assert quick_ones > 300  # most of them took the quick way


def test_a_large_attachment_is_read_as_the_library_reads_it():
    csv = files.csv_bytes(files.residents(3000), files.HEADER)
    raw = files.message_with({"list.csv": csv}, html="<p>The list is attached.</p>")
    library = anatomy(parsed_by_the_library(raw))
    assert multipart(raw) is not None
    assert anatomy(ParsedMessage(raw, whole=True).message) == library


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


_B64_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
# "\udce9": an 8-bit byte as the parser keeps it.
_B64_NOISE = ["=", "==", "\r\n", "\n", "\r", " ", "\t", "!", "-", ".", "\x00", "\udce9"]


def _base64_part(payload: str, cte: str = "base64") -> Message:
    part = Message()
    part["Content-Transfer-Encoding"] = cte
    part.set_payload(payload)
    return part


def test_an_attachments_bytes_are_the_ones_the_library_decodes():
    rng = random.Random(19)
    parts = []
    for size in (0, 1, 2, 3, 57, 1000, 200_000):  # whole, cut short, over every line width
        data = rng.randbytes(size)
        encoded = base64.encodebytes(data).decode()
        parts += [_base64_part(encoded), _base64_part(encoded.replace("\n", "\r\n"))]
        parts += [_base64_part(encoded.rstrip("=\n")), _base64_part(encoded[: len(encoded) // 2])]
        parts.append(_base64_part(encoded, "Base64"))
        parts.append(_base64_part(encoded, "quoted-printable"))
    for _ in range(20_000):  # damaged: stray characters, padding in the middle, 8-bit text
        text = "".join(
            rng.choice(_B64_ALPHABET) if rng.random() < 0.75 else rng.choice(_B64_NOISE)
            for _ in range(rng.randint(0, 40))
        )
        parts.append(_base64_part(text))
    multipart = Message()
    multipart.attach(_base64_part("QUJD"))
    parts.append(multipart)

    for part in parts:
        assert payload_bytes(part) == (part.get_payload(decode=True) or b""), part._payload
