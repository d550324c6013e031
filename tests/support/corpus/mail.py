"""Composing messages the way Outlook, Gmail and the council's systems write them."""

from __future__ import annotations

import base64
import datetime as dt
import email.utils
import hashlib
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from email import encoders, message_from_bytes
from email.charset import QP, Charset
from email.header import Header
from email.message import Message
from email.mime.base import MIMEBase
from email.mime.message import MIMEMessage
from email.mime.multipart import MIMEMultipart
from email.mime.text import MIMEText
from html import escape

# A body is a list of blocks: ("p", text) paragraphs; ("lines", text) text kept line by
# line (an address, a pasted list); ("table", rows) a table (HTML table, or tab-separated
# lines in plain text); ("sig", text); ("small", text) a disclaimer; ("quote", Quote).
Block = tuple[str, object]


@dataclass
class Quote:
    """An earlier message under a reply or forward."""

    sender: tuple[str, str]
    to: Sequence[tuple[str, str]]
    date: dt.datetime
    subject: str
    blocks: list[Block]
    forward: bool = False
    style: str = "outlook"  # outlook | gmail


@dataclass
class Attachment:
    filename: str
    data: bytes | str
    mimetype: str = ""
    inline_calendar: bool = False


MIMETYPES = {
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "csv": "text/csv",
    "txt": "text/plain",
    "ics": "text/calendar",
    "eml": "message/rfc822",
    "png": "image/png",
}


def mimetype(filename: str) -> str:
    return MIMETYPES.get(filename.rsplit(".", 1)[-1].lower(), "application/octet-stream")


def fmt_addr(name: str, addr: str) -> str:
    return email.utils.formataddr((name, addr)) if name else addr


def rfc_date(when: dt.datetime) -> str:
    return email.utils.format_datetime(when)


# --- rendering ------------------------------------------------------------------------


