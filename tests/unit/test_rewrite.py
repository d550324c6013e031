"""Header surgery: only what the action must change is changed."""

import email
import email.policy

from hypothesis import given, settings
from hypothesis import strategies as st

from mailguard.delivery import rewrite

INTERNAL = ["northdown.gov.uk"]

RAW = (
    b"Received: from a by b; Tue, 24 Nov 2026 10:00:00 +0000\r\n"
    b"From: Housing <housing@northdown.gov.uk>\r\n"
    b"To: =?utf-8?q?Zo=C3=AB_Ann?= <zoe@example.org>,\r\n"
    b'\tbob@example.net, "Colleague, A" <a.colleague@northdown.gov.uk>\r\n'
    b"Cc: carol@example.com, dept@housing.northdown.gov.uk\r\n"
    b"Subject: Rent =?utf-8?q?=C2=A3?= review\r\n"
    b"X-Mailguard-Verdict: pass\r\n"
    b"DKIM-Signature: v=1; a=rsa-sha256; d=northdown.gov.uk;\r\n"
    b"\tb=abc\r\n"
    b"\r\n"
    b"Body line one\r\n"
    b"\r\n"
    b"To: not a header, just body text\r\n"
)


def parse(raw: bytes):
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_bcc_keeps_internal_recipients_visible_and_nothing_else_changes():
    out = rewrite.to_bcc(RAW, internal_domains=INTERNAL, sender="housing@northdown.gov.uk")
    msg = parse(out)
    assert [a.addr_spec for a in msg["To"].addresses] == ["a.colleague@northdown.gov.uk"]
    assert msg["To"].addresses[0].display_name == "Colleague, A"
    assert [a.addr_spec for a in msg["Cc"].addresses] == ["dept@housing.northdown.gov.uk"]
    for gone in (b"zoe@example.org", b"bob@example.net", b"carol@example.com"):
        assert gone not in out.split(b"\r\n\r\n")[0]
    # Everything outside To/Cc is byte-identical, body included.
    assert out.endswith(RAW[RAW.index(b"\r\n\r\n") :])
    assert b"DKIM-Signature: v=1; a=rsa-sha256; d=northdown.gov.uk;\r\n\tb=abc\r\n" in out
    assert out.startswith(b"Received: from a by b;")


def test_bcc_with_only_external_recipients_shows_undisclosed_or_the_sender():
    raw = b"From: x@northdown.gov.uk\r\nTo: a@example.org, b@example.org\r\n\r\nhi\r\n"
    out = rewrite.to_bcc(raw, internal_domains=INTERNAL, sender="x@northdown.gov.uk")
    assert b"To: undisclosed-recipients:;\r\n" in out and b"example.org" not in out
    out = rewrite.to_bcc(
        raw, internal_domains=INTERNAL, sender="x@northdown.gov.uk", to_shows="sender"
    )
    assert parse(out)["To"] == "x@northdown.gov.uk"


def test_bcc_can_hide_internal_recipients_too():
    out = rewrite.to_bcc(
        RAW, internal_domains=INTERNAL, sender="h@northdown.gov.uk", keep_internal_visible=False
    )
    assert parse(out)["To"] == "undisclosed-recipients:;"
    assert parse(out)["Cc"] is None


def test_tag_replaces_forged_verdict_headers_and_prefixes_the_subject_once():
    out = rewrite.tag(RAW, "tag", ["r1", "r2"], "[EXTERNAL]")
    msg = parse(out)
    assert msg.get_all("X-Mailguard-Verdict") == ["tag"]
    assert msg["X-Mailguard-Rules"] == "r1, r2"
    assert msg["Subject"] == "[EXTERNAL] Rent £ review"
    again = rewrite.tag(out, "tag", ["r1"], "[EXTERNAL]")
    assert parse(again)["Subject"] == "[EXTERNAL] Rent £ review"


def test_split_gives_each_external_recipient_a_copy_showing_only_them():
    rcpts = ["zoe@example.org", "bob@example.net", "a.colleague@northdown.gov.uk", "hidden@bcc.org"]
    by_rcpt = {
        copy: parse(
            rewrite.split_copy(RAW, copy, internal_domains=INTERNAL, sender="h@northdown.gov.uk")
        )
        for copy in rewrite.split_plan(rcpts, INTERNAL)
    }
    assert set(by_rcpt) == {
        ("a.colleague@northdown.gov.uk",),
        ("zoe@example.org",),
        ("bob@example.net",),
        ("hidden@bcc.org",),
    }
    zoe = by_rcpt[("zoe@example.org",)]
    assert [a.addr_spec for a in zoe["To"].addresses] == ["zoe@example.org"]
    assert zoe["To"].addresses[0].display_name == "Zoë Ann"
    assert zoe["Cc"] is None
    assert by_rcpt[("hidden@bcc.org",)]["To"] == "hidden@bcc.org"
    internal = by_rcpt[("a.colleague@northdown.gov.uk",)]
    assert "example" not in str(internal["To"]) + str(internal["Cc"])


