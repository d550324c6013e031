"""Staff who sign in with their council account rather than a mailguard password:
through the directory (an LDAP bind as them) or an OpenID provider. Their role comes
from their groups (``roles:`` in the settings) and is checked again on every request,
so a leaver, or someone taken out of the group, is signed out at their next click.
Local accounts stay for break-glass.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from mailguard.accounts.users import LOCAL, AccountError, User, UserStore
from mailguard.directory.ldap import DirectoryError
from mailguard.directory.service import Directory
from mailguard.log import get_logger
from mailguard.quarantine.service import Role

log = get_logger()

_STRONGEST_FIRST = (Role.ADMIN, Role.APPROVER, Role.REVIEWER, Role.DPO)


class SignInRefused(Exception):
    """A person the directory or provider knows, whom mailguard will not let in (no
    role, disabled here); the message says so plainly."""


class SignInUnavailable(Exception):
    """The directory cannot be asked: council accounts cannot sign in just now."""


def role_for(groups: Iterable[str], roles: Mapping[str, Sequence[str]]) -> Role | None:
    """The strongest role any of these groups gives (names compared without case)."""
    have = {g.casefold() for g in groups}
    for role in _STRONGEST_FIRST:
        if any(name.casefold() in have for name in roles.get(role.value, ())):
            return role
    return None


class StaffSignIn:
    def __init__(
        self,
        users: UserStore,
        directory: Directory | None,
        roles: Mapping[str, Sequence[str]],
        *,
        directory_login: bool = False,
    ) -> None:
        self.users = users
        self.directory = directory
        self.roles = roles
        self.directory_login = directory_login and directory is not None

    async def password(self, name: str, password: str) -> User | None:
        """A local account first (break-glass), else a bind to the directory as them.
        None: wrong name or password, whichever way it was checked."""
        local = self.users.get(name)
        if (local is not None and local.source == LOCAL) or not self.directory_login:
            return self.users.verify(name, password)
        assert self.directory is not None
        try:
            person = await self.directory.authenticate(name, password)
        except DirectoryError as exc:
            log.error("directory_sign_in_unavailable", error=str(exc))
            raise SignInUnavailable from None
        if person is None:
            return None
        return self.external(person.login.lower(), person.groups, "directory")

    def external(self, name: str, groups: Iterable[str], source: str) -> User:
        role = role_for(groups, self.roles)
        if role is None:
            raise SignInRefused(
                "Your council account is not in any group that may use mailguard."
                " Ask your mailguard administrator."
            )
        try:
            return self.users.sign_in_external(name, role, source)
        except AccountError as exc:
            raise SignInRefused(str(exc)) from None

    async def still_allowed(self, user: User) -> User | None:
        """On every request of a directory user (or OIDC user the directory holds):
        their role now, or None when they must be signed out. While the
        directory cannot be asked they keep their session: it is down, not a leaver."""
        if user.source == LOCAL or self.directory is None:
            return user
        try:
            person = await self.directory.person(user.name)
            if user.source == "oidc":
                # The provider's groups gave the role; the directory, matched only by
                # name, may take access away (disabled there) but never give any.
                if person is None and await self.directory.holds(user.name):
                    self.users.end_sessions(user.name)
                    log.info("signed_out_by_directory", reason="disabled")
                    return None
                return user
        except Exception as exc:  # DirectoryError, or any surprise: an outage, not a leaver
            log.warning("directory_recheck_unavailable", error=type(exc).__name__)
            return user
        role = role_for(person.groups, self.roles) if person else None
        if role is None:
            self.users.end_sessions(user.name)
            log.info(
                "signed_out_by_directory",
                reason="gone or disabled" if person is None else "no role",
            )
            return None
        if role is not user.role:
            try:
                return self.users.sign_in_external(user.name, role, user.source)
            except AccountError:  # disabled by an admin this very moment
                return None
        return user
