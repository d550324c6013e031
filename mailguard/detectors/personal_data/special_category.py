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
    """Keyword matches; a cheap word-set test first, since most mail has none."""
    if _FIRST_WORDS.isdisjoint(_WORDS.findall(text.lower())):
        return []
    return list(PATTERN.finditer(text))
