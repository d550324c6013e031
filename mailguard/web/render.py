"""A held message as a reviewer may safely see it.

Nothing in it is ever executed or fetched: text is escaped by the templates; HTML is
cleaned (no scripts, styles, images, forms or remote references) and, on top of
that, served on its own URL with a CSP that forbids everything and inside a
sandboxed iframe. Attachments are listed, never opened.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.header import decode_header, make_header
from email.message import Message

import nh3

from mailguard.intake.extract import decoded_text, html_to_text
from mailguard.intake.mime import ParsedMessage, repair_utf8

# Bidi overrides and control characters: "invoice\u202efdp.exe" must not read as a PDF.
_DISGUISE = re.compile("[\u0000-\u0008\u000b-\u001f\u007f\u200e\u200f\u202a-\u202e\u2066-\u2069]")
SHOWN_HEADERS = ("From", "To", "Cc", "Reply-To", "Subject", "Date", "Message-ID")
MAX_BODY = 200_000  # characters shown; a reviewer does not need more to decide

# What survives cleaning: structure and emphasis, links that cannot be followed
# anywhere dangerous. No img: a remote image is a read receipt for whoever sent it.
_TAGS = {
    "a", "b", "blockquote", "br", "caption", "code", "div", "em", "h1", "h2", "h3", "h4",
    "hr", "i", "li", "ol", "p", "pre", "s", "small", "span", "strong", "sub", "sup",
    "table", "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul",
}  # fmt: skip
_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan", "rowspan"}}


@dataclass(frozen=True, slots=True)
class Attachment:
    name: str
    content_type: str
    size: int


@dataclass(frozen=True, slots=True)
class MessageView:
    headers: tuple[tuple[str, str], ...]
    text: str  # the plain text body (or the HTML body as text when there is no plain one)
    has_html: bool
    attachments: tuple[Attachment, ...]
    cut: str | None = None  # why part of it is not shown (nested too deeply, ...)


def view_of(raw: bytes) -> MessageView:
    parsed = ParsedMessage(raw)
    message = parsed.message
    headers = tuple(
        (name, _header_text(value)) for name in SHOWN_HEADERS for value in message.get_all(name, [])
    )
    text, html = "", ""
    attachments: list[Attachment] = []
    for part in message.walk():
        if part.is_multipart():
            continue
        filename = _filename(part)
        ctype = part.get_content_type()
        if filename or part.get_content_disposition() == "attachment":
            size = len(part.get_payload(decode=True) or b"")
            attachments.append(Attachment(_header_text(filename or "(unnamed)"), ctype, size))
        elif ctype == "text/plain" and not text:
            text = decoded_text(part)
        elif ctype == "text/html" and not html:
            html = decoded_text(part)
    if not text and html:
        text = html_to_text(html)
    return MessageView(
        headers, text[:MAX_BODY], bool(html), tuple(attachments), parsed.structure_problem
    )


def safe_html(raw: bytes) -> str:
    """The HTML body, cleaned; a plain-text body becomes escaped preformatted text."""
    message = ParsedMessage(raw).message
    html = next(
        (
            decoded_text(p)
            for p in message.walk()
            if p.get_content_type() == "text/html" and not p.get_filename()
        ),
        "",
    )
    cleaned = nh3.clean(
        html[: MAX_BODY * 4],
        tags=_TAGS,
        attributes=_ATTRIBUTES,
        url_schemes={"mailto"},
        url_relative="deny",  # //evil.example and \\evil\x are links elsewhere too
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )
    return f"<!doctype html><meta charset=utf-8><body>{cleaned}</body>"


def _filename(part: Message) -> str | None:
    """The attachment's name as sent: raw UTF-8 names are read as UTF-8, not as "?"."""
    for name, value in part.raw_items():
        if name.lower() in ("content-disposition", "content-type"):
            probe = Message()
            probe[name] = repair_utf8(str(value))
            found = (
                probe.get_filename() if name.lower() != "content-type" else probe.get_param("name")
            )
            if isinstance(found, str) and found:
                return found
    return part.get_filename()


def _header_text(value: object) -> str:
    raw = repair_utf8(str(value))  # raw 8-bit header bytes are UTF-8 (RFC 6532)
    try:
        text = str(make_header(decode_header(raw)))
    except Exception:
        text = raw
    return " ".join(_DISGUISE.sub("", text).split())
