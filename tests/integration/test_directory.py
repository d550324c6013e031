"""The council's directory in policy, over real SMTP with a real OpenLDAP (slapd) on
loopback: groups and departments decide, a distribution list counts as its members,
and mail keeps flowing, logged as decided without it, when the directory is down."""

from __future__ import annotations

import json
import socket
import threading
import time
import urllib.request
from pathlib import Path

import aiosmtplib
import httpx
import pytest

from mailguard.config import DirectorySettings
from mailguard.directory import ldap as ldap_module
from mailguard.directory.ldap import DirectoryError, LdapDirectory
from mailguard.directory.service import Directory
from mailguard.metrics import Metrics
from tests.support import files
from tests.support.mail import compose
from tests.support.net import HOST, eventually, free_port
from tests.support.relay import mailguard_cli
from tests.support.slapd import (
    ADMIN_DN,
    ADMIN_PASSWORD,
    ATTRIBUTES,
    BASE_DN,
    USER_FILTER,
    Person,
    Slapd,
    directory_section,
    slapd_available,
)
from tests.support.tls import certificate_for_loopback

pytestmark = pytest.mark.skipif(not slapd_available(), reason="slapd is not installed")

POLICY = """
organisation: {name: Northdown, internal_domains: [northdown.gov.uk]}
rules:
  - name: no-health-data-from-revenues
    description: Revenues never sends health data.
    when:
      all:
        - sender: {group: Revenues}
        - finding: {type: [UK_NHS, SPECIAL_CATEGORY]}
    action: hold
    notify: false  # the sink gets the mail, not notices
  - name: health-data-only-from-care-to-the-nhs
    description: Health data leaves only from Adult Social Care to nhs.net.
    when:
      all:
        - finding: {type: [UK_NHS, SPECIAL_CATEGORY]}
        - not: {all: [{sender: {group: Adult Social Care}}, {recipient_domain: [nhs.net]}]}
    action: hold
    notify: false
  - name: large-mailing
    description: More than 30 people outside the council.
    when: {external_recipients: {more_than: 30}}
    action: tag
"""

REVENUES = Person("rates.officer", "Rita Rates", "rates.officer@northdown.gov.uk", "Revenues")
CARE = Person("social.worker", "Sam Worker", "social.worker@northdown.gov.uk", "Adult Social Care")
LATE = Person("late.starter", "Lee Starter", "late.starter@northdown.gov.uk", "Revenues")
PANEL = "tenants-panel@northdown.gov.uk"


def config(slapd: Slapd, web_port: int) -> str:
    return directory_section(slapd, timeout=2, retry_interval=1) + (
        f'web: "{HOST}:{web_port}"\nhealth_check_interval: 1\n'
    )


@pytest.fixture
def directory(tmp_path):
    with Slapd(tmp_path / "ldap") as slapd:
        revenues = slapd.add_person(REVENUES)
        care = slapd.add_person(CARE)
        late = slapd.add_person(LATE)
        slapd.add_group("Revenues", [revenues, late])
        slapd.add_group("Adult Social Care", [care])
        tenants = [
            slapd.add_person(Person(f"tenant{i}", f"Tenant {i}", f"tenant{i}@example.org"))
            for i in range(40)
        ]
        slapd.add_group("Tenants Panel", tenants, mail=PANEL)
        yield slapd


@pytest.fixture
def relay(tmp_path, sink, start_mailguard, directory):
    web_port = free_port()
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "mailguard.yaml").write_text(config(directory, web_port))
    mg = start_mailguard(
        sink.port, "--config", str(tmp_path / "mailguard.yaml"),
        "--policy", str(tmp_path / "policy.yaml"),
    )  # fmt: skip
    mg.web_base = f"http://{HOST}:{web_port}"
    return mg


async def send(relay, sender: str, rcpts: list[str], body: str) -> str:
    raw = compose(sender=sender, to=rcpts[:1], subject="Referral", body=body)
    _, reply = await aiosmtplib.send(
        raw, sender=sender, recipients=rcpts, hostname=HOST, port=relay.port, timeout=30
    )
    return reply


def health_text() -> str:
    return f"Referral for Mrs Patel, NHS number {files.nhs_number()}, as discussed."


def decision_of(relay, n: int) -> dict:
    events = relay.events("message")
    assert len(events) >= n, relay.log_text()
    return events[n - 1]


def fetch(url: str) -> str:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.read().decode()


def healthz(relay) -> str:
    return fetch(f"{relay.web_base}/healthz")


