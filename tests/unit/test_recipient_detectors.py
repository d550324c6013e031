"""Recipient detectors that need no history store: visible lists, look-alike domains.

Both directions for each class: the leak (a misspelt webmail provider, our or a
partner's name under another ending, five residents visible to each other) and what
merely resembles it (real providers, genuine bodies under vetted suffixes, four
residents, officers of six organisations).
"""

from __future__ import annotations

import pytest

from mailguard.detectors import DetectionContext
from mailguard.detectors.recipients import bulk_visible as bulk_recipients
from mailguard.detectors.recipients import lookalike, providers
from mailguard.detectors.recipients.suffixes import split
from mailguard.history.model import SenderProfile
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Action, Envelope, Severity
from mailguard.policy import engine
from mailguard.policy.loader import load_policy
from mailguard.policy.schema import Organisation

ORG = Organisation(
    name="Northdown", internal_domains=["northdown.gov.uk"], partner_domains=["nhs.net"]
)
CTX = DetectionContext(domains=ORG.domains)
CYRILLIC_A = "\u0430"


@pytest.mark.parametrize(
    ("domain", "imitates"),
    [
        ("nhs.nett", "nhs.net"),
        ("northdowm.gov.uk", "northdown.gov.uk"),
        ("gmial.com", "gmail.com"),
        ("hotmial.co.uk", "hotmail.co.uk"),
        ("outlok.com", "outlook.com"),
        ("n0rthdown.gov.uk", "northdown.gov.uk"),
        (f"gm{CYRILLIC_A}il.com", "gmail.com"),
        (f"gm{CYRILLIC_A}il.com".encode("idna").decode(), "gmail.com"),  # punycode form
    ],
)
def test_look_alike_domains_name_what_they_imitate(domain, imitates):
    [finding] = lookalike.detect(None, Envelope("a@northdown.gov.uk", (f"x@{domain}",)), CTX)
    assert finding.type == "LOOKALIKE_DOMAIN" and finding.where == "recipients"
    assert f"looks like {imitates}" in finding.detail


@pytest.mark.parametrize(
    "domain",
    [
        "nhs.net",
        "nhs.uk",
        "gmail.com",
        "northdown.gov.uk",
        "example.org",
        "dept.northdown.gov.uk",
        "kent.gov.uk",
        "mi.com",
        "ska.com",
        "msm.com",
    ],
)
def test_real_domains_are_not_look_alikes(domain):
    assert lookalike.detect(None, Envelope("a@northdown.gov.uk", (f"x@{domain}",)), CTX) == []


def _message(to: list[str], cc: list[str] = ()) -> ParsedMessage:
    headers = f"From: a@northdown.gov.uk\r\nTo: {', '.join(to)}\r\n"
    if cc:
        headers += f"Cc: {', '.join(cc)}\r\n"
    return ParsedMessage((headers + "\r\nhello\r\n").encode())


def test_visible_outside_addresses_are_counted_with_domains_and_webmail():
    to = [f"resident{i}@gmail.com" for i in range(8)] + ["a@example.org", "b@example.net"]
    cc = [f"staff{i}@northdown.gov.uk" for i in range(5)] + ["c@hotmail.co.uk"]
    findings = bulk_recipients.detect(_message(to, cc), Envelope("a@northdown.gov.uk", ()), CTX)
    [finding] = [f for f in findings if f.type == "BULK_VISIBLE"]
    assert finding.count == 11 and finding.severity.value == "medium"
    assert "4 domain(s), 9 personal" in finding.detail
    assert "resident" not in finding.detail


def test_one_outside_recipient_or_internal_lists_are_not_bulk():
    one = _message(["a@example.org"], [f"s{i}@northdown.gov.uk" for i in range(30)])
    assert bulk_recipients.detect(one, Envelope("a@northdown.gov.uk", ()), CTX) == []


# --- Look-alikes of mailbox providers: real ones are never typos of each other ---------


def lookalikes(*domains: str, context: DetectionContext = CTX):
    rcpts = tuple(f"someone.private@{d}" for d in domains)
    return lookalike.detect(None, Envelope("a@northdown.gov.uk", rcpts), context)


def with_history(**org_domains: int) -> DetectionContext:
    """A sender who writes to gmail.com, hotmail.co.uk and yahoo.co.uk often (so they are
    references twice over), and domains anyone here has written to ``n`` times."""
    profile = SenderProfile(
        "a@northdown.gov.uk",
        messages=50,
        frequent_domains=("gmail.com", "hotmail.co.uk", "yahoo.co.uk", "btinternet.com"),
        org_domains={d.replace("_", "."): n for d, n in org_domains.items()},
    )
    return DetectionContext(domains=ORG.domains, history=profile)


