"""What an admin meets at the shell: clear errors, one line each, nothing made by accident."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import stat
import subprocess
import sys

import aiosmtplib
import pytest

from tests.support.files import message_with, pdf_bytes
from tests.support.net import HOST, free_port
from tests.support.relay import mailguard_cli

POLICY = """
organisation: {name: Northdown, internal_domains: [northdown.gov.uk]}
rules:
  - name: tag-personal-data
    description: Personal data leaving the council is marked.
    when: {finding: {detector: personal_data}}
    action: tag
"""


def test_every_problem_in_the_settings_is_named_with_its_line_at_once(tmp_path):
    bad = tmp_path / "mailguard.yaml"
    bad.write_text(
        "listen: 127.0.0.1:99999\n"
        "max_size: lots\n"
        "workers: 0\n"
        "colour: blue\n"
        "allow: [10.0.0.0/8, not-a-network]\n"
    )
    for command in (["serve"], ["check", str(tmp_path / "any.eml")]):
        result = mailguard_cli(*command, "--config", str(bad))
        assert result.returncode == 2
        assert "Traceback" not in result.stderr
        lines = result.stderr.splitlines()
        assert [line.split(": ")[0] for line in lines[:5]] == [
            f"{bad}:1:9", f"{bad}:2:11", f"{bad}:3:10", f"{bad}:4:9", f"{bad}:5:8"
        ]  # fmt: skip
        assert "listen: port out of range" in lines[0] and "colour: unknown setting" in lines[3]
        assert lines[-1] == f"mailguard: {bad}: 5 problems in the settings, see above"


def test_a_flag_with_a_bad_value_is_named_as_the_flag(tmp_path):
    result = mailguard_cli("serve", "--workers", "0", "--data-dir", str(tmp_path / "d"))
    assert result.returncode == 2
    assert (
        result.stderr.strip() == "mailguard: --workers: Input should be greater than or equal to 1"
    )


@pytest.mark.parametrize("which", ["listen", "web"])
def test_a_port_already_taken_is_one_line_not_a_traceback(tmp_path, which):
    taken = socket.socket()
    taken.bind((HOST, 0))
    taken.listen()
    port = taken.getsockname()[1]
    ports = {"listen": f"{HOST}:{port}", "web": f"{HOST}:{port}"}
    args = ["--listen", ports["listen"] if which == "listen" else f"{HOST}:{free_port()}"]
    if which == "web":
        args += ["--web", ports["web"]]
    try:
        result = mailguard_cli("serve", *args, "--data-dir", str(tmp_path / "d"), timeout=60)
    finally:
        taken.close()
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line == (
        f"mailguard: cannot start: {'SMTP' if which == 'listen' else 'web UI'} {HOST}:{port}"
        f" (setting {which}): address already in use"
    )


def test_reading_commands_in_the_wrong_directory_create_nothing(tmp_path):
    for command in (["users", "list"], ["users", "changes"], ["quarantine", "list"]):
        result = subprocess.run(
            [sys.executable, "-m", "mailguard", *command],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 2, command
        assert "wrong --data-dir" in result.stderr
    for command in (["records", "list"], ["report"], ["incident", "list"]):
        result = subprocess.run(
            [sys.executable, "-m", "mailguard", *command],
            cwd=tmp_path, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 0, (command, result.stderr)  # nothing there yet: says so
    assert list(tmp_path.iterdir()) == []  # no mailguard-data appeared


def test_a_batch_with_one_bad_file_still_judges_the_others(tmp_path):
    good = [tmp_path / "a.eml", tmp_path / "c.eml"]
    for f in good:
        f.write_bytes(b"From: x@northdown.gov.uk\r\nTo: y@example.org\r\nSubject: s\r\n\r\nhi\r\n")
    nobody = tmp_path / "b.eml"
    nobody.write_bytes(b"From: x@northdown.gov.uk\r\nSubject: s\r\n\r\nhi\r\n")
    result = mailguard_cli("check", "--json", str(good[0]), str(nobody), str(good[1]))
    assert result.returncode == 2  # bad input somewhere: the worst outcome wins
    assert [json.loads(line)["path"] for line in result.stdout.splitlines()] == [
        str(good[0]), str(good[1])
    ]  # fmt: skip
    assert (
        result.stderr.strip()
        == f"mailguard: {nobody}: no recipients: no To, Cc or Bcc header and no --rcpt"
    )


async def test_the_data_directory_is_private_and_a_loose_one_is_tightened(
    tmp_path, sink, start_mailguard
):
    loose = tmp_path / "data"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    mg = start_mailguard(sink.port)
    assert mg.data_dir == loose
    assert stat.S_IMODE(loose.stat().st_mode) == 0o700
    assert any(e.get("event") == "data_dir_tightened" for e in mg.events())
    fresh = tmp_path / "fresh" / "state"
    result = mailguard_cli("users", "add", "ada", "--role", "admin", "--password-stdin",
                           "--data-dir", str(fresh), stdin="p" * 16 + "\n")  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o700


async def test_a_library_complaining_about_a_damaged_pdf_logs_json_like_everything_else(
    tmp_path, sink, start_mailguard
):
    policy = tmp_path / "policy.yaml"
    policy.write_text(POLICY)
    mg = start_mailguard(sink.port, "--policy", str(policy))
    pdf = re.sub(rb"startxref\s+\d+", b"startxref\n999999", pdf_bytes(["Minutes of the meeting"]))
    raw = message_with({"minutes.pdf": pdf}, to="someone@example.org")
    await aiosmtplib.send(
        raw, sender="officer@northdown.gov.uk", recipients=["someone@example.org"],
        hostname=HOST, port=mg.port, timeout=30,
    )  # fmt: skip
    sink.wait_for(1)
    await asyncio.sleep(0.5)
    lines = [line for line in mg.log_text().splitlines() if line.strip()]
    for line in lines:
        json.loads(line)  # every line, the library's too, is one JSON object
    library = [json.loads(x) for x in lines if '"library_log"' in x]
    assert any(e["library"].startswith("pypdf") for e in library)
