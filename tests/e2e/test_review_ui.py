"""A reviewer's and a sender's day, in a real browser against a real ``serve --web``."""

from __future__ import annotations

import http.server
import re
import threading
import time
from typing import ClassVar
from unittest import mock

import pytest

from tests.support.mail import compose
from tests.support.net import HOST, free_port
from tests.support.relay import mailguard_cli
from tests.support.webui import (
    OFFICER,
    PASSWORD,
    add_user,
    delivered,
    notices,
    queued_id,
    send,
    wait_until,
    web_args,
)


@pytest.fixture(scope="module")
def sink(module_sink):
    """One upstream for the module: the relay below is shared."""
    return module_sink


@pytest.fixture(scope="module")
def shared_ui(tmp_path_factory, sink, start_module_mailguard):
    """One relay with the UI for every test here: each holds and decides its own
    messages (to recipients no other test uses) and waits for what it sends."""
    tmp = tmp_path_factory.mktemp("ui")
    args, base = web_args(tmp)
    mg = start_module_mailguard(sink.port, *args)
    for name, role in (("rita", "reviewer"), ("abe", "approver"), ("amy", "approver")):
        add_user(mg.data_dir, name, role)
    return mg, base


@pytest.fixture
def ui(shared_ui, sink):
    sink.reset()
    return shared_ui


def login(page, base: str, name: str) -> None:
    page.goto(f"{base}/held")
    assert "/login" in page.url  # every page needs a login
    page.fill("input[name=name]", name)
    page.fill("input[name=password]", PASSWORD)
    page.click("button:has-text('Log in')")
    page.wait_for_url(re.compile(r"/held"))


def test_a_reviewer_releases_held_mail_with_a_reason_and_it_is_delivered(ui, sink, page, artifacts):
    mg, base = ui
    held = queued_id(send(mg.port, ["resident@example.org", "carer@example.net"]))
    send(mg.port, ["another@example.org"])  # a second row in the list
    login(page, base, "rita")

    row = page.locator("table.list tbody tr", has_text="resident@example.org")
    assert row.count() == 1
    assert "hold-for-review" in row.inner_text()
    page.screenshot(path=str(artifacts / "held-list.png"), full_page=True)

    row.get_by_role("link", name="Referral for a resident").click()
    page.wait_for_url(f"{base}/held/{held}")
    assert "Personal data to an outside address, held for review." in page.inner_text(".why")
    assert "carer@example.net" in page.inner_text("main")
    page.screenshot(path=str(artifacts / "held-detail.png"), full_page=True)

    page.fill("form.release textarea[name=reason]", "Checked with the team: right recipients")
    page.click("form.release button:text-is('Release')")
    page.wait_for_url(re.compile(rf"/held/{held}\?done=released"))
    assert "Released" in page.inner_text(".done")

    assert wait_until(lambda: len(delivered(sink)) == 1)
    assert sorted(delivered(sink)[0].rcpt_tos) == ["carer@example.net", "resident@example.org"]
    assert "Checked with the team" in page.inner_text("table.audit")


def test_release_to_some_recipients_only(ui, sink, page):
    mg, base = ui
    held = queued_id(send(mg.port, ["right@example.org", "wrong@example.net"]))
    login(page, base, "rita")
    page.goto(f"{base}/held/{held}")
    page.uncheck("form.release input[value='wrong@example.net']")
    page.fill("form.release textarea[name=reason]", "Only the intended resident")
    page.click("form.release button:text-is('Release')")
    page.wait_for_url(re.compile(r"done=released"))
    assert wait_until(lambda: len(delivered(sink)) == 1)
    assert delivered(sink)[0].rcpt_tos == ["right@example.org"]


def test_two_people_must_agree_and_nobody_approves_their_own_request(ui, sink, page, browser):
    mg, base = ui
    held = queued_id(send(mg.port, ["gp@approve.example"]))

    login(page, base, "abe")
    page.goto(f"{base}/held/{held}")
    assert page.locator("form.release button:text-is('Release')").count() == 0
    page.fill("form.release textarea[name=reason]", "Referral agreed with the GP")
    page.click("button:has-text('Ask for release')")
    page.wait_for_url(re.compile(r"done=requested"))
    # The requester sees no approve button, and a forged approval is refused.
    assert page.locator("button:has-text('Approve')").count() == 0
    csrf = page.locator("form.reject input[name=csrf]").get_attribute("value")
    forged = page.request.post(
        f"{base}/held/{held}/approve", form={"csrf": csrf, "reason": "me again"}
    )
    assert forged.status == 403
    assert "cannot also approve" in forged.text()
    assert delivered(sink) == []

    other = browser.new_context().new_page()
    login(other, base, "amy")
    other.goto(f"{base}/held/{held}")
    assert "abe asked for release" in other.inner_text("form.release")
    other.click("button:has-text('Approve and release')")
    other.wait_for_url(re.compile(r"done=approved"))
    assert wait_until(lambda: len(delivered(sink)) == 1)
    audit = other.inner_text("table.audit")
    assert "release_requested" in audit and "approved" in audit


