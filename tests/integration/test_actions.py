"""Policy actions over real SMTP: rewrite, tag, hold and release, reject, reload."""

from __future__ import annotations

import asyncio
import email
import email.policy
import json
import signal
import subprocess
import sys
import uuid

import aiosmtplib
import pytest

from mailguard.cli.identity import shell_user
from tests.support.mail import COUNCIL, address, compose
from tests.support.net import HOST, eventually

POLICY = f"""
organisation:
  name: Northdown District Council
  internal_domains: [{COUNCIL}]
  partner_domains: [nhs.net]
rules:
  - name: bulk-visible
    description: Too many outside addresses were visible; moved to Bcc.
    when: {{visible_external_recipients: {{more_than: 10}}}}
    action: rewrite
    rewrite: bcc
  - name: tag-external
    description: Mail leaving the council is marked.
    when: {{recipient_domain: tag.example}}
    action: tag
    subject_prefix: "[EXTERNAL]"
  - name: hold-case-files
    description: Case files may not go to this address without review.
    when: {{recipient_domain: hold.example}}
    action: hold
  - name: no-foreign-box
    description: Sending to this address is not allowed.
    when: {{recipient_domain: reject.example}}
    action: reject
  - name: one-copy-each
    description: Each recipient gets their own copy.
    when: {{recipient_domain: split.example}}
    action: rewrite
    rewrite: split
  - name: two-people-decide
    description: Special category data; two people must agree before it goes.
    when: {{recipient_domain: approve.example}}
    action: hold
    release: approver
"""


@pytest.fixture
def policy_file(tmp_path):
    f = tmp_path / "policy.yaml"
    f.write_text(POLICY)
    return f


@pytest.fixture(scope="module")
def sink(module_sink):
    """One upstream for the module, reset before each test."""
    return module_sink


@pytest.fixture(autouse=True)
def _reset_sink(sink):
    sink.reset()


@pytest.fixture(scope="module")
def guarded(sink, start_module_mailguard, tmp_path_factory):
    """One relay for the tests that each send their own messages and look only at
    those; a test that lists the whole quarantine or changes the policy has its own."""
    f = tmp_path_factory.mktemp("policy") / "policy.yaml"
    f.write_text(POLICY)
    return start_module_mailguard(sink.port, "--policy", str(f))


@pytest.fixture
def own_guarded(sink, start_mailguard, policy_file):
    return start_mailguard(sink.port, "--policy", str(policy_file))


async def send(port: int, sender: str, rcpts: list[str], content: bytes):
    return await aiosmtplib.send(
        content, sender=sender, recipients=rcpts, hostname=HOST, port=port, timeout=30
    )


def parse(content: bytes):
    return email.message_from_bytes(content, policy=email.policy.default)


def quarantine(mg, *args: str, binary: bool = False) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mailguard", "quarantine", *args, "--data-dir", str(mg.data_dir)],
        capture_output=True,
        text=not binary,
        timeout=60,
    )


def notices(sink) -> list:
    return [m for m in sink.messages if m.mail_from == "<>"]


def messages(sink) -> list:
    return [m for m in sink.messages if m.mail_from != "<>"]


async def test_thirty_visible_residents_are_moved_to_bcc_and_all_still_receive_it(sink, guarded):
    sender = address()
    residents = [address("example.org") for _ in range(30)]
    colleagues = [address() for _ in range(2)]
    body = "Dear residents,\n\nThe bin collection moves to Tuesday.\n"
    content = compose(
        sender=sender, to=residents, body=body, extra_headers=[f"Cc: {', '.join(colleagues)}"]
    )
    errors, _ = await send(guarded.port, sender, residents + colleagues, content)
    assert errors == {}

    sink.wait_for(2)
    [got] = messages(sink)
    assert sorted(got.rcpt_tos) == sorted(residents + colleagues)
    delivered = parse(got.content)
    visible = str(delivered["To"]) + str(delivered.get("Cc", ""))
    assert not any(r in visible for r in residents)
    assert all(c in str(delivered["Cc"]) for c in colleagues)  # colleagues stay visible
    assert str(delivered["To"]) == "undisclosed-recipients:;"
    assert delivered["X-Mailguard-Verdict"] == "rewrite"
    assert delivered["X-Mailguard-Rules"] is None  # rule names stay inside the council
    assert got.content.endswith(content.split(b"\r\n\r\n", 1)[1])  # body untouched

    # The sender is told what changed, without the message's content or recipients.
    [notice] = notices(sink)
    assert notice.rcpt_tos == [sender]
    text = parse(notice.content).get_body().get_content()
    assert "moved to Bcc" in text
    assert "bin collection" not in text and not any(r in text for r in residents)


