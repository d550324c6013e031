"""Relay settings: defaults, then a YAML config file, then command-line flags.

Validated once at start-up so a typo in the config stops the relay with a clear
message instead of surfacing as a mail failure later.
"""

from __future__ import annotations

import ipaddress
import os
import re
import socket
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

_SIZE_UNITS = {"": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


class ConfigError(Exception):
    """Settings problems an admin must fix; each line says where and what."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems = problems or [message]


def parse_size(value: Any) -> int:
    """``52428800``, ``"50M"``, ``"512k"`` → bytes."""
    if isinstance(value, int):
        return value
    m = re.fullmatch(r"\s*(\d+)\s*([kKmMgG]?)[bB]?\s*", str(value))
    if not m:
        raise ValueError(f"not a size: {value!r} (use e.g. 52428800, 512k, 50M)")
    return int(m.group(1)) * _SIZE_UNITS[m.group(2).lower()]


def parse_hostport(value: Any) -> tuple[str, int]:
    """``"127.0.0.1:10025"`` or ``"[::1]:25"`` → (host, port)."""
    if isinstance(value, tuple | list) and len(value) == 2:
        return str(value[0]), int(value[1])
    text = str(value).strip()
    m = re.fullmatch(r"\[([^\]]+)\]:(\d+)|([^:\[\]]+):(\d+)", text)
    if not m:
        raise ValueError(f"expected HOST:PORT, got {text!r}")
    host = m.group(1) or m.group(3)
    port = int(m.group(2) or m.group(4))
    if not 0 <= port <= 65535:
        raise ValueError(f"port out of range in {text!r}")
    return host, port


def _networks(value: Any) -> list[IPNetwork]:
    items = [value] if isinstance(value, str) else list(value)
    return [ipaddress.ip_network(str(v).strip(), strict=False) for v in items]


def _lower_list(value: Any) -> Any:
    value = [value] if isinstance(value, str) else value
    return [v.lower().strip() for v in value] if isinstance(value, list) else value


HostPort = Annotated[tuple[str, int], BeforeValidator(parse_hostport)]
Size = Annotated[int, BeforeValidator(parse_size)]


def usable_cpus() -> int:
    """The CPUs this process may run on (taskset, cgroup cpusets), not the machine's."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def _count_or_auto(value: Any) -> Any:
    return usable_cpus() if isinstance(value, str) and value.strip().lower() == "auto" else value


PerCpu = Annotated[int, BeforeValidator(_count_or_auto)]  # a number, or "auto": one per CPU
Networks = Annotated[list[IPNetwork], BeforeValidator(_networks)]
Lowered = Annotated[list[str], BeforeValidator(_lower_list)]  # domains, addresses, words


def _urls(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _secret(value: str | None, file: Path | None, what: str) -> str | None:
    """A secret given inline or, better, in a file only mailguard's user can read."""
    if value is not None and file is not None:
        raise ValueError(f"give {what} or {what}_file, not both")
    return value


def _read_secret(value: str | None, file: Path | None) -> str:
    if file is not None:
        return file.read_text(encoding="utf-8").strip()
    return value or ""


class DirectoryAttributes(_Section):
    """Which LDAP attribute holds what; the defaults are Active Directory's."""

    mail: str = "mail"
    proxy_addresses: str = "proxyAddresses"  # AD's "smtp:alias@..." (Exchange)
    member_of: str = "memberOf"
    display_name: str = "displayName"
    department: str = "department"
    login: str = "userPrincipalName"  # what staff type to sign in to the review UI


# Enabled user accounts (bit 2 of userAccountControl is "disabled").
AD_USER_FILTER = (
    "(&(objectCategory=person)(objectClass=user)(!(userAccountControl:1.2.840.113556.1.4.803:=2)))"
)


class DirectorySettings(_Section):
    """The council's directory (Active Directory or any LDAP server), read-only."""

    url: Annotated[list[str], BeforeValidator(_urls)]  # tried in order: ldaps://dc1, ...
    base_dn: str
    bind_dn: str = ""  # a read-only service account; empty: anonymous
    bind_password: str | None = None
    bind_password_file: Path | None = None
    user_filter: str = AD_USER_FILTER  # people who count as current staff
    attributes: DirectoryAttributes = Field(default_factory=DirectoryAttributes)
    tls_ca: Path | None = None  # the council's CA for ldaps:// (default: the system's)
    tls_verify: bool = True
    # The longest one message waits for the directory; while it is down, tried again
    # this often (messages meanwhile are decided without it, at once).
    timeout: float = Field(default=3.0, gt=0)
    retry_interval: float = Field(default=30.0, gt=0)
    # Answers are kept this long (and refreshed in the background once half as old),
    # for at most this many addresses.
    cache_ttl: float = Field(default=900.0, gt=0)
    cache_size: int = Field(default=50_000, ge=100)
    max_list_members: int = Field(default=10_000, ge=1)  # a bigger list counts as this
    # A person is in the groups their groups are in, too ("Mailguard Reviewers" holding
    # the "IG Team" group); false: direct membership only, one search fewer a level.
    nested_groups: bool = True
    # Reviewers sign in to the UI with their directory password (an LDAP bind), as
    # their login attribute (userPrincipalName) or through this DN template.
    login: bool = False
    login_dn_template: str | None = None  # "uid={login},ou=people,dc=example,dc=org"

    @model_validator(mode="after")
    def _check(self) -> DirectorySettings:
        _secret(self.bind_password, self.bind_password_file, "bind_password")
        bad = [u for u in self.url if not u.lower().startswith(("ldap://", "ldaps://"))]
        if bad or not self.url:
            raise ValueError(f"url must be ldap:// or ldaps:// URLs, got {bad or 'none'}")
        if self.login_dn_template is not None and "{login}" not in self.login_dn_template:
            raise ValueError("login_dn_template needs {login} where the name goes")
        return self

    def password(self) -> str:
        return _read_secret(self.bind_password, self.bind_password_file)


class OidcSettings(_Section):
    """Sign-in through an OpenID Connect provider (Entra ID, Keycloak, ...)."""

    discovery_url: str  # https://login.microsoftonline.com/TENANT/v2.0/.well-known/...
    client_id: str
    client_secret: str | None = None
    client_secret_file: Path | None = None
    scopes: list[str] = Field(default_factory=lambda: ["openid", "email", "profile"])
    username_claim: str = "preferred_username"  # Entra ID: the user's UPN
    groups_claim: str = "groups"
    label: str = "Sign in with your council account"
    timeout: float = Field(default=10.0, gt=0)

    @model_validator(mode="after")
    def _check(self) -> OidcSettings:
        _secret(self.client_secret, self.client_secret_file, "client_secret")
        if not self.discovery_url.startswith(("https://", "http://")):
            raise ValueError("discovery_url must be an https:// URL")
        return self

    def secret(self) -> str:
        return _read_secret(self.client_secret, self.client_secret_file)


RoleName = Literal["reviewer", "approver", "admin", "dpo"]


class Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    listen: HostPort = ("127.0.0.1", 10025)
    upstream: HostPort = ("127.0.0.1", 10026)
    data_dir: Path = Path("mailguard-data")
    # Quarantine, history and users: SQLite files in data_dir unless this is a
    # postgresql://user@host/db URL, which several relays and UIs can share.
    database: str | None = None
    policy: Path | None = None  # no policy: no rules, every deliverable message passes
    # How often the policy files are checked for changes (SIGHUP reloads at once).
    policy_check_interval: float = Field(default=2.0, gt=0)
    hostname: str = Field(default_factory=socket.getfqdn)
    # Who may relay through us. Anything else is refused at connect (not an open relay).
    allow: Networks = Field(default_factory=lambda: _networks(["127.0.0.0/8", "::1/128"]))
    max_size: Size = 50 * 1024 * 1024
    max_recipients: int = Field(default=1000, ge=1)
    # RFC 5321 4.5.3.2.7: a server should wait at least 5 minutes for the next command.
    command_timeout: float = Field(default=300.0, gt=0)
    # Total time a client gets to transfer one message after DATA.
    data_timeout: float = Field(default=600.0, gt=0)
    upstream_connect_timeout: float = Field(default=10.0, gt=0)
    upstream_timeout: float = Field(default=60.0, gt=0)
    upstream_data_timeout: float = Field(default=600.0, gt=0)
    upstream_max_connections: int = Field(default=64, ge=1)
    upstream_idle_timeout: float = Field(default=30.0, gt=0)
    upstream_max_reuse: int = Field(default=1000, ge=1)
    # One client address may hold at most this many upstream transactions at once (a
    # MAIL beyond it waits up to upstream_connect_timeout, then gets 451), so a few
    # clients that send MAIL and then idle cannot take the whole pool.
    upstream_per_client: int = Field(default=32, ge=1)
    # An open transaction whose client sends nothing for this long gives its upstream
    # connection back; the client's next command gets a 451 and it starts again.
    upstream_idle_release: float = Field(default=30.0, gt=0)
    workers: int = Field(default_factory=lambda: os.cpu_count() or 1, ge=1)
    # Relay processes taking connections on the one listening port (the inspection
    # workers are shared out among them): one event loop per core.
    # ``auto``: one per CPU the relay may use. The default stays 1, for a relay that
    # shares a small machine with its MTA; deploy/mailguard.example.yaml sets auto.
    processes: PerCpu = Field(default=1, ge=1)
    # uvloop (libuv) when it is installed: the wire costs less CPU per message.
    event_loop: Literal["auto", "uvloop", "asyncio"] = "auto"
    inspect_timeout: float = Field(default=60.0, gt=0)
    # Text-only mail up to this size is inspected on the relay's own event loop (the
    # cheap pass is its whole inspection); larger mail, attachments and text that
    # needs the NER model go to a worker. 0: every message goes to a worker.
    inspect_inline_max_size: Size = 32 * 1024
    # How long SIGTERM waits for in-flight messages before closing anyway.
    shutdown_grace: float = Field(default=60.0, gt=0)
    log_level: str = "info"
    # STARTTLS for clients (Exchange, Postfix): certificate and key in PEM. With
    # tls_required, MAIL before STARTTLS gets 530 (RFC 3207).
    tls_cert: Path | None = None
    tls_key: Path | None = None
    tls_required: bool = False
    # STARTTLS to the upstream: none (a loopback re-injection port), opportunistic (use
    # it when offered), required (no STARTTLS offered: 4xx, the mail waits). Verified
    # against upstream_tls_ca, or the system's CAs, unless upstream_tls_verify is off.
    upstream_tls: Literal["none", "opportunistic", "required"] = "none"
    upstream_tls_ca: Path | None = None
    upstream_tls_verify: bool = True
    # Tagged and rewritten mail names the rules that fired (X-Mailguard-Rules) only when
    # every recipient of that copy is internal; true names them to outside readers too.
    rules_header_outside: bool = False
    # Who may send Postfix's XFORWARD (the original client's name, address and HELO,
    # for the log); advertised to these clients only.
    xforward_allow: Networks = Field(default_factory=lambda: _networks(["127.0.0.0/8", "::1/128"]))
    # Prepend mailguard's own Received: trace line to the mail it passes on. Off by
    # default: the bytes are promised unchanged.
    received_header: bool = False

    @model_validator(mode="after")
    def _database_url(self) -> Settings:
        if self.database is not None and not self.database.startswith(
            ("postgresql://", "postgres://")
        ):
            raise ValueError("database must be a postgresql:// URL (leave it out for SQLite)")
        return self

    @model_validator(mode="after")
    def _tls_pairs(self) -> Settings:
        if (self.tls_cert is None) != (self.tls_key is None):
            raise ValueError("tls_cert and tls_key go together")
        if self.tls_required and self.tls_cert is None:
            raise ValueError("tls_required needs tls_cert and tls_key")
        if (self.web_tls_cert is None) != (self.web_tls_key is None):
            raise ValueError("web_tls_cert and web_tls_key go together")
        return self

    # Sender→recipient history (near-miss, new-domain findings): entries not seen for
    # this long are forgotten, and the relay learns from what it delivers unless off.
    history_max_age_days: int = Field(default=365, ge=1)
    history_learn: bool = True
    ledger_retention_days: int = Field(default=90, ge=1)
    # DNS for the unroutable_domain detector (only asked when a rule uses it):
    # nameservers as HOST:PORT, empty = the system's resolv.conf; and the longest a
    # message waits for answers (lookups start at RCPT, so usually it waits not at all).
    dns_servers: list[HostPort] = Field(default_factory=list)
    dns_timeout: float = Field(default=2.0, gt=0)
    # The review web UI (and the sender links in hold notices) when set.
    web: HostPort | None = None
    # The address people reach the UI at, for links in notices; default http://web.
    web_url: str | None = None
    web_tls_cert: Path | None = None
    web_tls_key: Path | None = None
    session_hours: float = Field(default=8.0, gt=0)
    # Reverse proxies whose X-Forwarded-For is believed (for the login throttle);
    # empty: the connecting address is the client, whatever headers say.
    web_trusted_proxies: list[str] = Field(default_factory=list)
    # Connections one client address may hold open to the UI (trusted proxies: no cap),
    # and how long a request's headers may take to arrive.
    web_connections_per_address: int = Field(default=20, ge=1)
    web_header_timeout: float = Field(default=10.0, gt=0)
    # How often /healthz checks that the upstream answers.
    health_check_interval: float = Field(default=10.0, gt=0)
    # Who may read /metrics on the web port (a Prometheus server); others get 403.
    metrics_allow: Networks = Field(default_factory=lambda: _networks(["127.0.0.0/8", "::1/128"]))
    web_timezone: str = "Europe/London"
    # The council's directory: groups and departments in policy, list sizes for the
    # bulk rules, and (with directory.login) reviewers' sign-in. None: not used.
    directory: DirectorySettings | None = None
    oidc: OidcSettings | None = None  # reviewers sign in through this provider
    # Directory (or OIDC) groups that give a role in the review UI; someone in several
    # gets the strongest. A directory user in none of them cannot sign in.
    roles: dict[RoleName, Annotated[list[str], BeforeValidator(_urls)]] = Field(
        default_factory=dict
    )


def load_settings(config_file: Path | None, overrides: dict[str, Any]) -> Settings:
    """Merge the config file and flags; flags given on the command line win.

    Every problem is reported at once, each on its own line as FILE:LINE:COL (the
    setting's value in the file) or as the command-line flag that set it.
    """
    values: dict[str, Any] = {}
    marks: dict[tuple[Any, ...], str] = {}
    problems: list[str] = []
    if config_file is not None:
        values, marks, problems = _read_config_file(config_file)
    flags = {k: v for k, v in overrides.items() if v is not None and v != ()}
    values.update(flags)
    try:
        settings = Settings(**values)
    except ValidationError as exc:
        problems += [_where(e, flags, marks, config_file) for e in exc.errors()]
    if problems:
        problems.sort(key=_position)
        raise ConfigError("\n".join(problems), problems)
    return settings


def _position(problem: str) -> tuple[int, int]:
    m = re.match(r"[^:]*:(\d+):(\d+): ", problem)
    return (int(m.group(1)), int(m.group(2))) if m else (0, 0)


def _where(
    error: Any, flags: dict[str, Any], marks: dict[tuple[Any, ...], str], file: Path | None
) -> str:
    loc = tuple(error["loc"])
    message = str(error["msg"]).removeprefix("Value error, ")
    if error["type"] == "extra_forbidden":
        message = "unknown setting (see deploy/mailguard.example.yaml for every setting)"
    setting = ".".join(str(p) for p in loc)
    if not loc:  # a check across settings (tls_cert and tls_key go together)
        return f"{file}: {message}" if file else message
    if loc[0] in flags:
        return f"--{str(loc[0]).replace('_', '-')}: {message}"
    for n in range(len(loc), 0, -1):  # the deepest part of the value the file marks
        if loc[:n] in marks:
            return f"{marks[loc[:n]]}: {setting}: {message}"
    return f"{file}: {setting}: {message}" if file else f"{setting}: {message}"


def _read_config_file(
    path: Path,
) -> tuple[dict[str, Any], dict[tuple[Any, ...], str], list[str]]:
    """The settings, where each came from (FILE:LINE:COL by key path), and problems."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read config file: {exc.strerror}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}:1:1: not UTF-8 text: {exc.reason}") from None
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        pos = f"{mark.line + 1}:{mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigError(f"{path}:{pos}{problem}") from None
    if root is None:
        return {}, {}, []
    if not isinstance(root, yaml.MappingNode):
        raise ConfigError(f"{path}:1:1: config file must be a mapping of settings")

    def at(node: yaml.Node) -> str:
        return f"{path}:{node.start_mark.line + 1}:{node.start_mark.column + 1}"

    values: dict[str, Any] = {}
    marks: dict[tuple[Any, ...], str] = {}
    problems: list[str] = []
    constructor = yaml.constructor.SafeConstructor()
    for key_node, value_node in root.value:
        key = str(constructor.construct_object(key_node, deep=True)).replace("-", "_")
        if key in values:
            problems.append(f"{at(key_node)}: {key}: set twice (the first is at {marks[(key,)]})")
            continue
        try:
            values[key] = constructor.construct_object(value_node, deep=True)
        except yaml.YAMLError as exc:
            problems.append(f"{at(value_node)}: {key}: {getattr(exc, 'problem', exc)}")
            continue
        _mark(value_node, (key,), marks, at)
    return values, marks, problems


def _mark(
    node: yaml.Node,
    path: tuple[Any, ...],
    marks: dict[tuple[Any, ...], str],
    at: Any,
) -> None:
    """Where each value is, nested sections (``directory: {url: ...}``) included."""
    marks[path] = at(node)
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            _mark(item, (*path, i), marks, at)
    elif isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode):
                _mark(value_node, (*path, key_node.value), marks, at)