def test_a_visible_list_shows_every_reason_and_is_released_as_bcc_by_two_people(
    ui, sink, page, browser
):
    mg, base = ui
    residents = [f"tenant{i}@example.org" for i in range(6)]
    held = queued_id(send(mg.port, residents))

    login(page, base, "rita")
    row = page.locator("table.list tbody tr", has_text="tenant0@example.org")
    reasons = row.locator(".reason code").all_inner_texts()
    assert reasons == ["hold-visible-list", "hold-for-review"]  # most serious first
    page.goto(f"{base}/held/{held}")
    why = page.locator("ol.reasons li").all_inner_texts()
    assert "could see each other's addresses" in why[0]
    assert "Personal data to an outside address" in why[1]
    page.fill("form.release textarea[name=reason]", "Tenants' newsletter; goes as Bcc")
    page.click("button:has-text('Ask for release')")
    page.wait_for_url(re.compile(r"done=requested"))

    other = browser.new_context().new_page()
    login(other, base, "abe")
    other.goto(f"{base}/held/{held}")
    assert other.is_checked("form.release input[name=mode][value=bcc]")
    other.click("button:has-text('Approve and release')")  # the defaults, as they are
    other.wait_for_url(re.compile(r"done=approved"))
    assert wait_until(lambda: len(delivered(sink)) == 1)
    [got] = delivered(sink)
    assert sorted(got.rcpt_tos) == residents
    head = got.content.split(b"\r\n\r\n")[0]
    assert b"undisclosed-recipients" in head and b"tenant1@example.org" not in head


def test_a_reviewer_cannot_approve_even_someone_elses_request(ui, page):
    mg, base = ui
    held = queued_id(send(mg.port, ["gp@approve.example"]))
    login(page, base, "abe")
    page.goto(f"{base}/held/{held}")
    page.fill("form.release textarea[name=reason]", "Referral agreed")
    page.click("button:has-text('Ask for release')")
    page.wait_for_url(re.compile(r"done=requested"))

    page.context.clear_cookies()
    login(page, base, "rita")
    page.goto(f"{base}/held/{held}")
    assert page.locator("button:has-text('Approve')").count() == 0
    csrf = page.locator("form.reject input[name=csrf]").get_attribute("value")
    forged = page.request.post(f"{base}/held/{held}/approve", form={"csrf": csrf})
    assert forged.status == 403


def _link_in(notice: bytes) -> str:
    text = notice.decode("utf-8", "replace").replace("=\r\n", "")
    return re.search(r"(http://127\.0\.0\.1:\d+/s/[A-Za-z0-9._-]+)", text).group(1)


def test_a_sender_releases_their_own_mail_from_the_notice_link(ui, sink, page, artifacts):
    mg, _ = ui
    held = queued_id(send(mg.port, ["sarah.jones@self.example"]))
    assert wait_until(lambda: len(notices(sink)) == 1)
    notice = notices(sink)[0]
    assert notice.rcpt_tos == [OFFICER]
    link = _link_in(notice.content)

    page.goto(link)
    assert "Your email is being held" in page.inner_text("h1")
    assert "check the address" in page.inner_text("main")
    # The address to confirm is on the page, not only the advice to confirm it.
    assert page.locator("ul.recipients li").all_inner_texts() == ["sarah.jones@self.example"]
    page.screenshot(path=str(artifacts / "sender-page.png"), full_page=True)
    page.fill("textarea[name=justification] >> nth=0", "Sarah asked me to use her own address.")
    page.click("button:has-text('Send it')")
    page.wait_for_url(re.compile(r"done=released"))

    assert wait_until(lambda: len(delivered(sink)) == 1)
    assert delivered(sink)[0].rcpt_tos == ["sarah.jones@self.example"]

    audit = mailguard_cli("quarantine", "audit", held, "--data-dir", str(mg.data_dir)).stdout
    assert "released_by_sender" in audit and "Sarah asked me" in audit


def test_a_sender_cannot_release_mail_a_reviewer_must_check_but_can_cancel_it(ui, sink, page):
    mg, _ = ui
    send(mg.port, ["neighbour@example.org"])
    assert wait_until(lambda: len(notices(sink)) == 1)
    page.goto(_link_in(notices(sink)[0].content))
    assert page.locator("button:has-text('Send it')").count() == 0
    page.click("button:has-text('Cancel this email')")
    page.wait_for_url(re.compile(r"done=cancelled"))
    assert "rejected" in page.inner_text("main")
    assert delivered(sink) == []


