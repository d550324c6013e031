"""The history store and ``history learn``: who each sender writes to, how often, until when.

Real SQLite files in tmp_path; people are Faker en_GB inventions at example domains.
"""

from __future__ import annotations

import datetime as dt
import sqlite3
import time
from email.utils import format_datetime
from pathlib import Path

import pytest
from faker import Faker

from mailguard.history.learn import Learner, input_files, read_messages, sightings_of
from mailguard.history.model import FREQUENT, SentMessage, Sighting
from mailguard.history.sql import ReadOnlyHistory, SQLiteHistory
from mailguard.intake.mime import ParsedMessage

DAY = 86400.0
SENDER = "case.officer@northdown.gov.uk"
COLLEAGUE = "team.leader@northdown.gov.uk"

fake = Faker("en_GB")
fake.seed_instance(4711)
_used: set[str] = set()


def person(domain: str = "example.org") -> tuple[str, str]:
    """A made-up (display name, address) pair, never the same address twice."""
    while True:
        first, last = fake.first_name(), fake.last_name()
        local = ".".join("".join(c for c in w.lower() if c.isalpha()) for w in (first, last))
        if local not in _used:
            _used.add(local)
            return f"{first} {last}", f"{local}@{domain}"


def frequent(profile) -> tuple:
    """The sender's frequent contacts (loaded on demand where the profile supports it)."""
    load = getattr(profile, "frequent_contacts", None)
    return load() if load is not None else profile.frequent


def ago(days: float) -> float:
    return time.time() - days * DAY


@pytest.fixture
def store(tmp_path):
    history = SQLiteHistory(tmp_path / "history.db")
    yield history
    history.close()


def send(store, recipients, *, at: float | None = None, sender: str = SENDER) -> None:
    """One message from ``sender`` to ``recipients``: addresses or (name, address) pairs."""
    at = ago(1) if at is None else at
    pairs = [r if isinstance(r, tuple) else ("", r) for r in recipients]
    store.record([SentMessage(sender, at, tuple(Sighting(sender, a, n, at) for n, a in pairs))])


# --- the store --------------------------------------------------------------------------


def test_a_recorded_message_shows_up_in_the_senders_profile(store):
    name, address = person()
    at = ago(2)
    send(store, [(name, address)], at=at)

    profile = store.profile(SENDER, [address])

    assert profile.sender == SENDER and profile.messages == 1
    contact = profile.known[address]
    assert (contact.address, contact.name, contact.count) == (address, name, 1)
    assert contact.last_seen == pytest.approx(at)
    assert profile.count(address) == 1
    assert profile.domains == {"example.org": 1}
    assert profile.org_domains == {"example.org": 1}
    assert profile.names == {address: name}


def test_a_profile_covers_only_the_recipients_asked_about(store):
    asked, other = person(), person("example.net")
    send(store, [asked, other])

    profile = store.profile(SENDER, [asked[1]])

    assert set(profile.known) == {asked[1]}
    assert set(profile.domains) == {"example.org"}
    assert profile.count(other[1]) == 0


def test_every_message_to_a_contact_adds_one_to_its_count(store):
    _, address = person()
    for days in (5, 4, 3, 2):
        send(store, [address], at=ago(days))

    profile = store.profile(SENDER, [address])

    assert profile.count(address) == 4 and profile.messages == 4


def test_the_display_name_kept_is_the_latest_one_given(store):
    _, address = person()
    send(store, [("Jones, Sarah", address)], at=ago(10))
    send(store, [("Sarah Jones (Housing)", address)], at=ago(5))
    send(store, [("Sarah J", address)], at=ago(8))  # learned late, but older
    send(store, [address], at=ago(1))  # Bcc: no name, which must not wipe the known one

    contact = store.profile(SENDER, [address]).known[address]

    assert contact.name == "Sarah Jones (Housing)"
    assert contact.count == 4
    assert contact.last_seen == pytest.approx(ago(1), abs=5)


