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
from functools import cache, lru_cache

from rapidfuzz.distance import OSA

from mailguard.addresses import domain_of, in_domains
from mailguard.detectors import DetectionContext, Detector
from mailguard.detectors.recipients import providers
from mailguard.detectors.recipients.suffixes import ENDING_WORDS, Parts, split
from mailguard.model import Envelope, Finding, Severity

NAME = "lookalike_domain"

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
_HOWS = (CHARACTERS, SPELLING, ENDING)
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

    def order(self) -> tuple[int, int, str]:
        """The most serious first; of two for one recipient, the plainest explanation."""
        return _RANK[self.whose], _HOWS.index(self.how), self.imitates

    def describe(self) -> str:
        text = f"{self.domain} looks like {self.imitates}"
        note = ", ".join(n for n in (_WHOSE[self.whose], self.how) if n)
        if self.whose == FREQUENT and self.how == SPELLING:
            note = ""  # the plain case: a slip in a name the sender uses
        return f"{text} ({note})" if note else text


# Per index, and there is one per sender's frequent domains (``references``, 1,024 kept).
_ANSWERS_KEPT = 256
_UNKNOWN = object()


class References:
    """Every domain a recipient's may imitate, with whose it is (the most serious wins),
    indexed so that a recipient is compared only with the few it could resemble."""

    def __init__(self, whose: Mapping[str, str]) -> None:
        self.whose = dict(whose)
        self.trusted = tuple(d for d, w in self.whose.items() if w in (OURS, PARTNER))
        self._by_shape: dict[str, set[str]] = {}
        self._by_name: dict[str, set[str]] = {}
        self._by_suffix: dict[str, set[str]] = {}
        self._swappable: dict[str, set[str]] = {}  # by name
        self._run_in: dict[str, set[str]] = {}  # "nhsnet" -> nhs.net
        self._answers: dict[str, LookAlike | None] = {}  # lookalike_of, by domain
        for ref, w in self.whose.items():
            r = split(ref)
            for shape in (skeleton(ref), skeleton(r.registrable)):
                self._by_shape.setdefault(shape, set()).add(ref)
            self._by_name.setdefault(r.name, set()).add(ref)
            self._by_suffix.setdefault(r.suffix, set()).add(ref)
            if _may_swap(r, w):
                self._swappable.setdefault(r.name, set()).add(ref)
                joined = r.name
                for label in r.ending:
                    joined += label
                    self._run_in.setdefault(joined, set()).add(ref)

    def is_real(self, domain: str, established: Collection[str] = ()) -> bool:
        """Known and legitimate whatever it resembles. A subdomain counts with its
        registrable domain (mail.oakfield.org.uk with oakfield.org.uk), but a name
        under gov.uk is not gov.uk's."""
        if domain in established or domain in self.whose or providers.is_provider(domain):
            return True
        if in_domains(domain, self.trusted):
            return True  # configured, so trusted whatever lies under it
        registrable = split(domain).registrable
        return registrable in self.whose or registrable in PUBLIC_SECTOR_REAL

    def lookalike_of(self, domain: str) -> LookAlike | None:
        """The known domain this one imitates, or None."""
        domain = domain.lower()
        known = self._answers.get(domain, _UNKNOWN)
        if known is not _UNKNOWN:  # a council writes to the same domains all day
            return known  # type: ignore[return-value]
        answer = None
        if not self.is_real(domain):
            found = [
                LookAlike(domain, ref, self.whose[ref], how)
                for ref, how in self._hows(domain).items()
            ]
            answer = min(found, key=LookAlike.order, default=None)
        if len(self._answers) >= _ANSWERS_KEPT:
            self._answers.clear()
        self._answers[domain] = answer
        return answer

    def _hows(self, domain: str) -> dict[str, str]:
        d = split(domain)
        found: dict[str, str] = {}
        for shape in {skeleton(domain), skeleton(d.registrable)}:
            for ref in self._by_shape.get(shape, ()):
                found.setdefault(ref, CHARACTERS)  # a homoglyph or punycode twin
        for ref in self._by_name.get(d.name, ()):
            if OSA.distance(d.suffix, split(ref).suffix, score_cutoff=1) <= 1:
                found.setdefault(ref, SPELLING)  # nhs.nett, gmail.co
        # A typo in the name itself; short names (me.com, sky.com) and a provider's
        # that are ordinary words (live.com: life.com, five.com) have too many honest
        # neighbours to judge by spelling alone.
        for ref in self._by_suffix.get(d.suffix, ()):
            name = split(ref).name
            if self.whose[ref] == WEBMAIL and name not in providers.BRANDS:
                continue
            if len(name) >= 4:
                limit = _max_distance(len(name))
                if OSA.distance(d.name, name, score_cutoff=limit) <= limit:
                    found.setdefault(ref, SPELLING)
        if d.vetted:
            return found  # kent.ac.uk is the university, not an imitation of kent.gov.uk
        for j in range(d.at + 1):
            for ref in self._swappable.get(d.labels[j], ()):
                if _swapped(d, j, split(ref)):
                    found.setdefault(ref, ENDING)
        # The ending run into the name: nhs-net.com, govuk.org, westvale-gov.co.uk.
        for ref in self._run_in.get(d.name.replace("-", ""), ()):
            found.setdefault(ref, ENDING)
        return found


