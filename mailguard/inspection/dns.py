"""Can an external recipient's domain receive mail at all?

A recipient domain with no MX and no A/AAAA record (or a null MX, RFC 7505) cannot take
mail, so an address there is almost surely a typo: ``@northdown.gov.uk`` typed as
``@nortdown.gov.uk``. Catching it before the message leaves is cheaper than a bounce, and
far cheaper than the typo being a real domain someone else registered.

DNS is slow and fallible, so every answer here is one of four: MAIL, HOST, NONE or
UNKNOWN. Only NONE is evidence of a problem; UNKNOWN (timeouts, SERVFAIL, no resolver)
must never hold a message up. Lookups are cached, de-duplicated while in flight, and can
be started early (at RCPT time) so the answer is usually ready when the message is
checked.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import ipaddress
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import dns.asyncresolver
import dns.exception
import dns.name
import dns.nameserver
import dns.rdatatype
import dns.resolver
from cachetools import TLRUCache

from mailguard.addresses import domain_of, in_domains

__all__ = [
    "DomainCheckStats",
    "DomainChecker",
    "DomainStatus",
    "answers_for",
    "normalise_domain",
]


class DomainStatus(enum.Enum):
    """What DNS says about a domain's ability to receive mail."""

    MAIL = "mail"  # has an MX
    HOST = "host"  # no MX, but A/AAAA: the implicit MX of RFC 5321 section 5.1
    NONE = "none"  # NXDOMAIN, nothing to deliver to, a null MX, or not a valid name
    UNKNOWN = "unknown"  # DNS could not tell us; never a reason to stop a message


@dataclass(slots=True)
class DomainCheckStats:
    """Counters for tests and metrics: did the cache and de-duplication do their job?"""

    queries: int = 0  # questions asked of DNS (MX, A, AAAA; a retry is not counted again)
    lookups: int = 0  # lookups started (one per domain per cache miss)
    cache_hits: int = 0  # answered from the cache
    joined: int = 0  # waited on a lookup that was already in flight
    invalid: int = 0  # rejected as not a domain name, without a query


# Label separators that IDNA (RFC 3490 section 3.1) treats as a full stop.
_DOTS = re.compile("[\u3002\uff0e\uff61]")
# After IDNA, a label holds letters, digits and hyphens; underscores are let through
# because they do occur in real DNS and are no sign of a typo.
_LABEL = re.compile(r"^[a-z0-9_](?:[a-z0-9_-]*[a-z0-9_])?$")


def _to_ascii_label(label: str) -> str | None:
    """IDNA 2008 (UTS 46 mapping) where the idna package is present, else IDNA 2003."""
    if label.isascii():
        return label.lower()
    try:
        return dns.name.IDNA_2008_Practical.encode(label).decode("ascii").lower()
    except dns.name.NoIDNA2008:
        pass
    except (dns.exception.DNSException, UnicodeError, ValueError):
        return None
    try:
        return label.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return None


def normalise_domain(domain: str) -> str | None:
    """The ASCII (punycode), lower-case form used for queries and as the cache key.

    ``None`` means "not a domain name at all": an empty label, a label over 63 octets,
    a name over 253, or characters no host name can hold.
    """
    name = _DOTS.sub(".", domain.strip())
    if name.endswith("."):
        name = name[:-1]
    if not name:
        return None
    labels: list[str] = []
    for label in name.split("."):
        ascii_label = _to_ascii_label(label)
        if not ascii_label or len(ascii_label) > 63 or not _LABEL.match(ascii_label):
            return None
        labels.append(ascii_label)
    ascii_name = ".".join(labels)
    if len(ascii_name) > 253:
        return None
    return ascii_name


def _is_address_literal(domain: str) -> bool:
    """``[192.0.2.1]`` or ``[IPv6:2001:db8::1]``: delivered to directly, no DNS needed."""
    d = domain.strip()
    if not (d.startswith("[") and d.endswith("]")):
        return False
    inner = d[1:-1]
    if inner[:5].lower() == "ipv6:":
        inner = inner[5:]
    try:
        ipaddress.ip_address(inner)
    except ValueError:
        return False
    return True


def _is_null_mx(answer: dns.resolver.Answer) -> bool:
    """RFC 7505: exactly one MX, preference 0, exchange the root: "no mail, ever"."""
    records = list(answer)
    return len(records) == 1 and records[0].preference == 0 and records[0].exchange == dns.name.root