def test_a_domain_counts_once_per_message_however_many_recipients_it_had(store):
    people = [person("nhs.net")[1] for _ in range(4)]
    send(store, people, at=ago(3))
    send(store, people[:1], at=ago(2))

    profile = store.profile(SENDER, people)

    assert profile.domains == {"nhs.net": 2}
    assert [profile.count(p) for p in people] == [2, 1, 1, 1]


def test_contacts_and_domains_become_frequent_after_three_messages(store):
    _, often = person()
    _, twice = person("example.net")
    for days in range(FREQUENT):
        send(store, [often], at=ago(days + 1))
    for days in range(FREQUENT - 1):
        send(store, [twice], at=ago(days + 1))

    profile = store.profile(SENDER, [])

    assert [c.address for c in frequent(profile)] == [often]
    assert profile.frequent_domains == ("example.org",)


def test_frequent_contacts_come_most_written_to_first(store):
    contacts = [person()[1] for _ in range(3)]
    for n, address in enumerate(contacts):
        for i in range(FREQUENT + n):
            send(store, [address], at=ago(10 - i * 0.1))

    contacts_by_count = frequent(store.profile(SENDER, []))

    assert [c.address for c in contacts_by_count] == contacts[::-1]
    assert [c.count for c in contacts_by_count] == [5, 4, 3]


def test_sender_and_recipients_are_looked_up_whatever_their_case(store):
    _, address = person()
    send(store, [address])

    profile = store.profile(SENDER.upper(), [address.upper()])

    assert profile.messages == 1 and profile.count(address) == 1


def test_the_organisation_counts_and_names_come_from_every_sender(store):
    name, address = person()
    send(store, [address], at=ago(3))
    send(store, [(name, address)], at=ago(2), sender=COLLEAGUE)
    send(store, [person()[1]], at=ago(1), sender=COLLEAGUE)

    mine = store.profile(SENDER, [address])

    assert mine.domains == {"example.org": 1}
    assert mine.org_domains == {"example.org": 3}
    assert mine.names == {address: name}  # what a colleague called them
    assert mine.known[address].name == ""


def test_messages_older_than_the_retention_period_are_ignored_even_before_pruning(tmp_path):
    store = SQLiteHistory(tmp_path / "history.db", max_age_days=30)
    name, address = person()
    for _ in range(FREQUENT):
        send(store, [(name, address)], at=ago(45))

    profile = store.profile(SENDER, [address])

    assert profile.messages == 0 and profile.known == {} and frequent(profile) == ()
    assert profile.domains == {} and profile.org_domains == {} and profile.names == {}
    assert profile.frequent_domains == ()
    store.close()


def test_prune_forgets_what_was_last_seen_before_the_retention_period(tmp_path):
    store = SQLiteHistory(tmp_path / "history.db", max_age_days=30)
    _, gone = person("example.net")
    _, kept = person()
    send(store, [gone], at=ago(40), sender=COLLEAGUE)  # colleague not seen since
    send(store, [gone], at=ago(40))
    send(store, [kept], at=ago(50))
    send(store, [kept], at=ago(2))  # first seen long ago, but seen recently

    removed = store.prune(time.time())
    stats = store.stats()
    with sqlite3.connect(tmp_path / "history.db") as db:
        rows = db.execute("SELECT sender, recipient, count FROM contacts").fetchall()
    store.close()

    # contacts: gone twice; domains: example.net twice; senders: the colleague
    assert removed == 5
    assert rows == [(SENDER, kept, 2)]
    assert (stats.senders, stats.contacts, stats.domains) == (1, 1, 1)


def test_prune_with_nothing_old_removes_nothing(store):
    send(store, [person()[1]])

    assert store.prune(time.time()) == 0
    assert store.stats().contacts == 1


