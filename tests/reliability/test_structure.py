"""Messages shaped to defeat the parser: a thousand nested levels, thousands of parts.
What sits within the limits is still read; what the shape hid is held going outside."""

from __future__ import annotations

import json
import subprocess
import sys

import aiosmtplib
import pytest

from tests.reliability.test_hostile_input import DEFAULT, guarded  # noqa: F401 (fixture)
from tests.support import files
from tests.support.net import HOST
from tests.support.webui import delivered, wait_until

pytestmark = pytest.mark.reliability
SENDER = "officer@northdown.gov.uk"


async def relay(mg, raw: bytes, to: str) -> str:
    _, reply = await aiosmtplib.send(
        raw, sender=SENDER, recipients=[to], hostname=HOST, port=mg.port, timeout=60
    )
    return reply


def decision(mg, reply: str) -> dict:
    queue_id = reply.split()[-1]
    return next(e for e in mg.events("message") if e.get("id") == queue_id)


async def test_a_list_hidden_a_thousand_levels_deep_is_held_not_delivered(guarded, sink):  # noqa: F811
    reply = await relay(guarded, files.nested_message(1000), "someone@gmail.com")

    assert reply.startswith("2.0.0")
    event = decision(guarded, reply)
    assert event["action"] == "hold"
    assert "hold-uninspectable-structure" in event["rules"]
    # ...and the relay is unharmed: the next message goes straight through, alone.
    ok = await relay(guarded, files.message_with(body="Lunch?"), "colleague@northdown.gov.uk")
    assert ok.startswith("2.0.0")
    assert wait_until(lambda: len(delivered(sink)) == 1)
    assert delivered(sink)[0].rcpt_tos == ["colleague@northdown.gov.uk"]


async def test_a_list_above_deep_junk_is_still_found(guarded, sink):  # noqa: F811
    reply = await relay(guarded, files.nested_message(1000, list_level=2), "someone@gmail.com")

    event = decision(guarded, reply)
    assert event["action"] == "hold"
    assert "UK_NHS" in event["findings"]
    assert "hold-bulk-personal-data" in event["rules"]


async def test_too_many_parts_is_held_going_outside_and_only_tagged_inside(guarded, sink):  # noqa: F811
    outside = decision(
        guarded, await relay(guarded, files.many_parts_message(2500), "someone@gmail.com")
    )
    assert outside["action"] == "hold"
    assert "hold-uninspectable-structure" in outside["rules"]

    inside = decision(
        guarded,
        await relay(guarded, files.many_parts_message(2500), "colleague@northdown.gov.uk"),
    )
    assert inside["action"] != "hold"
    assert wait_until(lambda: len(delivered(sink)) == 1)
    assert delivered(sink)[0].rcpt_tos == ["colleague@northdown.gov.uk"]


def test_check_reads_a_deep_message_without_a_recursion_error(tmp_path):
    eml = tmp_path / "deep.eml"
    eml.write_bytes(files.nested_message(5000))
    site = tmp_path / "site.yaml"
    site.write_text(
        f"include: [{DEFAULT}]\norganisation: {{internal_domains: [northdown.gov.uk]}}\n"
    )
    result = subprocess.run(
        [sys.executable, "-m", "mailguard", "check", "--json", "--policy", str(site), str(eml)],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "RecursionError" not in result.stdout + result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["action"] == "hold"
    assert "nested deeper than 32 levels" in result.stdout
