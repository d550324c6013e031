"""Legacy Word (.doc, Word 97 to 2003): the document's text, from its piece table.

The text lives in the ``WordDocument`` stream in pieces; where each piece is and
whether it is 8-bit (cp1252) or UTF-16 is in the piece table (the CLX) of the
``0Table`` or ``1Table`` stream, found through the FIB (MS-DOC 2.5, 2.9.38). Field
codes are dropped and their results kept; table cells become tab-separated lines.
"""

from __future__ import annotations

import re
import struct

from mailguard.intake.budget import Budget, Uninspectable

_MAGIC = 0xA5EC
_ENCRYPTED = 0x0100
_WHICH_TABLE = 0x0200
_FIELD = re.compile("\x13[^\x13\x14\x15]*\x14([^\x13\x14\x15]*)\x15|\x13[^\x13\x14\x15]*\x15")


def read(data: bytes, budget: Budget) -> str:
    import olefile

    try:
        ole = olefile.OleFileIO(data)
    except Exception:
        raise Uninspectable("not a readable Word document", structural=False) from None
    try:
        word = _stream(ole, "WordDocument", budget)
        if len(word) < 0x1AA:
            raise Uninspectable("a damaged Word document", structural=False)
        ident, flags = struct.unpack_from("<H", word, 0)[0], struct.unpack_from("<H", word, 0x0A)[0]
        if ident != _MAGIC:
            raise Uninspectable("not a Word 97-2003 document", structural=False)
        if flags & _ENCRYPTED:
            raise Uninspectable("encrypted (password protected)", structural=False)
        table_name = "1Table" if flags & _WHICH_TABLE else "0Table"
        if not ole.exists(table_name):
            raise Uninspectable("a damaged Word document", structural=False)
        table = _stream(ole, table_name, budget)
        fc_clx, lcb_clx = struct.unpack_from("<II", word, 0x1A2)
        text = _pieces(word, table[fc_clx : fc_clx + lcb_clx], budget)
    except (struct.error, OSError, IndexError):
        raise Uninspectable("a damaged Word document", structural=False) from None
    finally:
        ole.close()
    return _clean(text)


def _stream(ole: object, name: str, budget: Budget) -> bytes:
    budget.spend(ole.get_size(name))  # type: ignore[attr-defined]
    return ole.openstream(name).read()  # type: ignore[attr-defined]


def _pieces(word: bytes, clx: bytes, budget: Budget) -> str:
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
    out = []
    for i in range(count):
        budget.tick()
        (fc,) = struct.unpack_from("<I", plc, 4 * (count + 1) + 8 * i + 2)
        chars = cps[i + 1] - cps[i]
        if chars <= 0:
            continue
        if fc & 0x40000000:  # 8-bit text at half the offset
            start = (fc & ~0x40000000) // 2
            out.append(word[start : start + chars].decode("cp1252", "replace"))
        else:
            out.append(word[fc : fc + 2 * chars].decode("utf-16-le", "replace"))
        budget.spend(chars)
    return "".join(out)


def _clean(text: str) -> str:
    """Field codes dropped (their results kept), cells as tabs, paragraphs as lines."""
    for _ in range(8):  # nested fields, innermost first
        cleaned = _FIELD.sub(lambda m: m.group(1) or "", text)
        if cleaned == text:
            break
        text = cleaned
    # A cell ends with \x07, a row with one more: "a\x07b\x07\x07" is the row "a<tab>b".
    text = text.replace("\x07\x07", "\n").replace("\x07", "\t").replace("\r", "\n")
    return re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", " ", text)
