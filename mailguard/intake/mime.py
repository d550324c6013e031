"""Raw bytes to a parsed message, lazily.

Headers are parsed on first use and the body only when a detector asks for it, so a
relay with only cheap detectors never pays for a full MIME parse of a 50 MB message.
"""

from __future__ import annotations

import binascii
import email.feedparser as _feedparser
import email.policy
from collections.abc import Callable
from email.header import decode_header, make_header
from email.message import Message
from email.parser import BytesHeaderParser, BytesParser
from email.utils import getaddresses
from functools import cached_property
from typing import TypeVar

from mailguard.intake.quickparse import header_block, multipart, single_part
from mailguard.intake.structure import Bounded, bounded
from mailguard.model import Addressing


class _EndOfLineMatch:
    __slots__ = ("_text",)

    def __init__(self, text: str) -> None:
        self._text = text

    def group(self, index: int = 0) -> str:
        return self._text


class _EndOfLine:
    r"""The feed parser's ``(\r\n|\r|\n)\Z``, answered from the last two characters.

    It strips the line ending from each MIME part's payload with that regex, which the
    ``re`` engine tries at every character: 0.6 ms for a 200 KB attachment, twice per
    message. The parser calls only ``search(text).group(0)``;
    tests/unit/test_aiosmtpd_contract.py holds this to the regex."""

    pattern = _feedparser.NLCRE_eol.pattern

    def search(self, text: str) -> _EndOfLineMatch | None:
        if text.endswith("\r\n"):
            return _EndOfLineMatch("\r\n")
        if text.endswith(("\r", "\n")):
            return _EndOfLineMatch(text[-1])
        return None


_feedparser.NLCRE_eol = _EndOfLine()  # type: ignore[assignment]


def payload_bytes(part: Message) -> bytes:
    """``part.get_payload(decode=True) or b""``, with base64 decoded in one C call.

    The library joins the payload's lines before it decodes; for the 270 KB of a
    205 KB CSV attachment, inside a whole inspection, that took 0.6 ms where one
    ``a2b_base64`` over the lines as they are (line breaks skipped) takes 0.45.
    Where that call succeeds the bytes are the same
    (tests/unit/test_mime.py compares them); where it refuses (bad padding, 8-bit
    text) the library decides, as before.
    """
    payload = part._payload  # type: ignore[attr-defined]  # what get_payload reads
    if (
        isinstance(payload, str)
        and payload.isascii()
        and str(part.get("content-transfer-encoding", "")).lower() == "base64"
    ):
        try:
            return binascii.a2b_base64(payload.encode("ascii"))
        except binascii.Error:
            pass
    return part.get_payload(decode=True) or b""


# compat32: plain strings instead of header objects. Parsing is several times faster,
# and it never raises on malformed headers; we decode what we need ourselves.
_POLICY = email.policy.compat32
T = TypeVar("T")
_PARSE_WHOLE = 64 * 1024


def to_crlf(raw: bytes) -> bytes:
    """Files on disk usually have LF line endings; on the wire every line ends CRLF."""
    return raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


class ParsedMessage:
    """A message as detectors see it. The raw bytes are never modified."""

    def __init__(self, raw: bytes, *, whole: bool = False) -> None:
        self.raw = raw
        self.whole = whole  # the body will be read too: parse it with the headers
        self._addresses: dict[tuple[str, ...], list[tuple[str, str]]] = {}
        self._shared: dict[str, object] = {}

    def shared(self, key: str, make: Callable[[], T]) -> T:
        """What several detectors read (the extracted text) is worked out once."""
        if key not in self._shared:
            self._shared[key] = make()
        return self._shared[key]  # type: ignore[return-value]

    @cached_property
    def headers(self) -> Message:
        """When the body will be read (``whole``), a small message is parsed whole at
        once and the headers come with it for free; else the headers alone."""
        if self.whole and len(self.raw) <= _PARSE_WHOLE and self._bounded.raw is self.raw:
            return self.message
        return BytesHeaderParser(policy=_POLICY).parsebytes(header_block(self.raw))

    @cached_property
    def _bounded(self) -> Bounded:
        return bounded(self.raw)

    @cached_property
    def message(self) -> Message:
        """The MIME tree, cut where it grows too deep or too wide (``structure``)."""
        shape = self._bounded
        quick = single_part(shape.raw) if shape.single_part else multipart(shape.raw)
        return quick if quick is not None else BytesParser(policy=_POLICY).parsebytes(shape.raw)

    @property
    def structure_problem(self) -> str | None:
        """Why part of the message was left out of ``message``, if it was."""
        return self._bounded.problem

    def addresses(self, *names: str) -> list[tuple[str, str]]:
        """(display name, address) pairs from address headers, tolerant of junk.

        Works on the raw header text: the structured parser raises on some broken
        headers (``To: a@b.org, "``), and a broken header must never make a
        message uninspectable on every retry.
        """
        wanted = {n.lower() for n in names}
        values = tuple(_unfolded(v) for k, v in self.headers.raw_items() if k.lower() in wanted)
        # Keyed by what is parsed: several detectors ask for the same headers, and
        # "to" and "to, cc" are the same question when there is no Cc.
        cached = self._addresses.get(values)
        if cached is None:
            found = getaddresses(list(values))
            cached = [(_decoded(n), repair_utf8(a)) for n, a in found if a]
            self._addresses[values] = cached
        return list(cached)

    def addressing(self) -> Addressing:
        message_id = self.headers.get("Message-ID")
        return Addressing(
            tuple(self.addresses("to", "cc")), str(message_id) if message_id else None
        )


def _unfolded(value: object) -> str:
    return str(value).replace("\r\n", "").replace("\n", "")


def repair_utf8(text: str) -> str:
    """compat32 keeps raw 8-bit header bytes as surrogate escapes; RFC 6532 says UTF-8."""
    if text.isascii() or not any("\udc80" <= c <= "\udcff" for c in text):
        return text
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _decoded(text: str) -> str:
    text = repair_utf8(text)
    if "=?" not in text:
        return text
    try:
        return str(make_header(decode_header(text)))
    except Exception:
        return text
