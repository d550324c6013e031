"""Learning who each sender writes to, and catching the mail that goes to someone else.

Real ``mailguard history learn`` on a generated mbox, real ``mailguard check``, and a
real ``mailguard serve`` that learns from what it delivers.
"""

from __future__ import annotations

import asyncio
import email.utils
import functools
import hashlib
import json
import mailbox
import random
import time
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from mailguard.history.sql import ReadOnlyHistory
from tests.support import files
from tests.support.mail import fake
from tests.support.net import HOST, eventually
from tests.support.relay import mailguard_cli

DEFAULT = Path(__file__).parents[2] / "policies" / "council-default.yaml"
COUNCIL = "northdown.gov.uk"
OFFICER = f"case.officer@{COUNCIL}"
SARAH = ("Sarah Jones", "sarah.jones@nhs.net")  # a GP the officer refers to every week
PRIYA = ("Priya Patel", "pp4@homes-partner.org.uk")  # a housing officer, known by name
SMITH = ("John Smith", "j.smith@northdown-homes.org.uk")
SMYTH = ("Jane Smyth", "j.smyth@northdown-homes.org.uk")  # similar, and also written to


mailguard = functools.partial(mailguard_cli, timeout=120)  # learning a mailbox takes a while


@pytest.fixture(scope="module")
def site_policy(tmp_path_factory):
    f = tmp_path_factory.mktemp("policy") / "site.yaml"
    f.write_text(
        f"include: [{DEFAULT}]\n"
        f"organisation: {{name: Northdown, internal_domains: [{COUNCIL}], "
        "partner_domains: [nhs.net]}\n"
    )
    return f


def sent_mail(sender: str, to: tuple[str, str], days_ago: float) -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = f"Case Officer <{sender}>"
    msg["To"] = email.utils.formataddr(to)
    msg["Subject"] = fake.sentence(nb_words=4)
    msg["Date"] = email.utils.formatdate(time.time() - days_ago * 86400)
    msg["Message-ID"] = email.utils.make_msgid(domain=COUNCIL)
    msg.set_content(f"Dear {to[0].split()[0]},\n\n{fake.paragraph()}\n")
    return msg


def sent_mailbox(path: Path, n: int = 300) -> Path:
    """A few hundred messages an officer and colleagues sent over the past months."""
    rng = random.Random(7)
    residents = [(fake.name(), f"{fake.user_name()}@{fake.free_email_domain()}") for _ in range(40)]
    colleagues = [f"{fake.user_name()}@{COUNCIL}" for _ in range(5)]
    box = mailbox.mbox(path)
    for i in range(n):
        sender = OFFICER if i % 2 == 0 else rng.choice(colleagues)
        regulars = [SARAH] * 4 + [PRIYA] * 2 + [SMITH, SMYTH]
        to = rng.choice(regulars) if rng.random() < 0.8 else rng.choice(residents)
        box.add(sent_mail(sender, to, days_ago=rng.uniform(1, 200)))
    box.flush()
    box.close()
    return path


def eml(tmp: Path, name: str, to: str, body: str) -> Path:
    path = tmp / name
    path.write_bytes(
        f"From: Case Officer <{OFFICER}>\r\nTo: {to}\r\nSubject: Referral\r\n"
        f"Message-ID: <{name}@{COUNCIL}>\r\n\r\n{body}\r\n".encode()
    )
    return path