def test_a_tampered_or_expired_link_is_refused(ui, sink, page):
    mg, base = ui
    held = queued_id(send(mg.port, ["sarah.jones@self.example"]))
    assert wait_until(lambda: len(notices(sink)) == 1)
    link = _link_in(notices(sink)[0].content)

    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    page.goto(tampered)
    assert "not valid or has expired" in page.inner_text("main")

    from mailguard.quarantine.links import SenderLinks, load_secret

    links = SenderLinks(load_secret(mg.data_dir), base)
    with mock.patch("time.time", return_value=time.time() - 30 * 86400):
        old = links.url(held, OFFICER)  # signed a month ago; holds last 14 days
    page.goto(old)
    assert "not valid or has expired" in page.inner_text("main")
    reply = page.request.post(f"{old}/release", form={"justification": "x" * 20})
    assert reply.status == 403
    assert delivered(sink) == []


class _Beacon(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Beacon.hits.append(self.path)
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_a_hostile_html_body_runs_nothing_and_loads_nothing(ui, page):
    mg, base = ui
    port = free_port()
    server = http.server.HTTPServer((HOST, port), _Beacon)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    remote = f"http://{HOST}:{port}"
    html = (
        f"<p>Hello</p><script>document.title='pwned';fetch('{remote}/script')</script>"
        f"<img src='{remote}/pixel.png'><img src=x onerror=\"fetch('{remote}/onerror')\">"
        f"<div style=\"background:url('{remote}/css')\">styled</div>"
        f"<iframe src='{remote}/frame'></iframe><a href='javascript:alert(1)'>click</a>"
    )
    raw = compose(sender=OFFICER, to=["tenant@example.org"], body=html).replace(
        b"Content-Type: text/plain", b"Content-Type: text/html"
    )
    held = queued_id(send(mg.port, ["tenant@example.org"], raw))
    login(page, base, "rita")
    page.goto(f"{base}/held/{held}")
    frame = page.frame_locator("iframe.body")
    assert frame.locator("p").inner_text() == "Hello"
    time.sleep(1.0)  # give anything that might load the time to try
    server.shutdown()
    assert _Beacon.hits == []
    assert page.title() != "pwned"
    assert frame.locator("script, img, iframe").count() == 0
    assert frame.locator("a").get_attribute("href") is None


def test_an_admin_opens_an_incident_from_held_mail_contains_it_and_sees_the_reports(
    ui, sink, page, artifacts
):
    mg, base = ui
    add_user(mg.data_dir, "ada", "admin")
    held = queued_id(send(mg.port, ["wrong.person@example.org"]))
    login(page, base, "ada")
    page.goto(f"{base}/held/{held}")
    page.click("form.incident button:text-is('Open incident')")
    page.wait_for_url(re.compile(r"/incidents/INC-"))
    text = page.inner_text("main")
    assert "Incident opened." in text and "Report to the ICO by" in text
    assert "wrong.person@example.org" in text and "held by mailguard" in text
    page.click("form.deletion button")
    assert "Deletion requested from 1 recipient(s)." in page.inner_text(".done")
    assert wait_until(
        lambda: any(m.rcpt_tos == ["wrong.person@example.org"] for m in sink.messages)
    )
    page.fill("form.phone input[name=note]", "rang them, they deleted it")
    page.click("form.phone button")
    assert "Recorded: wrong.person@example.org deleted it." in page.inner_text(".done")
    assert "phone: rang them" in page.inner_text("main")
    page.screenshot(path=str(artifacts / "incident.png"), full_page=True)

    page.click("header a:text-is('Incidents')")
    assert page.locator("table tr", has_text="INC-").count() >= 1
    ledger = ("report", "--json", "--data-dir", str(mg.data_dir))
    assert wait_until(lambda: '"hold"' in mailguard_cli(*ledger).stdout)
    page.click("header a:text-is('Reports')")
    page.wait_for_url(re.compile(r"/reports"))
    assert "Actions per day" in page.inner_text("main")
    assert page.locator("svg.days rect").count() >= 1
    assert page.locator("svg.bars rect").count() >= 1
    page.screenshot(path=str(artifacts / "reports.png"), full_page=True)


def test_a_reviewer_has_no_reports_or_incidents(ui, page):
    _, base = ui
    login(page, base, "rita")
    assert page.locator("header a:text-is('Reports')").count() == 0
    for path in ("/reports", "/incidents"):
        response = page.goto(f"{base}{path}")
        assert response.status == 403
        assert "Only an administrator or the data protection officer" in page.inner_text("main")


def test_the_data_protection_officer_reads_reports_and_incidents_but_decides_nothing(ui, page):
    mg, base = ui
    add_user(mg.data_dir, "dora", "dpo")
    held = queued_id(send(mg.port, ["dpo.case@example.org"]))
    login(page, base, "dora")
    for path in ("/reports", "/incidents"):
        assert page.goto(f"{base}{path}").status == 200
    page.goto(f"{base}/held/{held}")
    assert page.locator("form.release").count() == 0 and page.locator("form.reject").count() == 0
    csrf = page.locator("form.incident input[name=csrf]").get_attribute("value")
    refused = page.request.post(f"{base}/held/{held}/reject", form={"csrf": csrf, "reason": "x"})
    assert refused.status == 403
    shown = mailguard_cli("quarantine", "show", held, "--json", "--data-dir", str(mg.data_dir))
    assert '"state": "held"' in shown.stdout
