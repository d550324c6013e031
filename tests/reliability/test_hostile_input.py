"""File bombs and broken files through a real relay: answered in time, memory bounded,
and the relay goes on serving."""

from __future__ import annotations

import os
import time
from pathlib import Path

import aiosmtplib
import pytest

from tests.support import files
from tests.support.fuzzmail import hostile_attachments
from tests.support.net import HOST

pytestmark = pytest.mark.reliability

DEFAULT = Path(__file__).parents[2] / "policies" / "council-default.yaml"


def children_peak_rss_mb(pid: int) -> dict[int, float]:
    """Peak resident memory (VmHWM) of each child process of ``pid``."""
    peaks = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            status = Path(entry.path, "status").read_text()
        except OSError:
            continue
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        if fields.get("PPid", "").strip() == str(pid) and "VmHWM" in fields:
            peaks[int(entry.name)] = int(fields["VmHWM"].split()[0]) / 1024
    return peaks


@pytest.fixture
def guarded(tmp_path, sink, start_mailguard):
    site = tmp_path / "site.yaml"
    site.write_text(
        f"include: [{DEFAULT}]\n"
        "organisation: {name: N, internal_domains: [northdown.gov.uk],"
        " partner_domains: [nhs.net]}\n"
    )
    return start_mailguard(sink.port, "--policy", str(site), "--workers", "2")


async def test_every_file_bomb_gets_an_answer_in_time_and_memory_stays_bounded(guarded, sink):
    answers = {}
    for name, data in hostile_attachments().items():
        raw = files.message_with({name: data}, to="someone@example.org")
        started = time.monotonic()
        try:
            _, reply = await aiosmtplib.send(
                raw, sender="officer@northdown.gov.uk", recipients=["someone@example.org"],
                hostname=HOST, port=guarded.port, timeout=90,
            )  # fmt: skip
            code = int(reply[:1]) * 100 if reply[:1].isdigit() else 250
        except aiosmtplib.SMTPResponseException as exc:
            code = exc.code
        answers[name] = (code, time.monotonic() - started)
    for name, (code, seconds) in answers.items():
        assert code < 500, (name, code)  # a file bomb is never a bounce
        assert seconds < 60, (name, seconds)
    events = {e["id"]: e for e in guarded.events("message")}
    uninspectable = [e for e in events.values() if "UNINSPECTABLE" in e.get("findings", [])]
    assert len(uninspectable) >= 5  # bombs, loops and locked files are said to be unread

    # Still serving, and no worker grew without bound.
    clean = files.message_with(body="Lunch at one?", to="colleague@northdown.gov.uk")
    _, reply = await aiosmtplib.send(
        clean, sender="officer@northdown.gov.uk", recipients=["colleague@northdown.gov.uk"],
        hostname=HOST, port=guarded.port, timeout=60,
    )  # fmt: skip
    assert reply.startswith("2.0.0")
    assert guarded.proc is not None
    peaks = children_peak_rss_mb(guarded.proc.pid)
    assert peaks and max(peaks.values()) < 1024, peaks
