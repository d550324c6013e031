"""Bytes to text as the recipient's software would read them.

In order: a byte-order mark (UTF-8, UTF-16 LE/BE, UTF-32 LE/BE; Excel's "Unicode
Text" export is UTF-16 LE with a BOM), UTF-16 without a BOM (every other byte NUL,
whatever the label says), a charset the MIME part declares, UTF-8, and finally
Windows-1252, which decodes any byte string.
"""

from __future__ import annotations

import codecs

_BOMS = (  # UTF-32 first: its little-endian BOM starts with UTF-16's
    (codecs.BOM_UTF32_LE, "utf-32-le"),
    (codecs.BOM_UTF32_BE, "utf-32-be"),
    (codecs.BOM_UTF8, "utf-8"),
    (codecs.BOM_UTF16_LE, "utf-16-le"),
    (codecs.BOM_UTF16_BE, "utf-16-be"),
)

# Codecs a charset= parameter may not select: not text encodings in any useful sense,
# or (punycode) slow enough on hostile input to use up the message's time budget.
_REFUSED = frozenset(
    {"idna", "punycode", "raw-unicode-escape", "unicode-escape", "undefined", "mbcs", "oem"}
)


def decode(data: bytes, declared: str | None = None) -> str:
    for bom, name in _BOMS:
        if data.startswith(bom):
            return data[len(bom) :].decode(name, "replace")
    codec = _codec(declared)
    if codec is None or not codec.startswith(("utf-16", "utf-32")):
        # Before the label: NUL-laden text "decodes" as UTF-8 or Latin-1 just as well.
        utf16 = _utf16_without_bom(data)
        if utf16 is not None:
            return data.decode(utf16, "replace")
    if codec is not None:
        try:
            return data.decode(codec)
        except (UnicodeDecodeError, LookupError, ValueError):
            pass  # a wrong label: what is it really?
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _codec(label: str | None) -> str | None:
    if not label:
        return None
    try:
        info = codecs.lookup(label.strip().strip("\"'"))
    except (LookupError, ValueError, TypeError):
        return None
    if info.name in _REFUSED or not getattr(info, "_is_text_encoding", True):
        return None
    return info.name


def _utf16_without_bom(data: bytes) -> str | None:
    """UTF-16 text in a Latin script has a NUL in every other byte."""
    sample = data[:4096]
    if len(sample) < 8 or len(sample) % 2:
        return None
    even = sample[0::2].count(0)
    odd = sample[1::2].count(0)
    half = len(sample) // 2
    if odd > half * 0.7 and even < half * 0.1:
        return "utf-16-le"
    if even > half * 0.7 and odd < half * 0.1:
        return "utf-16-be"
    return None
