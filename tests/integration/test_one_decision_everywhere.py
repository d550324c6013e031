"""``serve``, ``check --config`` and ``policy test --config`` decide alike.

An admin tunes a policy with ``check`` and ``policy test`` and relies on the relay
doing exactly the same. The same messages go through a real relay (over SMTP, with a
local DNS server and a learned history read under the config's own history age) and
through both commands with the same settings file: every message gets the same action
and the same rules from all three.
"""

from __future__ import annotations

import email.utils
import json
import mailbox
import time
from email.message import EmailMessage
from pathlib import Path

import aiosmtplib
import pytest

from tests.support import files
from tests.support.dns import StubDNS
from tests.support.net import HOST, eventually
from tests.support.relay import mailguard_cli

DEFAULT = Path(__file__).parents[2] / "policies" / "council-default.yaml"
COUNCIL = "northdown.gov.uk"
OFFICER = f"case.officer@{COUNCIL}"
RECENT = ("John Smith", "j.smith@example-homes.org.uk")  # written to last week
LAPSED = ("Priya Patel", "p.patel@partner-housing.org.uk")  # only months ago
ZONE = {
    d: {"MX": [f"10 mx.{d}."]}
    for d in ("example-homes.org.uk", "partner-housing.org.uk", "example.org", "example.net")
}
HISTORY_AGE_DAYS = 30  # not the default (365): the lapsed contact is forgotten


def sent_mailbox(path: Path) -> Path:
    box = mailbox.mbox(path)
    for contact, days_ago in ((RECENT, 7), (LAPSED, 120)):
        for n in range(8):
            msg = EmailMessage()
            msg["From"] = f"Case Officer <{OFFICER}>"
            msg["To"] = email.utils.formataddr(contact)
            msg["Subject"] = f"Case update {n}"
            msg["Date"] = email.utils.formatdate(time.time() - (days_ago + n / 10) * 86400)
            msg["Message-ID"] = email.utils.make_msgid(domain=COUNCIL)
            msg.set_content(f"Dear {contact[0].split()[0]},\n\nThank you for your call.\n")
            box.add(msg)
    box.flush()
    box.close()
    return path


def message(to: str, body: str) -> bytes:
    return (
        f"From: Case Officer <{OFFICER}>\r\nTo: {to}\r\nSubject: Your case\r\n"
        f"Date: {email.utils.formatdate()}\r\nMessage-ID: {email.utils.make_msgid()}\r\n"
        f"\r\n{body}\r\n"
    ).encode()


MESSAGES = {
    "personal-data": message(
        "resident@example.net",
        "Dear Ms Adeyemi,\r\nThe tenants' details:\r\n"
        + "\r\n".join(f"Tenant {i}: NI number {files.nino()}" for i in range(6)),
    ),
    "near-miss-recent-contact": message(
        "John Smith <j.smyth@example-homes.org.uk>", "Dear John,\r\nSee you on Tuesday."
    ),
    "near-miss-lapsed-contact": message(
        "Priya Patel <p.patil@partner-housing.org.uk>", "Dear Priya,\r\nSee you on Tuesday."
    ),
    "unroutable-domain": message("typo@no-such-domain.example", "Hello,\r\nSee you then."),
    "ordinary": message("someone@example.org", "Hello,\r\nThe meeting is at ten."),
}


@pytest.fixture(scope="module")
def dns_stub():
    with StubDNS(records=ZONE) as stub:
        yield stub


@pytest.fixture
def site(tmp_path, dns_stub):
    """A data dir with a learned history, a policy, a settings file, the messages."""
    data = tmp_path / "data"
    learned = mailguard_cli(
        "history", "learn", "--data-dir", str(data), str(sent_mailbox(tmp_path / "sent.mbox"))
    )
    assert learned.returncode == 0, learned.stderr
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        f"include: [{DEFAULT}]\n"
        f"organisation: {{name: Northdown, internal_domains: [{COUNCIL}], "
        "partner_domains: [nhs.net]}\n"
        "rules:\n"
        "  - name: tag-unroutable\n"
        "    description: A recipient's domain cannot receive email.\n"
        "    when: {finding: {detector: unroutable_domain}}\n"
        "    action: tag\n"
    )
    host, port = dns_stub.address
    config = tmp_path / "mailguard.yaml"
    config.write_text(
        f"data_dir: {data}\npolicy: {policy}\n"
        f"history_max_age_days: {HISTORY_AGE_DAYS}\nhistory_learn: false\n"
        f'dns_servers: ["{host}:{port}"]\ndns_timeout: 2.0\n'
    )
    emls = {}
    for name, raw in MESSAGES.items():
        emls[name] = tmp_path / f"{name}.eml"
        emls[name].write_bytes(raw)
    return config, policy, emls


