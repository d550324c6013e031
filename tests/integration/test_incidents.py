"""A misdirected email that got out: found in the ledger by the id the sender has,
turned into the ICO breach pack, and contained by deletion requests the recipient
confirms through a signed link."""

from __future__ import annotations

import datetime as dt
import json
import re
from pathlib import Path

import httpx

from tests.support import files
from tests.support.net import HOST, free_port
from tests.support.relay import mailguard_cli
from tests.support.webui import send, wait_until

DEFAULT = Path(__file__).parents[2] / "policies" / "council-default.yaml"
OFFICER = "housing.officer@northdown.gov.uk"
STRANGER = "j.smith1983@gmail.com"


def test_a_list_that_got_out_under_a_monitored_rule_becomes_a_pack_and_is_deleted(
    tmp_path, sink, start_mailguard
):
    web_port = free_port()
    base = f"http://{HOST}:{web_port}"
    policy = tmp_path / "site.yaml"
    policy.write_text(
        f"include: [{DEFAULT}]\nmode: monitor\n"
        "organisation: {name: Northdown, internal_domains: [northdown.gov.uk],"
        " partner_domains: [nhs.net]}\n"
    )
    mg = start_mailguard(sink.port, "--policy", str(policy), "--web", f"{HOST}:{web_port}",
                         "--web-url", base)  # fmt: skip
    config = tmp_path / "mailguard.yaml"
    config.write_text(
        f"data_dir: {mg.data_dir}\npolicy: {policy}\nupstream: {HOST}:{sink.port}\n"
        f"web_url: {base}\n"
    )
    residents = files.residents(40)
    raw = b"Message-ID: <arrears-list-77@northdown.gov.uk>\n" + files.message_with(
        {"arrears.csv": files.csv_bytes(residents)}, to=STRANGER
    )
    reply = send(mg.port, [STRANGER], raw, sender=OFFICER)
    assert reply.startswith("2.0.0")
    assert wait_until(lambda: len(sink.messages) == 1, within=30)  # monitor mode: delivered

    discovered = "2026-12-03T09:30:00+00:00"
    opened = _wait_for_ledger(config, discovered)
    pack = json.loads(opened.stdout)
    assert pack["recipients"] == [STRANGER] and pack["unintended_recipients"] == [STRANGER]
    assert {"health", "basic identifiers"} <= set(pack["data_categories"])
    assert pack["records"] == 40 and pack["people"] == 40
    assert pack["report_due_at"] == "2026-12-06T09:30:00+00:00"  # discovered + 72 hours
    assert pack["message"]["action"] == "pass" and pack["message"]["rule"]
    assert "gmail.com" in pack["description"] and "delivered" in pack["description"]
    assert not [r[0] for r in residents if r[0] in opened.stdout]  # masked, no names

    asked = mailguard_cli("incident", "request-deletion", pack["id"], "--config", str(config))
    assert asked.returncode == 0, asked.stderr
    assert wait_until(lambda: len(sink.messages) == 2, within=15)
    request = sink.messages[1]
    assert request.rcpt_tos == [STRANGER]
    [link] = re.findall(rf"{re.escape(base)}/d/\S+", request.content.decode())

    with httpx.Client() as browser:
        page = browser.get(link)
        assert page.status_code == 200 and "delete" in page.text
        token = re.search(r'name="csrf" value="([^"]+)"', page.text).group(1)
        done = browser.post(link, data={"csrf": token})
        assert done.status_code == 200 and "Thank you" in done.text
        forged = browser.get(link[:-3] + "abc")
        assert forged.status_code == 403

    shown = json.loads(
        mailguard_cli("incident", "show", pack["id"], "--json", "--config", str(config)).stdout
    )
    [deletion] = shown["deletion_requests"]
    assert deletion["recipient"] == STRANGER and deletion["confirmed_at"]
    assert deletion["confirmed_from"].startswith("link, from 127.0.0.1")
    assert any("confirmed deletion" in step for step in shown["containment"])
    assert [line["what"] for line in shown["log"]][-1].startswith(f"{STRANGER} confirmed")


def _wait_for_ledger(config: Path, discovered: str):  # type: ignore[no-untyped-def]
    """The ledger is written in batches each second: open the incident once it is there."""
    deadline = dt.datetime.now() + dt.timedelta(seconds=15)
    while True:
        opened = mailguard_cli(
            "incident", "open", "--message-id", "<arrears-list-77@northdown.gov.uk>",
            "--discovered", discovered, "--json", "--config", str(config),
        )  # fmt: skip
        if opened.returncode == 0 or dt.datetime.now() > deadline:
            assert opened.returncode == 0, opened.stderr
            return opened
