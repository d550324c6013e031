"""Can a recipient's domain receive mail? Asked of a real DNS server on loopback."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator

import dns.asyncresolver
import dns.resolver
import pytest

from mailguard.inspection.dns import DomainChecker, DomainStatus, normalise_domain
from tests.support.dns import StubDNS

MAIL, HOST, NONE, UNKNOWN = (
    DomainStatus.MAIL,
    DomainStatus.HOST,
    DomainStatus.NONE,
    DomainStatus.UNKNOWN,
)

ZONE = {
    "northdown.gov.uk": {"MX": ["10 mx1.northdown.gov.uk.", "20 mx2.northdown.gov.uk."]},
    "nhs.net": {"MX": ["10 mx.nhs.net."]},
    "hostonly.example": {"A": ["192.0.2.1"]},
    "v6only.example": {"AAAA": ["2001:db8::1"]},
    "nullmx.example": {"MX": ["0 ."]},
    "zeropref.example": {"MX": ["0 mx.zeropref.example."]},
    "empty.example": {"TXT": ['"v=spf1 -all"']},
    "slow.example": {"MX": ["10 mx.slow.example."]},
    "xn--bcher-kva.example": {"MX": ["10 mx.xn--bcher-kva.example."]},
    # More MX records than fit a 512-octet UDP answer: only TCP can carry them.
    "big.example": {
        "MX": [f"{i} mx{i:02d}.a-rather-long-host-name.big.example." for i in range(30)]
    },
}
SLOW = 0.6


@pytest.fixture
def stub() -> Iterator[StubDNS]:
    with StubDNS(ZONE, slow={"slow.example": SLOW}, servfail={"broken.example"}) as s:
        yield s


@pytest.fixture
async def checker(stub: StubDNS) -> AsyncIterator[DomainChecker]:
    c = DomainChecker([stub.address], timeout=1.0)
    yield c
    await c.aclose()


def closed_port() -> int:
    """A loopback UDP port that nothing listens on (bound, then let go)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# -- what a domain's records mean -----------------------------------------------------


async def test_a_domain_with_an_mx_receives_mail(checker: DomainChecker) -> None:
    assert await checker.status("northdown.gov.uk") is MAIL


async def test_a_domain_with_only_an_address_receives_mail_at_that_host(
    checker: DomainChecker, stub: StubDNS
) -> None:
    assert await checker.status("hostonly.example") is HOST
    assert await checker.status("v6only.example") is HOST
    assert stub.queries == [
        ("hostonly.example", "MX"),
        ("hostonly.example", "A"),
        ("v6only.example", "MX"),
        ("v6only.example", "A"),
        ("v6only.example", "AAAA"),
    ]


async def test_a_domain_that_does_not_exist_cannot_receive_mail(
    checker: DomainChecker, stub: StubDNS
) -> None:
    assert await checker.status("nortdown.gov.uk") is NONE
    assert stub.queries == [("nortdown.gov.uk", "MX")]  # NXDOMAIN needs no A lookup


async def test_a_null_mx_says_the_domain_takes_no_mail(checker: DomainChecker) -> None:
    assert await checker.status("nullmx.example") is NONE


async def test_an_mx_of_preference_zero_to_a_real_host_is_not_a_null_mx(
    checker: DomainChecker,
) -> None:
    assert await checker.status("zeropref.example") is MAIL


async def test_a_domain_with_neither_mx_nor_address_cannot_receive_mail(
    checker: DomainChecker,
) -> None:
    assert await checker.status("empty.example") is NONE


async def test_an_answer_too_big_for_udp_is_fetched_over_tcp(
    checker: DomainChecker, stub: StubDNS
) -> None:
    assert await checker.status("big.example") is MAIL
    assert stub.queries == [("big.example", "MX")] * 2
    assert stub.tcp_queries == [("big.example", "MX")]


# -- when DNS cannot tell, the answer is UNKNOWN, never NONE ------------------------


async def test_servfail_is_unknown_not_bad(checker: DomainChecker) -> None:
    assert await checker.status("broken.example") is UNKNOWN


async def test_an_unreachable_nameserver_is_unknown_within_the_timeout() -> None:
    checker = DomainChecker([("127.0.0.1", closed_port())], timeout=0.4)
    began = time.monotonic()
    assert await checker.status("northdown.gov.uk") is UNKNOWN
    assert time.monotonic() - began < 0.7
    assert await checker.statuses(["nhs.net"], budget=1.0) == {"nhs.net": UNKNOWN}
    await checker.aclose()