async def decisions_of_serve(site, sink, start_mailguard) -> dict[str, tuple[str, set[str]]]:
    config, _, emls = site
    relay = start_mailguard(sink.port, "--config", str(config))
    out = {}
    for n, (name, path) in enumerate(emls.items(), start=1):
        raw = path.read_bytes()
        rcpts = [a for _, a in email.utils.getaddresses([_header(raw, "To")])]
        await aiosmtplib.send(
            raw, sender=OFFICER, recipients=rcpts, hostname=HOST, port=relay.port, timeout=30
        )
        assert await eventually(lambda n=n: len(relay.events("message")) == n, within=30)
        event = relay.events("message")[-1]
        out[name] = (event["action"], set(event["rules"]))
    return out


def decisions_of_check(site) -> dict[str, tuple[str, set[str]]]:
    config, _, emls = site
    result = mailguard_cli("check", "--config", str(config), "--json", *map(str, emls.values()))
    assert result.returncode == 0, result.stderr
    verdicts = [json.loads(line) for line in result.stdout.splitlines()]
    return {name: (v["action"], set(v["rules"])) for name, v in zip(emls, verdicts, strict=True)}


def decisions_of_policy_test(site) -> dict[str, tuple[str, set[str]]]:
    config, policy, emls = site
    result = mailguard_cli(
        "policy", "test", "--config", str(config), "--policy", str(policy),
        *map(str, emls.values()),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    out = {}
    lines = result.stdout.splitlines()
    for name, path in emls.items():
        start = next(i for i, line in enumerate(lines) if line.startswith(f"{path}: "))
        action = lines[start].split(": ", 1)[1].split(" by ")[0]
        rows = []
        for line in lines[start + 2 :]:  # past the header row
            if not line.startswith("  ") or line.startswith("  findings:"):
                break
            rows.append(line.split())
        out[name] = (action, {r[0] for r in rows if len(r) > 1 and r[1] == "yes"})
    return out


def _header(raw: bytes, name: str) -> str:
    for line in raw.decode().split("\r\n"):
        if line.startswith(f"{name}: "):
            return line.split(": ", 1)[1]
    return ""


async def test_serve_check_and_policy_test_make_the_same_decision_for_every_message(
    site, sink, start_mailguard, dns_stub
):
    served = await decisions_of_serve(site, sink, start_mailguard)
    checked = decisions_of_check(site)
    tested = decisions_of_policy_test(site)

    assert checked == served
    assert tested == served
    # ...and the decisions are the ones each message was written to provoke, so the
    # comparison above is between real verdicts, not between three empty ones.
    assert served["personal-data"][0] == "hold"
    assert served["ordinary"] == ("pass", set())
    assert "tag-unroutable" in served["unroutable-domain"][1]
    assert "tag-near-miss" in served["near-miss-recent-contact"][1]
    # Only under the settings' 30-day history: at the default age this is a near miss.
    assert "tag-near-miss" not in served["near-miss-lapsed-contact"][1]
    assert ("no-such-domain.example", "MX") in dns_stub.queries


async def test_with_no_policy_serve_and_check_both_run_no_detector(tmp_path, sink, start_mailguard):
    path = tmp_path / "list.eml"
    path.write_bytes(MESSAGES["personal-data"])
    relay = start_mailguard(sink.port)
    await aiosmtplib.send(
        path.read_bytes(), sender=OFFICER, recipients=["resident@example.net"],
        hostname=HOST, port=relay.port, timeout=30,
    )  # fmt: skip
    assert await eventually(lambda: len(relay.events("message")) == 1, within=30)
    [event] = relay.events("message")

    result = mailguard_cli("check", "--json", "--data-dir", str(relay.data_dir), str(path))
    verdict = json.loads(result.stdout)
    assert (event["action"], event["findings"]) == ("pass", [])
    assert (verdict["action"], verdict["findings"]) == ("pass", [])
    human = mailguard_cli("check", str(path))
    assert "inspected by: no detector (none needed)" in human.stdout
