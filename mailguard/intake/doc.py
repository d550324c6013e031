"""Legacy Word (.doc, Word 97 to 2003): the document's text, from its piece table, and
apart from it what a reader of the document does not see.

The text lives in the ``WordDocument`` stream in pieces; where each piece is and
whether it is 8-bit (cp1252) or UTF-16 is in the piece table (the CLX) of the
``0Table`` or ``1Table`` stream, found through the FIB (MS-DOC 2.5, 2.9.38). Field
codes are dropped and their results kept; table cells become tab-separated lines.

Character formatting is in the CHPX pages (MS-DOC 2.8.6, 2.9.33): byte ranges of the
``WordDocument`` stream with the property changes (sprms) that apply to them. Text
marked as a tracked deletion, hidden or white is set apart: a "redaction" done that
way still sends the words. Comments stay with the text, as Word shows them in the
margin (and as ``.docx`` comments are read). The style sheet is not read, so text
hidden or white only through its style is read as seen; nor is formatting that a fast
save left in the piece table itself (a piece's Prm).
"""

from __future__ import annotations

import bisect
import re
import struct
from dataclasses import dataclass

from mailguard.intake import redaction
from mailguard.intake.budget import Budget, Uninspectable

_MAGIC = 0xA5EC
_ENCRYPTED = 0x0100
_WHICH_TABLE = 0x0200
_COMPRESSED = 0x40000000
_FIELD = re.compile("\x13[^\x13\x14\x15]*\x14([^\x13\x14\x15]*)\x15|\x13[^\x13\x14\x15]*\x15")
_UNSEEN_RUN = re.compile(rb"\x01+|\x02+|\x03+")  # one kind at a time

# Character sprms (MS-DOC 2.6.1) that take text out of the reader's sight.
_DELETED = 0x0800  # sprmCFRMarkDel: a tracked deletion
_VANISH = 0x083C  # sprmCFVanish: hidden text
_ICO = 0x2A42  # sprmCIco: a colour from the 16-colour palette, 8 is white
_CV = 0x6870  # sprmCCv: a COLORREF (red, green, blue, fAuto)
_WHITE_ICO = 8
_WHITE_CV = b"\xff\xff\xff\x00"
# Operand sizes by spra (the top 3 bits of a sprm); 6 is a length byte then the bytes.
_OPERAND = {0: 1, 1: 1, 2: 2, 3: 4, 4: 2, 5: 2, 7: 3}
# Paragraph and table sprms whose length is not in spra; never in character runs, so
# meeting one ends the reading of that run's properties.
_SPECIAL = {0xD608, 0xC615}
_PAGE = 512


@dataclass(frozen=True, slots=True)
class Document:
    text: str  # what the reader sees, comments included
    # Tracked deletions, hidden and white text, by kind (``redaction.DELETED`` ...):
    # one run a line.
    hidden: dict[str, str]


_KINDS = {1: redaction.DELETED, 2: redaction.HIDDEN, 3: redaction.WHITE}


def read(data: bytes, budget: Budget) -> Document:
    import olefile

    try:
        ole = olefile.OleFileIO(data)
    except Exception:
        raise Uninspectable("not a readable Word document", structural=False) from None
    try:
        word = _stream(ole, "WordDocument", budget)
        if len(word) < 0x1AA:
            raise _damaged()
        ident, flags = struct.unpack_from("<H", word, 0)[0], struct.unpack_from("<H", word, 0x0A)[0]
        if ident != _MAGIC:
            raise Uninspectable("not a Word 97-2003 document", structural=False)
        if flags & _ENCRYPTED:
            raise Uninspectable("encrypted (password protected)", structural=False)
        table_name = "1Table" if flags & _WHICH_TABLE else "0Table"
        if not ole.exists(table_name):
            raise _damaged()
        table = _stream(ole, table_name, budget)
        fc_clx, lcb_clx = struct.unpack_from("<II", word, 0x1A2)
        unseen = _unseen(word, table, budget)
        text, mask = _pieces(word, table[fc_clx : fc_clx + lcb_clx], unseen, budget)
    except (struct.error, OSError, IndexError):
        raise _damaged() from None
    finally:
        ole.close()
    return _split(text, mask)


