"""A recipient domain that cannot receive mail, caught by a real ``serve`` asking a local DNS.

The stub DNS runs on 127.0.0.1; nothing here asks the internet.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

import aiosmtplib
import pytest

from tests.support.dns import StubDNS
from tests.support.mail import compose
from tests.support.net import HOST

POLICY = """
organisation: {name: Northdown, internal_domains: [northdown.gov.uk]}
rules:
  - name: tag-unroutable
    description: A recipient's domain cannot receive email.
    when: {finding: {detector: unroutable_domain}}
    action: tag
"""
ZONE = {
    "example.org": {"MX": ["10 mx.example.org."]},
    "hostonly.example": {"A": ["192.0.2.1"]},
    "nullmx.example": {"MX": ["0 ."]},
}


@pytest.fixture
def dns_stub():
    with StubDNS(records=ZONE, slow={"slow.example": 10.0}) as stub:
        yield stub


@pytest.fixture
def relay(tmp_path, sink, start_mailguard, dns_stub):
    (tmp_path / "policy.yaml").write_text(POLICY)
    host, port = dns_stub.address
    (tmp_path / "mailguard.yaml").write_text(f'dns_servers: ["{host}:{port}"]\ndns_timeout: 1.0\n')
    return start_mailguard(
        sink.port,
        "--config",
        str(tmp_path / "mailguard.yaml"),
        "--policy",
        str(tmp_path / "policy.yaml"),
    )


async def send(relay, rcpt: str) -> str:
    raw = compose(sender="officer@northdown.gov.uk", to=[rcpt])
    _, reply = await aiosmtplib.send(
        raw,
        sender="officer@northdown.gov.uk",
        recipients=[rcpt],
        hostname=HOST,
        port=relay.port,
        timeout=30,
    )
    return reply


async def test_mail_to_a_domain_without_mx_or_address_is_flagged(relay, sink):
    for rcpt in ("typo@no-such-domain.example", "x@nullmx.example"):
        assert (await send(relay, rcpt)).startswith("2")
    for rcpt in ("a@example.org", "b@hostonly.example"):
        assert (await send(relay, rcpt)).startswith("2")
    received = sink.wait_for(4)
    tagged = {m.rcpt_tos[0] for m in received if b"X-Mailguard-Verdict: tag" in m.content}
    assert tagged == {"typo@no-such-domain.example", "x@nullmx.example"}


async def test_internal_domains_are_never_looked_up(relay, sink, dns_stub):
    assert (await send(relay, "colleague@northdown.gov.uk")).startswith("2")
    sink.wait_for(1)
    assert not any("northdown" in name for name, _ in dns_stub.queries)


async def test_a_dns_server_that_does_not_answer_delays_mail_by_at_most_the_budget(relay, sink):
    # A first message (internal: no lookup) waits for the worker to warm up; that
    # start-up cost, slow on a busy machine, is not the DNS budget measured below.
    assert (await send(relay, "colleague@northdown.gov.uk")).startswith("2")
    sink.wait_for(1)
    started = time.monotonic()
    assert (await send(relay, "someone@slow.example")).startswith("2")
    elapsed = time.monotonic() - started
    [message] = [m for m in sink.wait_for(2) if m.rcpt_tos == ["someone@slow.example"]]
    assert b"X-Mailguard-Verdict" not in message.content  # no answer is not a finding
    assert elapsed < 5.0  # dns_timeout is 1 s; the stub would take 10 s


def test_check_asks_the_given_dns_server(tmp_path, dns_stub):
    (tmp_path / "policy.yaml").write_text(POLICY)
    eml = tmp_path / "m.eml"
    eml.write_bytes(compose(sender="officer@northdown.gov.uk", to=["typo@gmial.example"]))
    host, port = dns_stub.address
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "mailguard",
            "check",
            "--json",
            "--policy",
            str(tmp_path / "policy.yaml"),
            "--dns-server",
            f"{host}:{port}",
            str(eml),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    verdict = json.loads(result.stdout)
    assert verdict["action"] == "tag"
    [finding] = verdict["findings"]
    assert finding["type"] == "UNROUTABLE_DOMAIN" and "gmial.example" in finding["detail"]
    assert ("gmial.example", "MX") in dns_stub.queries