def render_plain(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for kind, value in blocks:
        if kind == "table":
            out.append("\n".join("\t".join(str(c) for c in row) for row in value))  # type: ignore[union-attr]
        elif kind == "quote":
            out.append(_plain_quote(value))  # type: ignore[arg-type]
        else:
            out.append(str(value))
    return "\n\n".join(out).rstrip() + "\n"


def _plain_quote(q: Quote) -> str:
    inner = render_plain(q.blocks).rstrip("\n")
    to = "; ".join(fmt_addr(n, a) for n, a in q.to)
    if q.forward and q.style == "gmail":
        return (
            f"---------- Forwarded message ---------\nFrom: {fmt_addr(*q.sender)}\nDate: "
            f"{q.date:%a, %d %b %Y at %H:%M}\nSubject: {q.subject}\nTo: {to}\n\n{inner}"
        )
    if q.style == "gmail":
        head = f"On {q.date:%a, %d %b %Y} at {q.date:%H:%M}, {q.sender[0]} <{q.sender[1]}> wrote:"
        return head + "\n" + "\n".join(("> " + line) if line else ">" for line in inner.split("\n"))
    return (
        f"________________________________\nFrom: {fmt_addr(*q.sender)}\nSent: "
        f"{q.date:%d %B %Y %H:%M}\nTo: {to}\nSubject: {q.subject}\n\n{inner}"
    )


def render_html(blocks: Sequence[Block]) -> str:
    out = [
        '<html><head><meta http-equiv="Content-Type" content="text/html; charset=utf-8">'
        "<style>p.MsoNormal{margin:0cm;font-size:11pt;font-family:Calibri,sans-serif}</style>"
        '</head><body lang="EN-GB"><div class="WordSection1">'
    ]
    out.append(_html_blocks(blocks))
    out.append("</div></body></html>")
    return "".join(out)


def _html_text(text: str) -> str:
    return "<br>".join(escape(line) for line in text.split("\n"))


def _html_blocks(blocks: Sequence[Block]) -> str:
    out: list[str] = []
    for kind, value in blocks:
        if kind == "table":
            rows = list(value)  # type: ignore[call-overload]
            cells = []
            for i, row in enumerate(rows):
                tag = "th" if i == 0 else "td"
                cells.append(
                    "<tr>" + "".join(f"<{tag}>{escape(str(c))}</{tag}>" for c in row) + "</tr>"
                )
            out.append(
                '<table border="1" cellspacing="0" cellpadding="3" '
                'style="border-collapse:collapse">'
                + "".join(cells)
                + "</table><p class=MsoNormal>&nbsp;</p>"
            )
        elif kind == "sig":
            out.append(
                '<div><p class=MsoNormal style="color:#1F3864;font-size:10pt">'
                + _html_text(str(value))
                + "</p></div>"
            )
        elif kind == "small":
            out.append(
                '<p class=MsoNormal style="font-size:7.5pt;color:#7F7F7F">'
                + _html_text(str(value))
                + "</p>"
            )
        elif kind == "quote":
            q: Quote = value  # type: ignore[assignment]
            to = "; ".join(fmt_addr(n, a) for n, a in q.to)
            head = (
                '<div style="border:none;border-top:solid #E1E1E1 1.0pt;padding:3.0pt 0cm 0cm 0cm">'
                f"<p class=MsoNormal><b>From:</b> {escape(fmt_addr(*q.sender))}<br><b>Sent:</b> "
                f"{q.date:%d %B %Y %H:%M}<br><b>To:</b> {escape(to)}<br><b>Subject:</b> "
                f"{escape(q.subject)}</p></div>"
            )
            if q.style == "gmail" and not q.forward:
                out.append(
                    '<div class="gmail_quote"><div dir="ltr" class="gmail_attr">On '
                    f"{q.date:%a, %d %b %Y}"
                    f" at {q.date:%H:%M}, {escape(q.sender[0])} &lt;{escape(q.sender[1])}&gt; "
                    "wrote:<br></div>"
                    '<blockquote class="gmail_quote" style="margin:0 0 0 .8ex;border-left:1px #ccc '
                    "solid;"
                    f'padding-left:1ex">{_html_blocks(q.blocks)}</blockquote></div>'
                )
            else:
                out.append(head + _html_blocks(q.blocks))
        else:
            out.append(
                "<p class=MsoNormal>" + _html_text(str(value)) + "</p><p class=MsoNormal>&nbsp;</p>"
            )
    return "".join(out)


# --- composing ------------------------------------------------------------------------


@dataclass
class Draft:
    sender: tuple[str, str]
    to: list[tuple[str, str]]
    subject: str
    blocks: list[Block]
    when: dt.datetime
    cc: list[tuple[str, str]] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    fmt: str | None = None  # plain | alternative | html; None: chosen at random
    headers: list[tuple[str, str]] = field(default_factory=list)
    in_reply_to: str | None = None
    client: str | None = None  # outlook | gmail | system | iphone


def message_id(rng: random.Random, domain: str, client: str) -> str:
    token = "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") for _ in range(32))
    if client == "outlook":
        return (
            f"<CWLP265MB{token[:10]}{token[10:24]}@CWLP265MB{token[24:]}.GBRP265.PROD.OUTLOOK.COM>"
        )
    if client == "gmail":
        return f"<CA+{token.lower()}{token[:10]}@mail.gmail.com>"
    return f"<{token.lower()}.{rng.randint(1000, 99999)}@{domain}>"


def _header(value: str) -> str:
    if value.isascii():
        return value
    return Header(value, "utf-8").encode()


_UTF8_QP = Charset("utf-8")
_UTF8_QP.body_encoding = QP


def _text_part(text: str, subtype: str) -> MIMEText:
    return MIMEText(text, subtype, "us-ascii" if text.isascii() else _UTF8_QP)  # type: ignore[arg-type]


def _boundary(rng: random.Random) -> str:
    return f"_{rng.getrandbits(64):016X}{rng.getrandbits(64):016X}_"