def _stream(ole: object, name: str, budget: Budget) -> bytes:
    budget.spend(ole.get_size(name))  # type: ignore[attr-defined]
    return ole.openstream(name).read()  # type: ignore[attr-defined]


def _damaged() -> Uninspectable:
    return Uninspectable("a damaged Word document", structural=False)


def _unseen(word: bytes, table: bytes, budget: Budget) -> list[tuple[int, int, int]]:
    """Byte ranges of the ``WordDocument`` stream whose characters the reader does not
    see, with their kind (1 deleted, 2 hidden, 3 white), sorted, none overlapping.

    From the PlcBteChpx (FIB ``fcPlcfBteChpx`` at 0xFA): n+1 FCs, then n page numbers
    of 512-byte ChpxFkp pages in the ``WordDocument`` stream."""
    fc, lcb = struct.unpack_from("<II", word, 0xFA)
    if lcb == 0:
        return []
    if lcb < 12 or (lcb - 4) % 8 or fc + lcb > len(table):
        raise _damaged()
    count = (lcb - 4) // 8
    pages = struct.unpack_from(f"<{count}I", table, fc + 4 * (count + 1))
    ranges: list[tuple[int, int, int]] = []
    for pn in sorted({p & 0x3FFFFF for p in pages}):  # a page named twice is read once
        budget.tick()
        at = pn * _PAGE
        if at + _PAGE > len(word):
            raise _damaged()
        ranges.extend(_fkp(word[at : at + _PAGE]))
    ranges.sort()
    merged: list[tuple[int, int, int]] = []
    for start, end, kind in ranges:
        if merged and start <= merged[-1][1]:
            first, last, was = merged[-1]
            if kind == was:
                merged[-1] = (first, max(end, last), kind)
                continue
            start = last  # pages that overlap: the first one read wins
            if end <= start:
                continue
        merged.append((start, end, kind))
    return merged


def _fkp(page: bytes) -> list[tuple[int, int, int]]:
    """The unseen runs of one ChpxFkp: crun (the last byte) runs, rgfc[crun+1] then
    rgb[crun], each a word offset to a Chpx (a length byte, then the sprms)."""
    crun = page[511]
    if 4 * (crun + 1) + crun > 511:  # more runs than a page holds
        raise _damaged()
    fcs = struct.unpack_from(f"<{crun + 1}I", page)
    out = []
    for i in range(crun):
        offset = 2 * page[4 * (crun + 1) + i]
        if offset == 0:  # no properties: the defaults, seen
            continue
        end = offset + 1 + page[offset]
        if end > 511:
            raise _damaged()
        kind = _kind(page[offset + 1 : end])
        if kind and fcs[i] < fcs[i + 1]:
            out.append((fcs[i], fcs[i + 1], kind))
    return out


def _kind(grpprl: bytes) -> int:
    """Whether these character properties keep the text from the reader: 0 no, 1 a
    tracked deletion, 2 hidden, 3 white. A toggle is 0 off, 1 on, 0x80 as the style and
    0x81 opposite to it; the style sheet is not read, so 0x81 counts as on, 0x80 as off."""
    deleted = vanish = white = False
    at = 0
    while at + 2 <= len(grpprl):
        (sprm,) = struct.unpack_from("<H", grpprl, at)
        at += 2
        if sprm in _SPECIAL:
            break
        spra = sprm >> 13
        if spra == 6:
            if at >= len(grpprl):
                break
            size = grpprl[at] + 1
        else:
            size = _OPERAND[spra]
        operand = grpprl[at : at + size]
        at += size
        if len(operand) < size:  # cut short: the rest is not read
            break
        if sprm == _DELETED:
            deleted = operand[0] in (1, 0x81)
        elif sprm == _VANISH:
            vanish = operand[0] in (1, 0x81)
        elif sprm == _ICO:
            white = operand[0] == _WHITE_ICO
        elif sprm == _CV:
            white = operand == _WHITE_CV
    return 1 if deleted else 2 if vanish else 3 if white else 0


