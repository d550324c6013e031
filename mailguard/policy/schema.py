"""The policy file schema. Validated by pydantic; errors are mapped back to
``file:line:col`` by the loader.

Field names are the YAML keys admins write; see README "Policy language".
"""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, field_validator, model_validator

from mailguard.addresses import Domains
from mailguard.config import Lowered, parse_size
from mailguard.detectors import OwnDetails, registry
from mailguard.detectors.personal_data.identifiers import Identifier
from mailguard.model import Action, Severity


def _as_list(value: Any) -> Any:
    return [value] if isinstance(value, str) else value


Names = Annotated[list[str], BeforeValidator(_as_list)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class Mode(enum.Enum):
    ENFORCE = "enforce"
    MONITOR = "monitor"


class RuleAction(enum.Enum):
    """What a rule asks for. ``allow`` exempts a message from other rules."""

    PASS = "pass"
    TAG = "tag"
    REWRITE = "rewrite"
    HOLD = "hold"
    REJECT = "reject"
    ALLOW = "allow"

    @property
    def action(self) -> Action | None:
        return None if self is RuleAction.ALLOW else Action(self.value)


class Count(_Strict):
    """A bound on a number: ``{more_than: 10}``, ``{at_least: 1, at_most: 5}``."""

    at_least: int | None = None
    more_than: int | None = None
    at_most: int | None = None
    less_than: int | None = None

    @model_validator(mode="after")
    def _some_bound(self) -> Count:
        if all(v is None for v in (self.at_least, self.more_than, self.at_most, self.less_than)):
            raise ValueError("give at least one of at_least, more_than, at_most, less_than")
        return self

    def holds(self, n: int) -> bool:
        return (
            (self.at_least is None or n >= self.at_least)
            and (self.more_than is None or n > self.more_than)
            and (self.at_most is None or n <= self.at_most)
            and (self.less_than is None or n < self.less_than)
        )


Bytes = Annotated[int, BeforeValidator(parse_size)]


class SizeBound(Count):
    at_least: Bytes | None = None
    more_than: Bytes | None = None
    at_most: Bytes | None = None
    less_than: Bytes | None = None


Where = Literal["any", "body", "headers", "recipients", "attachment", "hidden"]


class FindingCondition(_Strict):
    """Findings of the given type(s) and/or detector(s), counted together."""

    type: Names = Field(default_factory=list)
    detector: Names = Field(default_factory=list)
    min_count: int = Field(default=1, ge=1)
    min_severity: Severity = Severity.LOW
    where: Where = "any"
    table: Names = Field(default_factory=list)  # KNOWN_RECORD: only these imported tables

    @field_validator("detector")
    @classmethod
    def _known_detectors(cls, v: list[str]) -> list[str]:
        unknown = [d for d in v if d not in registry.names()]
        if unknown:
            known = ", ".join(sorted(registry.names()))
            raise ValueError(f"unknown detector {', '.join(unknown)} (known: {known})")
        return v


class SenderCondition(_Strict):
    """The envelope sender is one of these. A ``group`` the policy's ``groups`` does
    not define is a directory group (``CN``), as is every ``department``."""

    address: Lowered = Field(default_factory=list)
    domain: Lowered = Field(default_factory=list)
    group: Names = Field(default_factory=list)
    department: Names = Field(default_factory=list)


class AttachmentCondition(_Strict):
    """Attachments by file extension (``xlsx``) or MIME type (``application/pdf``)."""

    type: Lowered


class Condition(_Strict):
    """Every key given must hold (an implicit ``all``)."""

    finding: FindingCondition | None = None
    visible_external_recipients: Count | None = None
    external_recipients: Count | None = None
    untrusted_domains: Count | None = None  # distinct recipient domains not internal/partner
    # With a directory: everyone the message reaches, distribution lists expanded; and
    # internal addresses the directory does not know (a mistyped colleague).
    recipients: Count | None = None
    unknown_internal_recipients: Count | None = None
    directory_available: bool | None = None  # false: decide while the directory is down
    recipient_domain: Lowered | None = None
    sender: SenderCondition | None = None
    attachment: AttachmentCondition | None = None
    size: SizeBound | None = None
    all_: list[Condition] | None = Field(default=None, alias="all")
    any_: list[Condition] | None = Field(default=None, alias="any")
    not_: Condition | None = Field(default=None, alias="not")

    def walk(self, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Condition]]:
        """This condition and every nested one, with its path in the YAML."""
        yield path, self
        for key, subs in (("all", self.all_), ("any", self.any_)):
            for j, sub in enumerate(subs or ()):
                yield from sub.walk((*path, key, j))
        if self.not_ is not None:
            yield from self.not_.walk((*path, "not"))

    @model_validator(mode="after")
    def _not_empty(self) -> Condition:
        if not self.model_fields_set:
            raise ValueError("empty condition: it would match every message")
        for key, value in (("all", self.all_), ("any", self.any_)):
            if value is not None and not value:
                raise ValueError(f"'{key}' needs at least one condition")
        return self