@pytest.mark.parametrize("provider", sorted(providers.PROVIDERS))
def test_no_real_mail_provider_is_a_look_alike_of_another(provider):
    assert lookalikes(provider) == []
    assert lookalikes(provider, context=with_history()) == []


@pytest.mark.parametrize(
    "domain",
    [
        *("ymail.com", "email.com", "mail.com", "gmx.co.uk", "live.co.uk", "me.com", "mac.com"),
        *("fred.plus.com", "googlemail.com", "outlook.ie", "yahoo.ie", "aol.co.uk", "web.de"),
    ],
)
def test_genuine_providers_next_to_gmail_or_hotmail_pass(domain):
    assert lookalikes(domain, context=with_history()) == []


@pytest.mark.parametrize(
    ("domain", "imitates", "how"),
    [
        ("gmial.com", "gmail.com", "misspelt"),
        ("hotmial.co.uk", "hotmail.co.uk", "misspelt"),
        ("outlok.com", "outlook.com", "misspelt"),
        ("yahooo.co.uk", "yahoo.co.uk", "misspelt"),
        ("btinternt.com", "btinternet.com", "misspelt"),
        ("virginmedai.com", "virginmedia.com", "misspelt"),
        ("mail.gmial.com", "gmail.com", "misspelt"),
        ("gmai1.com", "gmail.com", "look-alike characters"),
        ("ic1oud.com", "icloud.com", "look-alike characters"),
        (f"y{CYRILLIC_A}hoo.co.uk", "yahoo.co.uk", "look-alike characters"),
        ("gmail.co.uk", "gmail.com", "different ending"),
        ("hotmail.co", "hotmail.com", "misspelt"),
        ("hotmail.org.uk", "hotmail.co.uk", "different ending"),
        ("icloud.co.uk", "icloud.com", "different ending"),
        ("btinternet.co.uk", "btinternet.com", "different ending"),
        ("gmail.com.co", "gmail.com", "different ending"),
    ],
)
def test_a_misspelt_webmail_provider_is_a_misdirection(domain, imitates, how):
    [finding] = lookalikes(domain)
    assert finding.severity is Severity.HIGH and finding.count == 1
    assert finding.detail.startswith(f"{domain} looks like {imitates} (a webmail provider")
    assert how in finding.detail and "someone" not in finding.detail


def test_a_typo_of_a_provider_the_sender_often_writes_to_is_still_a_misdirection():
    [finding] = lookalikes("gmial.com", "example.org", context=with_history())
    assert finding.severity is Severity.HIGH


def _slips(name: str) -> set[str]:
    """A letter dropped, doubled or swapped with its neighbour, inside the name."""
    middle = range(1, len(name) - 1)
    return (
        {name[:i] + name[i + 1 :] for i in middle}
        | {name[:i] + name[i] + name[i:] for i in middle}
        | {name[:i] + name[i + 1] + name[i] + name[i + 2 :] for i in middle if i + 2 <= len(name)}
    ) - {name}


MAJOR_BRANDS = sorted(d for d in providers.MAJOR if d.split(".")[0] in providers.BRANDS)
SLIPS = sorted(
    {
        (f"{slip}.{rest}", domain)
        for domain in MAJOR_BRANDS
        for name, _, rest in [domain.partition(".")]
        for slip in _slips(name)
        if not providers.is_provider(f"{slip}.{rest}")
    }
)


@pytest.mark.parametrize(("slip", "domain"), SLIPS)
def test_every_slip_of_a_major_webmail_name_is_a_misdirection(slip, domain):
    [finding] = lookalikes(slip)
    assert finding.severity is Severity.HIGH
    assert "(a webmail provider, misspelt)" in finding.detail


ENDINGS = ["co.uk", "com", "co", "net", "org", "uk", "org.uk", "com.co", "co.uk.com", "eu"]
OTHER_ENDINGS = sorted(
    {
        f"{domain.partition('.')[0]}.{ending}"
        for domain in MAJOR_BRANDS
        for ending in ENDINGS
        if not providers.is_provider(f"{domain.partition('.')[0]}.{ending}")
    }
)


@pytest.mark.parametrize("domain", OTHER_ENDINGS)
def test_a_webmail_name_under_an_ending_it_does_not_use_is_a_misdirection(domain):
    [finding] = lookalikes(domain)
    assert finding.severity is Severity.HIGH and "a webmail provider" in finding.detail


@pytest.mark.parametrize(
    "domain", ["life.com", "five.co.uk", "mall.com", "main.com", "skye.com", "mace.com"]
)
def test_ordinary_words_one_letter_from_a_provider_are_not_typos(domain):
    assert lookalikes(domain) == []