def test_forget_removes_an_address_as_sender_and_as_recipient(store):
    name, leaver = person()
    _, other = person()
    send(store, [(name, leaver), other])
    send(store, [leaver], sender=COLLEAGUE)
    send(store, [other], sender=leaver)

    removed = store.forget(leaver.upper())

    assert removed == 5  # 3 contacts, 1 domain row and 1 sender row of the leaver
    assert store.profile(SENDER, [leaver]).known == {}
    assert store.profile(SENDER, [leaver]).names == {}
    assert store.profile(COLLEAGUE, [leaver]).count(leaver) == 0
    assert store.profile(leaver, [other]).messages == 0
    assert store.profile(SENDER, [other]).count(other) == 1  # everyone else stays


def test_forgetting_an_unknown_address_removes_nothing(store):
    send(store, [person()[1]])

    assert store.forget("nobody@example.com") == 0
    assert store.stats().contacts == 1


def test_a_failed_batch_is_not_half_written(store):
    _, address = person()
    good = Sighting(SENDER, address, "", ago(1))
    broken = Sighting(SENDER, person()[1], None, ago(1))  # type: ignore[arg-type]

    with pytest.raises(sqlite3.IntegrityError):
        store.record([SentMessage(SENDER, ago(1), (good,)), SentMessage(SENDER, ago(1), (broken,))])

    assert store.stats().contacts == 0
    send(store, [address])  # the store is still usable
    assert store.profile(SENDER, [address]).count(address) == 1


def keyed(key: bytes, at: float) -> SentMessage:
    return SentMessage(SENDER, at, (Sighting(SENDER, person()[1], "", at),), key)


def test_a_message_with_a_known_key_is_recorded_once(store):
    assert store.record([keyed(b"k" * 16, ago(1))]) == 1
    assert store.knows(b"k" * 16) and not store.knows(b"j" * 16)
    assert store.record([keyed(b"k" * 16, ago(1)), keyed(b"j" * 16, ago(1))]) == 1
    assert store.stats().contacts == 2


def test_prune_forgets_old_message_keys_too(tmp_path):
    store = SQLiteHistory(tmp_path / "history.db", max_age_days=30)
    store.record([keyed(b"old-message-key!", ago(31)), keyed(b"new-message-key!", ago(1))])

    assert store.prune(time.time()) == 2  # the old contact and its key; sender and domain live on
    assert not store.knows(b"old-message-key!")
    assert store.knows(b"new-message-key!")
    store.close()


def test_stats_give_counts_and_dates_only(store):
    send(store, [person()[1], person("nhs.net")[1]], at=ago(9))
    send(store, [person()[1]], at=ago(1), sender=COLLEAGUE)

    stats = store.stats()

    assert (stats.senders, stats.contacts, stats.domains) == (2, 3, 2)
    assert stats.oldest == pytest.approx(ago(9), abs=5)
    assert stats.newest == pytest.approx(ago(1), abs=5)


def test_the_read_only_reader_sees_what_the_writer_commits(store):
    reader = ReadOnlyHistory(store.path)
    name, address = person()
    assert reader.profile(SENDER, [address]).messages == 0

    send(store, [(name, address)])  # after the reader opened

    profile = reader.profile(SENDER, [address])
    stats = reader.stats()
    reader.close()
    assert profile.messages == 1 and profile.known[address].name == name
    assert stats.contacts == 1


def test_a_domain_nobody_wrote_to_is_new_to_a_reader_until_the_moment_someone_does(store):
    reader = ReadOnlyHistory(store.path)
    _, address = person("example.net")
    assert reader.profile(SENDER, [address]).org_domains.get("example.net", 0) == 0

    send(store, [person("example.net")[1]], sender=COLLEAGUE)  # right after: never kept

    first = reader.profile(SENDER, [address]).org_domains
    send(store, [person("example.net")[1]], sender=COLLEAGUE)
    again = reader.profile(SENDER, [address]).org_domains  # a count above 0 may be kept
    reader.close()
    assert first == {"example.net": 1}
    assert again["example.net"] >= 1


