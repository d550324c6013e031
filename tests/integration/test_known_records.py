"""Known records: the council's own register imported as keyed hashes, and mail
matched against it, through the commands an admin runs and the relay staff send by."""

from __future__ import annotations

import asyncio
import json
import re
import threading
from pathlib import Path

import aiosmtplib
import pytest

from mailguard.records import normalise
from mailguard.records.store import RecordsReader, RecordsStore
from tests.support import files, registers
from tests.support.net import HOST
from tests.support.relay import mailguard_cli

DEFAULT = Path(__file__).parents[2] / "policies" / "council-default.yaml"
OFFICER = "housing.officer@northdown.gov.uk"
TENANTS = registers.Register(100_000)
SITE = (
    "organisation: {name: Northdown, internal_domains: [northdown.gov.uk],"
    " partner_domains: [nhs.net]}\n"
)


def imported(data_dir: Path, export: Path, *extra: str, name: str = "housing-tenants"):
    return mailguard_cli(
        "records", "import", name, str(export), "--data-dir", str(data_dir),
        "--key-columns", "NHS Number", *extra,
    )  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """A data dir holding the 100,000-row housing register, and the shipped policy."""
    root = tmp_path_factory.mktemp("records")
    export = registers.write_csv(root / "tenants.csv", TENANTS)
    done = imported(root / "data", export)
    assert done.returncode == 0, done.stderr
    policy = root / "site.yaml"
    policy.write_text(f"include: [{DEFAULT}]\n{SITE}")
    return root


