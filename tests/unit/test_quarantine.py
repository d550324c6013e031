"""The quarantine store and service, on a real SQLite file."""

import time

import pytest

from mailguard.actions import notify
from mailguard.model import Action, Decision, Envelope, Finding, Inspection, Severity
from mailguard.quarantine.service import (
    DAY,
    Actor,
    Choices,
    NotAllowed,
    QuarantineError,
    QuarantineService,
    Role,
)
from mailguard.quarantine.sql import SQLiteStore
from mailguard.quarantine.store import Search, State

ENV = Envelope("officer@northdown.gov.uk", ("a@example.org", "b@example.org"))
RAW = b"Subject: case\r\n\r\nbody\r\n"
IG = Actor("ig", Role.REVIEWER)
DPO = Actor("dpo", Role.APPROVER)
FINDING = Finding("personal_data", "UK_NINO", 3, Severity.HIGH, "attachment:x.csv", "** *** 4567")
INSPECTION = Inspection(
    Decision(Action.HOLD, ("hold-nino",), "NINOs", rule="hold-nino", policy_version="v1"),
    (FINDING,),
)


@pytest.fixture
def service(tmp_path):
    store = SQLiteStore(tmp_path / "q.db")
    yield QuarantineService(store)
    store.close()


async def test_a_held_message_round_trips_with_its_findings(service, tmp_path):
    held = await service.hold("ID1", ENV, RAW, INSPECTION, expire_days=14)
    reopened = SQLiteStore(tmp_path / "q.db")  # another process (the CLI) sees it at once
    assert reopened.get("ID1") == held
    assert reopened.content("ID1") == RAW
    assert held.findings == (FINDING,) and held.rcpt_tos == ENV.rcpt_tos
    assert held.expires_at == pytest.approx(held.created_at + 14 * DAY)
    assert [a.action for a in reopened.audit_log("ID1")] == ["held"]
    reopened.close()


async def test_only_one_of_two_concurrent_releases_can_claim_a_message(service):
    await service.hold("ID2", ENV, RAW, INSPECTION, expire_days=14)
    claims = [service.store.transition("ID2", State.HELD, State.RELEASING) for _ in range(2)]
    assert claims == [True, False]


async def test_release_without_an_upstream_is_refused_and_nothing_changes(service):
    await service.hold("ID3", ENV, RAW, INSPECTION, expire_days=14)
    with pytest.raises(QuarantineError):
        await service.release("ID3", IG, "ok")
    assert service.get("ID3").state is State.HELD


async def test_expiry_deletes_content_keeps_record_and_audits(service):
    await service.hold("OLD", ENV, RAW, INSPECTION, expire_days=1)
    await service.hold("NEW", ENV, RAW, INSPECTION, expire_days=30)
    expired = service.expire(now=time.time() + 2 * DAY)
    assert [h.id for h in expired] == ["OLD"]
    assert service.get("OLD").state is State.EXPIRED
    assert service.store.content("OLD") is None
    assert service.store.content("NEW") == RAW
    assert [a.action for a in service.store.audit_log("OLD")] == ["held", "expired"]


async def test_rejecting_twice_is_an_error(service):
    await service.hold("ID4", ENV, RAW, INSPECTION, expire_days=14)
    service.reject("ID4", DPO, "wrong person")
    with pytest.raises(QuarantineError, match="rejected, not held"):
        service.reject("ID4", DPO, "again")


def test_the_sender_notice_never_repeats_the_message():
    notice = notify.build_notice(
        "hold",
        sender="officer@northdown.gov.uk",
        from_address="postmaster@northdown.gov.uk",
        reason="National Insurance numbers to an outside address",
        rule="hold-nino",
        reference="ID1",
        recipient_count=2,
    )
    text = notice.decode()
    assert "Auto-Submitted: auto-generated" in text
    assert "National Insurance numbers to an outside address" in text
    assert "Reference: ID1" in text
    assert "a@example.org" not in text and "case" not in text.split("\r\n\r\n", 1)[1].lower()


async def test_an_interrupted_release_is_held_again_after_the_grace_time(service, tmp_path):
    await service.hold("ID5", ENV, RAW, INSPECTION, expire_days=14)
    assert service.store.transition("ID5", State.HELD, State.RELEASING)  # then the CLI died
    assert service.recover_interrupted_releases(older_than=3600) == []  # maybe still running
    assert service.recover_interrupted_releases(older_than=-1) == ["ID5"]
    assert service.get("ID5").state is State.HELD
    assert service.store.audit_log("ID5")[-1].action == "release_interrupted"


def test_an_old_schema_is_migrated_in_place(tmp_path):
    import sqlite3

    from mailguard.quarantine import sql as backend

    db = tmp_path / "old.db"
    con = sqlite3.connect(db)
    for statement in filter(str.strip, backend._MIGRATIONS[0].split(";")):
        con.execute(statement)
    con.execute("PRAGMA user_version=1")
    con.commit()
    con.close()
    store = SQLiteStore(db)
    version = store.db.execute("PRAGMA user_version").fetchone()[0]
    assert version == len(backend._MIGRATIONS)
    store.close()


