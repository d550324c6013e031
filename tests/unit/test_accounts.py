"""Reviewer accounts and sessions, on a real SQLite file."""

import time

import pytest

from mailguard.accounts.users import AccountError, LoginThrottle, UserStore
from mailguard.db import SQLiteDatabase
from mailguard.quarantine.service import Role

GOOD = "a long enough passphrase"


@pytest.fixture
def users(tmp_path):
    store = UserStore(SQLiteDatabase(tmp_path / "users.db"))
    yield store
    store.close()


def test_passwords_are_stored_as_argon2_hashes_and_checked(users, tmp_path):
    users.add("rita", Role.REVIEWER, GOOD, by="test")
    assert users.verify("rita", GOOD).role is Role.REVIEWER
    assert users.verify("rita", GOOD + "x") is None
    assert users.verify("nobody", GOOD) is None
    assert GOOD.encode() not in (tmp_path / "users.db").read_bytes()


def test_short_passwords_bad_names_and_duplicates_are_refused(users):
    with pytest.raises(AccountError, match="12 characters"):
        users.add("rita", Role.REVIEWER, "short", by="test")
    with pytest.raises(AccountError, match="user name"):
        users.add("<script>", Role.REVIEWER, GOOD, by="test")
    users.add("rita", Role.REVIEWER, GOOD, by="test")
    with pytest.raises(AccountError, match="exists"):
        users.add("rita", Role.ADMIN, GOOD, by="test")
    with pytest.raises(AccountError, match="role"):
        users.add("sam", Role.SENDER, GOOD, by="test")


def test_a_disabled_user_cannot_log_in_and_loses_open_sessions(users):
    user = users.add("rita", Role.REVIEWER, GOOD, by="test")
    token, _ = users.start_session(user, hours=8)
    assert users.session(token).user.name == "rita"
    users.set_disabled("rita", True, by="test")
    assert users.session(token) is None
    assert users.verify("rita", GOOD) is None


def test_a_role_change_ends_sessions_so_the_new_role_applies_at_once(users):
    user = users.add("rita", Role.REVIEWER, GOOD, by="test")
    token, _ = users.start_session(user, hours=8)
    users.set_role("rita", Role.ADMIN, by="test")
    assert users.session(token) is None


def test_sessions_expire_and_tokens_are_not_stored_in_clear(users, tmp_path):
    user = users.add("rita", Role.REVIEWER, GOOD, by="test")
    token, _ = users.start_session(user, hours=-1)
    assert users.session(token) is None
    assert token.encode() not in (tmp_path / "users.db").read_bytes()


def test_the_login_throttle_counts_one_account_from_one_client(users):
    throttle = LoginThrottle(users.db, limit=3, window=60)
    assert [throttle.attempt("Rita", "10.0.0.1") for _ in range(4)] == [True, True, True, False]
    assert throttle.blocked("rita", "10.0.0.1")  # names compare without case
    assert not throttle.blocked("rita", "10.0.0.2")  # the same person at another desk
    assert not throttle.blocked("ben", "10.0.0.1")  # a colleague behind the same proxy
    throttle.succeeded("rita", "10.0.0.1")
    assert not throttle.blocked("rita", "10.0.0.1")


def test_failures_older_than_the_window_no_longer_count(users):
    throttle = LoginThrottle(users.db, limit=2, window=0.2)
    throttle.attempt("rita", "10.0.0.1")
    throttle.attempt("rita", "10.0.0.1")
    assert throttle.blocked("rita", "10.0.0.1")
    time.sleep(0.3)
    assert not throttle.blocked("rita", "10.0.0.1")


def test_a_council_account_is_made_at_first_sign_in_and_follows_its_groups(users):
    user = users.sign_in_external("jo.bloggs@northdown.gov.uk", Role.REVIEWER, "directory")
    assert user.source == "directory" and users.verify(user.name, "") is None
    again = users.sign_in_external(user.name, Role.APPROVER, "directory")
    assert again.role is Role.APPROVER and again.created_at == user.created_at
    with pytest.raises(AccountError, match="follows their groups"):
        users.set_role(user.name, Role.ADMIN, by="admin")
    users.set_disabled(user.name, True, by="admin")
    with pytest.raises(AccountError, match="disabled"):
        users.sign_in_external(user.name, Role.REVIEWER, "directory")
    changes = [(c.name, c.change, c.detail) for c in users.changes()]
    assert (user.name, "role", "approver") in changes and (
        user.name,
        "added",
        "reviewer",
    ) in changes


def test_a_directory_sign_in_never_takes_over_a_local_account(users):
    users.add("breakglass", Role.ADMIN, "a long local password", by="test")
    with pytest.raises(AccountError, match="local account"):
        users.sign_in_external("breakglass", Role.REVIEWER, "oidc")
    assert users.get("breakglass").source == "local"
    assert users.verify("breakglass", "a long local password") is not None


def test_one_identity_never_takes_over_another_sources_account(users):
    users.sign_in_external("jo.bloggs@northdown.gov.uk", Role.ADMIN, "directory")
    with pytest.raises(AccountError, match="signs in through the directory"):
        users.sign_in_external("jo.bloggs@northdown.gov.uk", Role.REVIEWER, "oidc")
    assert users.get("jo.bloggs@northdown.gov.uk").source == "directory"
