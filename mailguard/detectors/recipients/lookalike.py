"""Recipient domains that look like a domain the sender meant, but are not it.

nhs.nett, northdowm.gov.uk, gmial.com, hotmial.co.uk, outlok.com, and IDN tricks
such as gmail.com spelt with a Cyrillic "a": one slip of the keyboard or of autocomplete
sends case files to whoever registered the typo. A domain that is itself known and
legitimate (nhs.uk next to nhs.net) is never reported.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Collection, Iterable, Sequence
from functools import cache

from rapidfuzz.distance import OSA

from mailguard.addresses import domain_of
from mailguard.detectors import DetectionContext, Detector
from mailguard.model import Envelope, Finding, Severity

NAME = "lookalike_domain"
ESTABLISHED = 2  # messages from anyone here: not a one-off slip of the keyboard

# Well-known mailbox providers and public-sector domains staff write to every day.
WELL_KNOWN = frozenset(
    {
        "gmail.com",
        "googlemail.com",
        "hotmail.com",
        "hotmail.co.uk",
        "outlook.com",
        "live.com",
        "live.co.uk",
        "msn.com",
        "yahoo.com",
        "yahoo.co.uk",
        "icloud.com",
        "me.com",
        "aol.com",
        "aol.co.uk",
        "btinternet.com",
        "sky.com",
        "virginmedia.com",
        "talktalk.net",
        "protonmail.com",
        "proton.me",
        "nhs.net",
        "nhs.uk",
        "gov.uk",
        "police.uk",
        "parliament.uk",
        "gmx.com",
        "mail.com",
    }
)

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


def lookalike_of(domain: str, references: Iterable[str]) -> str | None:
    """The reference domain this one imitates, or None."""
    domain = domain.lower()
    refs = set(references)
    if domain in refs:
        return None
    shape = skeleton(domain)
    label, _, rest = domain.partition(".")
    for ref in sorted(refs):
        if shape == skeleton(ref):
            return ref  # a homoglyph or punycode twin
        ref_label, _, ref_rest = ref.partition(".")
        if label == ref_label and OSA.distance(rest, ref_rest) <= 1:
            return ref  # nhs.nett, gmail.co
        # A typo in the name itself; short names (me.com, sky.com) have too many
        # honest neighbours to judge by spelling alone.
        if (
            rest == ref_rest
            and len(ref_label) >= 4
            and OSA.distance(label, ref_label) <= _max_distance(len(ref_label))
        ):
            return ref
    return None


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
    references = {*internal, *partner, *WELL_KNOWN, *frequent}
    found: dict[str, str] = {}
    for rcpt in recipients:
        domain = domain_of(rcpt)
        if domain and domain not in found and domain not in established:
            ref = lookalike_of(domain, references)
            if ref:
                found[domain] = ref
    if not found:
        return []
    own = {*internal, *partner}
    severity = Severity.HIGH if any(r in own for r in found.values()) else Severity.MEDIUM
    detail = "; ".join(f"{d} looks like {r}" for d, r in sorted(found.items()))
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
    summary="a recipient domain that resembles a well-known one (high: ours or a partner's)",
)
