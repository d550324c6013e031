"""Reviewers sign in with their council account, in real headless Chromium: through
the directory (a real slapd: an LDAP bind as them) and through a real OpenID provider's
login page. Their role comes from their groups; taken out of the group, they are out
at their next click; a wrong password meets the same throttle as a local account's."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.support.oidc_provider import OidcProvider, node_available
from tests.support.slapd import PASSWORD, Person, Slapd, directory_section, slapd_available
from tests.support.webui import PASSWORD as LOCAL_PASSWORD
from tests.support.webui import add_user, web_args

pytestmark = pytest.mark.skipif(
    not (slapd_available() and node_available()), reason="needs slapd and Node.js"
)

REVIEWER = Person("rev.one", "Rhian Reviewer", "rhian.reviewer@northdown.gov.uk", "Revenues")
LEAVER = Person("lee.leaver", "Lee Leaver", "lee.leaver@northdown.gov.uk", "Revenues")
OUTSIDER = Person("olu.other", "Olu Other", "olu.other@northdown.gov.uk", "Highways")
GUESSED = Person("gus.guessed", "Gus Guessed", "gus.guessed@northdown.gov.uk", "Revenues")
BOTH = Person("bea.both", "Bea Both", "bea.both@northdown.gov.uk", "Revenues")  # AD and Entra
CAPS = Person("cas.caps", "Cas Caps", "cas.caps@northdown.gov.uk", "Revenues")
OIDC_PASSWORD = "provider-password-42"
CLIENT = {"client_id": "mailguard-ui", "client_secret": "a-long-test-client-secret-0001"}


@pytest.fixture(scope="module")
def council(tmp_path_factory, module_sink, start_module_mailguard):
    tmp = tmp_path_factory.mktemp("signin")
    with Slapd(tmp / "ldap") as slapd:
        everyone = (REVIEWER, LEAVER, OUTSIDER, GUESSED, BOTH, CAPS)
        people = {p.uid: slapd.add_person(p) for p in everyone}
        reviewers = ("rev.one", "lee.leaver", "gus.guessed", "bea.both", "cas.caps")
        slapd.add_group("Mailguard Reviewers", [people[uid] for uid in reviewers])
        slapd.add_group("Highways", [people["olu.other"]])
        args, base = web_args(tmp)
        accounts = [
            {"username": "ig.approver", "password": OIDC_PASSWORD, "name": "Ife Approver",
             "email": "ife.approver@northdown.gov.uk", "groups": ["Information Governance"]},
            {"username": "bea.both", "password": OIDC_PASSWORD, "name": "Bea Both",
             "email": BOTH.mail, "groups": ["Mailguard Reviewers"]},
        ]  # fmt: skip
        redirect = f"{base}/login/oidc/callback"
        with OidcProvider(tmp / "oidc", accounts, [{**CLIENT, "redirect_uris": [redirect]}]) as idp:
            (tmp / "mailguard.yaml").write_text(
                directory_section(slapd, login=True)
                + f"""
oidc:
  discovery_url: {idp.discovery_url}
  client_id: {CLIENT["client_id"]}
  client_secret: {CLIENT["client_secret"]}
  scopes: [openid, email, profile, groups]
roles:
  reviewer: [Mailguard Reviewers]
  approver: [Information Governance]
  admin: [Mailguard Admins]