def test_a_message_without_to_gets_one():
    out = rewrite.to_bcc(b"From: x@y.org\r\n\r\nbody\r\n", internal_domains=INTERNAL, sender="")
    assert out.startswith(b"To: undisclosed-recipients:;\r\nFrom: x@y.org\r\n\r\nbody")


def test_utf8_addresses_survive_bcc_and_split():
    raw = (
        "From: x@northdown.gov.uk\r\nTo: Zoë <zoë@northdown.gov.uk>, józef@exämple.org\r\n"
        "Subject: hi\r\n\r\nbody\r\n"
    ).encode()
    out = rewrite.to_bcc(raw, internal_domains=INTERNAL, sender="x@northdown.gov.uk")
    assert "zoë@northdown.gov.uk".encode() in out and "józef".encode() not in out
    [_internal, external] = rewrite.split_plan(
        ["zoë@northdown.gov.uk", "józef@exämple.org"], INTERNAL
    )
    copy = rewrite.split_copy(raw, external, internal_domains=INTERNAL, sender="x")
    assert "To: józef@exämple.org\r\n".encode() in copy


def test_a_message_without_headers_is_not_rewritten_inside_its_body():
    raw = b"\r\nCc: this is body text\r\n"
    out = rewrite.to_bcc(raw, internal_domains=INTERNAL, sender="")
    assert out.endswith(raw) and out.startswith(b"To: undisclosed-recipients:;\r\n")


def test_non_ascii_subject_prefix_is_added_once_with_its_space():
    raw = b"Subject: =?utf-8?q?Caf=C3=A9?=\r\n\r\nx\r\n"
    once = rewrite.tag(raw, "tag", [], "[EXTERNÉ]")
    twice = rewrite.tag(once, "tag", [], "[EXTERNÉ]")
    assert parse(twice)["Subject"] == "[EXTERNÉ] Café"


def _visible(raw: bytes, field: str) -> list[tuple[str, str]]:
    """Who a reader's mail program shows in a field: (display name, address)."""
    header = parse(raw)[field]
    if header is None:
        return []
    return [
        (a.display_name, a.addr_spec.encode("utf-8", "surrogateescape").decode("utf-8"))
        for a in header.addresses
    ]


def test_a_display_name_that_looks_like_an_encoded_word_stays_one_name():
    """The outside review's case: a UTF-8 address made the name lose its quotes."""
    raw = (
        "From: x@northdown.gov.uk\r\nTo: a@example.org\r\n"
        'Cc: "=?x?= <a@gmail.com>, b@gmail.com, J" <jö@northdown.gov.uk>\r\n\r\nhi\r\n'
    ).encode()
    out = rewrite.to_bcc(raw, internal_domains=INTERNAL, sender="x@northdown.gov.uk")
    assert _visible(out, "Cc") == [("=?x?= <a@gmail.com>, b@gmail.com, J", "jö@northdown.gov.uk")]
    assert b"gmail.com>" not in out.split(b"\r\n\r\n")[0].replace(b'"=?x?= <a@gmail.com>', b"")


_NAME_CHARS = list(" \"\\(),.:;<>@[]=?!#'-_~") + list("AbZé€ł文") + ["=?", "?="]
_LOCAL = (
    st.lists(st.sampled_from(list("abcxyz019._-+é文")), min_size=1, max_size=8)
    .map("".join)
    .filter(lambda s: not s.startswith(".") and not s.endswith(".") and ".." not in s)
)
_MAILBOX = st.tuples(
    st.lists(st.sampled_from(_NAME_CHARS), max_size=12).map("".join),
    _LOCAL,
    st.sampled_from(["northdown.gov.uk", "housing.northdown.gov.uk", "example.org"]),
)


def _quoted_input(display: str, address: str) -> str:
    """How a careful mail client writes a mailbox: any name as a quoted string."""
    if not display:
        return address
    return '"' + display.replace("\\", "\\\\").replace('"', '\\"') + f'" <{address}>'


@settings(max_examples=300, deadline=None)
@given(to=st.lists(_MAILBOX, min_size=1, max_size=4), cc=st.lists(_MAILBOX, max_size=4))
def test_a_rewritten_header_parses_to_exactly_the_intended_mailboxes(to, cc):
    def header(mailboxes):
        return ", ".join(_quoted_input(n, f"{local}@{dom}") for n, local, dom in mailboxes)

    raw = f"From: x@northdown.gov.uk\r\nTo: {header(to)}\r\n"
    raw += f"Cc: {header(cc)}\r\n" if cc else ""
    raw = (raw + "Subject: s\r\n\r\nbody\r\n").encode()
    out = rewrite.to_bcc(raw, internal_domains=INTERNAL, sender="x@northdown.gov.uk")

    def intended(mailboxes):
        return [(" ".join(n.split()), f"{lo}@{d}") for n, lo, d in mailboxes if d != "example.org"]

    def shown(field):
        return [(" ".join(n.split()), a) for n, a in _visible(out, field)]

    assert shown("To") == intended(to)
    assert shown("Cc") == intended(cc)
    assert out.endswith(b"\r\n\r\nbody\r\n")
