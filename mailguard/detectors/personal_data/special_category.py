"""UK GDPR Article 9/10 words: health, disability, ethnicity, religion, sexuality,
criminal offences and safeguarding. A word alone is not a finding; the detector
counts it only near a person or an identifier.
"""

import re

TERMS = {
    "health": [
        "diagnosis",
        "diagnosed",
        "dementia",
        "alzheimer",
        "cancer",
        "chemotherapy",
        "hiv",
        "diabetes",
        "epilepsy",
        "schizophrenia",
        "bipolar",
        "depression",
        "anxiety disorder",
        "mental health",
        "sectioned",
        "mental health act",
        "overdose",
        "self-harm",
        "self harm",
        "suicidal",
        "pregnant",
        "pregnancy",
        "miscarriage",
        "substance misuse",
        "alcohol dependency",
        "hospital admission",
    ],
    "disability": [
        "disability",
        "disabled",
        "autism",
        "autistic",
        "adhd",
        "learning disability",
        "blue badge",
        "visually impaired",
        "deaf",
        "pip award",
        "dla",
    ],
    "ethnicity": ["ethnicity", "ethnic origin", "gypsy", "roma"],
    "religion": ["religion", "religious belief", "muslim", "jewish", "hindu", "sikh"],
    "sexuality": [
        "sexual orientation",
        "gay",
        "lesbian",
        "bisexual",
        "transgender",
        "gender identity",
    ],
    "criminal": [
        "criminal record",
        "convicted",
        "offence",
        "offender",
        "probation",
        "arrested",
        "dbs check",
    ],
    "safeguarding": [
        "safeguarding",
        "child protection",
        "looked after child",
        "child in need",
        "section 47",
        "domestic abuse",
        "domestic violence",
        "neglect",
        "care order",
        "social worker",
    ],
}

PATTERN = re.compile(
    r"\b(" + "|".join(re.escape(t) for terms in TERMS.values() for t in terms) + r")\b",
    re.IGNORECASE,
)


# Left out on purpose: words with an everyday council meaning ("adoption of the Local
# Plan", "Race Course Road", "termination of contract", "wheelchair accessible").


def category_of(term: str) -> str:
    term = " ".join(term.casefold().split())
    return next((c for c, terms in TERMS.items() if term in terms), "special category")


# The rarest-looking (longest) word of each term: "at risk"is tested by "risk".
_FIRST_WORDS = frozenset(
    max(re.findall(r"[a-z]+", t), key=len) for terms in TERMS.values() for t in terms
)
_WORDS = re.compile(r"[a-z]+")


def mentions(text: str) -> list[re.Match[str]]:
    """Keyword matches; a cheap word-set test first, since most mail has none.

    Acronyms count only in capitals ("DLA", not "dla" inside a Polish sentence), and
    words with an everyday second meaning only with a word of their own sense near
    them (DLA the benefit next to "allowance" or "award", not DLA Piper).
    """
    if _FIRST_WORDS.isdisjoint(_WORDS.findall(text.lower())):
        return []
    return [m for m in PATTERN.finditer(text) if _plausible(text, m)]


# Written in capitals when they mean the condition or the benefit.
ACRONYMS = frozenset({"hiv", "adhd", "dla", "dbs", "pip"})
# Ambiguous words: they count only with one of these within the sentence around them.
NEEDS_CONTEXT = {
    "dla": re.compile(
        r"\b(?:allowance|award(?:ed)?|claim\w*|benefits?|rate|component|mobility|entitle\w*)\b",
        re.IGNORECASE,
    ),
    "pip award": re.compile(r"\b(?:daily living|mobility|award|claim|points?)\b", re.IGNORECASE),
    "roma": re.compile(
        r"\b(?:gypsy|gypsies|travell?ers?|ethnic\w*|heritage|origin|communit\w+|famil\w+)\b",
        re.IGNORECASE,
    ),
    "deaf": re.compile(
        r"\b(?:is|am|are|was|profoundly|partially|severely|totally|registered|hearing|bsl)\b",
        re.IGNORECASE,
    ),
}
_CONTEXT_WINDOW = 120


