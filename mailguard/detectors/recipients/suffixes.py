"""Where a domain's name ends and its public suffix begins.

``westvale.gov.uk`` is the name ``westvale`` under the suffix ``gov.uk``;
``westvale.gov.co.uk`` is the name ``gov`` under ``co.uk`` (with ``westvale`` in
front), which is why comparing the first labels of the two says nothing. The public
suffix list comes from tldextract's bundled snapshot and is never fetched.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import tldextract

# Suffix labels under which only vetted public bodies can register (gov.uk, ac.uk,
# nhs.uk, police.uk, *.sch.uk; gov.ua, gouv.fr, edu.au...): a name there is that
# body's, not an imitation of a like-named body under another ending.
VETTED = frozenset({"gov", "govt", "gouv", "gob", "go", "gv", "mil", "edu", "ac", "sch"})
VETTED |= frozenset({"nhs", "police", "mod", "parliament"})
VETTED_TLDS = frozenset({"gov", "edu", "mil", "int"})

# Labels a reader takes for part of an ending when they follow a name:
# westvale.gov.co.uk, nhs.net.com, charity.org.uk.com.
ENDING_WORDS = frozenset(
    {"co", "com", "org", "net", "gov", "ac", "nhs", "police", "sch", "ltd", "plc", "me", "uk"}
    | {"edu", "int", "info", "biz", "eu", "mod", "govt", "gouv", "gob", "mil", "web"}
)


@dataclass(frozen=True, slots=True)
class Parts:
    """A domain's labels, and where its chosen name sits among them."""

    labels: tuple[str, ...]
    at: int  # index of the name (the registrable label)
    is_suffix: bool = False  # the whole domain is a public suffix (gov.uk, nhs.uk)

    @property
    def name(self) -> str:
        return self.labels[self.at]

    @property
    def ending(self) -> tuple[str, ...]:
        """The public suffix's labels (``("gov", "uk")``)."""
        return self.labels[self.at + 1 :]

    @property
    def suffix(self) -> str:
        return ".".join(self.ending)

    @property
    def registrable(self) -> str:
        return ".".join(self.labels[self.at :])

    @property
    def vetted(self) -> bool:
        """Registered under a suffix only vetted public bodies can use."""
        ending = self.ending
        if len(ending) == 1:
            return ending[0] in VETTED_TLDS
        return any(label in VETTED for label in ending[:-1])


@cache
def _extract() -> tldextract.TLDExtract:
    # The bundled public-suffix snapshot: never fetched from the internet at run time.
    # Imported here: it brings requests, and commands that judge no mail never need it.
    import tldextract

    return tldextract.TLDExtract(suffix_list_urls=(), cache_dir=None)


@cache
def split(domain: str) -> Parts:
    """``gov.uk`` itself (a public suffix) is the name ``gov`` under ``uk``; a domain
    under an unknown top-level label (``nhs.nett``) has that label for its suffix."""
    labels = tuple(domain.lower().strip(".").split("."))
    ext = _extract()(domain.lower().strip("."))
    suffix_len = len(ext.suffix.split(".")) if ext.suffix else 1
    if not ext.domain:
        suffix_len = len(labels) - 1  # the domain is a public suffix itself
    at = max(len(labels) - suffix_len - 1, 0)
    return Parts(labels, at, is_suffix=not ext.domain and bool(ext.suffix))