class DomainChecker:
    """Answers "can this domain receive mail?" with a cache and a hard time bound.

    One checker is meant to live as long as the relay: its cache is what makes the
    check nearly free for the domains a council writes to every day.
    """

    def __init__(
        self,
        nameservers: Sequence[tuple[str, int]] | None = None,
        *,
        timeout: float = 2.0,
        positive_ttl: float = 3600,
        negative_ttl: float = 600,
        unknown_ttl: float = 30,
        max_entries: int = 10_000,
        resolver: dns.asyncresolver.Resolver | None = None,
    ) -> None:
        self.timeout = float(timeout)
        self._ttls = {
            DomainStatus.MAIL: float(positive_ttl),
            DomainStatus.HOST: float(positive_ttl),
            DomainStatus.NONE: float(negative_ttl),
            DomainStatus.UNKNOWN: float(unknown_ttl),
        }
        self.max_entries = max(1, int(max_entries))
        self.stats = DomainCheckStats()
        # Each answer lives as long as its kind's TTL; the oldest go first when full.
        self._cache: TLRUCache[str, DomainStatus] = TLRUCache(
            self.max_entries, ttu=lambda _k, status, now: now + self._ttls[status],
            timer=time.monotonic,
        )  # fmt: skip
        self._inflight: dict[str, asyncio.Task[DomainStatus]] = {}
        self._resolver = resolver if resolver is not None else self._make_resolver(nameservers)
        if self._resolver is not None:
            # Bound each query and the whole resolve() by our timeout, whatever
            # resolv.conf says; the lookup itself also keeps one overall deadline.
            self._resolver.timeout = min(self._resolver.timeout, self.timeout)
            self._resolver.lifetime = self.timeout
            self._resolver.cache = None  # we cache verdicts, not records

    @staticmethod
    def _make_resolver(
        nameservers: Sequence[tuple[str, int]] | None,
    ) -> dns.asyncresolver.Resolver | None:
        """A resolver for the given servers, or the system's; None if neither works.

        With no usable resolver every answer is UNKNOWN: a missing resolv.conf must not
        stop the relay, nor make every recipient look bad.
        """
        try:
            if nameservers is None:
                return dns.asyncresolver.Resolver(configure=True)
            resolver = dns.asyncresolver.Resolver(configure=False)
            # Do53Nameserver carries its own port: ``Resolver.port`` is one port for all.
            resolver.nameservers = [
                dns.nameserver.Do53Nameserver(address, int(port)) for address, port in nameservers
            ]
            return resolver
        except Exception:
            return None

    # -- cache -----------------------------------------------------------------------

    def _cached(self, key: str) -> DomainStatus | None:
        return self._cache.get(key)

    def _remember(self, key: str, status: DomainStatus) -> None:
        self._cache[key] = status

    # -- lookups ---------------------------------------------------------------------

    def _task_for(self, key: str) -> asyncio.Task[DomainStatus]:
        """The in-flight lookup for ``key`` on this loop, starting one if need be."""
        loop = asyncio.get_running_loop()
        task = self._inflight.get(key)
        if task is not None and not task.done() and task.get_loop() is loop:
            self.stats.joined += 1
            return task
        self.stats.lookups += 1
        task = loop.create_task(self._lookup(key), name=f"domain-check:{key}")
        self._inflight[key] = task
        task.add_done_callback(lambda t: self._forget(key, t))
        return task

    def _forget(self, key: str, task: asyncio.Task[DomainStatus]) -> None:
        if self._inflight.get(key) is task:
            del self._inflight[key]

    def start(self, domain: str) -> None:
        """Begin a lookup in the background, so the answer is ready when needed.

        Cheap and idempotent; call it as soon as a recipient is known. Needs a running
        event loop.
        """
        if _is_address_literal(domain):
            return
        key = normalise_domain(domain)
        if key is None or self._cached(key) is not None:
            return
        self._task_for(key)

    async def status(self, domain: str) -> DomainStatus:
        """The domain's status: cached, or from a lookup (shared with other callers)."""
        key, known = self._known(domain)
        if known is not None:
            return known
        task = self._task_for(key)
        # wait() rather than await: a caller being cancelled must not cancel the
        # lookup that other callers share.
        await asyncio.wait({task})
        if task.cancelled():
            return DomainStatus.UNKNOWN
        return task.result()

    def _known(self, domain: str) -> tuple[str, DomainStatus | None]:
        """The cache key, and the answer if it needs no DNS (literal, non-name, cached)."""
        if _is_address_literal(domain):
            return domain, DomainStatus.HOST
        key = normalise_domain(domain)
        if key is None:
            self.stats.invalid += 1
            return domain, DomainStatus.NONE
        cached = self._cached(key)
        if cached is not None:
            self.stats.cache_hits += 1
        return key, cached

    async def statuses(self, domains: Iterable[str], budget: float) -> dict[str, DomainStatus]:
        """Every domain's status within ``budget`` seconds; late ones are UNKNOWN.

        Keys are the strings as given. Lookups still running at the deadline go on in
        the background and fill the cache for next time. Never raises.
        """
        result: dict[str, DomainStatus] = {}
        waiting: dict[str, asyncio.Task[DomainStatus]] = {}
        try:
            names = [d for d in domains if isinstance(d, str)]
        except Exception:
            return result
        for domain in names:
            if domain in result or domain in waiting:
                continue
            try:
                key, known = self._known(domain)
                if known is not None:
                    result[domain] = known
                else:
                    waiting[domain] = self._task_for(key)
            except Exception:
                result[domain] = DomainStatus.UNKNOWN
        if waiting:
            # A nonsense budget must not raise either: what is not done yet is UNKNOWN.
            with contextlib.suppress(Exception):
                await asyncio.wait(set(waiting.values()), timeout=max(0.0, budget))
        for domain, task in waiting.items():
            done = task.done() and not task.cancelled()
            result[domain] = task.result() if done else DomainStatus.UNKNOWN
        return result

    async def _lookup(self, key: str) -> DomainStatus:
        """MX first; only if there is none, A then AAAA (the implicit MX)."""
        try:
            # A hard bound: dnspython may sleep a retry backoff past its own lifetime.
            async with asyncio.timeout(self.timeout):
                status = await self._resolve_status(key)
        except TimeoutError:
            status = DomainStatus.UNKNOWN
        except asyncio.CancelledError:
            raise
        except Exception:
            status = DomainStatus.UNKNOWN
        self._remember(key, status)
        return status

    async def _resolve_status(self, key: str) -> DomainStatus:
        resolver = self._resolver
        if resolver is None:
            return DomainStatus.UNKNOWN
        qname = dns.name.Name([label.encode("ascii") for label in key.split(".")] + [b""])
        deadline = time.monotonic() + self.timeout

        async def query(rdtype: dns.rdatatype.RdataType) -> dns.resolver.Answer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise dns.exception.Timeout(timeout=self.timeout)
            self.stats.queries += 1
            return await resolver.resolve(
                qname, rdtype, lifetime=remaining, search=False, raise_on_no_answer=True
            )

        try:
            mx = await query(dns.rdatatype.MX)
        except dns.resolver.NXDOMAIN:
            return DomainStatus.NONE
        except dns.resolver.NoAnswer:
            pass
        except dns.exception.DNSException:
            return DomainStatus.UNKNOWN
        else:
            return DomainStatus.NONE if _is_null_mx(mx) else DomainStatus.MAIL

        for rdtype in (dns.rdatatype.A, dns.rdatatype.AAAA):
            try:
                await query(rdtype)
            except (dns.resolver.NoAnswer, dns.resolver.NXDOMAIN):
                continue
            except dns.exception.DNSException:
                return DomainStatus.UNKNOWN
            return DomainStatus.HOST
        return DomainStatus.NONE

    async def aclose(self) -> None:
        """Cancel lookups still in flight, so none outlives the loop it runs on."""
        tasks = [t for t in self._inflight.values() if not t.done()]
        self._inflight.clear()
        for task in tasks:
            task.cancel()
        loop = asyncio.get_running_loop()
        mine = {t for t in tasks if t.get_loop() is loop}
        if mine:
            await asyncio.wait(mine)


async def answers_for(
    checker: DomainChecker, recipients: Iterable[str], internal: Sequence[str], budget: float
) -> dict[str, str]:
    """``{domain: status}`` for the recipients' outside domains, within ``budget`` seconds.

    Plain strings, because the answers travel to the inspection workers.
    """
    domains = {d for r in recipients if (d := domain_of(r)) and not in_domains(d, internal)}
    found = await checker.statuses(domains, budget)
    return {d: status.value for d, status in found.items()}
