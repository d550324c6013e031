"""Asking the directory over LDAP (``ldap3``): addresses, lists and sign-in binds.

Synchronous and thread-safe; the relay calls it from a thread (``service``) so the
event loop never waits on a domain controller.
"""

from __future__ import annotations

import contextlib
import math
import ssl
import threading
import time
from collections.abc import Iterable, Sequence
from typing import Any

from ldap3 import BASE, FIRST, NONE, SAFE_SYNC, SUBTREE, Connection, Server, ServerPool, Tls
from ldap3.core.exceptions import LDAPBindError, LDAPException
from ldap3.utils.config import set_config_parameter
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import escape_rdn, parse_dn

from mailguard.config import DirectorySettings
from mailguard.directory.model import Entry, Kind, Person

_LIST_CLASSES = {"group", "groupofnames", "groupofuniquenames"}
_BATCH = 50  # addresses per search: one round trip for an ordinary message
_NESTING = 8  # lists within lists, deeper than this are not followed
_PAGE = 500  # entries per page of a search (RFC 2696 paged results)
_PAGED_RESULTS = "1.2.840.113556.1.4.319"
_GROUPS_KEPT = 20_000

# After one round of the server pool finds none up, ldap3 sleeps POOLING_LOOP_TIMEOUT
# (10 s) before it gives up: an unreachable directory was reported 10 s late and held
# a lookup thread that long. One round (``active=1``) is the failover wanted here.
set_config_parameter("POOLING_LOOP_TIMEOUT", 0)


class DirectoryError(Exception):
    """The directory could not be asked (unreachable, refused our bind, timed out)."""


