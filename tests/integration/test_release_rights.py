"""Who may release held mail is the strictest of every hold rule that fired."""

from __future__ import annotations

import json
import re
from pathlib import Path

from tests.support import files
from tests.support.relay import mailguard_cli
from tests.support.webui import delivered, queued_id, send, wait_until

DEFAULT = Path(__file__).parents[2] / "policies" / "council-default.yaml"


def test_a_lenient_site_rule_cannot_make_a_patient_list_sender_releasable(
    tmp_path, sink, start_mailguard
):
    site = tmp_path / "site.yaml"
    site.write_text(
        f"include: [{DEFAULT}]\n"
        "organisation: {name: N, internal_domains: [northdown.gov.uk]}\n"
        "rules:\n"
        "  - name: hold-revealing-visible-list\n"  # replaced in place: ahead of the bulk rules
        "    description: Check the address of mail that leaves the council.\n"
        "    when: {external_recipients: {at_least: 1}}\n"
        "    action: hold\n"
        "    release: sender\n"
    )
    data = tmp_path / "data"
    mg = start_mailguard(sink.port, "--policy", str(site), "--data-dir", str(data))
    listing = files.csv_bytes(files.residents(20))
    held = queued_id(
        send(mg.port, ["someone@gmail.com"], files.message_with({"list.csv": listing}))
    )
    plain = queued_id(send(mg.port, ["someone@gmail.com"], files.message_with(body="Hi")))

    listed = mailguard_cli("quarantine", "list", "--json", "--data-dir", str(data))
    release = {m["id"]: m["release"] for m in map(json.loads, listed.stdout.splitlines())}
    assert release[held] == "approver"  # the shipped bulk rule's, not the site rule's
    assert release[plain] == "sender"


def history_pairs(data) -> int:
    out = mailguard_cli("history", "stats", "--data-dir", str(data)).stdout
    return int(re.search(r"pairs: (\d+)", out).group(1))


def test_a_monitor_week_teaches_nothing_and_a_typo_domain_stays_suspicious(
    tmp_path, sink, start_mailguard
):
    data = tmp_path / "data"
    site = tmp_path / "site.yaml"
    org = "organisation: {name: N, internal_domains: [northdown.gov.uk]}\n"
    site.write_text(f"include: [{DEFAULT}]\n{org}mode: monitor\n")
    week = start_mailguard(sink.port, "--policy", str(site), "--data-dir", str(data))
    for _ in range(3):  # delivered unchanged, as monitor mode promises
        send(week.port, ["resident@gmial.com"], files.message_with(body="Your appointment"))
    send(week.port, ["colleague@northdown.gov.uk"], files.message_with(body="Lunch?"))
    assert wait_until(lambda: len(delivered(sink)) == 4)
    week.stop()
    assert history_pairs(data) == 0

    site.write_text(f"include: [{DEFAULT}]\n{org}mode: enforce\n")
    live = start_mailguard(sink.port, "--policy", str(site), "--data-dir", str(data))
    for _ in range(3):  # enforced mail to the typo goes nowhere without a person
        send(live.port, ["resident@gmial.com"], files.message_with(body="Your appointment"))
    held = {e["id"]: e for e in live.events("message")}
    assert [e["action"] for e in held.values()] == ["hold"] * 3
    assert all("hold-lookalike-misdirection" in e["rules"] for e in held.values())
