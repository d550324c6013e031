"""Rich Text Format (.rtf), as case-management systems still export it, through
striprtf: the text a reader sees, table cells kept apart so tables stay tables."""

from __future__ import annotations

from mailguard.intake.budget import Budget


def read(data: bytes, budget: Budget) -> str:
    from striprtf.striprtf import rtf_to_text  # imported here: only .rtf mail pays

    budget.tick()
    # RTF is 7-bit by definition; anything else is escaped (\'e9, \u233).
    text = rtf_to_text(data.decode("latin-1"), errors="ignore")
    budget.spend(len(text))
    # striprtf ends each cell with "|": a row becomes "a|b|c|", a line texttables reads.
    return "\n".join(line.rstrip("|") for line in text.splitlines())