async def test_a_crafted_display_name_cannot_become_visible_recipients_after_bcc(sink, guarded):
    """A name that looks like encoded words and addresses, on a UTF-8 colleague's address,
    must stay one quoted name when the residents are moved to Bcc."""
    sender = address()
    residents = [address("example.org") for _ in range(12)]
    colleague = f"jö.{address()}"
    crafted = '"=?x?= <leak@gmail.com>, other@gmail.com, J"'
    content = compose(sender=sender, to=residents, extra_headers=[f"Cc: {crafted} <{colleague}>"])
    errors, _ = await aiosmtplib.send(
        content,
        sender=sender,
        recipients=[*residents, colleague],
        hostname=HOST,
        port=guarded.port,
        mail_options=["SMTPUTF8"],
        timeout=30,
    )
    assert errors == {}

    sink.wait_for(2)
    [got] = messages(sink)
    cc = parse(got.content)["Cc"]
    shown = [a.addr_spec.encode("utf-8", "surrogateescape").decode() for a in cc.addresses]
    assert shown == [colleague]
    assert cc.addresses[0].display_name == "=?x?= <leak@gmail.com>, other@gmail.com, J"


async def test_tag_adds_verdict_headers_and_subject_prefix(sink, guarded):
    rcpt = "someone@tag.example"
    await send(guarded.port, address(), [rcpt], compose(to=[rcpt], subject="Minutes"))
    [got] = sink.wait_for(1)
    delivered = parse(got.content)
    assert delivered["Subject"] == "[EXTERNAL] Minutes"
    assert delivered["X-Mailguard-Verdict"] == "tag"
    assert delivered["X-Mailguard-Rules"] is None  # an outside reader learns no rule names


async def test_rule_names_are_shown_inside_the_council_and_outside_only_when_asked(
    sink, start_mailguard, tmp_path
):
    policy = tmp_path / "names.yaml"
    policy.write_text(
        POLICY.replace(
            "recipient_domain: tag.example", f"recipient_domain: [tag.example, {COUNCIL}]"
        )
    )
    quiet = start_mailguard(sink.port, "--policy", str(policy))
    colleague = address()
    await send(quiet.port, address(), [colleague], compose(to=[colleague]))
    [inside] = sink.wait_for(1)
    assert parse(inside.content)["X-Mailguard-Rules"] == "tag-external"

    sink.reset()
    config = tmp_path / "mailguard.yaml"
    config.write_text("rules_header_outside: true\n")
    telling = start_mailguard(sink.port, "--policy", str(policy), "--config", str(config))
    await send(
        telling.port, address(), ["someone@tag.example"], compose(to=["someone@tag.example"])
    )
    [outside] = sink.wait_for(1)
    assert parse(outside.content)["X-Mailguard-Rules"] == "tag-external"


async def test_reject_is_a_550_with_the_rules_reason(sink, guarded):
    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await send(guarded.port, address(), ["x@reject.example"], compose(to=["x@reject.example"]))
    assert refused.value.code == 550
    assert "5.7.1 Sending to this address is not allowed." in refused.value.message
    await asyncio.sleep(0.3)
    assert sink.messages == []


async def test_split_sends_each_external_recipient_a_copy_showing_only_them(sink, guarded):
    sender = address()
    outside = [f"r{i}@split.example" for i in range(3)]
    inside = address()
    await send(
        guarded.port, sender, [*outside, inside], compose(sender=sender, to=[*outside, inside])
    )
    sink.wait_for(5)
    copies = messages(sink)
    assert sorted(tuple(m.rcpt_tos) for m in copies) == sorted(
        [(inside,), *((r,) for r in outside)]
    )
    for m in copies:
        to = str(parse(m.content)["To"])
        if m.rcpt_tos == [inside]:
            assert not any(r in to for r in outside) and inside in to
        else:
            assert to == m.rcpt_tos[0]