async def test_health_data_is_held_from_revenues_but_passes_from_care_to_the_nhs(relay, sink):
    await send(relay, REVENUES.mail, ["gp.surgery@nhs.net"], health_text())
    await send(relay, CARE.mail, ["gp.surgery@nhs.net"], health_text())
    received = sink.wait_for(1)
    assert [r.mail_from for r in received] == [CARE.mail]
    held, passed = decision_of(relay, 1), decision_of(relay, 2)
    assert held["action"] == "hold" and held["directory"] == "ok"
    assert held["rules"] == [
        "no-health-data-from-revenues", "health-data-only-from-care-to-the-nhs"
    ]  # fmt: skip
    assert passed["action"] == "pass" and passed["directory"] == "ok"
    # Care staff sending it anywhere else is still held.
    await send(relay, CARE.mail, ["someone@example.org"], health_text())
    assert decision_of(relay, 3)["rules"] == ["health-data-only-from-care-to-the-nhs"]


async def test_a_distribution_list_of_40_counts_as_40_for_the_bulk_rules(relay, sink):
    await send(relay, CARE.mail, [PANEL], "The panel meets on Tuesday at the civic centre.")
    [received] = sink.wait_for(1)
    assert received.rcpt_tos == [PANEL]  # expanded for the count, not the delivery
    event = decision_of(relay, 1)
    assert event["action"] == "tag" and event["rules"] == ["large-mailing"]
    assert b"X-Mailguard-Verdict: tag" in received.content


async def test_with_the_directory_stopped_mail_flows_and_the_log_says_so(relay, sink, directory):
    await send(relay, CARE.mail, ["gp.surgery@nhs.net"], health_text())
    assert decision_of(relay, 1)["directory"] == "ok"
    assert "directory: up" in healthz(relay)
    directory.stop()
    # Someone the relay has not asked about yet: nothing cached to fall back on.
    reply = await send(relay, LATE.mail, ["gp.surgery@nhs.net"], health_text())
    assert reply.startswith("2")
    event = decision_of(relay, 2)
    assert event["directory"] == "unavailable" and event["action"] == "pass"
    assert set(event["undetermined"]) == {
        "no-health-data-from-revenues", "health-data-only-from-care-to-the-nhs"
    }  # fmt: skip
    assert len(sink.wait_for(2)) == 2
    assert await eventually(lambda: "directory: down" in healthz(relay), within=10)
    assert relay.events("directory_unavailable"), relay.log_text()
    metrics = fetch(f"{relay.web_base}/metrics")
    assert 'mailguard_directory_up{check="ldap"} 0.0' in metrics
    assert 'mailguard_directory_lookups_total{result="unavailable"}' in metrics
    # Back again: used at once (retry_interval 1s), and the Revenues rule applies.
    directory.start()
    assert await eventually(lambda: "directory: up" in healthz(relay), within=15)
    await send(relay, LATE.mail, ["gp.surgery@nhs.net"], health_text())
    event = decision_of(relay, 3)
    assert event["action"] == "hold" and event["directory"] == "ok"


def test_check_asks_the_directory_as_serve_does(tmp_path, directory):
    (tmp_path / "policy.yaml").write_text(POLICY)
    (tmp_path / "mailguard.yaml").write_text(config(directory, free_port()))
    eml = tmp_path / "referral.eml"
    eml.write_bytes(compose(sender=REVENUES.mail, to=["gp.surgery@nhs.net"], body=health_text()))
    result = mailguard_cli(
        "check", "--config", str(tmp_path / "mailguard.yaml"),
        "--policy", str(tmp_path / "policy.yaml"), "--json", str(eml),
    )  # fmt: skip
    verdict = json.loads(result.stdout)
    assert verdict["action"] == "hold" and verdict["directory"] == "ok"
    assert "no-health-data-from-revenues" in verdict["rules"]
    replayed = mailguard_cli(
        "replay", "--config", str(tmp_path / "mailguard.yaml"),
        "--policy", str(tmp_path / "policy.yaml"), "--json", str(eml),
    )  # fmt: skip
    assert json.loads(replayed.stdout.splitlines()[0])["rules"] == verdict["rules"], replayed.stderr
    directory.stop()
    result = mailguard_cli(
        "check", "--config", str(tmp_path / "mailguard.yaml"),
        "--policy", str(tmp_path / "policy.yaml"), str(eml),
    )  # fmt: skip
    assert "directory unavailable: rules not applied: no-health-data-from-revenues" in (
        result.stdout
    ), result.stdout + result.stderr


