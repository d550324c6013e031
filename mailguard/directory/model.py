"""What the directory says about addresses, as plain values: picklable (they travel
to inspection workers with the message) and the same for ``serve``, ``check`` and
``replay``."""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field


class Kind(enum.Enum):
    PERSON = "person"  # a member of staff's mailbox
    LIST = "list"  # a distribution list (a group with an address)
    OTHER = "other"  # a shared mailbox, a contact, a room: known, nothing more


@dataclass(frozen=True, slots=True)
class Entry:
    kind: Kind
    department: str = ""
    groups: tuple[str, ...] = ()  # a person's groups, by name (lower case)
    members: tuple[str, ...] = ()  # a list's addresses, nested lists expanded

    def in_group(self, names: Iterable[str]) -> bool:
        wanted = {n.casefold() for n in names}
        return any(g in wanted for g in self.groups)


class Unknown:
    """The directory could not be asked: a rule that needs it can be neither true
    nor false (the decision says it was made without the directory)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = Unknown()


@dataclass(frozen=True, slots=True)
class DirectoryAnswers:
    """The directory's answers for one message's addresses (or a whole replay's).

    ``entries`` maps each address asked about to its entry, or to None when the
    directory has no such address. ``available`` is False when the directory was
    configured but could not be asked; ``configured`` False when there is none.
    """

    entries: Mapping[str, Entry | None] = field(default_factory=dict)
    available: bool = False
    configured: bool = False

    def lookup(self, address: str) -> Entry | Unknown | None:
        key = address.lower()
        if key in self.entries:
            return self.entries[key]
        return None if self.available else UNKNOWN

    @property
    def state(self) -> str:
        """For the decision log: "" (none configured), "ok" or "unavailable"."""
        if not self.configured:
            return ""
        return "ok" if self.available else "unavailable"


NO_DIRECTORY = DirectoryAnswers()


@dataclass(frozen=True, slots=True)
class Person:
    """A member of staff as sign-in sees them."""

    login: str
    name: str
    groups: tuple[str, ...]  # lower case names