async def test_held_mail_waits_in_quarantine_and_release_delivers_it_unchanged(sink, own_guarded):
    sender, rcpt = address(), "caseworker@hold.example"
    content = compose(sender=sender, to=[rcpt], subject="Case file")
    errors, reply = await send(own_guarded.port, sender, [rcpt], content)
    assert errors == {}
    message_id = reply.split()[-1]

    await asyncio.sleep(0.5)
    assert messages(sink) == []
    assert [n.rcpt_tos for n in notices(sink)] == [[sender]]

    listed = quarantine(own_guarded, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [held] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert (held["id"], held["state"], held["rule"]) == (message_id, "held", "hold-case-files")
    assert held["rcpt_tos"] == [rcpt] and held["mail_from"] == sender

    up = f"{HOST}:{sink.port}"
    released = quarantine(
        own_guarded,
        "release",
        message_id,
        "--reason",
        "checked with the team",
        "--upstream",
        up,
    )
    assert released.returncode == 0, released.stderr
    [got] = messages(sink)
    assert got.content == content and got.rcpt_tos == [rcpt] and got.mail_from == sender

    again = quarantine(own_guarded, "release", message_id, "--upstream", up)
    assert again.returncode == 1 and "released, not held" in again.stderr

    shown = json.loads(quarantine(own_guarded, "show", message_id, "--json").stdout)
    assert shown["state"] == "released"
    assert [(a["action"], a["actor"], a["reason"]) for a in shown["audit"]] == [
        ("held", "mailguard", "Case files may not go to this address without review."),
        ("released", shell_user(), f"checked with the team [shell user {shell_user()}]"),
    ]


def users(mg, *args: str, password: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "mailguard", "users", *args, "--data-dir", str(mg.data_dir)],
        input=password,
        capture_output=True,
        text=True,
        timeout=60,
    )


async def test_two_person_release_from_the_command_line_needs_a_second_person(sink, guarded):
    """The shell user is who acts; a second person must be a real, older account."""
    me = shell_user()
    bob = f"bob{uuid.uuid4().hex[:6]}"
    added = users(guarded, "add", bob, "--role", "approver", "--password-stdin", password="x" * 16)
    assert added.returncode == 0, added.stderr
    sender, rcpt = address(), "gp@approve.example"
    content = compose(sender=sender, to=[rcpt], subject="Assessment")
    _, reply = await send(guarded.port, sender, [rcpt], content)
    message_id = reply.split()[-1]
    up = f"{HOST}:{sink.port}"

    direct = quarantine(guarded, "release", message_id, "--upstream", up)
    assert direct.returncode == 1 and messages(sink) == []
    asked = quarantine(guarded, "request-release", message_id, "--reason", "GP asked")
    assert asked.returncode == 0, asked.stderr
    own = quarantine(guarded, "approve", message_id, "--upstream", up)
    assert own.returncode == 1 and "cannot also approve" in own.stderr

    # A made-up name, or a real one without saying why, is refused.
    ghost = quarantine(
        guarded, "approve", message_id, "--by", "ghost", "--reason", "x", "--upstream", up
    )
    assert ghost.returncode == 1 and "no user ghost" in ghost.stderr
    silent = quarantine(guarded, "approve", message_id, "--by", bob, "--upstream", up)
    assert silent.returncode == 1 and "needs --reason" in silent.stderr
    # An approver made after the request (a throwaway second person) cannot approve it.
    late = f"late{uuid.uuid4().hex[:6]}"
    users(guarded, "add", late, "--role", "approver", "--password-stdin", password="y" * 16)
    throwaway = quarantine(
        guarded, "approve", message_id, "--by", late, "--reason", "ok", "--upstream", up
    )
    assert throwaway.returncode == 1 and "after this release was asked for" in throwaway.stderr
    assert messages(sink) == []

    approved = quarantine(
        guarded, "approve", message_id, "--by", bob, "--reason", "agreed by phone", "--upstream", up
    )
    assert approved.returncode == 0, approved.stderr
    assert f"approved and released {message_id} to 1 recipient(s)" in approved.stdout
    [got] = messages(sink)
    assert got.content == content and got.rcpt_tos == [rcpt]

    trail = json.loads(quarantine(guarded, "show", message_id, "--json").stdout)["audit"]
    requested = next(a for a in trail if a["action"] == "release_requested")
    assert requested["actor"] == me and f"[shell user {me}]" in requested["reason"]
    done = next(a for a in trail if a["action"] == "approved")
    assert done["actor"] == bob and f"entered by shell user {me} for {bob}" in done["reason"]


async def test_every_change_to_an_account_is_audited_with_who_made_it(guarded):
    me = shell_user()
    name = f"rita{uuid.uuid4().hex[:6]}"
    users(guarded, "add", name, "--role", "reviewer", "--password-stdin", password="z" * 16)
    users(guarded, "role", name, "approver")
    users(guarded, "passwd", name, "--password-stdin", password="w" * 16)
    users(guarded, "disable", name)
    users(guarded, "enable", name)
    lines = [line for line in users(guarded, "changes").stdout.splitlines() if name in line]
    assert [line.split()[3] for line in lines] == [
        "enabled",
        "disabled",
        "password",
        "role",
        "added",
    ]
    assert all(line.split()[2] == me for line in lines)
    assert "approver" in lines[3] and "reviewer" in lines[4]
    assert "w" * 16 not in "".join(lines)