async def test_without_a_resolver_configuration_every_answer_is_unknown(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def no_config(*args: object, **kwargs: object) -> None:
        raise dns.resolver.NoResolverConfiguration("no /etc/resolv.conf")

    monkeypatch.setattr(dns.asyncresolver, "Resolver", no_config)
    checker = DomainChecker()  # the system's configuration, which cannot be read
    assert await checker.status("northdown.gov.uk") is UNKNOWN
    assert await checker.statuses(["nhs.net"], budget=0.5) == {"nhs.net": UNKNOWN}


async def test_an_unexpected_resolver_error_is_unknown() -> None:
    class Exploding(dns.asyncresolver.Resolver):
        async def resolve(self, *args: object, **kwargs: object) -> dns.resolver.Answer:
            raise RuntimeError("bug in the resolver")

    checker = DomainChecker(resolver=Exploding(configure=False))
    assert await checker.status("northdown.gov.uk") is UNKNOWN
    assert await checker.statuses(["nhs.net"], budget=0.5) == {"nhs.net": UNKNOWN}


# -- a time budget, shared lookups and the cache -------------------------------------


async def test_a_slow_server_costs_no_more_than_the_budget(
    checker: DomainChecker, stub: StubDNS
) -> None:
    domains = ["northdown.gov.uk", "nortdown.gov.uk", "hostonly.example", "slow.example"]
    began = time.monotonic()
    got = await checker.statuses(domains, budget=0.3)
    elapsed = time.monotonic() - began
    assert 0.25 <= elapsed < 0.8
    assert got == {
        "northdown.gov.uk": MAIL,
        "nortdown.gov.uk": NONE,
        "hostonly.example": HOST,
        "slow.example": UNKNOWN,
    }
    # The late lookup carried on in the background and its answer was kept.
    await asyncio.sleep(SLOW)
    assert await checker.status("slow.example") is MAIL
    assert stub.count("slow.example") == 1


async def test_an_answer_is_cached_and_not_asked_again(
    checker: DomainChecker, stub: StubDNS
) -> None:
    assert await checker.status("northdown.gov.uk") is MAIL
    assert await checker.status("nortdown.gov.uk") is NONE
    sent = len(stub.queries)
    assert await checker.status("northdown.gov.uk") is MAIL
    assert await checker.statuses(["Northdown.GOV.uk.", "nortdown.gov.uk"], budget=0.5) == {
        "Northdown.GOV.uk.": MAIL,
        "nortdown.gov.uk": NONE,
    }
    assert len(stub.queries) == sent
    assert checker.stats.cache_hits == 3


async def test_fifty_callers_asking_at_once_share_one_query(
    checker: DomainChecker, stub: StubDNS
) -> None:
    answers = await asyncio.gather(*(checker.status("nhs.net") for _ in range(50)))
    assert set(answers) == {MAIL}
    assert stub.queries == [("nhs.net", "MX")]
    assert checker.stats.lookups == 1 and checker.stats.joined == 49


async def test_starting_early_means_the_answer_is_ready_later(
    checker: DomainChecker, stub: StubDNS
) -> None:
    checker.start("nhs.net")
    checker.start("NHS.net")  # the same domain: nothing more is sent
    await asyncio.sleep(0.1)
    assert await checker.status("nhs.net") is MAIL
    checker.start("nhs.net")  # already cached
    assert stub.queries == [("nhs.net", "MX")]


async def test_answers_expire_after_their_ttl(stub: StubDNS) -> None:
    checker = DomainChecker([stub.address], timeout=1.0, positive_ttl=0.05, negative_ttl=60)
    assert await checker.status("nhs.net") is MAIL
    assert await checker.status("nortdown.gov.uk") is NONE
    await asyncio.sleep(0.1)
    assert await checker.status("nhs.net") is MAIL  # positive answer expired: asked again
    assert await checker.status("nortdown.gov.uk") is NONE  # negative one still cached
    assert stub.count("nhs.net") == 2 and stub.count("nortdown.gov.uk") == 1


async def test_the_cache_forgets_the_oldest_when_full(stub: StubDNS) -> None:
    checker = DomainChecker([stub.address], timeout=1.0, max_entries=2)
    for domain in ("nhs.net", "northdown.gov.uk", "nullmx.example"):
        await checker.status(domain)
    await checker.status("northdown.gov.uk")  # still cached
    await checker.status("nhs.net")  # evicted: asked again
    assert stub.count("northdown.gov.uk") == 1 and stub.count("nhs.net") == 2


async def test_closing_cancels_lookups_in_flight(checker: DomainChecker) -> None:
    waiting = asyncio.ensure_future(checker.status("slow.example"))
    await asyncio.sleep(0.05)
    await checker.aclose()
    assert await waiting is UNKNOWN


async def test_a_cancelled_caller_does_not_cancel_a_shared_lookup(
    checker: DomainChecker, stub: StubDNS
) -> None:
    impatient = asyncio.ensure_future(checker.status("slow.example"))
    patient = asyncio.ensure_future(checker.status("slow.example"))
    await asyncio.sleep(0.05)
    impatient.cancel()
    assert await patient is MAIL
    assert stub.count("slow.example") == 1


# -- names -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "domain",
    [
        "",
        ".",
        "northdown..gov.uk",
        ".northdown.gov.uk",
        "x" * 64 + ".example",
        ".".join(["a" * 60] * 5),  # 304 characters
        "north down.gov.uk",
        "northdown.gov.uk>",
        "-northdown.gov.uk",
    ],
)
async def test_a_string_that_is_no_domain_name_is_none_without_a_query(
    checker: DomainChecker, stub: StubDNS, domain: str
) -> None:
    assert await checker.status(domain) is NONE
    assert await checker.statuses([domain], budget=0.5) == {domain: NONE}
    assert stub.queries == []


async def test_an_international_domain_is_asked_for_in_punycode(
    checker: DomainChecker, stub: StubDNS
) -> None:
    assert await checker.status("Bücher.example") is MAIL
    assert stub.queries == [("xn--bcher-kva.example", "MX")]
    assert await checker.status("xn--bcher-kva.example") is MAIL  # same cache entry
    assert len(stub.queries) == 1


async def test_an_address_literal_needs_no_dns(checker: DomainChecker, stub: StubDNS) -> None:
    assert await checker.status("[192.0.2.1]") is HOST
    assert await checker.status("[IPv6:2001:db8::1]") is HOST
    assert await checker.status("[not an address]") is NONE
    assert stub.queries == []


def test_names_are_normalised_to_lower_case_ascii() -> None:
    assert normalise_domain("NorthDown.Gov.UK.") == "northdown.gov.uk"
    assert normalise_domain("bücher。example") == "xn--bcher-kva.example"
    assert normalise_domain("a" * 63 + ".example") == "a" * 63 + ".example"
    assert normalise_domain("a..b") is None