def _pieces(
    word: bytes, clx: bytes, unseen: list[tuple[int, int, int]], budget: Budget
) -> tuple[str, bytes]:
    """The text, and beside it one byte a character: 0 where the reader sees it, else the
    kind of unseen run it is in."""
    at = 0
    while at < len(clx) and clx[at] == 0x01:  # Prc: property modifiers, skipped
        (size,) = struct.unpack_from("<H", clx, at + 1)
        at += 3 + size
    if at >= len(clx) or clx[at] != 0x02:
        raise Uninspectable("a damaged Word document (no piece table)", structural=False)
    (lcb,) = struct.unpack_from("<I", clx, at + 1)
    plc = clx[at + 5 : at + 5 + lcb]
    count = (len(plc) - 4) // 12
    cps = struct.unpack_from(f"<{count + 1}I", plc, 0)
    ends = [end for _, end, _ in unseen]
    text: list[str] = []
    mask: list[bytes] = []
    for i in range(count):
        budget.tick()
        (fc,) = struct.unpack_from("<I", plc, 4 * (count + 1) + 8 * i + 2)
        chars = cps[i + 1] - cps[i]
        if chars <= 0:
            continue
        if fc & _COMPRESSED:  # 8-bit text at half the offset
            start, width, encoding = (fc & ~_COMPRESSED) // 2, 1, "cp1252"
        else:
            start, width, encoding = fc, 2, "utf-16-le"
        stop = start + chars * width
        # Cut the piece where its characters turn from seen to unseen and back.
        j = bisect.bisect_right(ends, start)
        at = start
        while at < stop:
            budget.tick()
            kind = 0
            if j < len(unseen) and unseen[j][0] <= at:
                kind, cut = unseen[j][2], min(stop, unseen[j][1])
                j += 1
            else:
                cut = min(stop, unseen[j][0]) if j < len(unseen) else stop
            cut = at + -(-max(cut - at, 0) // width) * width  # whole characters
            part = word[at:cut].decode(encoding, "replace")
            text.append(part)
            mask.append(bytes((kind,)) * len(part))
            at = cut
        budget.spend(chars)
    return "".join(text), b"".join(mask)


def _split(text: str, mask: bytes) -> Document:
    """Field codes dropped (their results kept) from the whole, then the seen text apart
    from the unseen runs."""
    for _ in range(8):  # nested fields, innermost first
        kept: list[tuple[int, int]] = []
        last = 0
        for m in _FIELD.finditer(text):
            kept.append((last, m.start()))
            if m.group(1) is not None:
                kept.append(m.span(1))
            last = m.end()
        if not kept:
            break
        kept.append((last, len(text)))
        text = "".join(text[a:b] for a, b in kept)
        mask = b"".join(mask[a:b] for a, b in kept)
    seen: list[str] = []
    unseen: dict[str, list[str]] = {}
    last = 0
    for m in _UNSEEN_RUN.finditer(mask):
        seen.append(text[last : m.start()])
        run = _clean(text[m.start() : m.end()])
        if run.strip():
            unseen.setdefault(_KINDS[mask[m.start()]], []).append(run)
        last = m.end()
    seen.append(text[last:])
    return Document(_clean("".join(seen)), {k: "\n".join(v) for k, v in unseen.items()})


def _clean(text: str) -> str:
    """Cells as tabs, paragraphs as lines, other control characters as spaces."""
    # A cell ends with \x07, a row with one more: "a\x07b\x07\x07" is the row "a<tab>b".
    text = text.replace("\x07\x07", "\n").replace("\x07", "\t").replace("\r", "\n")
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", " ", text)