class LdapDirectory:
    def __init__(self, settings: DirectorySettings) -> None:
        self.settings = settings
        self.attrs = settings.attributes
        self._broken = ""  # a settings problem, said at every use (one line at start)
        try:
            tls = Tls(
                validate=ssl.CERT_REQUIRED if settings.tls_verify else ssl.CERT_NONE,
                ca_certs_file=str(settings.tls_ca) if settings.tls_ca else None,
            )
        except Exception as exc:  # a missing or unreadable CA file
            self._broken, tls = f"tls_ca: {exc}", None
        servers = [
            Server(url, connect_timeout=settings.timeout, tls=tls, get_info=NONE)
            for url in settings.url
        ]
        self._pool = ServerPool(servers, FIRST, active=1, exhaust=False)
        self._lock = threading.Lock()
        self._conn: Connection | None = None
        self._wait = max(1, math.ceil(settings.timeout))  # ldap3 wants whole seconds here
        self._parents: dict[str, tuple[float, tuple[str, ...]]] = {}

    # --- the service account's connection --------------------------------------------
    def _connection(self) -> Connection:
        with self._lock:
            if self._broken:
                raise DirectoryError(self._broken)
            if self._conn is None:
                try:
                    password = self.settings.password()
                except OSError as exc:
                    raise DirectoryError(f"bind_password_file: {exc.strerror}") from None
                self._conn = self._open(self.settings.bind_dn, password)
            return self._conn

    def _open(self, user: str, password: str) -> Connection:
        try:
            return Connection(
                self._pool,
                user=user or None,
                password=password or None,
                client_strategy=SAFE_SYNC,
                auto_bind=True,
                read_only=True,
                receive_timeout=self._wait,
                auto_referrals=False,
                raise_exceptions=False,
            )
        except LDAPBindError as exc:
            raise DirectoryError(f"bind as {user or 'anonymous'} refused: {exc}") from None
        except Exception as exc:  # LDAPException, or ssl/socket errors it lets through
            raise DirectoryError(f"cannot reach {', '.join(self.settings.url)}: {exc}") from None

    def _search(
        self, base: str, query: str, attributes: Sequence[str], *, scope: Any = SUBTREE,
        limit: int = 0,
    ) -> list[tuple[str, dict[str, list[Any]]]]:  # fmt: skip
        conn = self._connection()
        found: list[tuple[str, dict[str, list[Any]]]] = []
        cookie: bytes | None = None
        # In pages: Active Directory answers at most 1,000 entries (MaxPageSize) to one
        # search, so a list of 5,000 would otherwise count as 1,000.
        while True:
            try:
                _, result, response, _ = conn.search(
                    base, query, scope, attributes=[a for a in attributes if a],
                    size_limit=limit, paged_size=_PAGE if scope is SUBTREE else None,
                    paged_cookie=cookie,
                )  # fmt: skip
            except LDAPException as exc:
                self._drop(conn)
                raise DirectoryError(f"search failed: {type(exc).__name__}: {exc}") from None
            code = result.get("result", 0) if result else 0
            if code not in (0, 4, 32):  # success, size limit exceeded, no such object
                self._drop(conn)
                raise DirectoryError(f"search failed: {result.get('description')} ({code})")
            found += [
                (r["dn"], {k.lower(): _values(v) for k, v in r.get("attributes", {}).items()})
                for r in response or ()
                if r.get("type") == "searchResEntry"
            ]
            control = (result or {}).get("controls", {}).get(_PAGED_RESULTS, {})
            cookie = control.get("value", {}).get("cookie")
            if not cookie or code != 0 or (limit and len(found) >= limit):
                return found

    def _drop(self, conn: Connection) -> None:
        """A broken connection is replaced at the next question."""
        with self._lock:
            if self._conn is conn:
                self._conn = None
        with contextlib.suppress(Exception):  # already gone
            conn.unbind()

    def check(self) -> None:
        """Raise DirectoryError unless the directory answers a search as our account,
        and base_dn exists (a mistyped one would make every address "unknown")."""
        if not self._search(self.settings.base_dn, "(objectClass=*)", ["objectClass"], scope=BASE):
            raise DirectoryError(f"base_dn {self.settings.base_dn} not found (or not readable)")

    # --- addresses -------------------------------------------------------------------
    def entries(self, addresses: Iterable[str]) -> dict[str, Entry | None]:
        """Each address's entry (None: no such address in the directory)."""
        wanted = sorted({a.lower() for a in addresses if "@" in a})
        found: dict[str, Entry | None] = dict.fromkeys(wanted)
        for i in range(0, len(wanted), _BATCH):
            batch = wanted[i : i + _BATCH]
            for dn, attrs in self._search(
                self.settings.base_dn, self._by_address(batch), self._wanted()
            ):
                entry = self._entry(dn, attrs)
                for address in self._addresses(attrs) & set(batch):
                    found[address] = entry
        return found

    def _wanted(self) -> list[str]:
        a = self.attrs
        return ["objectClass", a.mail, a.proxy_addresses, a.member_of, a.department]

    def _by_address(self, addresses: Sequence[str]) -> str:
        terms = []
        for address in addresses:
            value = escape_filter_chars(address)
            terms.append(f"({self.attrs.mail}={value})")
            if self.attrs.proxy_addresses:
                terms.append(f"({self.attrs.proxy_addresses}=smtp:{value})")
        return f"(|{''.join(terms)})"

    def _addresses(self, attrs: dict[str, list[Any]]) -> set[str]:
        out = {str(v).lower() for v in attrs.get(self.attrs.mail.lower(), ())}
        for proxy in (
            attrs.get(self.attrs.proxy_addresses.lower(), ()) if self.attrs.proxy_addresses else ()
        ):
            kind, _, address = str(proxy).partition(":")
            if kind.lower() == "smtp" and address:
                out.add(address.lower())
        return out

    def _entry(self, dn: str, attrs: dict[str, list[Any]]) -> Entry:
        classes = {str(c).lower() for c in attrs.get("objectclass", ())}
        if classes & _LIST_CLASSES:
            return Entry(Kind.LIST, members=tuple(sorted(self._members(dn))))
        if "contact" in classes or not classes & {"person", "user", "inetorgperson"}:
            return Entry(Kind.OTHER)
        department = attrs.get(self.attrs.department.lower(), [""])
        groups = self._groups(attrs.get(self.attrs.member_of.lower(), ()))
        return Entry(Kind.PERSON, str(department[0] if department else ""), groups)

    def _groups(self, direct: Iterable[Any]) -> tuple[str, ...]:
        """A person's groups by name: those they are in, and (``nested_groups``) the
        groups those are in, as AD's role groups nest team groups."""
        seen = {str(g).lower(): str(g) for g in direct}
        frontier = list(seen.values())
        depth = 0
        while self.settings.nested_groups and frontier and depth < _NESTING:
            depth += 1
            parents: list[str] = []
            for group in frontier:
                for parent in self._parents_of(group):
                    if parent.lower() not in seen:
                        seen[parent.lower()] = parent
                        parents.append(parent)
            frontier = parents
        return tuple(sorted({_name(g) for g in seen.values()}))

    def _parents_of(self, group: str) -> tuple[str, ...]:
        """The groups a group is in, asked by ``member`` (AD and OpenLDAP both answer
        it) and kept for ``cache_ttl``: a council has few groups and many people."""
        now = time.monotonic()
        with self._lock:
            hit = self._parents.get(group.lower())
        if hit is not None and now - hit[0] < self.settings.cache_ttl:
            return hit[1]
        query = f"(member={escape_filter_chars(group)})"
        parents = tuple(dn for dn, _ in self._search(self.settings.base_dn, query, ["objectClass"]))
        with self._lock:
            if len(self._parents) > _GROUPS_KEPT:
                self._parents.clear()
            self._parents[group.lower()] = (now, parents)
        return parents

    def _members(self, dn: str) -> set[str]:
        """Every address a list reaches, lists within it followed (a loop only once)."""
        limit = self.settings.max_list_members
        seen_lists = {dn.lower()}
        todo = [(dn, 0)]
        addresses: set[str] = set()
        while todo and len(addresses) < limit:
            group, depth = todo.pop()
            query = f"({self.attrs.member_of}={escape_filter_chars(group)})"
            for member, attrs in self._search(
                self.settings.base_dn, query, ["objectClass", self.attrs.mail], limit=limit + 1
            ):
                classes = {str(c).lower() for c in attrs.get("objectclass", ())}
                if classes & _LIST_CLASSES:
                    if depth < _NESTING and member.lower() not in seen_lists:
                        seen_lists.add(member.lower())
                        todo.append((member, depth + 1))
                    continue
                addresses |= {str(m).lower() for m in attrs.get(self.attrs.mail.lower(), ())}
        return set(sorted(addresses)[:limit])

    # --- staff -----------------------------------------------------------------------
    def person(self, login: str) -> Person | None:
        """A current member of staff (found by ``user_filter``), or None: gone, disabled."""
        found = self._person(login)
        return found[0] if found else None

    def _person(self, login: str) -> tuple[Person, str] | None:
        a = self.attrs
        attributes = [a.display_name, a.member_of, a.login]
        base, scope, query = self._where_login(login, self.settings.user_filter)
        found = self._search(base, query, attributes, scope=scope, limit=2)
        if len(found) != 1:
            return None
        dn, attrs = found[0]
        name = attrs.get(a.display_name.lower(), [login])
        groups = self._groups(attrs.get(a.member_of.lower(), ()))
        # The account is named by the directory's own value, not by what was typed:
        # "REV.ONE" and full-width letters bind as the same person, one account.
        own = attrs.get(a.login.lower()) or [login]
        return Person(str(own[0]).lower(), str(name[0] if name else login), groups), dn

    def holds(self, login: str) -> bool:
        """Does the directory hold this login at all, current staff or not (a disabled
        account)? For OpenID users: one the directory never held is not its to judge."""
        base, scope, query = self._where_login(login, "(objectClass=*)")
        return bool(self._search(base, query, ["objectClass"], scope=scope, limit=1))

    def _where_login(self, login: str, wanted: str) -> tuple[str, Any, str]:
        """Where a login's entry is (base, scope, filter): its DN by the template, or a
        search by the login attribute; ``wanted`` narrows it (current staff only)."""
        template = self.settings.login_dn_template
        if template is not None:
            return template.format(login=escape_rdn(login)), BASE, wanted
        by_login = f"({self.attrs.login}={escape_filter_chars(login)})"
        return self.settings.base_dn, SUBTREE, f"(&{wanted}{by_login})"

    def authenticate(self, login: str, password: str) -> Person | None:
        """The person, if the directory accepts this password for them (a bind as them)."""
        if not login or not password:  # an empty password is an anonymous bind: never
            return None
        found = self._person(login)
        if found is None:
            return None
        person, dn = found
        try:
            conn = Connection(
                self._pool, user=dn, password=password, client_strategy=SAFE_SYNC,
                read_only=True, receive_timeout=self._wait, auto_referrals=False,
            )  # fmt: skip
            ok = conn.bind()[0]
            conn.unbind()
        except LDAPException as exc:
            raise DirectoryError(f"cannot reach the directory to sign in: {exc}") from None
        return person if ok else None

    def close(self) -> None:
        with self._lock:
            conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):  # already gone
                conn.unbind()


def _values(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else [value]


def _name(dn: Any) -> str:
    """A group's name, from its DN's first part (``CN=Revenues,OU=...`` → revenues)."""
    try:
        return str(parse_dn(str(dn))[0][1]).casefold()
    except Exception:  # not a DN: take it as the name
        return str(dn).casefold()
