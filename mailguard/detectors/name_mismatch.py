"""The greeting names someone other than the person the mail goes to.

"Dear Mrs Patel" to the only outside recipient, whom the display name or the
history knows as Sarah Jones: the wrong contact was picked, or the letter was
meant for someone else. Checked only when there is one outside recipient and we
know who they are; nicknames, initials and spelling variants are not mismatches.
"""

from __future__ import annotations

import re

from rapidfuzz import fuzz

from mailguard.detectors import DetectionContext
from mailguard.detectors._address import fold, initials, trust_of
from mailguard.intake.extract import opening_text
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Finding, Severity, domain_of

NAME = "name_mismatch"

_GREETING = re.compile(
    r"^(?:dear|hi|hello|hey|hiya|good\s+(?:morning|afternoon|evening)|morning|afternoon)"
    r"[\s,]+(?:(?P<title>mr|mrs|ms|miss|mx|dr|prof|cllr|councillor|sir|dame|rev)\.?\s+)?"
    r"(?P<first>[^\W\d_][\w'\u2019-]*)(?:\s+(?P<second>[^\W\d_][\w'\u2019-]*))?",
    re.IGNORECASE,
)
# Words that follow "Dear" but are not anyone's name.
_NOT_NAMES = frozenset(
    [
        "all",
        "applicant",
        "applicants",
        "both",
        "colleague",
        "colleagues",
        "committee",
        "councillor",
        "councillors",
        "customer",
        "customers",
        "everybody",
        "everyone",
        "folks",
        "friend",
        "friends",
        "guys",
        "madam",
        "manager",
        "member",
        "members",
        "neighbour",
        "neighbours",
        "panel",
        "parent",
        "parents",
        "partner",
        "partners",
        "resident",
        "residents",
        "sir",
        "sirs",
        "team",
        "there",
        "tenant",
        "tenants",
        "you",
    ]
)
# Display names that belong to an organisation, not a person.
_ORG_WORDS = re.compile(
    r"\b(council|trust|ltd|limited|plc|services?|team|housing|nhs|school|office|department"
    r"|association|group|centre|center|enquiries|info|admin|support|solicitors|llp)\b",
    re.IGNORECASE,
)
NICKNAMES = {
    "alex": {"alexander", "alexandra"},
    "andy": {"andrew"},
    "bill": {"william"},
    "bob": {"robert"},
    "charlie": {"charles", "charlotte"},
    "dave": {"david"},
    "ed": {"edward", "edmund"},
    "harry": {"henry", "harold"},
    "jack": {"john"},
    "jim": {"james"},
    "jimmy": {"james"},
    "kate": {"katherine", "catherine", "kathryn"},
    "katie": {"katherine", "catherine", "kathryn"},
    "liz": {"elizabeth"},
    "beth": {"elizabeth", "bethany"},
    "maggie": {"margaret"},
    "mike": {"michael"},
    "peggy": {"margaret"},
    "steve": {"stephen", "steven"},
    "sue": {"susan", "suzanne"},
    "ted": {"edward"},
    "tony": {"anthony"},
    "becky": {"rebecca"},
    "vicky": {"victoria"},
    "abby": {"abigail"},
    "dick": {"richard"},
    "rick": {"richard"},
    "peg": {"margaret"},
    "jenny": {"jennifer"},
}


def greeting_name(text: str) -> str | None:
    """The name the message opens with ("Dear Mrs Patel" → "Patel"), if any."""
    for line in _opening_lines(text):
        m = _GREETING.match(line)
        if not m:
            continue
        first, second = m.group("first"), m.group("second")
        if fold(first) in _NOT_NAMES or not first[0].isupper():
            return None
        rest = line[m.end() :].lstrip()
        if rest[:1] == "&" or rest[:4].lower() == "and ":
            return None  # "Dear Sarah and Tom": more than one person
        if second and (not second[0].isupper() or fold(second) in ("and", "all")):
            second = None
        if m.group("title"):
            return second or first  # "Dear Mrs Patel", "Dear Dr Sarah Jones"
        return first
    return None


def _opening_lines(text: str) -> list[str]:
    lines: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith(">") or line.lower().startswith(("from:", "-----original", "on ")):
            break  # the quoted thread begins: its greeting was for someone else
        lines.append(line)
        if len(lines) == 3:
            break
    return lines


def same_person(greeted: str, names: list[str]) -> bool:
    """Could ``greeted`` be what someone called by one of ``names`` is addressed as?"""
    g = fold(greeted)
    for name in names:
        for word in re.findall(r"[^\W\d_]+", fold(name)):
            if word == g or (len(word) == 1 and word == g[0]):
                return True  # an initial cannot contradict anything
            if len(g) >= 3 and len(word) >= 3 and (word.startswith(g) or g.startswith(word)):
                return True  # Chris / Christopher
            if word in NICKNAMES.get(g, ()) or g in NICKNAMES.get(word, ()):
                return True  # Bob / Robert
            if fuzz.ratio(g, word) >= 80:
                return True  # Sara / Sarah, Steven / Stephen
    return False


def known_names(address: str, shown: str, context: DetectionContext) -> tuple[list[str], str]:
    """Who the recipient is, and how we know: the display name, the history, the address."""
    candidates = [(shown, "display name")]
    profile = context.history
    if profile is not None:
        candidates.append((profile.names.get(address, ""), "history"))
    names = [(n, how) for n, how in candidates if n.strip() and not _ORG_WORDS.search(n)]
    if names:
        return [n for n, _ in names], names[0][1]
    local = address.rpartition("@")[0]
    parts = re.split(r"[._-]", local)
    if len(parts) == 2 and all(p.isalpha() and len(p) >= 2 for p in parts):
        return [" ".join(parts)], "address"  # sarah.jones@
    return [], ""


def detect(message: ParsedMessage, envelope: Envelope, context: DetectionContext) -> list[Finding]:
    outside = {
        r.lower() for r in envelope.rcpt_tos if trust_of(domain_of(r), context) != "internal"
    }
    if len(outside) != 1:
        return []
    (recipient,) = outside
    to = message.addresses("to")
    if [a.lower() for _, a in to] != [recipient]:
        return []  # the greeting may be for someone else in To
    names, how = known_names(recipient, to[0][0], context)
    if not names:
        return []  # we cannot tell who the recipient is, so nothing can contradict it
    greeted = greeting_name(opening_text(message.message))
    if greeted is None or same_person(greeted, names):
        return []
    detail = (
        f"greeting names {initials(greeted)} but the only outside recipient is"
        f" {initials(names[0])} (from the {how})"
    )
    return [Finding(NAME, NAME.upper(), 1, Severity.MEDIUM, "body", detail)]
