"""Several relays sharing one PostgreSQL: quarantine, history and users in one place.

Against the real server on 127.0.0.1:5432 (database ``test``), each test in a schema
of its own.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import re
from pathlib import Path

import httpx
import pytest

from mailguard.accounts.users import UserStore
from mailguard.db import PostgresDatabase
from mailguard.history.model import SentMessage, Sighting
from mailguard.history.sql import ReadOnlyHistory, SQLHistory
from mailguard.model import Action, Decision, Envelope, Inspection
from mailguard.quarantine.service import QuarantineService, Role
from mailguard.quarantine.sql import SQLStore
from mailguard.quarantine.store import ReleaseRequest, Search, State
from tests.support.postgres import fresh_schema
from tests.support.relay import mailguard_cli
from tests.support.webui import (
    OFFICER,
    PASSWORD,
    csrf_of,
    delivered,
    logged_in,
    queued_id,
    send,
    wait_until,
    web_args,
)

HOLD = Inspection(Decision(Action.HOLD, ("r",), "why", rule="r", release="approver"))
RAW = b"Subject: Referral\r\n\r\nbody\r\n"
DASHBOARD = Path(__file__).parents[2] / "deploy" / "grafana" / "mailguard-dashboard.json"


def dashboard() -> dict:
    return json.loads(DASHBOARD.read_text())


async def test_the_quarantine_behaves_the_same_in_postgresql(pg_url):
    store = SQLStore(PostgresDatabase(pg_url))
    service = QuarantineService(store)
    env = Envelope(OFFICER, ("a@example.org", "b@example.org"))
    held = await service.hold("PG1", env, RAW, HOLD, expire_days=14)
    assert store.get("PG1") == held and store.content("PG1") == RAW
    assert held.subject == "Referral"
    assert store.set_request("PG1", ReleaseRequest("abe", "ok", 1.0))
    assert not store.set_request("PG1", ReleaseRequest("amy", "me too", 2.0))
    assert store.search(Search(text="pg1"))[1] == 1
    assert store.search(Search(text="100%"))[1] == 0
    assert [store.transition("PG1", State.HELD, State.RELEASING) for _ in range(2)] == [
        True,
        False,
    ]
    entries = store.audit_log("PG1", limit=10, newest_first=True)
    assert [e.action for e in entries] == ["held"]
    assert store.rules() == ["r"]
    store.close()


def test_the_history_behaves_the_same_in_postgresql(pg_url):
    history = SQLHistory(PostgresDatabase(pg_url))
    at = 1.7e9
    sent = SentMessage(OFFICER, at, (Sighting(OFFICER, "sarah@nhs.net", "Sarah Jones", at),), b"k")
    assert history.record([sent, sent]) == 1  # the key is learned once
    import time

    now = time.time()
    for n in range(3):
        history.record([SentMessage(OFFICER, now - n, (Sighting(OFFICER, "gp@nhs.net", "", now),))])
    reader = ReadOnlyHistory(PostgresDatabase(pg_url))
    profile = reader.profile(OFFICER, ["gp@nhs.net", "new@gmail.com"])
    assert profile.count("gp@nhs.net") == 3 and profile.messages == 4
    assert profile.domains == {"nhs.net": 4}  # the 2023 message shares the domain row
    assert "sarah@nhs.net" not in profile.known
    assert [c.address for c in profile.frequent_contacts()] == ["gp@nhs.net"]
    assert history.knows(b"k") and history.forget("gp@nhs.net") == 1
    assert "sarah@nhs.net" not in reader.profile(OFFICER, ["sarah@nhs.net"]).known
    # The 2023 sighting's contact and key are past a year; the domain and sender live on.
    assert history.prune(now) == 2
    history.close()


def test_users_and_sessions_live_in_postgresql(pg_url):
    users = UserStore(PostgresDatabase(pg_url))
    user = users.add("rita", Role.REVIEWER, PASSWORD, by="test")
    token, _ = users.start_session(user, hours=1)
    other = UserStore(PostgresDatabase(pg_url))  # another relay's UI
    assert other.session(token).user.name == "rita"
    other.set_disabled("rita", True, by="test")
    assert users.session(token) is None
    users.close()
    other.close()


def test_parallel_guesses_at_one_account_get_no_extra_tries_in_postgresql(pg_url):
    """Twenty attempts at once, as from two UI processes sharing the database: each is
    counted before its password is checked, so never more than five go through."""
    from mailguard.accounts.users import LoginThrottle

    def attempt(_: int) -> bool:
        db = PostgresDatabase(pg_url)
        try:
            UserStore(db)  # the schema, made once whoever comes first
            return LoginThrottle(db).attempt("rita", "10.0.0.17")
        finally:
            db.close()

    UserStore(PostgresDatabase(pg_url)).close()
    with concurrent.futures.ThreadPoolExecutor(10) as pool:
        allowed = list(pool.map(attempt, range(20)))
    assert 1 <= allowed.count(True) <= 5


@pytest.fixture(scope="module")
def shared_pg_url():
    """The two relays' schema, shared by the tests that use them."""
    with fresh_schema() as url:
        yield url


