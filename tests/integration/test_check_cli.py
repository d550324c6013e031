"""`mailguard check` as a user runs it: real process, real files, contract-shaped output."""

import json
import subprocess
import sys

from tests.support.mail import address, compose


def run_check(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mailguard", "check", *args],
        input=stdin.decode() if stdin is not None else None,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_json_output_is_one_contract_object_per_message(tmp_path):
    files = []
    for n in range(2):
        f = tmp_path / f"m{n}.eml"
        f.write_bytes(compose(to=[address("example.org")]).replace(b"\r\n", b"\n"))
        files.append(str(f))

    result = run_check("--json", *files)

    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert [json.loads(line) for line in lines] == [
        {"path": path, "action": "pass", "rules": [], "findings": []} for path in files
    ]


def test_stdin_is_read_when_the_file_is_a_dash():
    result = run_check("--json", "-", stdin=compose())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["path"] == "-"


def test_human_output_names_the_verdict(tmp_path):
    f = tmp_path / "m.eml"
    f.write_bytes(compose())
    result = run_check(str(f))
    assert result.returncode == 0
    assert result.stdout.startswith(f"{f}: pass")


def test_missing_file_is_exit_2_with_one_line_on_stderr(tmp_path):
    result = run_check("--json", str(tmp_path / "absent.eml"))
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "absent.eml" in result.stderr


def test_message_without_recipients_needs_rcpt(tmp_path):
    f = tmp_path / "norcpt.eml"
    f.write_bytes(b"From: a@northdown.gov.uk\nSubject: x\n\nbody\n")
    bad = run_check("--json", str(f))
    assert bad.returncode == 2 and "no recipients" in bad.stderr
    good = run_check("--json", "--rcpt", "someone@example.org", str(f))
    assert good.returncode == 0 and json.loads(good.stdout)["action"] == "pass"


def test_garbage_input_still_gets_a_verdict_not_a_traceback(tmp_path):
    f = tmp_path / "junk.eml"
    f.write_bytes(
        b'To: x@example.org\nContent-Type: multipart/mixed; boundary="\n\n\xff\xfe--\x00\n'
    )
    result = run_check("--json", str(f))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["action"] == "pass"