# --- who may do what ---------------------------------------------------------------------

TWO_PERSON = Inspection(
    Decision(Action.HOLD, ("hold-sc",), "special category", rule="hold-sc", release="approver"),
    (FINDING,),
)
SENDER_MAY = Inspection(
    Decision(Action.HOLD, ("near",), "near miss", rule="near", release="sender"), (FINDING,)
)
ABE = Actor("abe", Role.APPROVER)
AMY = Actor("amy", Role.APPROVER)


async def test_a_two_person_message_cannot_be_released_directly_by_anyone(service):
    await service.hold("TP1", ENV, RAW, TWO_PERSON, expire_days=14)
    for actor in (IG, ABE, Actor("root", Role.ADMIN)):
        with pytest.raises(NotAllowed, match="two people"):
            await service.release("TP1", actor, "ok")
    assert service.get("TP1").state is State.HELD


async def test_the_requester_cannot_approve_their_own_request(service):
    await service.hold("TP2", ENV, RAW, TWO_PERSON, expire_days=14)
    held = service.request_release("TP2", ABE, "agreed with the GP")
    assert held.request is not None and held.request.by == "abe"
    with pytest.raises(NotAllowed, match="cannot also approve"):
        await service.approve("TP2", ABE)
    with pytest.raises(NotAllowed, match="only an approver"):
        await service.approve("TP2", IG)
    with pytest.raises(QuarantineError, match="no upstream"):
        await service.approve("TP2", AMY)  # allowed: only the missing upstream stops it
    assert [a.action for a in service.store.audit_log("TP2")] == ["held", "release_requested"]


async def test_a_second_request_does_not_overwrite_the_first(service):
    await service.hold("TP3", ENV, RAW, TWO_PERSON, expire_days=14)
    service.request_release("TP3", ABE, "first")
    with pytest.raises(QuarantineError, match="already has a request"):
        service.request_release("TP3", AMY, "second")
    assert service.get("TP3").request.by == "abe"


async def test_a_sender_may_only_release_their_own_mail_where_the_rule_allows(service):
    await service.hold("S1", ENV, RAW, SENDER_MAY, expire_days=14)
    await service.hold("S2", ENV, RAW, INSPECTION, expire_days=14)
    stranger = Actor("someone@northdown.gov.uk", Role.SENDER)
    owner = Actor(ENV.mail_from.upper(), Role.SENDER)
    assert not service.may_release_directly(service.get("S1"), stranger)
    assert service.may_release_directly(service.get("S1"), owner)
    assert not service.may_release_directly(service.get("S2"), owner)
    with pytest.raises(NotAllowed):
        service.reject("S1", stranger, "not mine")
    assert service.reject("S1", owner, "cancelled").state is State.REJECTED
    assert [a.action for a in service.store.audit_log("S1")][-1] == "cancelled_by_sender"


async def test_every_decision_needs_a_reason(service):
    await service.hold("R1", ENV, RAW, INSPECTION, expire_days=14)
    with pytest.raises(QuarantineError, match="give a reason"):
        service.reject("R1", IG, "   ")
    assert service.get("R1").state is State.HELD


async def test_search_filters_by_state_rule_sender_text_and_pages(service):
    for n in range(7):
        await service.hold(f"Q{n}", ENV, RAW, INSPECTION if n % 2 else TWO_PERSON, 14)
    service.reject("Q1", IG, "no")
    held, total = service.search(Search(state=State.HELD, rule="hold-sc", limit=2))
    assert total == 4 and len(held) == 2
    assert service.search(Search(text="q1"))[1] == 1
    assert service.search(Search(sender="OFFICER@"))[1] == 7
    assert service.search(Search(text="100%_"))[1] == 0  # LIKE wildcards are literal
    assert service.store.rules() == ["hold-nino", "hold-sc"]


async def test_the_ui_offers_each_person_only_what_they_may_do(service):
    await service.hold("C1", ENV, RAW, TWO_PERSON, expire_days=14)
    held = service.get("C1")
    assert service.choices(held, IG) == Choices(request=True, reject=True)
    held = service.request_release("C1", ABE, "agreed")
    assert service.choices(held, ABE) == Choices(waiting=True, reject=True)
    assert service.choices(held, IG) == Choices(waiting=True, reject=True)
    assert service.choices(held, AMY) == Choices(approve=True, reject=True)
    owner = Actor(ENV.mail_from, Role.SENDER)
    assert service.choices(held, owner) == Choices(waiting=True, reject=True)
    service.reject("C1", IG, "no")
    assert service.choices(service.get("C1"), AMY) == Choices()
