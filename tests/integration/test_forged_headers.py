"""Only mailguard speaks for mailguard: X-Mailguard-* headers a sender wrote never
leave, whatever path the message takes."""

from __future__ import annotations

from tests.support.relay import mailguard_cli
from tests.support.webui import delivered, queued_id, send, wait_until

POLICY = """
organisation: {name: Northdown, internal_domains: [northdown.gov.uk]}
rules:
  - name: hold-outside
    when: {recipient_domain: [example.org]}
    action: hold
"""
FORGED = (
    b"From: officer@northdown.gov.uk\r\n"
    b"X-Mailguard-Verdict : approved\r\n"  # the obsolete blank before the colon
    b"To: someone@DOMAIN\r\n"
    b"x-mailguard-rules: none\r\n"
    b"X-Mailguard-Release:\r\n  by the DPO\r\n"  # folded
    b"Subject: Minutes\r\n"
    b"\r\n"
    b"X-Mailguard-Verdict: this line is body text and stays\r\n"
)


def forged(domain: str) -> bytes:
    return FORGED.replace(b"DOMAIN", domain.encode())


def without_forgeries(raw: bytes) -> bytes:
    return b"".join(line for line in raw.splitlines(keepends=True)
                    if not line.lower().startswith((b"x-mailguard-", b"  by the dpo")) or
                    line.startswith(b"X-Mailguard-Verdict: this line"))  # fmt: skip


def test_forged_headers_are_removed_from_passed_mail_and_nothing_else_changes(
    tmp_path, sink, start_mailguard
):
    (tmp_path / "p.yaml").write_text(POLICY)
    mg = start_mailguard(sink.port, "--policy", str(tmp_path / "p.yaml"))
    send(mg.port, ["someone@northdown.gov.uk"], forged("northdown.gov.uk"))

    assert wait_until(lambda: len(delivered(sink)) == 1)
    out = delivered(sink)[0].content
    assert b"approved" not in out and b"x-mailguard-rules" not in out.lower()
    assert out == without_forgeries(forged("northdown.gov.uk"))


def test_forged_headers_are_removed_from_released_mail(tmp_path, sink, start_mailguard):
    (tmp_path / "p.yaml").write_text(POLICY)
    data = tmp_path / "data"
    mg = start_mailguard(sink.port, "--policy", str(tmp_path / "p.yaml"), "--data-dir", str(data))
    held = queued_id(send(mg.port, ["someone@example.org"], forged("example.org")))

    released = mailguard_cli(
        "quarantine", "release", held, "--reason", "checked", "--data-dir", str(data),
        "--upstream", f"127.0.0.1:{sink.port}",
    )  # fmt: skip
    assert released.returncode == 0, released.stderr
    assert wait_until(lambda: len(delivered(sink)) == 1)
    out = delivered(sink)[0].content
    assert out == without_forgeries(forged("example.org"))
