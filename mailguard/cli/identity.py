"""Who is acting from the shell: the operating-system user, never a name typed in.

A shell on the mail server is an admin's, unless the users store has an account of
the same name, whose role then applies (a reviewer with a login is a reviewer here
too). ``--by NAME`` acts for a named account; only an admin may, with a reason, and
the audit records who typed it.
"""

from __future__ import annotations

import os
import pwd
from dataclasses import dataclass

from mailguard.accounts.users import UserStore
from mailguard.quarantine.service import Actor, Role


class IdentityError(Exception):
    """The shell user may not act, or not for that account."""


@dataclass(frozen=True, slots=True)
class Acting:
    actor: Actor
    note: str  # for the audit: how this person was identified

    def noted(self, reason: str) -> str:
        return f"{reason.strip()} [{self.note}]".strip()


def shell_user() -> str:
    """The login behind this process; under sudo, the person who ran sudo."""
    uid = os.getuid()
    if uid == 0 and os.environ.get("SUDO_USER"):
        return os.environ["SUDO_USER"]
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:  # a container's uid with no passwd entry
        return f"uid{uid}"


def acting(users: UserStore | None, by: str | None, reason: str) -> Acting:
    """``users``: None when there are no accounts yet (nobody to act for)."""
    me = shell_user()
    mine = users.get(me) if users is not None else None
    if mine is not None and mine.disabled:
        raise IdentityError(f"the account {me} is disabled")
    actor = mine.actor if mine is not None else Actor(me, Role.ADMIN)
    if by is None or by == me:
        return Acting(actor, f"shell user {me}")
    if actor.role is not Role.ADMIN:
        raise IdentityError(f"only an admin may act for someone else ({me} is {actor.role.value})")
    if not reason.strip():
        raise IdentityError(f"--by {by} needs --reason: why {me} acts for {by}")
    account = users.get(by) if users is not None else None
    if account is None:
        raise IdentityError(f"no user {by} (mailguard users list)")
    if account.disabled:
        raise IdentityError(f"the account {by} is disabled")
    return Acting(account.actor, f"entered by shell user {me} for {by}")