@lru_cache(maxsize=1024)
def references(
    internal: tuple[str, ...] = (), partner: tuple[str, ...] = (), frequent: tuple[str, ...] = ()
) -> References:
    """Ours, our partners', the public sector's, the major webmail providers' and the
    sender's frequent domains (one index per sender, kept while it is in use)."""
    whose: dict[str, str] = {}
    for w, domains in (
        (FREQUENT, frequent),
        (PUBLIC, PUBLIC_SECTOR),
        (WEBMAIL, providers.MAJOR),
        (PARTNER, partner),
        (OURS, internal),
    ):
        whose.update(dict.fromkeys((d.lower() for d in domains), w))
    return References(whose)


def _may_swap(ref: Parts, whose: str) -> bool:
    """Is another ending of this name a misdirection? For a webmail provider only if
    its name is nothing but a mail service (gmail, not sky or live); for ours, our
    partners' and the public sector's from three letters (nhs); for a frequent domain
    from four, unless it is a mail provider's (seznam.cz, judged like the others)."""
    if whose == WEBMAIL:
        return ref.name in providers.BRANDS
    if whose == FREQUENT:
        return len(ref.name) >= MIN_FREQUENT_NAME and not providers.is_provider(ref.registrable)
    return len(ref.name) >= 3


def _swapped(d: Parts, j: int, r: Parts) -> bool:
    """``d``, whose label ``j`` is ``r``'s name, is that name with another ending."""
    tail = d.labels[j + 1 :]
    if not tail or tail == r.ending:
        return False
    # gov.uk, nhs.uk, police.uk are suffixes themselves: their names are every
    # country's (gov.ie, gov.ua), so only an ending that keeps "uk" imitates them.
    if r.is_suffix and not _in_order(r.ending, tail):
        return False
    if tail[: len(r.ending)] == r.ending:
        return True  # the whole name with more after it: nhs.net.co, x.gov.uk.com
    # charity.co.uk; westvale.gov.co.uk (the name is "gov", westvale in front of it)
    return all(label in ENDING_WORDS for label in d.labels[j + 1 : d.at + 1])


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
    ``established``: domains a person confirmed (an admin's known_domains, a reviewer's
    release), real whatever they resemble
    (bolton.gov.uk next to boston.gov.uk)."""
    if frequent:  # a typo domain written to often is still a typo, unless confirmed
        fixed = references(tuple(internal), tuple(partner))
        frequent = [d for d in frequent if d in established or fixed.lookalike_of(d) is None]
    refs = references(tuple(internal), tuple(partner), tuple(frequent))
    found: dict[str, LookAlike] = {}
    for rcpt in recipients:
        domain = domain_of(rcpt)
        if not domain or domain in found or refs.is_real(domain, established):
            continue
        match = refs.lookalike_of(domain)
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
    # Real whatever they resemble only when a person said so: an admin's known_domains
    # or a reviewer's release to this sender. Never because mail flowed there.
    established = set(context.domains.known) | (history.confirmed_domains if history else set())
    return detect_domains(envelope.rcpt_tos, internal, partner, frequent, established)


def warm_up() -> None:
    """Load the public suffix list and index the fixed references before mail arrives."""
    references().lookalike_of("example.co.uk")


DETECTOR = Detector(
    NAME,
    detect,
    warm_up=warm_up,
    emits={"LOOKALIKE_DOMAIN": Severity.MEDIUM},
    uses_history=True,
    summary=(
        "a recipient domain that resembles a well-known one: a typo, look-alike characters"
        " or another ending (high: ours, a partner's or a webmail provider's)"
    ),
)
