"""The greeting names someone other than the person the mail goes to.

"Dear Mrs Patel" to the only outside recipient, whom the display name or the
history knows as Sarah Jones: the wrong contact was picked, or the letter was
meant for someone else. Checked only when there is one outside recipient and we
know who they are; nicknames, initials and spelling variants are not mismatches.
"""

from __future__ import annotations

import re

from rapidfuzz.distance import JaroWinkler

from mailguard.detectors import DetectionContext, Detector
from mailguard.detectors.recipients.names import ROLE_WORDS, fold, initials, is_role
from mailguard.intake.extract import opening_text
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Finding, Severity

NAME = "name_mismatch"

_TITLES = (
    r"mr|mrs|ms|miss|mx|dr|doctor|prof|professor|cllr|councillor|sir|dame|rev|revd|reverend"
    r"|lord|lady|fr|father|sister|rabbi|imam"
)
_GREETING = re.compile(
    r"^(?:dear|hi|hello|hey|hiya|good\s+(?:morning|afternoon|evening)|morning|afternoon)"
    rf"[\s,]+(?:(?P<title>(?:{_TITLES})\.?(?:\s*/\s*(?:{_TITLES})\.?)?)\s+)?"
    r"(?P<first>[^\W\d_][\w'\u2019-]*)"
    r"(?P<gap>\s+(?P<second>[^\W\d_][\w'\u2019-]*))?(?P<after>\s*[,.!:;]|\s*$)?",
    re.IGNORECASE,
)
# Words that follow "Dear" but are not anyone's name (besides ROLE_WORDS).
_NOT_NAMES = frozenset(
    [
        "all",
        "applicant",
        "applicants",
        "both",
        "colleague",
        "colleagues",
        "committee",
        "councillors",
        "customers",
        "everybody",
        "everyone",
        "folks",
        "friend",
        "friends",
        "gentlemen",
        "guys",
        "ladies",
        "landlord",
        "madam",
        "member",
        "members",
        "neighbour",
        "neighbours",
        "occupier",
        "occupiers",
        "owner",
        "panel",
        "parent",
        "parents",
        "partner",
        "partners",
        "resident",
        "residents",
        "sir",
        "sirs",
        "tenant",
        "tenants",
        "there",
        "you",
    ]
)
_NAME_WORD = re.compile(r"[^\W\d_]+(?:['\u2019-][^\W\d_]+)*")

# Each set: forms of one name a person may be greeted by.
_VARIANTS = [
    {"alex", "alexander", "alexandra", "alec", "sandy"},
    {"andy", "andrew", "drew"},
    {"bill", "billy", "will", "william", "liam"},
    {"bob", "rob", "robbie", "robert", "bert"},
    {"charlie", "charles", "charlotte", "chas"},
    {"dave", "david", "davy"},
    {"ed", "eddie", "edward", "ted", "ned", "edmund"},
    {"harry", "henry", "hal", "harold"},
    {"jack", "john", "jon", "jonathan", "johnny"},
    {"jim", "jimmy", "james", "jamie"},
    {"kate", "katie", "kathy", "cathy", "catherine", "katherine", "kathryn", "cath", "kat"},
    {"liz", "lizzie", "beth", "betty", "eliza", "elizabeth", "libby"},
    {"maggie", "meg", "peggy", "peg", "margaret", "maisie"},
    {"mike", "mick", "micky", "michael"},
    {"steve", "steven", "stephen", "stevie"},
    {"sue", "susie", "susan", "suzanne", "susannah"},
    {"tony", "anthony", "antony"},
    {"becky", "becca", "rebecca"},
    {"vicky", "vicki", "victoria", "tori"},
    {"abby", "abbie", "abigail"},
    {"dick", "rick", "ricky", "rich", "richard", "richie"},
    {"jenny", "jen", "jennifer", "jenna"},
    {"tom", "tommy", "thomas"},
    {"jo", "joanne", "joanna", "josephine", "joe", "joseph", "joey", "josie"},
    {"mohammed", "muhammad", "mohammad", "mohamed", "muhammed", "mohamad", "mo"},
    {"sean", "shaun", "shawn"},
    {"geoff", "jeff", "geoffrey", "jeffrey", "jeffery"},
    {"pat", "patrick", "patricia", "paddy", "trish"},
    {"sam", "samuel", "samantha", "sammy"},
    {"nick", "nicholas", "nicola", "nicky", "nikki"},
    {"chris", "christopher", "christine", "christina", "kit"},
    {"fred", "freddie", "frederick", "alfred"},
    {"gill", "gillian", "jill"},
    {"di", "diana", "diane"},
    {"ken", "kenneth", "kenny"},
    {"len", "leonard", "lenny"},
    {"ron", "ronald", "ronnie"},
    {"tim", "timothy"},
    {"val", "valerie"},
    {"wendy", "gwendolyn"},
]
NICKNAMES: dict[str, frozenset[str]] = {}
for _group in _VARIANTS:
    for _name in _group:
        NICKNAMES[_name] = NICKNAMES.get(_name, frozenset()) | frozenset(_group - {_name})