@pytest.mark.parametrize("domain", ["sky.uk", "orange.com", "live.org.uk", "mail.org"])
def test_ordinary_words_and_corporate_brands_under_another_ending_are_not_webmail(domain):
    """sky.com and live.com are mailboxes, but sky.uk is Sky's staff and live.org.uk may
    be anyone's: only names that are nothing but a mail service (gmail, hotmail, yahoo)
    are misdirections under every other ending."""
    assert lookalikes(domain) == []


# --- Public-suffix swaps of our own, our partners' and public-sector domains -----------

SWAP_ORG = Organisation(
    name="Northdown",
    internal_domains=["northdown.gov.uk"],
    partner_domains=["nhs.net", "westvale.gov.uk", "oakfieldcharity.org.uk"],
)
SWAP_CTX = DetectionContext(domains=SWAP_ORG.domains)


@pytest.mark.parametrize(
    ("domain", "imitates", "whose"),
    [
        ("northdown.gov.co.uk", "northdown.gov.uk", "our own domain"),
        ("northdown.co.uk", "northdown.gov.uk", "our own domain"),
        ("northdown.gov.uk.com", "northdown.gov.uk", "our own domain"),
        ("northdown-gov.uk", "northdown.gov.uk", "our own domain"),
        ("mail.northdowngov.co.uk", "northdown.gov.uk", "our own domain"),
        ("westvale.gov.co.uk", "westvale.gov.uk", "a partner's domain"),
        ("westvale.org.uk", "westvale.gov.uk", "a partner's domain"),
        ("oakfieldcharity.co.uk", "oakfieldcharity.org.uk", "a partner's domain"),
        ("oakfieldcharity.org", "oakfieldcharity.org.uk", "a partner's domain"),
        ("nhs.net.co", "nhs.net", "a partner's domain"),
        ("nhs-net.com", "nhs.net", "a partner's domain"),
        ("nhs.net.uk", "nhs.net", "a partner's domain"),
    ],
)
def test_our_or_a_partners_name_with_another_ending_is_a_misdirection(domain, imitates, whose):
    [finding] = lookalikes(domain, context=SWAP_CTX)
    assert finding.severity is Severity.HIGH
    assert f"{domain} looks like {imitates} ({whose}, with a different ending)" == finding.detail


@pytest.mark.parametrize("configured", ["northdown.gov.uk", "westvale.gov.uk", "nhs.net"])
@pytest.mark.parametrize("ending", [*ENDINGS, "gov.co.uk", "gov.uk.net", "net.co", "scot"])
def test_every_other_ending_of_our_or_a_partners_name_is_high(configured, ending):
    name = configured.partition(".")[0]
    domain = f"{name}.{ending}"
    if split(domain).registrable == configured or domain in lookalike.PUBLIC_SECTOR_REAL:
        return  # itself, or real (nhs.uk, nhs.scot)
    [finding] = lookalikes(domain, context=SWAP_CTX)
    assert finding.severity is Severity.HIGH and "with a different ending" in finding.detail


@pytest.mark.parametrize("configured", ["northdown.gov.uk", "westvale.gov.uk", "nhs.net"])
@pytest.mark.parametrize("ending", ["ac.uk", "nhs.uk", "police.uk", "kent.sch.uk", "gov.au"])
def test_our_name_under_a_suffix_only_public_bodies_can_use_is_someone_real(configured, ending):
    name = configured.partition(".")[0]
    assert lookalikes(f"{name}.{ending}", context=SWAP_CTX) == []


@pytest.mark.parametrize(
    ("domain", "imitates"),
    [("hmrc.gov.co.uk", "gov.uk"), ("gov-uk.com", "gov.uk"), ("met.police.co.uk", "police.uk")],
)
def test_an_imitation_of_the_uk_public_sector_namespace_is_reported(domain, imitates):
    [finding] = lookalikes(domain, context=SWAP_CTX)
    assert finding.severity is Severity.MEDIUM
    assert f"looks like {imitates} (a public-sector domain, with a different ending)" in (
        finding.detail
    )


@pytest.mark.parametrize(
    "domain",
    [
        "northdown.ac.uk",  # the university: only vetted bodies register under ac.uk
        "northdown.nhs.uk",
        "northdown.police.uk",
        "northdown.kent.sch.uk",
        "westvale.gov.uk",  # the partner itself
        "planning.westvale.gov.uk",
        "eastvale.gov.uk",  # another council whose name differs by more than a slip
        "kent.gov.uk",
        "gov.scot",
        "nhs.scot",
        "gov.je",  # other governments' namespaces are not imitations of gov.uk
        "mvs.gov.ua",
        "finance.gov.ie",
        "cjsm.net",
        "example.org",
        "northdownhomes.co.uk",  # a different name
    ],
)
def test_genuine_bodies_with_the_same_name_under_another_suffix_pass(domain):
    assert lookalikes(domain, context=SWAP_CTX) == []


