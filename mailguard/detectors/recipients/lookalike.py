"""Recipient domains that look like a domain the sender meant, but are not it.

nhs.nett, northdowm.gov.uk, gmial.com, hotmial.co.uk, outlok.com, and IDN tricks
such as gmail.com spelt with a Cyrillic "a": one slip of the keyboard or of autocomplete
sends case files to whoever registered the typo. So does the right name with the
wrong ending, which no spelling distance sees: westvale.gov.uk as westvale.gov.co.uk,
charity.org.uk as charity.co.uk, nhs.net as nhs.net.co or nhs-net.com. Endings are
read with the public suffix list.

A domain that is itself known and legitimate is never reported: our own and our
partners', nhs.uk next to nhs.net, every real mailbox provider (ymail.com is Yahoo's,
not a slip for gmail.com; see ``providers``), a name under a suffix only vetted
public bodies can use (kent.ac.uk next to kent.gov.uk), and domains the organisation
already writes to.

Severity: high when the imitated domain is ours, a partner's or a webmail provider's
(mail there is a misdirection: nobody writes to gmial.com or westvale.gov.co.uk on
purpose); medium for other public-sector and frequently used domains.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from functools import cache

from rapidfuzz.distance import OSA

from mailguard.addresses import domain_of, in_domains
from mailguard.detectors import DetectionContext, Detector
from mailguard.detectors.recipients import providers
from mailguard.detectors.recipients.suffixes import ENDING_WORDS, Parts, split
from mailguard.model import Envelope, Finding, Severity

NAME = "lookalike_domain"
ESTABLISHED = 2  # messages from anyone here: not a one-off slip of the keyboard

# Public-sector domains staff write to every day.
PUBLIC_SECTOR = frozenset({"nhs.net", "nhs.uk", "gov.uk", "police.uk", "parliament.uk"})
# Real public-sector domains that resemble those (nhs.scot next to nhs.net, gov.je next
# to gov.uk, the criminal justice secure mail cjsm.net): never look-alikes themselves.
PUBLIC_SECTOR_REAL = PUBLIC_SECTOR | {
    "nhs.scot",
    "nhs.wales",
    "gov.scot",
    "gov.wales",
    "llyw.cymru",
    "hscni.net",
    "cjsm.net",
    "mod.uk",
    "gov.im",
    "gov.je",
    "gov.gg",
    "gov.ie",
}

# Whose domain a look-alike imitates, most serious first.
OURS, PARTNER, WEBMAIL, PUBLIC, FREQUENT = "ours", "partner", "webmail", "public", "frequent"
_RANK = {OURS: 0, PARTNER: 1, WEBMAIL: 2, PUBLIC: 3, FREQUENT: 4}
_HIGH = {OURS, PARTNER, WEBMAIL}
_WHOSE = {
    OURS: "our own domain",
    PARTNER: "a partner's domain",
    WEBMAIL: "a webmail provider",
    PUBLIC: "a public-sector domain",
    FREQUENT: "",
}
SPELLING, CHARACTERS, ENDING = "misspelt", "in look-alike characters", "with a different ending"
# A frequently used domain's name must be this long before another ending counts:
# bbc.co.uk and bbc.com are both the BBC's, and short names are shared honestly.
MIN_FREQUENT_NAME = 4

# Characters that render like Latin letters (a small, common subset of Unicode's
# confusables), plus ASCII swaps that read the same at a glance.
_CONFUSABLE = str.maketrans(
    {
        "\u0430": "a",
        "\u0435": "e",
        "\u043e": "o",
        "\u0440": "p",
        "\u0441": "c",
        "\u0443": "y",
        "\u0445": "x",
        "\u0456": "i",
        "\u0458": "j",
        "\u0455": "s",
        "\u0501": "d",
        "\u0261": "g",
        "\u0578": "n",
        "\u057d": "u",
        "\u03bd": "v",
        "\u03bf": "o",
        "\u03b1": "a",
        "\u03b9": "i",
        "\u03ba": "k",
        "\u03c4": "t",
        "0": "o",
        "1": "l",
    }
)


@cache
def skeleton(domain: str) -> str:
    """What a domain looks like to a person: accents, homoglyphs and rn/m folded."""
    try:
        text = domain.encode("ascii").decode("idna") if "xn--" in domain else domain
    except UnicodeError:
        text = domain
    text = unicodedata.normalize("NFKD", text.lower())
    text = "".join(c for c in text if not unicodedata.combining(c))
    return text.translate(_CONFUSABLE).replace("rn", "m").replace("vv", "w")


def _max_distance(length: int) -> int:
    return 1 if length <= 8 else 2


@dataclass(frozen=True, slots=True)
class LookAlike:
    domain: str  # the recipient's
    imitates: str
    whose: str  # OURS, PARTNER, ...
    how: str  # SPELLING, CHARACTERS, ENDING

    @property
    def severity(self) -> Severity:
        return Severity.HIGH if self.whose in _HIGH else Severity.MEDIUM

    def describe(self) -> str:
        text = f"{self.domain} looks like {self.imitates}"
        note = ", ".join(n for n in (_WHOSE[self.whose], self.how) if n)
        if self.whose == FREQUENT and self.how == SPELLING:
            note = ""  # the plain case: a slip in a name the sender uses
        return f"{text} ({note})" if note else text


def references(
    internal: Sequence[str] = (), partner: Sequence[str] = (), frequent: Sequence[str] = ()
) -> dict[str, str]:
    """Every domain a recipient's may imitate, with whose it is (the most serious wins)."""
    refs: dict[str, str] = {}
    for whose, domains in (
        (FREQUENT, frequent),
        (PUBLIC, PUBLIC_SECTOR),
        (WEBMAIL, providers.MAJOR),
        (PARTNER, partner),
        (OURS, internal),
    ):
        refs.update(dict.fromkeys((d.lower() for d in domains), whose))
    return refs


