"""``mailguard replay``: last month's mail judged by a policy, as check would judge it."""

from __future__ import annotations

import json
import mailbox
import os
import re
from pathlib import Path

import pytest

from tests.support.corpus.generate import generate
from tests.support.relay import mailguard_cli

ROOT = Path(__file__).parents[2]
DEFAULT = ROOT / "policies" / "council-default.yaml"
ARTIFACTS = ROOT / "test-artifacts"


@pytest.fixture(scope="module")
def archive(tmp_path_factory, request):
    """Messages of a fictional council (a busy week by default; a month of 1,000 with
    ``-m slow``) as an mbox, the same as .eml files, the council's site policy and a
    stricter variant of it."""
    root = tmp_path_factory.mktemp("replay")
    corpus = root / "corpus"
    generate(corpus, seed=7, count=request.param, jobs=2)
    emls = sorted(corpus.glob("*.eml"))
    box = mailbox.mbox(root / "sent.mbox")
    for path in emls:
        box.add(path.read_bytes())
    box.flush()
    box.close()
    site = (corpus / "policy.yaml").read_text()
    stricter = root / "stricter-default.yaml"
    stricter.write_text(DEFAULT.read_text().replace("min_count: 3", "min_count: 2"))
    strict = root / "strict.yaml"
    strict.write_text(re.sub(r"include: \[[^\]]*\]", f"include: [{stricter}]", site))
    return root, emls, corpus / "policy.yaml", strict


@pytest.mark.timeout(600)  # three passes over the archive, each loading the model
@pytest.mark.parametrize(
    "archive", [300, pytest.param(1000, marks=pytest.mark.slow)], indirect=True, ids=str
)
def test_replayed_mail_counts_what_check_says_and_its_report_opens_in_a_browser(archive):
    root, emls, site, strict = archive
    data = root / "data"  # no history: the same for both commands
    replayed = mailguard_cli(
        "replay", "--policy", str(strict), "--against", str(site), "--json", "--data-dir",
        str(data), "--html", str(root / "report.html"), str(root / "sent.mbox"), timeout=600,
    )  # fmt: skip
    assert replayed.returncode == 0, replayed.stderr
    *lines, last = replayed.stdout.splitlines()
    summary = json.loads(last)["summary"]
    verdicts = [json.loads(line) for line in lines]
    assert summary["messages"] == len(verdicts) == len(emls)
    checked = {}
    for policy in (strict, site):
        done = mailguard_cli("check", "--json", "--policy", str(policy), "--data-dir", str(data),
                             *map(str, emls), timeout=900)  # fmt: skip
        assert done.returncode == 0, done.stderr
        checked[policy] = [json.loads(line) for line in done.stdout.splitlines()]
    for n, (mine, new, old) in enumerate(zip(verdicts, checked[strict], checked[site],
                                             strict=True)):  # fmt: skip
        assert mine["path"].endswith(f"#{n + 1}")
        assert (mine["action"], mine["rules"]) == (new["action"], new["rules"]), emls[n].name
        assert (mine["against_action"], mine["against_rules"]) == (old["action"], old["rules"])
        assert mine["findings"] == new["findings"]
    actions: dict[str, int] = {}
    for new in checked[strict]:
        actions[new["action"]] = actions.get(new["action"], 0) + 1
    assert summary["actions"] == actions
    changed = sum(a["action"] != b["action"] for a, b in zip(checked[strict], checked[site],
                                                              strict=True))  # fmt: skip
    assert summary["changed"] == changed > 0
    assert sum(summary["per_day"][d].get("hold", 0) for d in summary["per_day"]) == actions["hold"]
    assert all(v["message_id"] and v["date"] for v in verdicts)
    shows_its_charts(root / "report.html")


def shows_its_charts(page: Path) -> None:
    """The report page opens from disk in a browser, with nothing fetched, and draws."""
    text = page.read_text()
    assert "<script" not in text and "http://" not in text and "https://" not in text
    from playwright.sync_api import sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "replay-report.png"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=os.environ.get("CHROMIUM", "/usr/bin/chromium"))
        tab = browser.new_page(viewport={"width": 1200, "height": 900})
        tab.goto(page.as_uri())
        headings = tab.locator("h2").all_inner_texts()
        bars = tab.locator("svg.bars rect").count()
        days = tab.locator("svg.days rect").count()
        tab.screenshot(path=str(shot), full_page=True)
        browser.close()
    assert "Actions per day" in headings and any(h.startswith("Holds per rule") for h in headings)
    assert "What the change would do, by rule" in headings
    assert bars > 10 and days > 0
    assert shot.stat().st_size > 10_000


def test_bad_sources_and_a_missing_policy_are_one_line(tmp_path):
    eml = tmp_path / "a.eml"
    eml.write_bytes(b"From: a@northdown.gov.uk\nSubject: x\n\nno recipients\n")
    done = mailguard_cli("replay", "--data-dir", str(tmp_path / "d"), str(eml))
    assert done.returncode == 2 and "needs a policy" in done.stderr
    done = mailguard_cli("replay", "--policy", str(DEFAULT), "--json", "--data-dir",
                         str(tmp_path / "d"), str(eml))  # fmt: skip
    assert done.returncode == 0
    assert "no recipients" in done.stderr
    assert json.loads(done.stdout.splitlines()[-1])["summary"]["skipped"] == 1