def test_our_name_under_another_ending_passes_once_configured_or_confirmed():
    assert lookalikes("northdown.org.uk", context=SWAP_CTX) != []
    partnered = Organisation(
        name="Northdown",
        internal_domains=["northdown.gov.uk"],
        partner_domains=["northdown.org.uk"],  # the council's housing trust
    )
    assert lookalikes("northdown.org.uk", context=DetectionContext(partnered.domains)) == []
    assert lookalikes("northdown.org.uk", context=with_history(northdown_org_uk=50)) != []
    confirmed = SenderProfile(
        "a@northdown.gov.uk", confirmed_domains=frozenset({"northdown.org.uk"})
    )
    assert (
        lookalikes("northdown.org.uk", context=DetectionContext(ORG.domains, history=confirmed))
        == []
    )


def test_a_frequent_domains_name_with_another_ending_is_a_medium_look_alike():
    profile = SenderProfile(
        "a@northdown.gov.uk", messages=50, frequent_domains=("oakfieldhousing.org.uk",)
    )
    context = DetectionContext(domains=ORG.domains, history=profile)
    [finding] = lookalikes("oakfieldhousing.co.uk", context=context)
    assert finding.severity is Severity.MEDIUM
    assert finding.detail == (
        "oakfieldhousing.co.uk looks like oakfieldhousing.org.uk (with a different ending)"
    )
    short = SenderProfile("a@northdown.gov.uk", messages=50, frequent_domains=("bbc.co.uk",))
    assert lookalikes("bbc.com", context=DetectionContext(ORG.domains, history=short)) == []


def test_several_look_alikes_are_counted_and_the_most_serious_sets_the_severity():
    [finding] = lookalikes("hmrc.gov.co.uk", "gmial.com", "gmial.com", context=SWAP_CTX)
    assert finding.count == 2 and finding.severity is Severity.HIGH
    assert finding.detail.startswith("gmial.com looks like gmail.com")


# --- Visible lists of private individuals ---------------------------------------------

RESIDENTS = [
    "j.smith@gmail.com",
    "pat.jones@hotmail.co.uk",
    "k.patel@btinternet.com",
    "landlord77@yahoo.co.uk",
    "m.okafor@outlook.com",
    "r.evans@sky.com",
    "the.hughes@virginmedia.com",
]
ORGANISATIONS = [
    "planning@westvale.gov.uk",
    "referrals@nhs.net",
    "info@oakfieldhousing.org.uk",
    "office@smithandco-solicitors.co.uk",
    "lettings@example.com",
    "admin@northdownfoodbank.org",
]


def private_list(to, cc=()):
    findings = bulk_recipients.detect(_message(to, cc), Envelope("a@northdown.gov.uk", ()), CTX)
    return [f for f in findings if f.type == "PERSONAL_ADDRESSES_VISIBLE"]


def test_five_visible_residents_at_personal_mailboxes_are_a_private_list():
    [finding] = private_list(RESIDENTS[:3], [*RESIDENTS[3:5], "colleague@northdown.gov.uk"])
    assert (finding.detector, finding.where) == ("bulk_visible", "recipients")
    assert finding.count == 5 and finding.severity is Severity.MEDIUM
    assert "5 private individuals can see each other's addresses" in finding.detail
    assert "1 at gmail.com" in finding.detail and "1 at btinternet.com" in finding.detail
    for address in RESIDENTS[:5]:
        assert address.split("@")[0] not in finding.detail


def test_four_visible_residents_are_reported_low():
    [finding] = private_list(RESIDENTS[:4])
    assert finding.count == 4 and finding.severity is Severity.LOW


def test_visible_officers_of_six_organisations_are_not_a_private_list():
    findings = bulk_recipients.detect(
        _message(ORGANISATIONS), Envelope("a@northdown.gov.uk", ()), CTX
    )
    assert [(f.type, f.count, f.severity) for f in findings] == [("BULK_VISIBLE", 6, Severity.LOW)]


def test_one_resident_among_organisations_is_not_a_list_of_residents():
    assert private_list(ORGANISATIONS + RESIDENTS[:1]) == []


