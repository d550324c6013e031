"""What every inspection at this site shares besides the policy.

Built once from the settings (``InspectionContext.from_settings``) by ``serve``,
``check`` and ``policy test`` alike, and sent to the relay's workers with
the policy, so a message is inspected the same way whichever command reads it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mailguard.addresses import domain_of
from mailguard.config import DirectorySettings, Settings
from mailguard.detectors import registry
from mailguard.directory.service import Directory
from mailguard.history import sql as history_sql
from mailguard.history.store import DEFAULT_MAX_AGE_DAYS, HistoryReader
from mailguard.inspection.dns import DomainChecker, answers_for
from mailguard.model import Envelope
from mailguard.policy.engine import detectors_needed
from mailguard.policy.loader import LoadedPolicy
from mailguard.records.store import RecordsReader, RecordsStore


@dataclass(frozen=True, slots=True)
class InspectionContext:
    """Picklable: where the history is and how old it may be, how DNS is asked, and
    where the council's imported tables are."""

    history_location: str | None = None  # file path or database URL; None: no history
    history_max_age_days: int = DEFAULT_MAX_AGE_DAYS
    dns_servers: tuple[tuple[str, int], ...] = ()  # empty: the system's resolver
    dns_timeout: float = 2.0
    data_dir: str | None = None  # the council's imported tables: DATA_DIR/records
    database: str | None = None  # ... copied from PostgreSQL when relays share one
    directory: DirectorySettings | None = None  # replay's workers ask it themselves

    @classmethod
    def from_settings(cls, settings: Settings) -> InspectionContext:
        return cls(
            history_location=history_sql.location(settings.data_dir, settings.database),
            history_max_age_days=settings.history_max_age_days,
            dns_servers=tuple(settings.dns_servers),
            dns_timeout=settings.dns_timeout,
            data_dir=str(settings.data_dir),
            database=settings.database,
            directory=settings.directory,
        )

    def open_history(self) -> HistoryReader | None:
        """The history, read-only; None when there is none yet. Raises when it cannot
        be opened (``check`` says so; a worker inspects without it)."""
        if self.history_location is None:
            return None
        return history_sql.open_reader(self.history_location, self.history_max_age_days)

    def open_records(self) -> RecordsReader | None:
        """The imported tables as they are now and after each refresh; None when the
        site has no data dir (a bare ``check``). Opening creates nothing."""
        if self.data_dir is None:
            return None
        return RecordsReader(RecordsStore(Path(self.data_dir), self.database))

    def open_directory(self) -> Directory | None:
        return Directory(self.directory) if self.directory is not None else None

    def dns_checker(self) -> DomainChecker:
        return DomainChecker(list(self.dns_servers) or None, timeout=self.dns_timeout)

    async def dns_answers(
        self, checker: DomainChecker, policy: LoadedPolicy | None, recipients: Sequence[str]
    ) -> dict[str, str]:
        """DNS answers for the recipients' outside domains, within ``dns_timeout``;
        none asked when no rule of the policy can use them."""
        if policy is None or not needs_dns(policy):
            return {}
        internal = policy.policy.organisation.internal_domains
        return await answers_for(checker, recipients, internal, self.dns_timeout)


def directory_addresses(policy: LoadedPolicy | None, envelope: Envelope) -> list[str]:
    """What the directory is asked about for one message: the sender and the internal
    recipients (only those can be colleagues or distribution lists)."""
    if policy is None:
        return []
    domains = policy.policy.organisation.domains
    internal = [r for r in envelope.rcpt_tos if domains.is_internal(r)]
    return [envelope.mail_from, *internal] if envelope.mail_from else internal


def needs_dns(policy: LoadedPolicy | None) -> bool:
    """Does a rule of this policy read a detector that reads DNS answers?"""
    return policy is not None and registry.using_dns(detectors_needed(policy.policy))


class RecipientDns:
    """The relay's DNS for recipient domains: asked at RCPT, read when DATA ends, and
    only while the policy in force has a rule that can use the answer."""

    def __init__(
        self,
        context: InspectionContext,
        checker: DomainChecker,
        policy: Callable[[], LoadedPolicy | None],
    ) -> None:
        self.context = context
        self.checker = checker
        self._policy = policy

    def prefetch(self, address: str) -> None:
        """Start the lookup now so its answer is ready when the message is inspected."""
        loaded = self._policy()
        domain = domain_of(address)
        if loaded is None or not domain or not needs_dns(loaded):
            return
        if not loaded.policy.organisation.domains.is_internal(address):
            self.checker.start(domain)

    async def answers(self, recipients: Sequence[str]) -> dict[str, str]:
        return await self.context.dns_answers(self.checker, self._policy(), recipients)
