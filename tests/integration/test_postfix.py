"""mailguard as a real Postfix's after-queue content filter, with the shipped snippets.

A private Postfix instance (its own config and queue directory, loopback ports only)
takes mail on one port, hands it to ``mailguard serve`` as its content_filter, gets it
back on the re-injection port and relays it to an aiosmtpd sink. With mailguard
stopped, mail waits in Postfix's queue and goes out once mailguard is back.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import subprocess
import time
from pathlib import Path

import aiosmtplib
import pytest

from tests.support.mail import compose
from tests.support.net import HOST, free_port
from tests.support.relay import mailguard_cli
from tests.support.scratch import reachable_tempdir
from tests.support.webui import OFFICER, delivered, send, wait_until

DEPLOY = Path(__file__).parents[2] / "deploy" / "postfix"
POSTFIX = shutil.which("postfix") or "/usr/sbin/postfix"
POLICY = """
organisation: {name: Northdown, internal_domains: [northdown.gov.uk]}
rules:
  - {name: hold-outside, description: held, when: {recipient_domain: [example.org]}, action: hold}
"""


class PrivatePostfix:
    def __init__(self, filter_port: int, reinject_port: int, sink_port: int) -> None:
        # Postfix's own processes run as the postfix user: the tree must be reachable.
        self.root = reachable_tempdir("mg-postfix-")
        self.etc = self.root / "etc"
        self.port = free_port()
        for d in ("etc", "queue", "data"):
            (self.root / d).mkdir()
        shutil.chown(self.root / "data", "postfix")
        main = (DEPLOY / "main.cf.snippet").read_text().replace("10025", str(filter_port))
        (self.etc / "main.cf").write_text(
            f"""compatibility_level = 3.6