@pytest.fixture(scope="module")
def shared_sink(module_sink):
    return module_sink


@pytest.fixture
def sink(shared_sink):
    """The two relays' upstream, reset before each test."""
    shared_sink.reset()
    return shared_sink


@pytest.fixture(scope="module")
def two_relays(tmp_path_factory, shared_sink, start_module_mailguard, shared_pg_url):
    """Two relays sharing one database, shared by the tests below: each holds and
    releases its own message; the one history is looked at by one test only."""
    tmp = tmp_path_factory.mktemp("relays")
    pg_url = shared_pg_url
    args_a, base_a = web_args(tmp)
    args_b, base_b = web_args(tmp)
    a = start_module_mailguard(shared_sink.port, "--database", pg_url, *args_a)
    b = start_module_mailguard(
        shared_sink.port, "--database", pg_url, "--data-dir", str(tmp / "b"), *args_b
    )
    result = mailguard_cli(
        "users", "add", "rita", "--role", "reviewer", "--password-stdin", "--database", pg_url,
        stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    return a, b, base_a, base_b


def test_mail_held_by_one_relay_is_listed_and_released_through_the_other(
    two_relays, sink, shared_pg_url
):
    a, _, _, base_b = two_relays
    held = queued_id(send(a.port, ["resident@example.org"]))

    listed = mailguard_cli("quarantine", "list", "--json", "--database", shared_pg_url)
    assert held in {json.loads(line)["id"] for line in listed.stdout.splitlines()}

    rita = logged_in(base_b, "rita")  # the user was added once, for every relay
    assert held in rita.get("/held").text
    reply = rita.post(
        f"/held/{held}/release", data={"csrf": csrf_of(rita), "reason": "checked by phone"}
    )
    assert reply.status_code == 303
    assert wait_until(lambda: len(delivered(sink)) == 1)
    assert delivered(sink)[0].rcpt_tos == ["resident@example.org"]


def test_two_reviewers_releasing_at_once_release_it_once(two_relays, sink, shared_pg_url):
    a, _, _, _ = two_relays
    held = queued_id(send(a.port, ["resident@example.org"]))

    def release(by: list[str]):
        return mailguard_cli(
            "quarantine", "release", held, *by, "--reason", "ok",
            "--database", shared_pg_url, "--upstream", f"127.0.0.1:{sink.port}",
        )  # fmt: skip

    # The shell user, and an admin acting for the account rita.
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        results = list(pool.map(release, [["--by", "rita"], []]))
    assert sorted(r.returncode for r in results) == [0, 1]
    assert any(re.search(r"not held|releasing", r.stderr) for r in results)
    assert wait_until(lambda: len(delivered(sink)) == 1)
    asyncio.run(asyncio.sleep(0.5))
    assert len(delivered(sink)) == 1


def test_both_relays_learn_into_one_history(two_relays, sink, shared_pg_url):
    a, b, _, _ = two_relays

    def pairs() -> int:
        out = mailguard_cli("history", "stats", "--database", shared_pg_url).stdout
        return int(re.search(r"pairs: (\d+)", out).group(1))

    before = pairs()  # what releases in the other tests taught it
    send(a.port, ["colleague@northdown.gov.uk"])
    send(b.port, ["other.colleague@northdown.gov.uk"])
    assert wait_until(lambda: len(delivered(sink)) == 2)
    assert wait_until(lambda: pairs() == before + 2, within=30)  # each look is a CLI run


def test_the_dashboard_counts_shared_held_mail_once_however_many_relays_report_it(
    two_relays, sink, shared_pg_url
):
    """Every relay reports the one shared quarantine; Grafana's "Held now" must not add
    them up."""
    a, _, base_a, base_b = two_relays
    queued_id(send(a.port, ["resident@example.org"]))
    listed = mailguard_cli("quarantine", "list", "--json", "--database", shared_pg_url)
    held = sum(json.loads(line)["state"] == "held" for line in listed.stdout.splitlines())

    reported = [
        float(re.search(r'^mailguard_quarantine_messages\{state="held"\} (\S+)$',
                        httpx.get(f"{base}/metrics").text, re.MULTILINE).group(1))
        for base in (base_a, base_b)
    ]  # fmt: skip
    assert reported == [held, held]

    panel = next(p for p in dashboard()["panels"] if p["title"] == "Held now")
    m = re.fullmatch(
        r'(\w+)\(mailguard_quarantine_messages\{state="held"\}\)', panel["targets"][0]["expr"]
    )
    assert m, panel["targets"][0]["expr"]
    shown = {"max": max, "min": min, "sum": sum, "avg": lambda v: sum(v) / len(v)}[m[1]]
    assert shown(reported) == held


def test_an_imported_register_reaches_every_relay_and_a_refresh_replaces_it(pg_url, tmp_path):
    from mailguard.records import normalise
    from mailguard.records.store import RecordsReader, RecordsStore
    from tests.support import registers

    old, new = registers.residents(500, seed=21), registers.residents(500, seed=22)

    def imported(people, *extra: str) -> None:
        export = registers.write_csv(tmp_path / "export.csv", people)
        done = mailguard_cli(
            "records", "import", "tenants", str(export), "--data-dir", str(tmp_path / "admin"),
            "--database", pg_url, *extra,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr

    def probe(people) -> normalise.Values:
        return normalise.table_contexts([(p.first, p.last, p.postcode) for p in people[:3]])

    imported(old)
    # Another relay: its own data dir, the same database; nothing copied by hand.
    relay = RecordsReader(RecordsStore(tmp_path / "relay-2", pg_url), interval=0)
    [match] = relay.find({"list": probe(old)})
    assert match.rows == 3 and relay.find({"list": probe(new)}) == []
    imported(new, "--replace")
    [match] = relay.find({"list": probe(new)})
    assert match.rows == 3 and relay.find({"list": probe(old)}) == []
    listed = mailguard_cli("records", "list", "--json", "--database", pg_url,
                           "--data-dir", str(tmp_path / "elsewhere"))  # fmt: skip
    assert [t["name"] for t in json.loads(listed.stdout)] == ["tenants"]
    dropped = mailguard_cli("records", "drop", "tenants", "--database", pg_url,
                            "--data-dir", str(tmp_path / "admin"))  # fmt: skip
    assert dropped.returncode == 0, dropped.stderr
    assert relay.find({"list": probe(new)}) == [] and not relay.active()


def test_the_ledger_and_incidents_live_in_postgresql_too(pg_url):
    from mailguard.incidents.store import Incident, IncidentStore
    from mailguard.ledger.store import Entry, Ledger, LedgerFinding

    ledger = Ledger(PostgresDatabase(pg_url), retention_days=90)
    found = (LedgerFinding("personal_data", "UK_NHS", 40, "high", "attachment", "40 x UK_NHS"),)
    now = 1_800_000_000.0
    rule = "hold-bulk-personal-data"
    ledger.add([Entry(now, "Q1", "<a@b>", OFFICER, ("x@gmail.com",), "pass", "hold", (rule,),
                      rule, found, 9, "v")])  # fmt: skip
    ledger.add([Entry(now - 100 * 86400, "Q0", "<old@b>", OFFICER, ("y@gmail.com",), "pass",
                      None, (), "", (), 9, "v")])  # fmt: skip
    [entry] = ledger.find(message_id="a@b")
    assert entry.findings == found and entry.would_action == "hold"
    assert ledger.prune(now) == 1 and [e.queue_id for e in ledger.since(0)] == ["Q1"]
    store = IncidentStore(PostgresDatabase(pg_url))
    incident = Incident("INC-1", now, "dpo", now, now, "Q1", "<a@b>", OFFICER, ("x@gmail.com",),
                        ("x@gmail.com",), "pass", "hold-bulk-personal-data", found)  # fmt: skip
    store.add(incident, "dpo")
    store.requested("INC-1", "x@gmail.com", "dpo")
    assert store.confirmed("INC-1", "x@gmail.com", "phone: spoke to them", "dpo")
    assert not store.confirmed("INC-1", "x@gmail.com", "again", "dpo")  # once
    assert store.get("INC-1") == incident
    assert [line.what for line in store.log("INC-1")][-1].startswith("x@gmail.com confirmed")