def test_the_read_only_reader_cannot_write(store):
    send(store, [person()[1]])
    reader = ReadOnlyHistory(store.path)

    with pytest.raises(sqlite3.OperationalError, match="readonly"):
        reader.db.execute("DELETE FROM contacts")
    reader.close()
    assert store.stats().contacts == 1


def test_the_read_only_reader_never_creates_a_missing_history(tmp_path):
    path = tmp_path / "history.db"

    with pytest.raises(sqlite3.OperationalError):
        ReadOnlyHistory(path)
    assert not path.exists()


def test_the_read_only_reader_honours_its_own_retention_period(store):
    _, address = person()
    send(store, [address], at=ago(20))

    short = ReadOnlyHistory(store.path, max_age_days=10)
    long = ReadOnlyHistory(store.path, max_age_days=30)

    assert short.profile(SENDER, [address]).count(address) == 0
    assert long.profile(SENDER, [address]).count(address) == 1
    short.close()
    long.close()


# --- learning from sent mail ------------------------------------------------------------


def rfc822(
    to: str,
    *,
    sender: str = SENDER,
    cc: str = "",
    bcc: str = "",
    days_ago: float | None = 1,
    at: float | None = None,
    message_id: str | None = None,
    body: str = "Please find the notes from today attached.",
) -> bytes:
    lines = [f"From: {sender}", f"To: {to}"]
    if cc:
        lines.append(f"Cc: {cc}")
    if bcc:
        lines.append(f"Bcc: {bcc}")
    lines.append("Subject: Notes")
    if at is not None or days_ago is not None:
        when = dt.datetime.fromtimestamp(ago(days_ago) if at is None else at, dt.UTC)
        lines.append(f"Date: {format_datetime(when)}")
    if message_id:
        lines.append(f"Message-ID: <{message_id}@northdown.gov.uk>")
    return ("\r\n".join(lines) + "\r\n\r\n" + body + "\r\n").encode()


def mbox(messages: list[bytes], newline: bytes = b"\r\n") -> bytes:
    out = b""
    for raw in messages:
        out += b"From MAILER-DAEMON Mon Jan  1 00:00:00 2024" + newline
        out += raw.replace(b"\r\n", newline) + newline
    return out


def test_sightings_are_one_per_distinct_recipient_with_the_name_to_or_cc_gave():
    name, address = person()
    _, other = person("nhs.net")
    raw = rfc822(f'"{name}" <{address.upper()}>', cc=f"{other}, {SENDER}")
    message = ParsedMessage(raw)
    recipients = [address.upper(), other, other, SENDER, "not-an-address"]

    found = sightings_of(SENDER.upper(), recipients, message.addressing(), 1000.0)

    assert found == [Sighting(SENDER, address, name, 1000.0), Sighting(SENDER, other, "", 1000.0)]


def test_an_mbox_is_split_into_its_messages(tmp_path):
    raws = [rfc822(person()[1], message_id=f"m{i}") for i in range(3)]
    raws[1] = rfc822(person()[1], message_id="m1", body="Hello,\r\nFrom the desk of the team:")
    path = tmp_path / "Sent.mbox"
    path.write_bytes(mbox(raws))

    messages = list(read_messages(path))

    assert len(messages) == 3
    assert [ParsedMessage(m.raw).headers["Message-ID"] for m in messages] == [
        "<m0@northdown.gov.uk>",
        "<m1@northdown.gov.uk>",
        "<m2@northdown.gov.uk>",
    ]
    assert b"From the desk of the team:" in messages[1].raw  # not a separator: no blank before
    assert sum(m.size for m in messages) == path.stat().st_size


def test_an_mbox_with_unix_line_endings_is_split_too(tmp_path):
    path = tmp_path / "sent"
    path.write_bytes(mbox([rfc822(person()[1]), rfc822(person()[1])], newline=b"\n"))

    assert len(list(read_messages(path))) == 2


def test_an_eml_file_is_one_message(tmp_path):
    raw = rfc822(person()[1])
    path = tmp_path / "one.eml"
    path.write_bytes(raw)

    [message] = read_messages(path)

    assert message.raw == raw and message.size == len(raw)