async def test_rejecting_held_mail_deletes_its_content_but_keeps_the_record(sink, guarded):
    rcpt = "x@hold.example"
    _, reply = await send(guarded.port, address(), [rcpt], compose(to=[rcpt]))
    message_id = reply.split()[-1]
    done = quarantine(guarded, "reject", message_id, "--reason", "wrong person")
    assert done.returncode == 0, done.stderr
    raw = quarantine(guarded, "show", message_id, "--raw")
    assert raw.returncode == 2 and "no stored content" in raw.stderr
    audit = [
        json.loads(line)
        for line in quarantine(guarded, "audit", message_id, "--json").stdout.splitlines()
    ]
    assert [a["action"] for a in audit] == ["held", "rejected"]
    assert audit[-1]["reason"].startswith("wrong person") and audit[-1]["actor"] == shell_user()


async def test_released_mail_is_kept_only_for_the_retention_time(sink, start_mailguard, tmp_path):
    """Released content is personal data with no further use: deleted after
    keep_released_days, while the record and the audit stay."""
    policy = tmp_path / "keep.yaml"
    policy.write_text(POLICY + "quarantine: {keep_released_days: 0}\n")
    mg = start_mailguard(sink.port, "--policy", str(policy))
    config = tmp_path / "cli.yaml"
    config.write_text(f"policy: {policy}\n")
    kept, gone = [], []
    for bucket in (kept, gone):
        _, reply = await send(
            mg.port, address(), ["x@hold.example"], compose(to=["x@hold.example"])
        )
        bucket.append(reply.split()[-1])
    up = f"{HOST}:{sink.port}"
    released = quarantine(mg, "release", gone[0], "--reason", "checked", "--upstream", up)
    assert released.returncode == 0, released.stderr

    swept = quarantine(mg, "expire", "--config", str(config))
    assert swept.returncode == 0, swept.stderr
    assert f"deleted the content of {gone[0]}" in swept.stdout and kept[0] not in swept.stdout
    assert quarantine(mg, "show", gone[0], "--raw").returncode == 2
    assert quarantine(mg, "show", kept[0], "--raw", binary=True).stdout.startswith(b"From:")
    shown = json.loads(quarantine(mg, "show", gone[0], "--json").stdout)
    assert shown["state"] == "released"
    assert [a["action"] for a in shown["audit"]] == ["held", "released", "content_deleted"]


async def test_a_held_message_survives_kill_9_right_after_its_250(
    sink, start_mailguard, policy_file
):
    mg = start_mailguard(sink.port, "--policy", str(policy_file))
    rcpt = "x@hold.example"
    content = compose(to=[rcpt])
    _, reply = await send(mg.port, address(), [rcpt], content)
    mg.proc.send_signal(signal.SIGKILL)
    mg.wait()

    listed = quarantine(mg, "list", "--json")
    [held] = [json.loads(line) for line in listed.stdout.splitlines()]
    assert held["id"] == reply.split()[-1]
    raw = quarantine(mg, "show", held["id"], "--raw", binary=True)
    assert raw.stdout == content


async def test_a_broken_policy_on_reload_keeps_the_last_good_one(sink, own_guarded, policy_file):
    policy_file.write_text(POLICY.replace("action: reject", "action: rejekt"))
    own_guarded.signal(signal.SIGHUP)
    assert await eventually(lambda: own_guarded.events("policy_reload_failed"))
    [failed] = own_guarded.events("policy_reload_failed")[:1]
    line = POLICY.splitlines().index("    action: reject") + 1
    assert any(f"{policy_file}:{line}:13:" in p and "rejekt" in p for p in failed["problems"])

    with pytest.raises(aiosmtplib.SMTPDataError) as refused:
        await send(
            own_guarded.port, address(), ["x@reject.example"], compose(to=["x@reject.example"])
        )
    assert refused.value.code == 550  # the old policy is still in force

    # A fixed file is picked up without a signal.
    policy_file.write_text(POLICY.replace("reject.example", "elsewhere.example"))
    assert await eventually(lambda: own_guarded.events("policy_loaded"), within=15)
    await send(own_guarded.port, address(), ["x@reject.example"], compose(to=["x@reject.example"]))
    assert len(sink.wait_for(1)) == 1


async def test_monitor_mode_delivers_unchanged_and_logs_what_would_happen(
    sink, start_mailguard, tmp_path
):
    f = tmp_path / "monitor.yaml"
    f.write_text(POLICY.replace("rules:", "mode: monitor\nrules:", 1))
    mg = start_mailguard(sink.port, "--policy", str(f))
    content = compose(to=["x@reject.example"])
    await send(mg.port, address(), ["x@reject.example"], content)
    [got] = sink.wait_for(1)
    assert got.content == content
    [event] = mg.events("message")
    assert event["action"] == "pass" and event["rules"] == ["no-foreign-box"]
    assert event["would_action"] == "reject"