"""
            )
            mg = start_module_mailguard(
                module_sink.port, "--config", str(tmp / "mailguard.yaml"), *args
            )
            add_user(mg.data_dir, "breakglass", "admin")
            add_user(mg.data_dir, "local.reviewer", "reviewer")
            yield mg, base, slapd, people


def sign_in_with_password(page, base: str, name: str, password: str) -> None:
    page.goto(f"{base}/held")
    assert "/login" in page.url
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", password)
    page.click("button:has-text('Log in')")


def test_a_reviewer_signs_in_with_their_directory_password(council, page, artifacts):
    _, base, _, _ = council
    sign_in_with_password(page, base, "rev.one", PASSWORD)
    page.wait_for_url(re.compile(r"/held"))
    assert "rev.one (reviewer)" in page.inner_text("header")
    page.screenshot(path=str(artifacts / "directory-sign-in.png"), full_page=True)
    page.goto(f"{base}/users")
    assert "Only an administrator" in page.inner_text("main")


def test_a_name_typed_another_way_signs_in_to_the_same_one_account(council, page):
    _, base, _, _ = council
    full_width = "".join(chr(ord(c) + 0xFEE0) for c in "CAS")  # as some keyboards type
    sign_in_with_password(page, base, f"{full_width}.CAPS", PASSWORD)
    page.wait_for_url(re.compile(r"/held"))
    assert "cas.caps (reviewer)" in page.inner_text("header")


def test_after_signing_in_the_next_page_is_always_one_of_ours(council, page):
    _, base, _, _ = council
    page.goto(f"{base}/login/oidc?next=/%09/evil.example/x")
    page.fill("input[name=login]", "ig.approver")
    page.fill("input[name=password]", OIDC_PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(re.compile(r"/held"))
    assert page.url.startswith(base)


def test_someone_in_no_mapped_group_is_told_plainly_and_kept_out(council, page):
    _, base, _, _ = council
    sign_in_with_password(page, base, "olu.other", PASSWORD)
    assert "not in any group that may use mailguard" in page.inner_text("main")
    page.goto(f"{base}/held")
    assert "/login" in page.url


def test_an_approver_signs_in_through_the_openid_provider(council, page, artifacts):
    _, base, _, _ = council
    page.goto(f"{base}/login")
    page.click("text=Sign in with your council account")
    page.wait_for_selector("text=Sign in to Northdown test provider")
    page.fill("input[name=login]", "ig.approver")
    page.fill("input[name=password]", "not the password")
    page.click("button:has-text('Sign in')")
    assert "Invalid username or password" in page.inner_text("body")
    page.fill("input[name=login]", "ig.approver")
    page.fill("input[name=password]", OIDC_PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(re.compile(r"/held"))
    assert "ig.approver (approver)" in page.inner_text("header")
    page.screenshot(path=str(artifacts / "oidc-sign-in.png"), full_page=True)


def sign_in_with_provider(page, base: str, name: str) -> None:
    page.goto(f"{base}/login")
    page.click("text=Sign in with your council account")
    page.fill("input[name=login]", name)
    page.fill("input[name=password]", OIDC_PASSWORD)
    page.click("button:has-text('Sign in')")
    page.wait_for_url(re.compile(r"/held"))


def test_disabled_in_the_directory_an_openid_user_is_signed_out_too(council, page):
    _, base, slapd, people = council
    sign_in_with_provider(page, base, "bea.both")
    assert "bea.both (reviewer)" in page.inner_text("header")
    slapd.disable(people["bea.both"])
    page.reload()
    assert "/login" in page.url


def test_taken_out_of_the_group_they_lose_access_at_the_next_request(council, page):
    _, base, slapd, people = council
    sign_in_with_password(page, base, "lee.leaver", PASSWORD)
    page.wait_for_url(re.compile(r"/held"))
    slapd.remove_from_group("Mailguard Reviewers", people["lee.leaver"])
    page.reload()
    assert "/login" in page.url
    sign_in_with_password(page, base, "lee.leaver", PASSWORD)
    assert "not in any group" in page.inner_text("main")


def test_a_disabled_account_is_signed_out(council, page):
    _, base, slapd, people = council
    sign_in_with_password(page, base, "rev.one", PASSWORD)
    page.wait_for_url(re.compile(r"/held"))
    slapd.disable(people["rev.one"])
    page.goto(f"{base}/held")
    assert "/login" in page.url


def login_status(base: str, name: str, password: str) -> tuple[int, str]:
    with httpx.Client(base_url=base, timeout=30) as client:
        csrf = re.search(r'name="csrf" value="([^"]+)"', client.get("/login").text).group(1)
        reply = client.post("/login", data={"csrf": csrf, "name": name, "password": password})
        error = re.search(r'role="alert">([^<]+)<', reply.text)
        return reply.status_code, error.group(1) if error else ""


def test_a_wrong_directory_password_meets_the_same_throttle_as_a_local_one(council):
    _, base, _, _ = council
    directory = [login_status(base, "gus.guessed", "wrong guess") for _ in range(6)]
    local = [login_status(base, "local.reviewer", "wrong guess") for _ in range(6)]
    assert directory == local
    assert directory[0] == (401, "Wrong name or password.")
    assert directory[-1][0] == 429
    # Even the right password waits out the lock, as for a local account.
    assert login_status(base, "gus.guessed", PASSWORD)[0] == 429
    assert login_status(base, "local.reviewer", LOCAL_PASSWORD)[0] == 429


def test_the_break_glass_account_still_signs_in_with_its_own_password(council, page):
    _, base, _, _ = council
    sign_in_with_password(page, base, "breakglass", LOCAL_PASSWORD)
    page.wait_for_url(re.compile(r"/held"))
    assert "breakglass (admin)" in page.inner_text("header")
