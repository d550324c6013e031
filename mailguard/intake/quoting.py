"""Where a reply's own words end and the thread it quotes or forwards begins.

A reply to a contractor that carries the whole internal thread underneath, with a
resident's diagnosis in it, is a classic council breach: the sender reads only what
they typed. The thread starts at "On ... wrote:", "-----Original Message-----",
Outlook's "From: / Sent: / To: / Subject:" block (also what HTML replies become once
their ``divRplyFwdMsg`` and ``blockquote`` are turned into text), a "Forwarded
message" line, or lines quoted with ``>``.
"""

from __future__ import annotations

import re

# A line where the quoted or forwarded thread may begin (cheap, also for detectors
# that only need to know whether there is a thread).
THREAD = re.compile(
    r"^[ \t]*(?:>|from:[ \t]|-{2,}[ \t]*(?:original|forwarded)[ \t]message"
    r"|begin forwarded message|on .{4,300}wrote:)",
    re.IGNORECASE | re.MULTILINE,
)
_MARKER = re.compile(
    r"^[ \t]*(?:-{2,}[ \t]*(?:original|forwarded)[ \t]message[ \t]*-*"
    r"|begin forwarded message:?|on [^\n]{4,300}?wrote:"
    r"|on [^\n]{4,200}\n[^\n]{0,120}wrote:)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_OUTLOOK_FROM = re.compile(r"^[ \t]*\*?from:\*?[ \t]+\S", re.IGNORECASE | re.MULTILINE)
_OUTLOOK_NEXT = re.compile(r"^[ \t]*\*?(?:sent|date|to|subject|cc):\*?[ \t]", re.IGNORECASE)
ADDRESS = re.compile(r"[\w.+'-]+@[\w-]+(?:\.[\w-]+)+")


def split(text: str) -> tuple[str, str]:
    """(the writer's own text, the quoted or forwarded thread); the second is ``""``
    when there is none."""
    text = text.replace("\r\n", "\n")
    # Words each pattern cannot match without, looked for first: a pattern that starts
    # with ``^`` is tried at every character. Only for ASCII text, where a lowercased
    # word is what IGNORECASE matches (it also takes U+0131 for "i" and U+017F for "s").
    low = text.lower() if text.isascii() else None
    marker = low is None or "wrote:" in low or "forwarded" in low or "original" in low
    starts = [m.start() for m in _MARKER.finditer(text)][:1] if marker else []
    outlook = low is None or "from:" in low
    for m in _OUTLOOK_FROM.finditer(text) if outlook else ():
        following = text[m.end() :].split("\n")[1:6]
        if sum(1 for line in following if _OUTLOOK_NEXT.match(line)) >= 2:
            starts.append(m.start())
            break
    if starts:
        cut = min(starts)
        return text[:cut], text[cut:]
    if ">" not in text:
        return text, ""
    lines = text.split("\n")
    quoted = [line for line in lines if line.lstrip().startswith(">")]
    if len(quoted) < 2:
        return text, ""
    own = [line for line in lines if not line.lstrip().startswith(">")]
    return "\n".join(own), "\n".join(line.lstrip()[1:] for line in quoted)