def check(policy: Path, data_dir: Path, path: Path) -> dict:
    result = mailguard(
        "check", "--json", "--policy", str(policy), "--data-dir", str(data_dir), str(path)
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def types(verdict: dict) -> set[str]:
    return {f["type"] for f in verdict["findings"]}


@pytest.fixture(scope="module")
def learned(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("history")
    box = sent_mailbox(tmp / "sent.mbox")
    result = mailguard("history", "learn", "--data-dir", str(tmp / "data"), str(box))
    assert result.returncode == 0, result.stderr
    return tmp / "data", result.stdout, box


def test_history_learn_reads_an_mbox_and_summarises_what_it_learned(learned):
    _, out, _ = learned
    assert "Learned 300 message(s) from 6 sender(s): 300 recipient sighting(s)" in out
    assert "History now holds" in out
    assert "@" not in out  # a summary, not a list of addresses


def test_learning_the_same_mailbox_twice_counts_each_message_once(learned, tmp_path):
    data, _, box = learned
    before = ReadOnlyHistory(data / "history.db").profile(OFFICER, [SARAH[1]]).count(SARAH[1])
    again = mailguard("history", "learn", "--data-dir", str(data), str(box))
    assert "Learned 0 message(s)" in again.stdout
    assert "Skipped: 300 already learned" in again.stdout
    after = ReadOnlyHistory(data / "history.db").profile(OFFICER, [SARAH[1]]).count(SARAH[1])
    assert after == before > 10


def test_check_catches_the_autocomplete_slip_only_with_history(learned, site_policy, tmp_path):
    data, _, _ = learned
    slip = eml(
        tmp_path,
        "slip.eml",
        "Sarah Jones <sarah.jones@gmail.com>",
        f"Dear Sarah,\r\nReferral for Mr Okafor, NHS number {files.nhs_number()}.",
    )
    with_history = check(site_policy, data, slip)
    assert with_history["action"] == "hold"
    assert "hold-near-miss-with-data" in with_history["rules"]
    [miss] = [f for f in with_history["findings"] if f["type"] == "RECIPIENT_NEAR_MISS"]
    assert miss["severity"] == "high"  # partner address → personal webmail
    assert "sarah.jones" not in miss["detail"] and "s***@gmail.com" in miss["detail"]

    without = check(site_policy, tmp_path / "empty", slip)
    assert "RECIPIENT_NEAR_MISS" not in types(without)
    assert without["action"] != "hold"


def test_check_catches_a_greeting_for_someone_else_only_with_history(
    learned, site_policy, tmp_path
):
    data, _, _ = learned
    # No display name: only the history knows pp4@ is Priya Patel.
    wrong = eml(
        tmp_path,
        "wrong.eml",
        PRIYA[1],
        f"Dear Mr Okafor,\r\nYour National Insurance number {files.nino()} is on file.",
    )
    with_history = check(site_policy, data, wrong)
    assert "NAME_MISMATCH" in types(with_history)
    assert with_history["action"] == "hold"
    assert "hold-name-mismatch-with-data" in with_history["rules"]
    [finding] = [f for f in with_history["findings"] if f["type"] == "NAME_MISMATCH"]
    assert "Okafor" not in finding["detail"] and "Patel" not in finding["detail"]

    without = check(site_policy, tmp_path / "empty", wrong)
    assert "NAME_MISMATCH" not in types(without)


def test_the_right_person_and_a_similar_colleague_also_written_to_pass(
    learned, site_policy, tmp_path
):
    data, _, _ = learned
    right = eml(
        tmp_path,
        "right.eml",
        PRIYA[1],
        f"Dear Ms Patel,\r\nYour National Insurance number {files.nino()} is on file.",
    )
    colleague = eml(
        tmp_path,
        "smyth.eml",
        f"Jane Smyth <{SMYTH[1]}>",
        f"Hi Jane,\r\nThe tenancy file, NHS number {files.nhs_number()}.",
    )
    for path in (right, colleague):
        verdict = check(site_policy, data, path)
        assert not types(verdict) & {"RECIPIENT_NEAR_MISS", "NAME_MISMATCH"}, verdict
        assert verdict["action"] == "pass", verdict


def test_check_reads_the_history_but_never_writes_it(learned, site_policy, tmp_path):
    data, _, _ = learned

    def snapshot() -> dict[str, str]:
        """The database and its log; the -shm index SQLite may make for any reader is
        not data, and an empty -wal holds nothing."""
        return {
            p.name: hashlib.sha256(p.read_bytes()).hexdigest()
            for p in data.iterdir()
            if not p.name.endswith("-shm")
            and not (p.name.endswith("-wal") and not p.stat().st_size)
        }

    before = snapshot()
    mail = eml(tmp_path, "new.eml", "someone.new@example.org", "Hello,\r\nSee you then.")
    check(site_policy, data, mail)
    assert snapshot() == before


async def test_serve_learns_from_delivered_mail_and_then_holds_a_near_miss(
    sink, start_mailguard, site_policy
):
    mg = start_mailguard(sink.port, "--policy", str(site_policy))
    for _ in range(3):
        await aiosmtplib.send(
            sent_mail(OFFICER, SARAH, days_ago=0), hostname=HOST, port=mg.port, timeout=30
        )
    db = mg.data_dir / "history.db"

    def learned_sarah() -> bool:
        return ReadOnlyHistory(db).profile(OFFICER, [SARAH[1]]).count(SARAH[1]) == 3

    assert await eventually(learned_sarah, within=30)

    slip = sent_mail(OFFICER, ("Sarah Jones", "sarah.jones@gmail.com"), days_ago=0)
    slip.set_content(f"Dear Sarah,\nReferral, NHS number {files.nhs_number()}.\n")
    errors, reply = await aiosmtplib.send(slip, hostname=HOST, port=mg.port, timeout=30)
    assert not errors and reply.startswith("2")
    assert await eventually(lambda: any(e.get("action") == "hold" for e in mg.events("message")))
    [held_event] = [e for e in mg.events("message") if e.get("action") == "hold"]
    assert "hold-near-miss-with-data" in held_event["rules"]

    def delivered() -> list[str]:  # recipients of the officer's own mail (not notices)
        return [r for m in sink.messages if m.mail_from == OFFICER for r in m.rcpt_tos]

    assert delivered() == [SARAH[1]] * 3  # the slip was held, not delivered

    await asyncio.sleep(1.5)  # past the recorder's flush interval
    held = ReadOnlyHistory(db).profile(OFFICER, ["sarah.jones@gmail.com"])
    assert held.count("sarah.jones@gmail.com") == 0  # held mail teaches nothing

    # A reviewer confirms the address: the next message to it is no longer a near miss.
    released = mailguard(
        "quarantine",
        "release",
        held_event["id"],
        "--data-dir",
        str(mg.data_dir),
        "--upstream",
        f"{HOST}:{sink.port}",
        "--reason",
        "GP's own address, confirmed",
    )
    assert released.returncode == 0, released.stderr
    assert await eventually(lambda: delivered().count("sarah.jones@gmail.com") == 1)
    again = sent_mail(OFFICER, ("Sarah Jones", "sarah.jones@gmail.com"), days_ago=0)
    again.set_content(f"Dear Sarah,\nAnother referral, NHS number {files.nhs_number()}.\n")
    errors, reply = await aiosmtplib.send(again, hostname=HOST, port=mg.port, timeout=30)
    assert not errors and reply.startswith("2")
    assert await eventually(lambda: delivered().count("sarah.jones@gmail.com") == 2)


def test_history_stats_count_without_showing_addresses_and_forget_removes_a_person(tmp_path):
    data = tmp_path / "data"
    box = sent_mailbox(tmp_path / "sent.mbox", n=40)
    assert mailguard("history", "learn", "--data-dir", str(data), str(box)).returncode == 0

    stats = mailguard("history", "stats", "--data-dir", str(data))
    assert stats.returncode == 0
    assert "senders: 6" in stats.stdout and "@" not in stats.stdout

    forgot = mailguard("history", "forget", "--data-dir", str(data), SARAH[1].upper())
    assert forgot.returncode == 0 and "Forgot" in forgot.stdout
    profile = ReadOnlyHistory(data / "history.db").profile(OFFICER, [SARAH[1]])
    assert profile.count(SARAH[1]) == 0 and SARAH[1] not in profile.names


def test_history_learn_says_which_files_it_cannot_read(tmp_path):
    result = mailguard("history", "learn", "--data-dir", str(tmp_path), str(tmp_path / "nope"))
    assert result.returncode == 2
    assert "nope" in result.stderr and "Traceback" not in result.stderr


async def test_mail_split_into_one_copy_per_recipient_is_learned_too(
    tmp_path, sink, start_mailguard
):
    policy = tmp_path / "split.yaml"
    policy.write_text(
        "organisation: {name: N, internal_domains: [northdown.gov.uk]}\n"
        "rules:\n  - name: split-outside\n    when: {external_recipients: {at_least: 2}}\n"
        "    action: rewrite\n    rewrite: split\n    notify: false\n"
    )
    mg = start_mailguard(sink.port, "--policy", str(policy))
    msg = sent_mail(OFFICER, SARAH, days_ago=0)
    del msg["To"]
    msg["To"] = "sarah.jones@nhs.net, pp4@homes-partner.org.uk"
    await aiosmtplib.send(msg, hostname=HOST, port=mg.port, timeout=30)
    assert len(sink.wait_for(2)) == 2
    db = mg.data_dir / "history.db"

    def learned() -> bool:
        profile = ReadOnlyHistory(db).profile(OFFICER, [SARAH[1], PRIYA[1]])
        return profile.count(SARAH[1]) == 1 and profile.count(PRIYA[1]) == 1

    assert await eventually(learned, within=30)