def is_real(domain: str, refs: Mapping[str, str], established: Collection[str] = ()) -> bool:
    """Known and legitimate whatever it resembles. A subdomain counts with its
    registrable domain (mail.oakfield.org.uk with oakfield.org.uk), but a name under
    gov.uk is not gov.uk's."""
    if domain in established or domain in refs or providers.is_provider(domain):
        return True
    if in_domains(domain, tuple(d for d, whose in refs.items() if whose in (OURS, PARTNER))):
        return True  # configured, so trusted whatever lies under it
    registrable = split(domain).registrable
    return registrable in refs or registrable in PUBLIC_SECTOR_REAL


def lookalike_of(domain: str, refs: Mapping[str, str]) -> LookAlike | None:
    """The known domain this one imitates, or None. ``refs``: domain -> whose."""
    domain = domain.lower()
    if is_real(domain, refs):
        return None
    found = [
        LookAlike(domain, ref, whose, how)
        for ref, whose in refs.items()
        if (how := _how(domain, ref, whose)) is not None
    ]
    return min(found, key=lambda m: (_RANK[m.whose], m.imitates), default=None)


def _how(domain: str, ref: str, whose: str) -> str | None:
    d, r = split(domain), split(ref)
    if skeleton(domain) == skeleton(ref) or skeleton(d.registrable) == skeleton(r.registrable):
        return CHARACTERS  # a homoglyph or punycode twin
    if d.name == r.name and OSA.distance(d.suffix, r.suffix) <= 1:
        return SPELLING  # nhs.nett, gmail.co
    # A typo in the name itself; short names (me.com, sky.com) have too many
    # honest neighbours to judge by spelling alone.
    if (
        d.suffix == r.suffix
        and len(r.name) >= 4
        and OSA.distance(d.name, r.name) <= _max_distance(len(r.name))
    ):
        return SPELLING
    if _may_swap(r, whose) and _swapped(d, r):
        return ENDING
    return None


def _may_swap(ref: Parts, whose: str) -> bool:
    """Is another ending of this name a misdirection? Always for ours and partners';
    for a webmail provider only if its name is nothing but a mail service (gmail, not
    sky or live); for others only when the name is not too short to be shared."""
    if whose == WEBMAIL:
        return ref.name in providers.BRANDS
    if whose == FREQUENT:
        return len(ref.name) >= MIN_FREQUENT_NAME
    return len(ref.name) >= 3


def _swapped(d: Parts, r: Parts) -> bool:
    """``d`` is ``r``'s name with an ending other than ``r``'s."""
    if d.vetted:
        return False  # kent.ac.uk is the university, not an imitation of kent.gov.uk
    # gov.uk, nhs.uk, police.uk are suffixes themselves: their names are every
    # country's (gov.ie, gov.ua), so only an ending that keeps "uk" imitates them.
    namespace = r.is_suffix
    for j, label in enumerate(d.labels):
        if label != r.name or j > d.at:
            continue
        tail = d.labels[j + 1 :]
        if not tail or tail == r.ending:
            continue
        if namespace and not _in_order(r.ending, tail):
            continue
        if tail[: len(r.ending)] == r.ending:
            return True  # the whole name with more after it: nhs.net.co, x.gov.uk.com
        between = d.labels[j + 1 : d.at + 1]
        if j == d.at or all(w in ENDING_WORDS for w in between):
            return True  # charity.co.uk, westvale.gov.co.uk
    # The ending run into the name: nhs-net.com, govuk.org, westvale-gov.co.uk.
    squashed = d.name.replace("-", "")
    joined = r.name
    for label in r.ending:
        joined += label
        if squashed == joined and d.registrable != r.registrable:
            return True
    return False


def _in_order(wanted: Sequence[str], labels: Sequence[str]) -> bool:
    it = iter(labels)
    return all(w in it for w in wanted)


def detect_domains(
    recipients: Sequence[str],
    internal: Sequence[str],
    partner: Sequence[str],
    frequent: Sequence[str] = (),
    established: Collection[str] = (),
) -> list[Finding]:
    """``frequent``: domains this sender often writes to, from the history;
    ``established``: domains the organisation writes to, real whatever they resemble
    (bolton.gov.uk next to boston.gov.uk)."""
    refs = references(internal, partner, frequent)
    found: dict[str, LookAlike] = {}
    for rcpt in recipients:
        domain = domain_of(rcpt)
        if not domain or domain in found or is_real(domain, refs, established):
            continue
        match = lookalike_of(domain, refs)
        if match:
            found[domain] = match
    if not found:
        return []
    severity = max((m.severity for m in found.values()), key=lambda s: s.rank)
    detail = "; ".join(found[d].describe() for d in sorted(found))
    return [Finding(NAME, "LOOKALIKE_DOMAIN", len(found), severity, "recipients", detail)]


def detect(message: object, envelope: Envelope, context: DetectionContext) -> list[Finding]:
    internal = context.domains.internal
    partner = context.domains.partner
    history = context.history
    frequent = history.frequent_domains if history else ()
    established = {d for d, n in history.org_domains.items() if n >= ESTABLISHED} if history else ()
    return detect_domains(envelope.rcpt_tos, internal, partner, frequent, established)


DETECTOR = Detector(
    NAME,
    detect,
    emits={"LOOKALIKE_DOMAIN": Severity.MEDIUM},
    uses_history=True,
    summary=(
        "a recipient domain that resembles a well-known one: a typo, look-alike characters"
        " or another ending (high: ours, a partner's or a webmail provider's)"
    ),
)
