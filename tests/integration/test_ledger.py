"""The decision ledger: every decision the relay makes, kept for reports and incidents,
and never a subject or a word of the content."""

from __future__ import annotations

import json
import sqlite3
import time
from pathlib import Path

import aiosmtplib

from mailguard.db import open_database
from mailguard.ledger.store import FILENAME, Ledger
from tests.support import files
from tests.support.net import HOST, eventually
from tests.support.relay import mailguard_cli

DEFAULT = Path(__file__).parents[2] / "policies" / "council-default.yaml"
OFFICER = "case.officer@northdown.gov.uk"


def site(tmp_path: Path) -> Path:
    policy = tmp_path / "site.yaml"
    policy.write_text(
        f"include: [{DEFAULT}]\n"
        "organisation: {name: Northdown, internal_domains: [northdown.gov.uk],"
        " partner_domains: [nhs.net]}\n"
    )
    return policy


def ledger_rows(data_dir: Path) -> list[tuple]:
    path = data_dir / FILENAME
    if not path.exists():
        return []
    with sqlite3.connect(path) as db:
        return db.execute("SELECT queue_id, message_id, action, rule FROM decisions").fetchall()


async def test_every_decision_is_in_the_ledger_without_subject_or_content(
    tmp_path, sink, start_mailguard
):
    mg = start_mailguard(sink.port, "--policy", str(site(tmp_path)))
    people = files.residents(6)
    secret_subject = "Safeguarding strategy meeting for Kayleigh Brookfield-Amos"
    sheet = files.message_with({"tenants.csv": files.csv_bytes(people)}, to="someone@gmail.com")
    held = sheet.replace(
        b"Subject: Information you asked for", f"Subject: {secret_subject}".encode()
    )
    plain = b"Message-ID: <bins-1@northdown.gov.uk>\n" + files.message_with(
        body="The bins go out on Thursday this week.", to="a@example.org"
    )
    replies = []
    for raw, rcpt in ((held, "someone@gmail.com"), (plain, "a@example.org")):
        _, reply = await aiosmtplib.send(raw, sender=OFFICER, recipients=[rcpt], hostname=HOST,
                                         port=mg.port, timeout=60)  # fmt: skip
        replies.append(reply.split()[-1])
    assert await eventually(lambda: len(ledger_rows(mg.data_dir)) == 2, within=15)
    rows = {r[0]: r for r in ledger_rows(mg.data_dir)}
    assert rows[replies[0]][2:] == ("hold", "hold-bulk-personal-data")
    assert rows[replies[1]][1:3] == ("<bins-1@northdown.gov.uk>", "pass")
    stored = b"".join(p.read_bytes() for p in mg.data_dir.glob("ledger.db*"))
    assert secret_subject.encode() not in stored and b"Kayleigh" not in stored
    assert b"bins go out" not in stored and b"tenants.csv" not in stored
    assert not [p[0] for p in people if p[0].encode() in stored]
    assert b"someone@gmail.com" in stored  # recipients are kept, for incident response
    report = mailguard_cli("report", "--json", "--data-dir", str(mg.data_dir))
    summary = json.loads(report.stdout)["summary"]
    assert summary["messages"] == 2 and summary["actions"] == {"hold": 1, "pass": 1}
    assert summary["holds"] == {"hold-bulk-personal-data": 1}


def test_decisions_older_than_the_retention_are_forgotten(tmp_path):
    from mailguard.ledger.store import Entry

    ledger = Ledger(open_database(None, tmp_path, FILENAME), retention_days=90)
    now = time.time()
    for age_days, queue_id in ((100, "OLD"), (10, "NEW")):
        ledger.add([Entry(now - age_days * 86400, queue_id, "<m@x>", "a@b.org", ("c@d.org",),
                          "pass", None, (), "", (), 10, "v1")])  # fmt: skip
    assert ledger.prune(now) == 1
    assert [e.queue_id for e in ledger.since(0)] == ["NEW"]
    assert [e.queue_id for e in ledger.find(message_id="m@x")] == ["NEW"]
    ledger.close()