def test_directories_are_walked_in_name_order_skipping_hidden_files_and_tmp(tmp_path):
    maildir = tmp_path / "Sent"
    for sub in ("cur", "new", "tmp", ".Trash/cur"):
        (maildir / sub).mkdir(parents=True)
    for rel in ("cur/2", "cur/1", "new/3", "tmp/partial", ".Trash/cur/4", "cur/.hidden"):
        (maildir / rel).write_bytes(b"x")
    single = tmp_path / "single.eml"
    single.write_bytes(b"x")

    files = input_files([maildir, single])

    assert [f.relative_to(tmp_path) for f in files] == [
        Path("Sent/cur/1"),
        Path("Sent/cur/2"),
        Path("Sent/new/3"),
        Path("single.eml"),
    ]


def learn(store, paths, max_age_days: int = 365) -> Learner:
    learner = Learner(store, max_age_days)
    for path in input_files(paths):
        for message in read_messages(path):
            learner.add(message.raw)
    learner.flush()
    return learner


def test_learning_an_mbox_counts_messages_sightings_and_senders(store, tmp_path):
    (name, a), (_, b), (_, c) = person(), person(), person("nhs.net")
    raws = [
        rfc822(f'"{name}" <{a}>', cc=b, message_id="m1", days_ago=3),
        rfc822(a, bcc=c, message_id="m2", days_ago=2),
        rfc822(c, sender=COLLEAGUE, message_id="m3", days_ago=1),
    ]
    path = tmp_path / "Sent"
    path.write_bytes(mbox(raws))

    summary = learn(store, [path]).summary

    assert (summary.messages, summary.sightings, summary.senders) == (3, 5, {SENDER, COLLEAGUE})
    assert (summary.duplicates, summary.too_old, summary.unusable) == (0, 0, 0)
    mine = store.profile(SENDER, [a, b, c])
    assert mine.messages == 2
    assert {r: k.count for r, k in mine.known.items()} == {a: 2, b: 1, c: 1}
    assert mine.known[a].name == name and mine.known[c].name == ""  # Bcc has no name
    assert mine.domains == {"example.org": 2, "nhs.net": 1}
    assert mine.org_domains == {"example.org": 2, "nhs.net": 2}
    assert store.profile(COLLEAGUE, [c]).count(c) == 1


def test_the_date_header_is_when_the_message_was_sent(store, tmp_path):
    _, address = person()
    path = tmp_path / "one.eml"
    path.write_bytes(rfc822(address, days_ago=12))

    learn(store, [path])

    seen = store.profile(SENDER, [address]).known[address].last_seen
    assert seen == pytest.approx(ago(12), abs=60)


def test_missing_broken_or_future_dates_count_as_now(store, tmp_path):
    people = [person()[1] for _ in range(3)]
    raws = [
        rfc822(people[0], days_ago=None, message_id="none"),
        rfc822(people[1], days_ago=None, message_id="bad").replace(
            b"Subject:", b"Date: the day before yesterday\r\nSubject:"
        ),
        rfc822(people[2], days_ago=-30, message_id="future"),
    ]
    path = tmp_path / "Sent"
    path.write_bytes(mbox(raws))

    assert learn(store, [path]).summary.messages == 3

    known = store.profile(SENDER, people).known
    for address in people:
        assert known[address].last_seen == pytest.approx(time.time(), abs=60)


def test_messages_older_than_the_retention_period_are_not_learned(store, tmp_path):
    old, recent = person()[1], person()[1]
    path = tmp_path / "Sent"
    path.write_bytes(mbox([rfc822(old, days_ago=40), rfc822(recent, days_ago=20)]))

    summary = learn(store, [path], max_age_days=30).summary

    assert (summary.messages, summary.too_old) == (1, 1)
    assert store.stats().contacts == 1
    assert store.profile(SENDER, [recent]).count(recent) == 1


