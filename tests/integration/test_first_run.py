"""Day one: the README's quick start holds mail, and a relay that protects nothing says so."""

from __future__ import annotations

import asyncio
import email
import email.policy
import subprocess
import sys
from pathlib import Path

import aiosmtplib
import httpx

from tests.support.mail import compose
from tests.support.net import HOST, free_port
from tests.support.relay import mailguard_cli
from tests.support.webui import wait_until

ROOT = Path(__file__).parents[2]
DEFAULT = ROOT / "policies" / "council-default.yaml"


def send_example(port: int, name: str) -> subprocess.CompletedProcess[str]:
    """The README's ``python examples/send.py examples/NAME``."""
    return subprocess.run(
        [sys.executable, str(ROOT / "examples" / "send.py"), str(ROOT / "examples" / name),
         "--port", str(port)],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def warnings(mg) -> list[str]:
    return [e["problem"] for e in mg.events() if e.get("event") == "unprotected"]


def test_the_quick_start_relays_a_letter_and_holds_a_patient_list(tmp_path, start_mailguard):
    upstream = free_port()
    sink = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"{HOST}:{upstream}"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        mg = start_mailguard(upstream, "--policy", str(DEFAULT))
        sent: list[subprocess.CompletedProcess[str]] = []
        # The stand-in upstream may still be starting: the relay answers 451 until then.
        assert wait_until(lambda: sent.append(send_example(mg.port, "hello.eml"))
                          or sent[-1].returncode == 0, within=20), sent[-1].stderr  # fmt: skip
        assert ": 250 " in sent[-1].stdout
        held = send_example(mg.port, "patient-list.eml")
        assert "queued as" in held.stdout, held.stderr
        listed = mailguard_cli("quarantine", "list", "--data-dir", str(mg.data_dir))
        [row] = [line for line in listed.stdout.splitlines() if "sam.patel@council.example" in line]
        assert "held" in row and "hold-bulk-personal-data" in row
        assert any("council.example" in w for w in warnings(mg))  # set your own domains
    finally:
        sink.terminate()
        printed = sink.communicate(timeout=10)[0]
    assert "Meeting moved to Thursday" in printed  # the harmless letter went through
    assert "falls-prevention" not in printed  # the list did not


def test_a_relay_without_a_policy_says_it_protects_nothing(sink, start_mailguard):
    web = free_port()
    mg = start_mailguard(sink.port, "--web", f"{HOST}:{web}")
    [problem] = warnings(mg)
    assert "no policy" in problem and "without inspection" in problem
    health = httpx.get(f"http://{HOST}:{web}/healthz")
    assert health.status_code == 200  # mail still flows: a warning, not an outage
    assert "warning: no policy is loaded" in health.text


def test_lint_points_out_the_placeholder_domain_and_a_real_site_policy_is_quiet(tmp_path):
    shipped = mailguard_cli("policy", "lint", str(DEFAULT))
    assert shipped.returncode == 0
    assert "warning: organisation.internal_domains still has the placeholder council.example" in (
        shipped.stdout
    )
    site = tmp_path / "site.yaml"
    site.write_text(
        f"include: [{DEFAULT}]\n"
        "organisation: {name: Northdown, internal_domains: [northdown.gov.uk]}\n"
    )
    ours = mailguard_cli("policy", "lint", str(site))
    assert ours.returncode == 0 and "OK" in ours.stdout and "warning" not in ours.stdout


def test_a_site_policy_is_quiet_in_the_log_too(sink, start_mailguard, tmp_path):
    site = tmp_path / "site.yaml"
    site.write_text(
        f"include: [{DEFAULT}]\n"
        "organisation: {name: Northdown, internal_domains: [northdown.gov.uk]}\n"
    )
    mg = start_mailguard(sink.port, "--policy", str(site))
    assert warnings(mg) == []


def test_without_web_url_notices_carry_no_link_to_this_machines_loopback(
    sink, start_mailguard, tmp_path
):
    """A link to 127.0.0.1 opens nothing on a sender's PC: none is sent, and the log
    says why; the notice tells them whom to contact instead."""
    policy = tmp_path / "hold.yaml"
    policy.write_text(
        "organisation: {name: N, internal_domains: [northdown.gov.uk]}\n"
        "rules:\n  - {name: hold-outside, description: Held for review., "
        "when: {recipient_domain: [example.org]}, action: hold, release: sender}\n"
    )
    mg = start_mailguard(sink.port, "--policy", str(policy), "--web", f"{HOST}:{free_port()}")
    [off] = [e for e in mg.events() if e.get("event") == "sender_links_off"]
    assert "web_url is not set" in off["problem"]
    sender = "officer@northdown.gov.uk"
    asyncio.run(
        aiosmtplib.send(
            compose(sender=sender, to=["resident@example.org"]), sender=sender,
            recipients=["resident@example.org"], hostname=HOST, port=mg.port,
        )
    )  # fmt: skip
    [notice] = sink.wait_for(1)
    text = email.message_from_bytes(notice.content, policy=email.policy.default).get_content()
    assert notice.rcpt_tos == [sender]
    assert "http://" not in text and "https://" not in text
    assert "information governance team" in text
