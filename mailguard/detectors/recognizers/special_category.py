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
        "termination",
        "miscarriage",
        "substance misuse",
        "alcohol dependency",
        "medication",
        "gp surgery",
        "hospital admission",
    ],
    "disability": [
        "disability",
        "disabled",
        "autism",
        "autistic",
        "adhd",
        "learning disability",
        "wheelchair",
        "blue badge",
        "visually impaired",
        "deaf",
        "pip award",
        "dla",
    ],
    "ethnicity": ["ethnicity", "ethnic origin", "race", "traveller", "gypsy", "roma"],
    "religion": ["religion", "religious belief", "muslim", "jewish", "christian", "hindu", "sikh"],
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
        "conviction",
        "convicted",
        "offence",
        "offender",
        "probation",
        "prison",
        "custody",
        "arrested",
        "caution",
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
        "at risk",
        "care order",
        "foster",
        "adoption",
        "social worker",
    ],
}

PATTERN = re.compile(
    r"\b(" + "|".join(re.escape(t) for terms in TERMS.values() for t in terms) + r")\b",
    re.IGNORECASE,
)


def category_of(term: str) -> str:
    term = term.lower()
    return next(c for c, terms in TERMS.items() if term in terms)


# The rarest-looking (longest) word of each term: "at risk" is tested by "risk".
_FIRST_WORDS = frozenset(
    max(re.findall(r"[a-z]+", t), key=len) for terms in TERMS.values() for t in terms
)
_WORDS = re.compile(r"[a-z]+")


def mentions(text: str) -> list[re.Match[str]]:
    """Keyword matches; a cheap word-set test first, since most mail has none."""
    if _FIRST_WORDS.isdisjoint(_WORDS.findall(text.lower())):
        return []
    return list(PATTERN.finditer(text))