def bad_directory(tmp_path, url: str, password: str = ADMIN_PASSWORD, oidc: str = "") -> Path:
    (tmp_path / "policy.yaml").write_text(POLICY)
    cfg = tmp_path / "mailguard.yaml"
    cfg.write_text(f"""
directory:
  url: {url}
  base_dn: "{BASE_DN}"
  bind_dn: "{ADMIN_DN}"
  bind_password: "{password}"
  timeout: 1
  login: true
{oidc}
""")
    return cfg


@pytest.mark.parametrize("problem", ["unreachable", "wrong password"])
async def test_a_directory_that_cannot_be_used_is_one_clear_line_and_mail_still_flows(
    tmp_path, sink, start_mailguard, directory, problem
):
    if problem == "unreachable":
        cfg, expected = bad_directory(tmp_path, f"ldap://{HOST}:{free_port()}"), "cannot reach"
    else:
        cfg = bad_directory(tmp_path, directory.url, password="not the password")
        expected = f"bind as {ADMIN_DN} refused"
    relay = start_mailguard(
        sink.port, "--config", str(cfg), "--policy", str(tmp_path / "policy.yaml")
    )
    assert await eventually(lambda: relay.events("directory_unavailable"), within=10)
    [line] = relay.events("directory_unavailable")[:1]
    assert expected in line["error"]
    assert ADMIN_PASSWORD not in relay.log_text() and "not the password" not in relay.log_text()
    reply = await send(relay, REVENUES.mail, ["gp.surgery@nhs.net"], health_text())
    assert reply.startswith("2")
    assert decision_of(relay, 1)["directory"] == "unavailable"


async def test_a_bad_openid_discovery_url_is_one_clear_line_and_mail_still_flows(
    tmp_path, sink, start_mailguard, directory
):
    web = free_port()
    nowhere = f"http://{HOST}:{free_port()}/.well-known/openid-configuration"
    oidc = f"oidc: {{discovery_url: '{nowhere}', client_id: mailguard}}\nweb: '{HOST}:{web}'"
    cfg = bad_directory(tmp_path, directory.url, oidc=oidc)
    relay = start_mailguard(
        sink.port, "--config", str(cfg), "--policy", str(tmp_path / "policy.yaml")
    )
    assert await eventually(lambda: relay.events("oidc_unavailable"), within=15)
    assert nowhere in relay.events("oidc_unavailable")[0]["error"]
    await send(relay, CARE.mail, ["gp.surgery@nhs.net"], health_text())
    assert len(sink.wait_for(1)) == 1
    # The login page's provider button answers plainly.
    async with httpx.AsyncClient(base_url=f"http://{HOST}:{web}", timeout=10) as client:
        page = await client.get("/login/oidc")
        assert page.status_code == 503 and "cannot be reached" in page.text


async def test_a_directory_that_never_answers_delays_one_message_by_its_timeout_at_most(
    tmp_path, sink, start_mailguard
):
    """A domain controller that takes the connection and then says nothing (hung, or a
    firewall that drops): the first message waits out ``timeout``, the next do not wait
    at all until ``retry_interval`` has passed."""
    silent = socket.create_server((HOST, 0))
    held_open: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        silent.settimeout(0.2)
        while not stop.is_set():
            try:
                held_open.append(silent.accept()[0])
            except OSError:
                continue

    threading.Thread(target=accept, daemon=True).start()
    try:
        port = silent.getsockname()[1]
        cfg = bad_directory(tmp_path, f"ldap://{HOST}:{port}")
        cfg.write_text(cfg.read_text() + "  retry_interval: 600\n")
        relay = start_mailguard(
            sink.port, "--config", str(cfg), "--policy", str(tmp_path / "policy.yaml")
        )
        took = []
        for n in range(4):
            started = time.monotonic()
            reply = await send(relay, f"officer{n}@northdown.gov.uk", ["a@nhs.net"], "Hello")
            took.append(time.monotonic() - started)
            assert reply.startswith("2")
        assert all(e["directory"] == "unavailable" for e in relay.events("message"))
        assert took[0] < 3 and max(took[1:]) < 0.5, took
    finally:
        stop.set()
        for conn in held_open:
            conn.close()
        silent.close()


def directory_settings(slapd: Slapd, **extra) -> DirectorySettings:
    return DirectorySettings(
        url=slapd.url, base_dn=BASE_DN, bind_dn=ADMIN_DN, bind_password=ADMIN_PASSWORD,
        user_filter=USER_FILTER, attributes=ATTRIBUTES, **extra,
    )  # fmt: skip