def test_learning_the_same_mail_twice_counts_it_once(store, tmp_path):
    a, b = person()[1], person()[1]
    path = tmp_path / "Sent"
    path.write_bytes(mbox([rfc822(a, message_id="m1"), rfc822(b, message_id="m2")]))
    copy = tmp_path / "copy.eml"
    copy.write_bytes(rfc822(a, message_id="m1", body="Re-saved copy, same Message-ID."))

    first = learn(store, [path]).summary
    again = learn(store, [path, copy]).summary

    assert (first.messages, first.duplicates) == (2, 0)
    assert (again.messages, again.duplicates) == (0, 3)
    assert store.profile(SENDER, [a, b]).messages == 2
    assert store.profile(SENDER, [a]).count(a) == 1


def test_messages_without_a_message_id_are_recognised_by_their_content(store, tmp_path):
    a = person()[1]
    path = tmp_path / "Sent"
    path.write_bytes(mbox([rfc822(a), rfc822(a, body="A different message.")]))

    assert learn(store, [path]).summary.messages == 2
    assert learn(store, [path]).summary.duplicates == 2
    assert store.profile(SENDER, [a]).count(a) == 2


def test_the_same_message_id_from_another_sender_is_another_message(store, tmp_path):
    a = person()[1]
    path = tmp_path / "Sent"
    path.write_bytes(
        mbox([rfc822(a, message_id="same"), rfc822(a, message_id="same", sender=COLLEAGUE)])
    )

    summary = learn(store, [path]).summary

    assert (summary.messages, summary.duplicates) == (2, 0)


def test_messages_without_a_sender_or_outside_recipients_are_unusable(store, tmp_path):
    no_from = rfc822(person()[1]).replace(f"From: {SENDER}\r\n".encode(), b"")
    no_to = rfc822("undisclosed-recipients:;")
    to_self = rfc822(SENDER)
    path = tmp_path / "Sent"
    path.write_bytes(mbox([no_from, no_to, to_self, b""]))

    summary = learn(store, [path]).summary

    assert (summary.messages, summary.unusable) == (0, 4)
    assert store.stats().contacts == 0


def test_a_learn_run_stopped_before_writing_can_be_run_again(store):
    a = person()[1]
    raw = rfc822(a, message_id="m1")
    interrupted = Learner(store, 365)
    interrupted.add(raw)  # ... and the run dies before flush()

    rerun = Learner(store, 365)
    rerun.add(raw)
    rerun.flush()

    assert rerun.summary.messages == 1
    assert store.profile(SENDER, [a]).count(a) == 1


def test_separate_messages_in_the_same_second_each_count_for_their_domain(store, tmp_path):
    a, b = person("nhs.net")[1], person("nhs.net")[1]
    at = float(int(ago(2)))
    raw_a = rfc822(a, message_id="merge1", at=at)
    raw_b = rfc822(b, message_id="merge2", at=at)
    path = tmp_path / "Sent"
    path.write_bytes(mbox([raw_a, raw_b]))

    assert learn(store, [path]).summary.messages == 2
    profile = store.profile(SENDER, [a, b])
    assert profile.messages == 2
    assert profile.domains == {"nhs.net": 2}


def test_a_raw_utf8_display_name_does_not_spoil_the_batch(store):
    learner = Learner(store, 365)
    learner.add(rfc822(person()[1], message_id="plain"))
    learner.add(rfc822("Siân Evans <sian.evans@example.org>", message_id="utf8"))

    learner.flush()

    profile = store.profile(SENDER, ["sian.evans@example.org"])
    assert profile.messages == 2
    assert profile.known["sian.evans@example.org"].name == "Siân Evans"


def test_the_history_file_is_readable_by_its_owner_only(tmp_path):
    store = SQLiteHistory(tmp_path / "history.db")
    send(store, [person()[1]])
    store.close()

    for name in ("history.db", "history.db-wal"):
        path = tmp_path / name
        if path.exists():
            assert path.stat().st_mode & 0o077 == 0, name
