"""Over real SMTP: small text-only mail is inspected in the relay process, mail that
needs the NER model or carries an attachment in a worker, with the same judgment."""

from __future__ import annotations

from pathlib import Path

import aiosmtplib
import httpx

from tests.support.files import csv_bytes, message_with, residents
from tests.support.mail import address, compose
from tests.support.net import HOST, eventually, free_port

POLICY = Path(__file__).parents[2] / "policies" / "council-default.yaml"
LONELY = "Following the review last week, Danielle Mason has been diagnosed with epilepsy."


async def test_plain_mail_is_judged_in_the_relay_and_the_rest_in_a_worker(sink, start_mailguard):
    web = free_port()
    relay = start_mailguard(sink.port, "--policy", str(POLICY), "--web", f"{HOST}:{web}")
    assert await eventually(lambda: relay.events("inline_inspection_ready"), within=60)
    plain, lonely = compose(), compose(body=LONELY)
    table = message_with({"people.csv": csv_bytes(residents(60))}, sender=address())
    for content in (plain, lonely, table):
        await aiosmtplib.send(content, sender=address(), recipients=[address("example.org")],
                              hostname=HOST, port=relay.port, timeout=60)  # fmt: skip

    delivered = [m.content for m in sink.wait_for(1) if m.mail_from != "<>"]
    assert delivered == [plain]  # the diagnosis and the 60 residents are held
    held = [e["action"] for e in relay.events("message")]
    assert held.count("hold") == 2
    async with httpx.AsyncClient() as client:
        page = (await client.get(f"http://{HOST}:{web}/metrics")).text
    counts = {
        where: float(line.split()[-1])
        for line in page.splitlines()
        for where in ("inline", "worker")
        if line.startswith(f'mailguard_inspected_total{{where="{where}"}}')
    }
    assert counts == {"inline": 1.0, "worker": 2.0}
