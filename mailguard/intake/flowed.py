"""``format=flowed`` text (RFC 3676) as its reader's mail client shows it.

Thunderbird and others send plain text with long lines soft-wrapped: a line that
ends in a space continues on the next. Unwrapped, a pasted table row is one line
again, so it can be recognised as a row.
"""

from __future__ import annotations

import re

_QUOTES = re.compile(r"^>+")


def unflow(text: str, delsp: bool = False) -> str:
    out: list[str] = []
    joining = False  # the previous line was soft-wrapped
    depth_before = 0
    for raw in text.split("\n"):
        line = raw.rstrip("\r")
        m = _QUOTES.match(line)
        depth = len(m.group(0)) if m else 0
        content = line[depth:]
        if content.startswith(" "):
            content = content[1:]  # space-stuffing
        flowed = content.endswith(" ") and content != "-- "
        if flowed and delsp:
            content = content[:-1]
        if joining and depth == depth_before and out:
            out[-1] += content
        else:
            out.append(">" * depth + (" " if depth else "") + content)
        joining, depth_before = flowed, depth
    return "\n".join(out)