def test_isp_customer_subdomains_and_personal_domains_count_as_private():
    to = ["fred@fred.plus.com", "ann@bloggs.me.uk", "sam@talk21.com", "info@example.org"]
    [finding] = private_list(to)
    assert finding.count == 3
    assert "1 at personal domains" in finding.detail and "bloggs" not in finding.detail


def test_one_mailbox_written_two_ways_counts_once():
    to = ["J.Smith@gmail.com", "jsmith+council@googlemail.com", "pat.jones@hotmail.co.uk"]
    [finding] = private_list(to)
    assert finding.count == 2


# --- What the recommended policy rules make of these findings --------------------------

RULES = """
organisation:
  name: Northdown
  internal_domains: [northdown.gov.uk]
  partner_domains: [nhs.net, westvale.gov.uk]
rules:
  - name: hold-lookalike-misdirection
    when: {finding: {detector: lookalike_domain, min_severity: high}}
    action: hold
  - name: bcc-private-list
    when:
      finding: {detector: bulk_visible, type: PERSONAL_ADDRESSES_VISIBLE, min_count: 5}
    action: rewrite
    rewrite: bcc
"""


@pytest.fixture(scope="module")
def rules(tmp_path_factory):
    path = tmp_path_factory.mktemp("policy") / "policy.yaml"
    path.write_text(RULES)
    return load_policy(path).policy


def decide(pol, to: list[str]):
    message = _message(to)
    envelope = Envelope("a@northdown.gov.uk", tuple(to))
    context = DetectionContext(domains=pol.organisation.domains)
    findings = [
        *bulk_recipients.detect(message, envelope, context),
        *lookalike.detect(message, envelope, context),
    ]
    return engine.decide(pol, findings, envelope, message)


@pytest.mark.parametrize(
    ("to", "action", "rule"),
    [
        (RESIDENTS[:5], Action.REWRITE, "bcc-private-list"),
        (RESIDENTS[:4], Action.PASS, ""),
        (ORGANISATIONS, Action.PASS, ""),
        (["resident@gmial.com"], Action.HOLD, "hold-lookalike-misdirection"),
        (["resident@ymail.com"], Action.PASS, ""),
        (["duty@westvale.gov.co.uk"], Action.HOLD, "hold-lookalike-misdirection"),
        (["duty@westvale.gov.uk"], Action.PASS, ""),
    ],
)
def test_the_recommended_rules_hold_the_leak_and_pass_its_look_alike(rules, to, action, rule):
    decision = decide(rules, to)
    assert (decision.action, decision.rule) == (action, rule)


def _reply(to: list[str], quoted: str, subject: str = "Re: Parking on Mill Lane") -> ParsedMessage:
    headers = (
        f"From: a@northdown.gov.uk\r\nTo: {', '.join(to)}\r\nSubject: {subject}\r\n"
        "In-Reply-To: <1@example.org>\r\n"
    )
    body = "Thank you all, we will look into it.\r\n\r\n" + quoted
    return ParsedMessage((headers + "\r\n" + body).encode())


def _private_in(message: ParsedMessage):
    findings = bulk_recipients.detect(message, Envelope("a@northdown.gov.uk", ()), CTX)
    return [f for f in findings if f.type == "PERSONAL_ADDRESSES_VISIBLE"]


def test_answering_all_of_a_residents_thread_discloses_nothing_new():
    """Five residents wrote in together, each other in Cc: a reply to all shows them
    nothing they had not already shared themselves."""
    quoted = (
        f"From: {RESIDENTS[0]}\r\nSent: 2 March 2025 10:14\r\nTo: planning@northdown.gov.uk\r\n"
        f"Cc: {'; '.join(RESIDENTS[1:5])}\r\nSubject: Parking on Mill Lane\r\n\r\nDear council,"
    )
    assert _private_in(_reply(RESIDENTS[:5], quoted)) == []


def test_a_reply_that_adds_residents_the_thread_never_showed_is_still_a_private_list():
    quoted = f"On Mon, 3 Mar 2025 at 09:12, {RESIDENTS[0]} wrote:\r\n> Dear council,\r\n"
    [finding] = _private_in(_reply(RESIDENTS[:6], quoted))
    assert finding.count == 5 and finding.severity is Severity.MEDIUM
    assert "1 more was already visible earlier in the thread" in finding.detail


def test_addresses_in_the_text_of_a_new_message_are_not_a_thread():
    body = "From: " + ", ".join(RESIDENTS[:5])
    message = ParsedMessage(
        (f"From: a@northdown.gov.uk\r\nTo: {', '.join(RESIDENTS[:5])}\r\n"
         "Subject: Mill Lane\r\n\r\n" + body).encode()
    )  # fmt: skip
    [finding] = _private_in(message)
    assert finding.count == 5