def compose(draft: Draft, rng: random.Random) -> Message:
    """The message as the sender's client would write it (compat32 MIME classes: the
    modern ``EmailMessage`` API is ten times slower, and the corpus needs thousands)."""
    client = draft.client or rng.choice(["outlook", "outlook", "outlook", "system"])
    fmt = draft.fmt or rng.choices(["plain", "alternative", "html"], [3, 6, 1])[0]
    plain = render_plain(draft.blocks)
    if fmt == "plain":
        body: Message = _text_part(plain, "plain")
    elif fmt == "html":
        body = _text_part(render_html(draft.blocks), "html")
    else:
        body = MIMEMultipart("alternative", boundary=_boundary(rng))
        body.attach(_text_part(plain, "plain"))
        body.attach(_text_part(render_html(draft.blocks), "html"))
    calendars = [a for a in draft.attachments if a.inline_calendar]
    files = [a for a in draft.attachments if not a.inline_calendar]
    for att in calendars:
        if not body.is_multipart():
            alt = MIMEMultipart("alternative", boundary=_boundary(rng))
            alt.attach(body)
            body = alt
        part = _text_part(str(att.data), "calendar")
        part.set_param("method", "REQUEST")
        body.attach(part)
    if files:
        msg: Message = MIMEMultipart("mixed", boundary=_boundary(rng))
        msg.attach(body)
        for att in files:
            msg.attach(_attachment(att))
    else:
        msg = body
    headers: list[tuple[str, str]] = [
        ("From", fmt_addr(*draft.sender)),
        (
            "To",
            ", ".join(fmt_addr(n, a) for n, a in draft.to)
            if draft.to
            else "undisclosed-recipients:;",
        ),
    ]
    if draft.cc:
        headers.append(("Cc", ", ".join(fmt_addr(n, a) for n, a in draft.cc)))
    headers.append(("Subject", _header(draft.subject)))
    headers.append(("Date", rfc_date(draft.when)))
    domain = draft.sender[1].rsplit("@", 1)[-1] or "anyshire.gov.uk"
    headers.append(("Message-ID", message_id(rng, domain, client)))
    if draft.in_reply_to:
        headers += [("In-Reply-To", draft.in_reply_to), ("References", draft.in_reply_to)]
    if client == "outlook":
        topic = draft.subject.removeprefix("RE: ").removeprefix("FW: ")
        digest = hashlib.sha1(draft.subject.encode()).digest()
        headers += [
            ("Thread-Topic", _header(topic)),
            ("Thread-Index", base64.b64encode(digest[:22]).decode()),
            ("Content-Language", "en-GB"),
            ("X-MS-Has-Attach", "yes" if files else ""),
            ("X-Mailer", "Microsoft Outlook 16.0"),
        ]
    elif client == "iphone":
        headers.append(("X-Mailer", "iPhone Mail (21F90)"))
    headers += draft.headers
    for part in msg.walk():
        if part is not msg:
            del part["MIME-Version"]
    # Headers first, in the order a client writes them, then the MIME ones.
    mime = list(msg.items())
    for k in list(msg.keys()):
        del msg[k]
    for k, v in headers:
        msg[k] = v
    if "MIME-Version" not in msg:
        msg["MIME-Version"] = "1.0"
    for k, v in mime:
        if k != "MIME-Version":
            msg[k] = v
    return msg


def _attachment(att: Attachment) -> Message:
    mtype = att.mimetype or mimetype(att.filename)
    maintype, subtype = mtype.split("/", 1)
    if maintype == "message":
        data = att.data if isinstance(att.data, bytes) else att.data.encode("utf-8")
        part: Message = MIMEMessage(message_from_bytes(data))
    elif isinstance(att.data, str):
        part = _text_part(att.data, subtype)
    else:
        part = MIMEBase(maintype, subtype, name=att.filename)
        part.set_payload(att.data)
        encoders.encode_base64(part)
    part.add_header("Content-Disposition", "attachment", filename=att.filename)
    return part


def to_bytes(msg: Message) -> bytes:
    return msg.as_bytes()