async def test_answers_come_from_memory_and_a_new_starter_is_found_within_minutes(directory):
    now = [0.0]
    metrics = Metrics()
    cache = Directory(directory_settings(directory), metrics=metrics, clock=lambda: now[0])
    newcomer = "new.starter@northdown.gov.uk"
    try:
        first = await cache.answers([REVENUES.mail, newcomer, PANEL])
        assert first.lookup(REVENUES.mail).groups == ("revenues",)
        assert len(first.lookup(PANEL).members) == 40
        assert first.lookup(newcomer) is None
        directory.add_person(Person("new.starter", "Nia Starter", newcomer, "Revenues"))
        again = await cache.answers([REVENUES.mail, newcomer, PANEL])
        assert again.lookup(newcomer) is None  # "no such address" is remembered briefly...
        now[0] = 121.0
        later = await cache.answers([REVENUES.mail, newcomer])
        assert later.lookup(newcomer).department == "Revenues"  # ...and asked again
        counts = {r: metrics.directory_lookups.labels(r)._value.get() for r in ("cached", "asked")}
        assert counts == {"cached": 4, "asked": 4}
    finally:
        cache.close()


def test_ldaps_is_verified_against_the_councils_ca(tmp_path):
    cert = certificate_for_loopback(tmp_path)
    with Slapd(tmp_path / "ldaps", tls=cert) as secure:
        secure.add_person(REVENUES)
        trusting = LdapDirectory(directory_settings(secure, tls_ca=cert.ca))
        assert trusting.entries([REVENUES.mail])[REVENUES.mail].department == "Revenues"
        trusting.close()
        # Without the council's CA, the system's CAs do not vouch for it: refused.
        strangers = LdapDirectory(directory_settings(secure))
        with pytest.raises(DirectoryError, match="cannot reach"):
            strangers.entries([REVENUES.mail])
        strangers.close()


def test_sign_in_binds_through_a_dn_template_and_refuses_empty_passwords(directory):
    template = f"uid={{login}},ou=people,{BASE_DN}"
    ldap = LdapDirectory(directory_settings(directory, login_dn_template=template))
    try:
        person = ldap.authenticate(CARE.uid, CARE.password)
        assert person is not None and person.groups == ("adult social care",)
        assert ldap.authenticate(CARE.uid, "wrong") is None
        assert ldap.authenticate(CARE.uid, "") is None  # an anonymous bind, never a sign-in
        assert ldap.authenticate("nobody.here", CARE.password) is None
    finally:
        ldap.close()


def test_a_list_larger_than_one_page_of_answers_counts_every_member(directory, monkeypatch):
    """Active Directory answers 1,000 entries to a search; bigger lists come in pages."""
    monkeypatch.setattr(ldap_module, "_PAGE", 15)
    ldap = LdapDirectory(directory_settings(directory))
    try:
        assert len(ldap.entries([PANEL])[PANEL].members) == 40
    finally:
        ldap.close()


def test_groups_within_groups_count_as_ad_nests_role_groups(directory):
    clerk = directory.add_person(Person("ig.officer", "Ian Gov", "ig.officer@northdown.gov.uk"))
    team = directory.add_group("IG Team", [clerk])
    directory.add_group("Information Governance", [team])
    directory.add_group("All Staff Groups", [f"cn=Information Governance,ou=groups,{BASE_DN}"])
    nested = LdapDirectory(directory_settings(directory))
    direct = LdapDirectory(directory_settings(directory, nested_groups=False))
    try:
        address = "ig.officer@northdown.gov.uk"
        assert nested.entries([address])[address].groups == (
            "all staff groups", "ig team", "information governance"
        )  # fmt: skip
        assert nested.person("ig.officer").groups == nested.entries([address])[address].groups
        assert direct.entries([address])[address].groups == ("ig team",)
    finally:
        nested.close()
        direct.close()


def test_a_mistyped_base_dn_or_a_missing_password_file_is_down_not_up(directory, tmp_path):
    """Otherwise every address would be "no such address" and every colleague unknown."""
    wrong_base = Directory(
        directory_settings(directory).model_copy(update={"base_dn": "dc=nowhere,dc=gov,dc=uk"})
    )
    assert wrong_base.probe() is False and "base_dn dc=nowhere" in wrong_base.error
    no_file = Directory(
        directory_settings(directory).model_copy(
            update={"bind_password": None, "bind_password_file": tmp_path / "missing"}
        )
    )
    assert no_file.probe() is False and "bind_password_file" in no_file.error
    answers = no_file.answers_now([REVENUES.mail])
    assert answers.state == "unavailable"
    wrong_base.close()
    no_file.close()