class Rule(_Strict):
    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_.-]*$", max_length=80)
    description: str = ""
    when: Condition
    action: RuleAction
    rewrite: Literal["bcc", "split"] | None = None
    subject_prefix: str | None = None
    notify: bool | None = None
    mode: Mode | None = None
    exempts: Names | None = None
    release: Literal["sender", "reviewer", "approver"] = "reviewer"

    @model_validator(mode="after")
    def _action_options(self) -> Rule:
        if self.action is RuleAction.REWRITE and self.rewrite is None:
            raise ValueError("action rewrite needs 'rewrite: bcc' or 'rewrite: split'")
        if self.action is not RuleAction.REWRITE and self.rewrite is not None:
            raise ValueError("'rewrite' only applies to action rewrite")
        if self.exempts is not None and self.action is not RuleAction.ALLOW:
            raise ValueError("'exempts' only applies to action allow")
        if self.subject_prefix is not None and self.action is not RuleAction.TAG:
            raise ValueError("'subject_prefix' only applies to action tag")
        return self

    @property
    def notifies(self) -> bool:
        """Senders hear about holds and rewrites unless the rule says otherwise."""
        if self.notify is not None:
            return self.notify
        return self.action in (RuleAction.HOLD, RuleAction.REWRITE)


_POSTCODE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]?\s*\d[A-Z]{2}\b")
_DOMAIN = re.compile(r"^(?=.{1,253}$)([a-z0-9-]{1,63}\.)+[a-z0-9-]{2,63}$")


class Organisation(_Strict):
    name: str = ""
    internal_domains: Lowered = Field(default_factory=list)
    partner_domains: Lowered = Field(default_factory=list)
    # Mail to these (and their subdomains) must never travel in clear text: Postfix
    # gets an "encrypt" TLS policy for them (mailguard postfix tls-policy).
    tls_required_domains: Lowered = Field(default_factory=list)
    # Domains that look like another (bolton.gov.uk and boston.gov.uk) but that the
    # council really writes to: never flagged as look-alikes. Mail flow never adds any.
    known_domains: Lowered = Field(default_factory=list)
    # The organisation's own details, never personal data wherever they appear:
    # bank accounts ("20-00-00 12345678" or an IBAN), phone numbers, postal addresses.
    bank_accounts: list[str] = Field(default_factory=list)
    phone_numbers: list[str] = Field(default_factory=list)
    addresses: list[str] = Field(default_factory=list)

    @property
    def domains(self) -> Domains:
        return Domains(
            tuple(self.internal_domains), tuple(self.partner_domains), tuple(self.known_domains)
        )

    @cached_property
    def own_details(self) -> OwnDetails:
        numbers = set()
        for entry in self.bank_accounts:  # a sort code and an account number, or an IBAN
            for group in re.split(r"[\s,;]+", entry.strip()):
                if sum(c.isdigit() for c in group) >= 6:
                    numbers.add("".join(c for c in group if c.isdigit()))
        for entry in (*self.bank_accounts, *self.phone_numbers):
            numbers.add("".join(c for c in entry if c.isdigit()))
        postcodes = {
            "".join(m.group(0).split()).upper()
            for a in self.addresses
            for m in _POSTCODE.finditer(a.upper())
        }
        return OwnDetails(self.name, frozenset(n for n in numbers if n), frozenset(postcodes))

    @field_validator("internal_domains", "partner_domains", "tls_required_domains")
    @classmethod
    def _domains(cls, v: list[str]) -> list[str]:
        bad = [d for d in v if not _DOMAIN.match(d)]
        if bad:
            raise ValueError(f"not a domain: {', '.join(bad)}")
        return v


class RewriteSettings(_Strict):
    # What To: shows once visible external recipients are moved to Bcc.
    to: Literal["undisclosed", "sender"] = "undisclosed"
    keep_internal_visible: bool = True


class QuarantineSettings(_Strict):
    expire_days: int = Field(default=14, ge=1)
    # Released mail has left; its stored copy is deleted this many days later (0: at
    # the next hourly housekeeping). The record and its audit are kept.
    keep_released_days: int = Field(default=7, ge=0)


class NotifySettings(_Strict):
    # Envelope and From: of notices; empty = postmaster@ the first internal domain.
    from_address: str = ""


class Policy(_Strict):
    organisation: Organisation = Field(default_factory=Organisation)
    mode: Mode = Mode.ENFORCE
    groups: dict[str, Lowered] = Field(default_factory=dict)
    rewrite: RewriteSettings = Field(default_factory=RewriteSettings)
    quarantine: QuarantineSettings = Field(default_factory=QuarantineSettings)
    notify: NotifySettings = Field(default_factory=NotifySettings)
    identifiers: list[Identifier] = Field(default_factory=list)
    rules: list[Rule] = Field(default_factory=list)