queue_directory = {self.root}/queue
data_directory = {self.root}/data
mail_owner = postfix
setgid_group = postdrop
myhostname = relay.northdown.test
mydestination =
inet_interfaces = 127.0.0.1
inet_protocols = ipv4
mynetworks = 127.0.0.0/8
relayhost = [127.0.0.1]:{sink_port}
smtp_dns_support_level = disabled
maillog_file = {self.root}/maillog
maillog_file_prefixes = {self.root}
smtpd_relay_restrictions = permit_mynetworks, reject
queue_run_delay = 1s
minimal_backoff_time = 1s
maximal_backoff_time = 2s
smtp_connect_timeout = 2s
{main}"""
        )
        master = (DEPLOY / "master.cf.snippet").read_text().replace("10026", str(reinject_port))
        base = Path("/etc/postfix/master.cf").read_text()
        base = base.replace("\nsmtp      inet", "\n#smtp      inet")  # no port 25
        base = "\n".join(line for line in base.splitlines() if not line.startswith("postlog"))
        (self.etc / "master.cf").write_text(
            f"{base}\n{HOST}:{self.port} inet n - n - - smtpd\n"
            "postlog   unix-dgram n  -       n       -       1       postlogd\n"
            f"{master}\n"
        )

    def command(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [POSTFIX, "-c", str(self.etc), *args], capture_output=True, text=True, timeout=60
        )

    def queue(self) -> str:
        return subprocess.run(
            ["postqueue", "-c", str(self.etc), "-p"], capture_output=True, text=True, timeout=30
        ).stdout

    def flush(self) -> None:
        subprocess.run(["postqueue", "-c", str(self.etc), "-f"], capture_output=True, timeout=30)

    def log(self) -> str:
        path = self.root / "maillog"
        return path.read_text(errors="replace") if path.exists() else ""


@pytest.fixture
def postfix(sink):
    if not Path(POSTFIX).exists():
        if os.environ.get("CI"):
            pytest.fail("postfix is missing: .ci/run should have installed it")
        pytest.skip("postfix is not installed")
    filter_port, reinject_port = free_port(), free_port()
    pf = PrivatePostfix(filter_port, reinject_port, sink.port)
    started = pf.command("start")
    assert started.returncode == 0, started.stderr + pf.log()
    assert wait_until(lambda: "daemon started" in pf.log(), within=20), pf.log()
    yield pf, filter_port, reinject_port
    pf.command("stop")
    time.sleep(0.5)
    shutil.rmtree(pf.root, ignore_errors=True)


def test_postfix_hands_mail_to_mailguard_and_clean_mail_arrives_risky_mail_is_held(
    postfix, sink, start_mailguard, tmp_path
):
    pf, filter_port, reinject_port = postfix
    (tmp_path / "p.yaml").write_text(POLICY)
    mg = start_mailguard(
        reinject_port, "--listen", f"{HOST}:{filter_port}", "--policy", str(tmp_path / "p.yaml")
    )
    assert send(pf.port, ["colleague@northdown.gov.uk"]).startswith("2.0.0")
    assert send(pf.port, ["resident@example.org"]).startswith("2.0.0")

    assert wait_until(lambda: len(delivered(sink)) == 1, within=30), pf.log()
    [clean] = delivered(sink)
    assert clean.rcpt_tos == ["colleague@northdown.gov.uk"]
    assert clean.content.count(b"Received: ") >= 2  # through Postfix twice, as designed
    assert wait_until(lambda: any(e.get("action") == "hold" for e in mg.events("message")))
    held = mailguard_cli("quarantine", "list", "--json", "--data-dir", str(mg.data_dir))
    assert "resident@example.org" in held.stdout
    time.sleep(1)
    assert [m.rcpt_tos for m in delivered(sink)] == [["colleague@northdown.gov.uk"]]


def test_behind_postfix_the_log_names_the_machine_that_sent_the_mail(
    postfix, sink, start_mailguard
):
    """XFORWARD (on in the shipped snippet): the incident trail leads to the sender's PC,
    not to Postfix on 127.0.0.1."""
    pf, filter_port, reinject_port = postfix
    mg = start_mailguard(reinject_port, "--listen", f"{HOST}:{filter_port}")

    async def from_a_pc() -> None:
        async with aiosmtplib.SMTP(
            hostname=HOST, port=pf.port, local_hostname="pc-17.northdown.test",
            source_address=("127.0.0.2", 0), timeout=30,
        ) as smtp:  # fmt: skip
            await smtp.sendmail(
                OFFICER, ["colleague@northdown.gov.uk"], compose(to=["colleague@northdown.gov.uk"])
            )

    asyncio.run(from_a_pc())
    assert wait_until(lambda: len(delivered(sink)) == 1, within=30), pf.log()
    # mailguard logs the message after the upstream's 250, so after the sink has it.
    assert wait_until(lambda: any(e.get("reply") == 250 for e in mg.events("message")))
    [event] = [e for e in mg.events("message") if e.get("reply") == 250]
    assert event["client"] == "127.0.0.2"
    assert event["helo"] == "pc-17.northdown.test"
    assert event["via"] == "127.0.0.1"  # Postfix, which passed it on


def test_with_mailguard_down_postfix_keeps_the_mail_and_delivers_it_once_it_returns(
    postfix, sink, start_mailguard, tmp_path
):
    pf, filter_port, reinject_port = postfix
    raw = compose(sender=OFFICER, to=["colleague@northdown.gov.uk"], subject="Queued while down")
    assert send(pf.port, ["colleague@northdown.gov.uk"], raw).startswith("2.0.0")
    assert wait_until(lambda: "status=deferred" in pf.log(), within=30), pf.log()
    assert "colleague@northdown.gov.uk" in pf.queue()
    assert delivered(sink) == []

    start_mailguard(reinject_port, "--listen", f"{HOST}:{filter_port}")
    pf.flush()
    assert wait_until(lambda: len(delivered(sink)) == 1, within=30), pf.log()
    time.sleep(2)
    assert len(delivered(sink)) == 1
    assert b"Queued while down" in delivered(sink)[0].content
    assert wait_until(lambda: "Mail queue is empty" in pf.queue(), within=10)


def test_domains_that_require_tls_become_a_postfix_tls_policy_table(tmp_path):
    if not shutil.which("postmap"):
        if os.environ.get("CI"):
            pytest.fail("postfix is missing: .ci/run should have installed it")
        pytest.skip("postfix is not installed")
    policy = tmp_path / "policy.yaml"
    policy.write_text(
        "organisation: {name: N, internal_domains: [northdown.gov.uk],"
        " tls_required_domains: [nhs.net, police.uk]}\n"
    )
    table = tmp_path / "mailguard_tls"
    result = mailguard_cli("postfix", "tls-policy", "--policy", str(policy))
    assert result.returncode == 0, result.stderr
    table.write_text(result.stdout)

    def lookup(domain: str) -> str:
        return subprocess.run(
            ["postmap", "-q", domain, f"texthash:{table}"], capture_output=True, text=True
        ).stdout.strip()

    assert lookup("nhs.net") == "encrypt protocols=>=TLSv1.2"
    assert lookup(".nhs.net") == "encrypt protocols=>=TLSv1.2"  # mail.nhs.net's parent
    assert lookup("gmail.com") == ""
