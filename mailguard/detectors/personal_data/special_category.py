"""UK GDPR Article 9/10 words: health, disability, ethnicity, religion, sexuality,
criminal offences and safeguarding. A word alone is not a finding; the detector
counts it only near a person or an identifier.
"""

import re


def _terms(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


# Words and phrases as a fact about someone is written in council casework. A phrase
# matches with spaces or hyphens between its words ("looked-after child"); a term
# starting with "~" is a regular expression.
TERMS = {
    "health": _terms(
        """diagnosis, diagnosed, dementia, alzheimer, alzheimer's, cancer, chemotherapy,
        radiotherapy, tumour, leukaemia, lymphoma, hiv, hiv positive, hepatitis,
        tuberculosis, diabetes, diabetic, insulin, epilepsy, epileptic, seizures,
        had a stroke, suffered a stroke, heart attack, heart condition, heart failure,
        copd, asthma, multiple sclerosis, parkinson's, parkinsons, motor neurone disease,
        cerebral palsy, muscular dystrophy, down syndrome, down's syndrome, terminally ill,
        terminal illness, palliative care, end of life care, dialysis, kidney failure,
        transplant, blood transfusion, schizophrenia, schizophrenic, bipolar, psychosis,
        psychotic, depression, depressed, anxiety, anxiety disorder, panic attacks, ptsd,
        ocd, personality disorder, eating disorder, anorexia, bulimia, mental health,
        mental illness, mental health act, sectioned, overdose, self-harm, self harm,
        self-harming, self-harmed, camhs, suicidal, suicide attempt, attempted suicide,
        pregnant, pregnancy,
        miscarriage, termination of pregnancy, ivf, substance misuse, alcohol dependency,
        alcohol misuse, alcoholic, alcoholism, drug misuse, drug use, heroin, methadone,
        addiction, addicted, detox, rehab, hospital admission, admitted to hospital,
        medication, was prescribed, been prescribed, fit note, sick note, low mood, injury,
        injuries, back injury, fractured, fracture, broken leg, broken arm, broken hip,
        illness, ill health, sick leave, chronic pain, arthritis, osteoporosis, stroke,
        long covid, antidepressants, incontinence,
        incontinent, sexually transmitted, chlamydia, gonorrhoea, syphilis, sexual health,
        hiv treatment"""
    ),
    "disability": _terms(
        """disability, disabilities, disabled, autism, autistic, asperger's, adhd,
        learning disability, learning disabilities, learning difficulties, blue badge,
        visually impaired, sight impaired, partially sighted, blind, deaf,
        hearing impaired, hearing loss, wheelchair user, uses a wheelchair, brain injury,
        paralysed, amputee, dyslexia, dyslexic, pip award, dla,
        personal independence payment, disability living allowance, attendance allowance,
        ehcp, education health and care plan, special educational needs"""
    ),
    "ethnicity": _terms(
        r"""ethnicity, ethnic origin, ethnic background, gypsy, gypsies, roma, romani, romany,
        irish traveller, irish travellers, traveller community, gypsy and traveller,
        black caribbean, black african, black british, white british,
        white irish, mixed race, mixed heritage, british asian, asian british, racist,
        racially motivated, racially aggravated, racial abuse, race hate, hate crime,
        ~(?i:of)\s+[A-Z][a-z]+(?:\s+[A-Z][a-z]+)?\s+(?i:heritage|origin|descent)"""
    ),
    "religion": _terms(
        """religion, religious belief, religious beliefs, muslim, jewish, orthodox jew, hindu,
        sikh, buddhist, catholic, jehovah's witness, jehovah's witnesses, mosque, synagogue,
        gurdwara, halal, kosher, ramadan, islam, judaism, sikhism, hinduism, buddhism,
        atheist, christian, converted to"""
    ),
    "sexuality": _terms(
        """sexual orientation, gay, lesbian, bisexual, transgender, trans woman, trans man,
        non-binary, gender identity, gender reassignment, transitioning, came out as,
        same-sex partner, same sex partner"""
    ),
    "criminal": _terms(
        r"""criminal record, convicted, conviction, convictions, offence, offences, offender,
        offending, probation, arrested, charged with, cautioned, police caution,
        due in court, court appearance, magistrates, crown court, sentenced, prison, hmp,
        custodial, remanded, on bail, bail conditions, released from prison,
        sex offenders register, sex offender, mappa, dbs check, shoplifting, burglary,
        theft, assault, robbery, actual bodily harm, grievous bodily harm, abh, gbh,
        ~(?i:served\s+(?:\d+|a|an|two|three|four|five|six|ten)\s+(?:months?|years?|sentence)),
        drug dealing, youth offending, community order, restraining order,
        non-molestation order,
        ~(?i:possession\s+of\s+(?:cannabis|cocaine|heroin|drugs?|class\s+[abc]|a\s+knife)),
        ~(?i:possession\s+of\s+an?\s+(?:offensive\s+)?weapon), ~(?i:drugs?\s+possession)"""
    ),
    "safeguarding": _terms(
        """safeguarding, child protection, child protection plan, looked after child,
        looked after children, child in need, section 47, domestic abuse, domestic violence,
        neglect, neglected, care order, social worker, at risk of, at high risk,
        exploitation, child sexual exploitation, cse, criminal exploitation, county lines,
        grooming, groomed, sexual abuse, physical abuse, emotional abuse, abuse,
        honour based violence, forced marriage, fgm, female genital mutilation,
        modern slavery, trafficked, trafficking, missing from home, went missing, refuge,
        marac, mash, coercive control, controlling behaviour, foster care, foster carers,
        placed with foster, children in care, special guardianship, deprivation of liberty,
        dols, lacks capacity, lack capacity, mental capacity, best interests decision"""
    ),
}


def _alternative(term: str) -> str:
    if term.startswith("~"):
        return term[1:]
    return r"[\s-]+".join(re.escape(w) for w in term.split())


def _first_word(term: str) -> str:
    return re.findall(r"[a-z]+", term.lstrip("~").replace("(?i:", "").lower())[0]


# Terms by their first word, longest first: a dictionary lookup per word of text
# instead of one alternation of 300 terms tried at every position (ten times faster).
_BY_FIRST: dict[str, list[re.Pattern[str]]] = {}
for _term in sorted((t for terms in TERMS.values() for t in terms), key=len, reverse=True):
    # A pattern term sets its own case rules ("of Pakistani heritage" needs the capital).
    flags = 0 if _term.startswith("~") else re.IGNORECASE
    _BY_FIRST.setdefault(_first_word(_term), []).append(
        re.compile(rf"({_alternative(_term)})\b", flags)
    )
_BY_FIRST["drug"] = _BY_FIRST.get("drug", []) + _BY_FIRST.get("drugs", [])  # "drugs?"
_WORD_AT = re.compile(r"\b[a-z]+")
_CATEGORY = {
    cat: re.compile(r"(?:" + "|".join(_alternative(t) for t in terms) + r")$", re.IGNORECASE)
    for cat, terms in TERMS.items()
}


# Left out on purpose: words with an everyday council meaning ("adoption of the Local
# Plan", "Race Course Road", "termination of contract", "wheelchair accessible",
# "the prescribed form", "a possession order").


def normal(term: str) -> str:
    """``Looked-after  child`` -> ``looked after child``."""
    return " ".join(term.casefold().replace("-", " ").split())


def category_of(term: str) -> str:
    return next((c for c, p in _CATEGORY.items() if p.match(term)), "special category")


# The rarest-looking (longest) word of each plain term: "at risk" is tested by "risk";
# the pattern terms by the words they cannot match without.
_FIRST_WORDS = frozenset(
    max(re.findall(r"[a-z]+", t), key=len)
    for terms in TERMS.values()
    for t in terms
    if not t.startswith("~")
) | {"heritage", "origin", "descent", "possession", "served"}
_FIRST_WORDS_ASCII = frozenset(w.encode() for w in _FIRST_WORDS)
_LETTERS_ONLY = bytes(c if 97 <= c <= 122 else 32 for c in range(256))  # a-z, else space


def mentions(text: str) -> list[re.Match[str]]:
    """Keyword matches; a cheap word-set test first, since most mail has none.

    Acronyms count only in capitals ("DLA", not "dla" inside a Polish sentence), and
    words with an everyday second meaning only with a word of their own sense near
    them (DLA the benefit next to "allowance" or "award", not DLA Piper).
    """
    lowered = text.lower()
    # The words a-z of the text, split in C: a regex findall cost twice as much.
    words = lowered.encode("ascii", "replace").translate(_LETTERS_ONLY).split()
    if _FIRST_WORDS_ASCII.isdisjoint(words):
        return []
    found: list[re.Match[str]] = []
    end = 0
    for word in _WORD_AT.finditer(lowered):
        if word.start() < end or word.group() not in _BY_FIRST:
            continue
        for pattern in _BY_FIRST[word.group()]:
            m = pattern.match(text, word.start())
            if m is not None:
                end = m.end()
                if _plausible(text, m):
                    found.append(m)
                break
    return found


# Written in capitals when they mean the condition or the benefit.
ACRONYMS = frozenset(
    {
        "hiv",
        "adhd",
        "dla",
        "dbs",
        "pip",
        "cse",
        "fgm",
        "marac",
        "mash",
        "mappa",
        "dols",
        "ehcp",
        "hmp",
        "ptsd",
        "ocd",
        "copd",
        "ivf",
    }
)
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
    "christian": re.compile(
        r"\b(?:practising|practicing|devout|faith|church|convert\w*|religio\w+|beliefs?"
        r"|is a christian)\b",
        re.IGNORECASE,
    ),
    "deaf": re.compile(
        r"\b(?:is|am|are|was|profoundly|partially|severely|totally|registered|hearing|bsl)\b",
        re.IGNORECASE,
    ),
}
_CONTEXT_WINDOW = 120


