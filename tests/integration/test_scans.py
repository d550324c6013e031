"""Scans and photos over the real relay: what a recipient can read in a picture is
inspected like text, only when the mail leaves the council."""

from __future__ import annotations

import json
from pathlib import Path

import aiosmtplib
import pytest

from tests.support import files
from tests.support.net import HOST
from tests.support.relay import mailguard_cli

DEFAULT = Path(__file__).parents[2] / "policies" / "council-default.yaml"
OFFICER = "case.officer@northdown.gov.uk"


@pytest.fixture
def guarded(tmp_path, sink, start_mailguard):
    site = tmp_path / "site.yaml"
    site.write_text(
        f"include: [{DEFAULT}]\n"
        "organisation: {name: Northdown, internal_domains: [northdown.gov.uk],"
        " partner_domains: [nhs.net]}\n"
    )
    return start_mailguard(sink.port, "--policy", str(site))


async def send(mg, rcpt: str, raw: bytes) -> str:
    _, reply = await aiosmtplib.send(
        raw, sender=OFFICER, recipients=[rcpt], hostname=HOST, port=mg.port, timeout=90
    )
    return reply


async def test_a_scanned_care_letter_to_webmail_is_held_and_says_which_page(guarded, sink):
    scan = files.scanned_pdf(
        [files.letter_image(["Minutes of the allotments committee", "No items"]),
         files.letter_image(files.care_letter("Margaret Holloway"))]
    )  # fmt: skip
    reply = await send(
        guarded,
        "someone@gmail.com",
        files.message_with({"letter.pdf": scan}, to="someone@gmail.com"),
    )
    held_id = reply.split()[-1]
    assert "queued as" in reply
    shown = json.loads(
        mailguard_cli(
            "quarantine", "show", held_id, "--json", "--data-dir", str(guarded.data_dir)
        ).stdout
    )
    assert shown["state"] == "held" and shown["rule"] == "hold-special-category"
    wheres = {f["where"] for f in shown["findings"]}
    assert "attachment:letter.pdf#ocr:page 2" in wheres  # the reviewer sees which page
    assert sink.messages == [] or all(m.mail_from == "<>" for m in sink.messages)


async def test_the_same_scan_to_a_colleague_is_not_read_at_all(guarded, sink):
    raw = files.message_with(
        {
            "letter.pdf": files.scanned_pdf(
                [files.letter_image(files.care_letter("Margaret Holloway"))]
            )
        },
        to="colleague@northdown.gov.uk",
    )
    reply = await send(guarded, "colleague@northdown.gov.uk", raw)
    assert reply.startswith("2.0.0")
    [got] = sink.wait_for(1)
    assert got.content == raw
    [event] = [e for e in guarded.events("message") if e.get("reply") == 250]
    assert event["action"] == "pass" and event["findings"] == []