def check(site: Path, raw: bytes, tmp_path: Path, rcpt: str = "someone@gmail.com") -> dict:
    eml = tmp_path / "m.eml"
    eml.write_bytes(raw)
    done = mailguard_cli(
        "check", "--json", "--data-dir", str(site / "data"), "--policy",
        str(site / "site.yaml"), "--rcpt", rcpt, str(eml),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def known(verdict: dict) -> list[dict]:
    return [f for f in verdict["findings"] if f["type"] == "KNOWN_RECORD"]


def test_five_tenants_in_another_layout_are_five_known_records(site, tmp_path):
    sheet = registers.reordered_csv(TENANTS[500:505])
    verdict = check(site, files.message_with({"arrears.csv": sheet}), tmp_path)
    [finding] = known(verdict)
    assert finding["count"] == 5 and finding["table"] == "housing-tenants"
    assert finding["detector"] == "known_records" and finding["where"] == "attachment:arrears.csv"
    assert "First Name" in finding["detail"] and "Date of Birth" in finding["detail"]
    assert verdict["action"] == "hold" and "hold-known-records-outside" in verdict["rules"]


def test_tenants_written_into_a_letter_are_found(site, tmp_path):
    body = "Dear colleague,\n\n" + ";\n".join(registers.in_a_letter(p) for p in TENANTS[7:10])
    [finding] = known(check(site, files.message_with(body=body), tmp_path))
    assert finding["count"] == 3 and finding["where"] == "body"


def test_invented_people_of_the_same_shape_are_not_records(site, tmp_path):
    strangers = registers.residents(5, seed=4242)
    sheet = registers.reordered_csv(strangers)
    verdict = check(site, files.message_with({"list.csv": sheet}), tmp_path)
    assert known(verdict) == []


def test_a_common_surname_alone_is_not_a_record(site, tmp_path):
    surname = max(registers.LAST_NAMES, key=lambda n: sum(p.last == n for p in TENANTS[:5000]))
    body = f"Hi,\n\nMr {surname} called about the fence again. Can you ring him?\n"
    assert known(check(site, files.message_with(body=body), tmp_path)) == []


def test_an_nhs_number_column_counts_alone(site, tmp_path):
    body = "Referral for NHS no. " + registers.Resident.export_row(TENANTS[42])[5]
    [finding] = known(check(site, files.message_with(body=body), tmp_path))
    assert finding["count"] == 1 and "NHS Number" in finding["detail"]


def test_no_plain_value_of_the_register_is_kept_logged_or_printed(site, tmp_path, sink,
                                                                   start_mailguard):  # fmt: skip
    sheet = registers.reordered_csv(TENANTS[:20])
    raw = files.message_with({"list.csv": sheet}, to="someone@gmail.com")
    printed = json.dumps(check(site, raw, tmp_path))
    listed = mailguard_cli("records", "show", "housing-tenants", "--json", "--data-dir",
                           str(site / "data")).stdout  # fmt: skip
    data = site / "data"
    stored = b"".join(p.read_bytes() for p in data.rglob("*") if p.is_file())
    secrets = [v for p in TENANTS[:2000] for v in (*p.export_row(), f"{p.first} {p.last}", p.nhs)]
    long_ones = {v for v in secrets if len(v) >= 7}  # shorter ones occur in random bytes
    assert long_ones and all(v.isascii() and v.isprintable() for v in long_ones)
    # A plain ASCII value can only lie inside a run of printable bytes: search those
    # (a few hundred KB of the hashes' bytes), not the whole store once per value.
    readable = b"\n".join(re.findall(rb"[\x20-\x7e]{7,}", stored))
    assert not [v for v in long_ones if v.encode() in readable]
    for text in (printed, listed):
        assert not [v for v in long_ones if v in text]
    assert "housing-tenants" in printed  # the table is named, its people are not


def test_bad_exports_get_one_line_and_change_nothing(site, tmp_path):
    data = tmp_path / "data"
    good = registers.write_csv(tmp_path / "good.csv", TENANTS[:50])
    assert imported(data, good).returncode == 0
    before = sorted(str(p.relative_to(data)) for p in data.rglob("*"))
    headless = tmp_path / "headless.csv"
    headless.write_text("\n".join(",".join(p.export_row()) for p in TENANTS[:5]))
    latin1 = tmp_path / "latin1.csv"
    rows = [",".join(registers.HEADER), *(",".join(p.export_row()) for p in TENANTS[:3])]
    latin1.write_bytes("\n".join([*rows, "HT9,Zoë,Brontë,01/02/1970,ND1 2AB,1"]).encode("latin-1"))
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    huge = tmp_path / "huge.csv"
    with open(huge, "wb") as fh:  # 2 GB with no line break: sparse, never read whole
        fh.truncate(2 * 1024**3)
    cases = {
        headless: "no header row",
        latin1: "not UTF-8",
        empty: "empty",
        huge: "not a text file",
        good: "no column named 'Ward'",
    }
    for path, says in cases.items():
        extra = ("--columns", "Ward") if path == good else ()
        done = imported(data, path, "--replace", *extra)
        assert done.returncode == 2, (path, done.stdout)
        [line] = done.stderr.strip().splitlines()
        assert says in line and str(path.name) in line
    assert sorted(str(p.relative_to(data)) for p in data.rglob("*")) == before
    listed = json.loads(mailguard_cli("records", "list", "--json", "--data-dir", str(data)).stdout)
    assert [(t["name"], t["rows"]) for t in listed] == [("housing-tenants", 50)]


def test_a_refreshed_register_takes_over_with_no_moment_without_one(tmp_path):
    data = tmp_path / "data"
    old, new = TENANTS[:3000], registers.residents(3000, seed=7)
    assert imported(data, registers.write_csv(tmp_path / "old.csv", old)).returncode == 0
    reader = RecordsReader(RecordsStore(data), interval=0)
    probe = {
        "old": normalise.table_contexts([(p.first, p.last, p.born.isoformat()) for p in old[:3]]),
        "new": normalise.table_contexts([(p.first, p.last, p.born.isoformat()) for p in new[:3]]),
    }
    seen: list[tuple[str, ...]] = []
    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            seen.append(tuple(sorted(m.where for m in reader.find(probe))))

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        export = registers.write_csv(tmp_path / "new.csv", new)
        assert imported(data, export, "--replace").returncode == 0
    finally:
        stop.set()
        watcher.join()
    assert seen[0] == ("old",) and seen[-1] == ("new",)
    assert set(seen) <= {("old",), ("new",)}  # never neither, never both


async def test_the_relay_picks_up_a_refreshed_register_without_a_restart(
    tmp_path, sink, start_mailguard
):
    data = tmp_path / "data"
    old, new = TENANTS[:2000], registers.residents(2000, seed=11)
    assert imported(data, registers.write_csv(tmp_path / "old.csv", old)).returncode == 0
    policy = tmp_path / "site.yaml"
    policy.write_text(f"include: [{DEFAULT}]\n{SITE}")
    mg = start_mailguard(sink.port, "--policy", str(policy))

    async def matched(people) -> bool:
        raw = files.message_with(
            {"list.csv": registers.reordered_csv(people[:4])}, to="someone@gmail.com"
        )
        await aiosmtplib.send(raw, sender=OFFICER, recipients=["someone@gmail.com"],
                              hostname=HOST, port=mg.port, timeout=60)  # fmt: skip
        return "KNOWN_RECORD" in mg.events("message")[-1]["findings"]

    assert await matched(old)
    assert not await matched(new)
    assert (
        imported(data, registers.write_csv(tmp_path / "new.csv", new), "--replace").returncode == 0
    )
    await asyncio.sleep(5.5)  # the workers look for a new version every 5 s
    assert await matched(new)
    assert not await matched(old)
    log = mg.log_text()
    assert not [p for p in old[:4] + new[:4] if re.search(rf"\b{p.last}\b", log)]
