"""Well-formed mail parsed as ``email``'s feed parser parses it, without its loop over
every line.

The feed parser reads a body line by line through generators, testing each line against
every open boundary: half a 4 KB letter's parse, and 2 ms of a message with a 200 KB
attachment. Here the header blocks are still parsed by the library; bodies are cut at
the blank line and at boundary lines found with ``str.find``. Whatever the parser reads
its own way (a defect, a lone CR, a message/* or digest part, a doubled or missing
boundary) gives None, and the caller has the library parse the message.
tests/unit/test_mime.py holds both to the library on odd and generated mail.
"""

from __future__ import annotations

import email.policy
import re
from dataclasses import dataclass
from email.message import Message
from email.parser import Parser
from itertools import pairwise
from typing import AnyStr

_POLICY = email.policy.compat32


def header_block(raw: bytes) -> bytes:
    """The headers up to the first empty line: the parser would read the rest as the
    body anyway, decoding and keeping all of a 20 MB message to give its headers."""
    end = _blank_line(raw, 0, len(raw))
    return raw if end < 0 else raw[: end + 1]


# The line ending before the first empty line: one search finds the first of either
# kind (a CRLF message has no LF LF to look for to its end, nor an LF one CR LF).
_BLANK = re.compile(r"\n\r?\n")
_BLANK_BYTES = re.compile(rb"\n\r?\n")


def _blank_line(text: AnyStr, start: int, end: int) -> int:
    found = (_BLANK if isinstance(text, str) else _BLANK_BYTES).search(text, start, end)
    return -1 if found is None else found.start()


def single_part(raw: bytes) -> Message | None:
    """A message that is not multipart or message/*: its headers, then everything after
    the blank line as the payload."""
    text = raw.decode("ascii", "surrogateescape")  # as BytesParser reads it
    try:
        message, body = _headers(text, 0, len(text))
    except _Declined:
        return None
    if text.count("\r", 0, body) != text.count("\r\n", 0, body):
        return None  # the parser also ends a line at a lone CR
    if message.get_content_maintype() in ("multipart", "message"):
        return None
    message.set_payload(text[body:])
    return message


def multipart(raw: bytes) -> Message | None:
    """A multipart message whose every part is multipart or a leaf (not message/*)."""
    if raw.count(b"\r") != raw.count(b"\r\n"):
        return None  # the parser also ends a line at a lone CR
    text = raw.decode("ascii", "surrogateescape")  # as BytesParser reads it
    try:
        message, body = _headers(text, 0, len(text))
        if message.get_content_maintype() != "multipart":
            return None
        _multipart(message, text, body, len(text))
    except _Declined:
        return None
    return message


class _Declined(Exception):
    """Something the library's parser reads its own way."""


@dataclass(frozen=True, slots=True)
class _Delimiter:
    start: int  # where the line begins
    end: int  # where the next line begins
    close: bool


def _headers(text: str, start: int, end: int) -> tuple[Message, int]:
    """A part's header block, parsed by the library, and where its body begins."""
    for blank in ("\r\n", "\n"):
        if text.startswith(blank, start, end):  # no headers: the part is text/plain
            return Message(policy=_POLICY), start + len(blank)
    blank = _blank_line(text, start, end)
    last = end if blank < 0 else blank + 1
    message = Parser(policy=_POLICY).parsestr(text[start:last], headersonly=True)
    if message.defects or message._payload:  # get_payload() could decode, and raise
        raise _Declined  # a line that is not a header: the body began before the blank line
    body = end if blank < 0 else last + (2 if text.startswith("\r\n", last, end) else 1)
    message.set_payload(None)
    return message, body


def _multipart(message: Message, text: str, start: int, end: int) -> None:
    """Reads the parts between ``start`` and ``end`` into ``message``."""
    if message.get_content_type() == "multipart/digest":
        raise _Declined  # its parts default to message/rfc822
    boundary = message.get_boundary()
    if boundary is None or "\r" in boundary or "\n" in boundary:
        raise _Declined  # no delimiter line can hold a line break
    encoding = str(message.get("content-transfer-encoding", "8bit")).lower()
    if encoding not in ("7bit", "8bit", "binary"):
        raise _Declined  # a defect
    delimiters = _delimiters(text, "--" + boundary, start, end)
    if not delimiters or delimiters[0].close or not delimiters[-1].close:
        raise _Declined  # no opening or no closing delimiter: defects
    first, close = delimiters[0], delimiters[-1]
    if first.start > start:  # the last line ending belongs to the delimiter (RFC 2046)
        message.preamble = _chomped(text[start : first.start])
    for opening, closing in pairwise(delimiters):
        if closing.start == opening.end:
            raise _Declined  # the parser skips a delimiter right after another
        part, body = _headers(text, opening.end, closing.start)
        maintype = part.get_content_maintype()
        if maintype == "message":
            raise _Declined
        if maintype == "multipart":
            _multipart(part, text, body, closing.start)
            part.epilogue = None if part.epilogue == "" else _chomped(part.epilogue)
        else:
            part.set_payload(_chomped(text[body : closing.start]))
        message.attach(part)
    message.epilogue = text[close.end : end]


def _delimiters(text: str, dashed: str, start: int, end: int) -> list[_Delimiter]:
    """The boundary's delimiter lines, up to and including the first closing one: a
    line of ``--boundary``, ``--`` to close, then spaces or tabs."""
    found = []
    at = text.find(dashed, start, end)
    while at >= 0:
        newline = text.find("\n", at, end)
        line_end = end if newline < 0 else newline + 1
        if at == start or text[at - 1] == "\n":
            tail = text[at + len(dashed) : line_end].rstrip("\r\n")
            close = tail.startswith("--")
            if not (tail[2:] if close else tail).strip(" \t"):
                found.append(_Delimiter(at, line_end, close))
                if close:
                    break
        at = text.find(dashed, line_end, end)
    return found


def _chomped(text: str) -> str:
    """Without its last line ending."""
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text