def _plausible(text: str, m: re.Match[str]) -> bool:
    term = " ".join(m.group(1).casefold().split())
    first = term.split()[0]
    if first in ACRONYMS and not m.group(1).split()[0].isupper():
        return False
    needs = NEEDS_CONTEXT.get(term)
    if needs is not None:
        window = text[max(0, m.start() - _CONTEXT_WINDOW) : m.end() + _CONTEXT_WINDOW]
        return needs.search(window.replace(m.group(0), " ")) is not None
    return True


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Nouns that make the word before them the name of a job, a team, a service, a place
# or an event: "Learning Disability Nurse", "Substance Misuse Service", "Mental
# Health Awareness Week", "disabled parking bay". Such a phrase says nothing about
# anyone's health.
_INSTITUTIONAL = _words(
    """
    service services team teams unit nurse nurses nursing worker workers officer officers
    lead leads manager managers coordinator co-ordinator practitioner practitioners
    specialist specialists consultant consultants adviser advisers advisor advisors
    champion champions head director directorate department board partnership forum
    network group groups cafe café hub clinic clinics centre centres center charity
    trust strategy policy policies act awareness week month day training course courses
    toilet toilets parking bay bays access facilities facility friendly alliance
    commissioner commissioning panel programme program project pathway support
    helpline line charter network campaign conference festival event events
    register bill grant grants team's services' provision provider providers
    practice college school academy association society foundation research uk action
    relief screening awareness matters today
    """
)
# Words in a capitalised phrase that make it a place or an organisation, not a person.
NOT_NAMES = _INSTITUTIONAL | _words(
    """
    council county borough city district parish nhs street road lane avenue close drive
    house hall court ward hospital surgery health care social adult adults children
    community mental disability learning
    """
)
_CONNECTORS = frozenset({"and", "&", "/", "-", "of", "for", "the", "s"})
_NEXT_WORD = re.compile(r"[\s,'\u2019]*([^\s,.;:()]+)")


def is_attributive(text: str, m: re.Match[str]) -> bool:
    """The word names a job, team, service, place, charity or event, or is used in its
    everyday sense, rather than stating a fact about someone.

    Looks at up to three following words, skipping connectors and capitalised words
    of the same name ("Mental Health and Wellbeing Team"). A capitalised word inside
    a capitalised phrase mid-sentence is a name too ("Epilepsy Action", "Cancer
    Research UK").
    """
    if _other_sense(text, m):
        return True
    pos = m.end()
    for step in range(4):
        nxt = _NEXT_WORD.match(text, pos)
        if nxt is None:
            return False
        word = nxt.group(1)
        lowered = word.lower().strip("'\u2019")
        if lowered in _INSTITUTIONAL:
            return True
        if step == 0 and _in_a_proper_name(text, m, word):
            return True
        if lowered in _CONNECTORS or word[:1].isupper():
            pos = nxt.end()
            continue
        return False
    return False


def _in_a_proper_name(text: str, m: re.Match[str], following: str) -> bool:
    if not (m.group(1)[:1].isupper() and following[:1].isupper()):
        return False
    before = text[: m.start()].rstrip(" \t")
    return bool(before) and before[-1] not in ".!?:\n\r\"'(*-\u2022"


# The everyday sense of a word: "probation period", "your account has been disabled".
_OTHER_SENSE = {
    "probation": (re.compile(r"^\s+(?:period|review|meeting|months?|weeks?)\b", re.I), None),
    "disabled": (
        re.compile(
            r"^\s+(?:the\s+|your\s+|an?\s+)?(?:account|access|login|user|feature"
            r"|setting|option|link|button|cookies?|javascript|notifications?|mailbox"
            r"|card|sign-?in|function)",
            re.I,
        ),
        re.compile(
            r"(?:account|access|login|user|feature|setting|card|mailbox|licence|option"
            r"|link|function|service)\s+(?:has|have|had|is|was|were|will\s+be)\s+"
            r"(?:been\s+|now\s+|temporarily\s+)?$",
            re.I,
        ),
    ),
    "depression": (None, re.compile(r"(?:tropical|atlantic|weather|economic)\s+$", re.I)),
    "offence": (None, re.compile(r"\bit\s+is\s+an\s+$", re.I)),
    # "our social worker" is a colleague; "his social worker" says he has one.
    "social worker": (
        None,
        re.compile(r"\b(?:our|the|a|an|as|senior|duty|lead|named|qualified)\s+$", re.I),
    ),
}


def _other_sense(text: str, m: re.Match[str]) -> bool:
    senses = _OTHER_SENSE.get(" ".join(m.group(1).casefold().split()))
    if senses is None:
        return False
    after, before = senses
    return bool(
        (after and after.match(text, m.end()))
        or (before and before.search(text[max(0, m.start() - 60) : m.start()]))
    )