def _plausible(text: str, m: re.Match[str]) -> bool:
    term = normal(m.group(1))
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
    community mental disability learning flat apartment suite floor block room dear hi
    hello thanks regards kind best yours tel email mobile ref reference date dob address
    postcode badge application parkinson alzheimer down crohn asperger ltd limited plc llp
    uk group partnership solicitors associates consulting homes housing estates lettings
    property properties university bank building society insurance terrace way gardens
    crescent place grove view rise walk park square mews row hill green vale parade mount
    cottages villas fields meadow wharf quay gate gates bridge estate committee meeting
    cabinet report minutes agenda hearing inquiry review consultation decision notice order
    regulations plan election budget annual quarterly monthly weekly this that there then
    everyone everybody nobody someone anyone each every our your their his her its she
    he they we it monday tuesday wednesday thursday friday saturday sunday january february
    march april may june july august september october november december today tomorrow
    yesterday payment rent tax invoice account the what which who where when why how
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
    """Capitals mid-sentence make a name: "Epilepsy Action", "Cancer Research UK"."""
    if not (m.group(1)[:1].isupper() and following[:1].isupper()):
        return False
    before = text[: m.start()].rstrip(" \t")
    if re.search(r"\b(?:your|his|her|their|my|has|have|had|with)$", before, re.IGNORECASE):
        return False  # "your Blue Badge", "has Multiple Sclerosis": about someone
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
    "blind": (
        re.compile(r"^\s+(?:spot|date|eye|corner|bend|panel|copy|review)", re.I),
        re.compile(r"(?:roller|window|venetian|vertical|double|a|the|new|broken)\s+$", re.I),
    ),
    "stroke": (re.compile(r"^\s+of\s+(?:luck|genius|the\s+pen|midnight)", re.I), None),
    "injury": (None, re.compile(r"(?:personal|no|without)\s+$", re.I)),
    "abuse": (re.compile(r"^\s+of\s+(?:process|power|position|the\s+system)", re.I), None),
    "depression": (None, re.compile(r"(?:tropical|atlantic|weather|economic)\s+$", re.I)),
    "offence": (None, re.compile(r"\bit\s+is\s+an\s+$", re.I)),
    # "our social worker" is a colleague; "his social worker" says he has one.
    "social worker": (
        None,
        re.compile(
            r"\b(?i:our|the|a|an|as|senior|duty|lead|named|qualified)\s+$"
            r"|\b[A-Z][a-z]+[ \t]+[A-Z][a-z]+[ \t]+$"  # "Sandra Newton Social Worker"
        ),
    ),
}


def _other_sense(text: str, m: re.Match[str]) -> bool:
    senses = _OTHER_SENSE.get(normal(m.group(1)))
    if senses is None:
        return False
    after, before = senses
    return bool(
        (after and after.match(text, m.end()))
        or (before and before.search(text[max(0, m.start() - 60) : m.start()]))
    )