def greeting_name(text: str) -> str | None:
    """The name the message opens with ("Dear Mrs Patel" → "Patel"), if any."""
    for line in _opening_lines(text):
        m = _GREETING.match(line)
        if not m:
            continue
        first, second = m.group("first"), m.group("second")
        if _not_a_name(first):
            return None
        if second and fold(second) in ("and", "&"):
            return None  # "Dear Sarah and Tom": more than one person
        if line[m.end("first") :].lstrip()[:1] == "&":
            return None
        if m.group("title"):
            # "Dear Dr Sarah Jones," → Jones; "Dear Mr Smith Thank you" → Smith
            if second and m.group("after") is not None and second[0].isupper():
                return second
            return first
        return first
    return None


def _not_a_name(word: str) -> bool:
    folded = fold(word)
    return not word[0].isupper() or folded in _NOT_NAMES or folded in ROLE_WORDS


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


def _words(name: str) -> set[str]:
    """Name words, whole (o'brien, smith-jones) and by their hyphenated parts."""
    words: set[str] = set()
    for word in _NAME_WORD.findall(fold(name)):
        words.add(word)
        words.update(w for w in word.split("-") if w)
    return words


def same_person(greeted: str, names: list[str]) -> bool:
    """Could ``greeted`` be what someone called by one of ``names`` is addressed as?"""
    g = fold(greeted)
    for name in names:
        for word in _words(name):
            if word == g or (len(word) == 1 and word == g[0]):
                return True  # an initial cannot contradict anything
            if len(g) >= 3 and len(word) >= 3 and (word.startswith(g) or g.startswith(word)):
                return True  # Chris / Christopher
            if word in NICKNAMES.get(g, ()):
                return True  # Bob / Robert
            if JaroWinkler.similarity(g, word) >= 0.88:
                return True  # Sara / Sarah, Steven / Stephen
    return False


def _person_name(name: str) -> str:
    """The person in a display name: "Sarah Jones (Northdown Council)" → "Sarah Jones"."""
    name = re.split(r"\s[-|\u2013]\s|[(\[<]", name, maxsplit=1)[0]
    return "" if is_role(name) else name.strip(" ,\"'")


def known_names(address: str, shown: str, context: DetectionContext) -> tuple[list[str], str]:
    """Who the recipient is, and how we know: the display name, the history, the address."""
    candidates = [(_person_name(shown), "display name")]
    profile = context.history
    if profile is not None:
        candidates.append((_person_name(profile.names.get(address, "")), "history"))
    local = address.rpartition("@")[0]
    parts = re.split(r"[._-]", local)
    if len(parts) == 2 and all(p.isalpha() and len(p) >= 2 for p in parts) and not is_role(local):
        candidates.append((" ".join(parts), "address"))  # sarah.jones@
    names = [(n, how) for n, how in candidates if n]
    return [n for n, _ in names], names[0][1] if names else ""


def detect(message: ParsedMessage, envelope: Envelope, context: DetectionContext) -> list[Finding]:
    outside = {r.lower() for r in envelope.rcpt_tos if not context.domains.is_internal(r)}
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


DETECTOR = Detector(
    NAME,
    detect,
    emits={"NAME_MISMATCH": Severity.MEDIUM},
    uses_history=True,
    summary="the greeting names someone other than the outside recipient",
)
