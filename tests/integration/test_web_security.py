"""The review UI's defences, against a real ``serve --web`` over HTTP."""

from __future__ import annotations

import csv as csvlib
import io
import re
import socket
import subprocess
import sys
import time

import httpx
import pytest

from tests.support.net import HOST, free_port
from tests.support.relay import mailguard_cli
from tests.support.webui import (
    OFFICER,
    PASSWORD,
    add_user,
    csrf_of,
    delivered,
    logged_in,
    queued_id,
    send,
    wait_until,
    web_args,
)


def _start_ui(tmp, sink, start):
    args, base = web_args(tmp)
    mg = start(sink.port, *args)
    add_user(mg.data_dir, "rita", "reviewer")
    add_user(mg.data_dir, "ada", "admin")
    return mg, base


@pytest.fixture(scope="module")
def sink(module_sink):
    """One upstream for the module: the relay below is shared."""
    return module_sink


@pytest.fixture(scope="module")
def shared_ui(tmp_path_factory, sink, start_module_mailguard):
    """One relay with the UI for the tests that leave nothing another test looks at
    (each has its own held message); the login-throttle tests lock out 127.0.0.1 and
    have their own (``fresh_ui``)."""
    return _start_ui(tmp_path_factory.mktemp("ui"), sink, start_module_mailguard)


@pytest.fixture
def ui(shared_ui, sink):
    mg, base = shared_ui
    sink.reset()
    held = queued_id(send(mg.port, ["resident@example.org"]))
    return mg, base, held


@pytest.fixture
def fresh_ui(tmp_path, sink, start_mailguard):
    sink.reset()
    return _start_ui(tmp_path, sink, start_mailguard)


def test_a_user_added_on_the_command_line_can_log_in(ui):
    mg, base, _ = ui
    added = mailguard_cli(
        "users", "add", "carl", "--role", "approver", "--password-stdin",
        "--data-dir", str(mg.data_dir), stdin=PASSWORD + "\n",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert "added carl (approver)" in added.stdout
    listed = mailguard_cli("users", "list", "--data-dir", str(mg.data_dir))
    assert "carl" in listed.stdout and "approver" in listed.stdout
    client = logged_in(base, "carl")
    assert client.get("/held").status_code == 200


def test_every_page_needs_a_login(ui):
    _, base, held = ui
    anonymous = httpx.Client(base_url=base, follow_redirects=False)
    for path in ("/held", f"/held/{held}", f"/held/{held}/body", "/audit", "/audit.csv", "/users"):
        reply = anonymous.get(path)
        assert reply.status_code == 303, path
        assert reply.headers["location"].startswith("/login?next=")
    reply = anonymous.post(f"/held/{held}/release", data={"reason": "x"})
    assert reply.status_code == 303 and reply.headers["location"].startswith("/login")


def test_a_post_without_the_csrf_token_is_refused_and_changes_nothing(ui, sink):
    _, base, held = ui
    rita = logged_in(base, "rita")
    for data in ({"reason": "looks fine"}, {"reason": "looks fine", "csrf": "forged"}):
        reply = rita.post(f"/held/{held}/release", data=data)
        assert reply.status_code == 403
    assert "held" in rita.get(f"/held/{held}").text
    assert delivered(sink) == []


def test_a_reviewer_cannot_manage_users(ui):
    _, base, _ = ui
    rita = logged_in(base, "rita")
    assert rita.get("/users").status_code == 403
    reply = rita.post(
        "/users",
        data={
            "csrf": csrf_of(rita),
            "do": "add",
            "name": "eve",
            "role": "admin",
            "password": PASSWORD,
        },
    )
    assert reply.status_code == 403
    ada = logged_in(base, "ada")
    assert "eve" not in ada.get("/users").text


def test_an_admin_adds_a_user_who_can_then_log_in(ui):
    _, base, _ = ui
    ada = logged_in(base, "ada")
    reply = ada.post(
        "/users",
        data={
            "csrf": csrf_of(ada),
            "do": "add",
            "name": "ben",
            "role": "reviewer",
            "password": PASSWORD,
        },
    )
    assert reply.status_code == 303
    assert logged_in(base, "ben").get("/held").status_code == 200


def test_an_approver_made_after_a_request_cannot_approve_it_and_the_page_says_why(ui, sink):
    """The throwaway second person: an admin asks for a release, then makes an approver."""
    mg, base, _ = ui
    held = queued_id(send(mg.port, ["gp@approve.example"]))
    ada = logged_in(base, "ada")
    asked = ada.post(
        f"/held/{held}/request", data={"csrf": csrf_of(ada), "reason": "the GP asked for it"}
    )
    assert asked.status_code == 303
    made = ada.post(
        "/users",
        data={"csrf": csrf_of(ada), "do": "add", "name": "puppet", "role": "approver",
              "password": PASSWORD},
    )  # fmt: skip
    assert made.status_code == 303

    puppet = logged_in(base, "puppet")
    page = puppet.get(f"/held/{held}").text
    assert "became approver after" in page
    assert f'action="/held/{held}/approve"' not in page
    forced = puppet.post(f"/held/{held}/approve", data={"csrf": csrf_of(puppet), "reason": ""})
    assert forced.status_code in (400, 403)
    time.sleep(0.5)
    assert delivered(sink) == []

    changes = ada.get("/users").text
    assert re.search(r"ada</td><td>added puppet</td><td>approver", changes)


def test_repeated_wrong_passwords_lock_the_login_for_a_while(fresh_ui):
    _, base = fresh_ui
    client = httpx.Client(base_url=base)
    csrf = csrf_of(client, "/login")
    codes = [
        client.post(
            "/login", data={"csrf": csrf, "name": "rita", "password": "wrong" * 3}
        ).status_code
        for _ in range(5)
    ]
    assert codes == [401] * 5
    right = client.post("/login", data={"csrf": csrf, "name": "rita", "password": PASSWORD})
    assert right.status_code == 429


def test_logging_out_ends_the_session_on_the_server(ui):
    _, base, _ = ui
    rita = logged_in(base, "rita")
    cookie = rita.cookies.get("mg_session")
    assert rita.post("/logout", data={"csrf": csrf_of(rita)}).status_code == 303
    stolen = httpx.Client(base_url=base, cookies={"mg_session": cookie})
    assert stolen.get("/held").status_code == 303


def test_session_cookies_are_httponly_and_samesite(ui):
    _, base, _ = ui
    rita = logged_in(base, "rita")
    jar = [c for c in rita.cookies.jar if c.name == "mg_session"]
    assert jar and jar[0].has_nonstandard_attr("HttpOnly")
    assert jar[0].get_nonstandard_attr("SameSite", "").lower() == "strict"


def test_login_never_redirects_to_another_site(ui):
    _, base, _ = ui
    client = httpx.Client(base_url=base)
    csrf = csrf_of(client, "/login?next=//evil.example/x")
    reply = client.post(
        "/login",
        data={"csrf": csrf, "name": "rita", "password": PASSWORD, "next": "//evil.example/x"},
        follow_redirects=False,
    )
    assert reply.headers["location"] == "/held"


def test_every_response_forbids_framing_scripts_and_remote_content(ui):
    _, base, held = ui
    rita = logged_in(base, "rita")
    page = rita.get(f"/held/{held}")
    csp = page.headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src" not in csp
    assert page.headers["x-frame-options"] == "DENY"
    body = rita.get(f"/held/{held}/body")
    assert "sandbox" in body.headers["content-security-policy"]


def test_the_audit_exports_as_csv_with_formulas_defused(ui, sink):
    _, base, held = ui
    rita = logged_in(base, "rita")
    reply = rita.post(
        f"/held/{held}/reject", data={"csrf": csrf_of(rita), "reason": '=HYPERLINK("x")'}
    )
    assert reply.status_code == 303
    csv = rita.get("/audit.csv")
    assert csv.headers["content-type"].startswith("text/csv")
    rows = list(csvlib.reader(io.StringIO(csv.text)))
    assert rows[0] == ["time_utc", "message_id", "actor", "action", "reason"]
    assert [held, "rita", "rejected", '\'=HYPERLINK("x")'] in [r[1:] for r in rows]
    assert delivered(sink) == []


def test_a_reviewer_can_release_with_the_outside_recipients_moved_to_bcc(ui, sink):
    mg, base, _ = ui
    held = queued_id(send(mg.port, ["one@example.org", "two@example.net"]))
    rita = logged_in(base, "rita")
    reply = rita.post(
        f"/held/{held}/release",
        data={"csrf": csrf_of(rita), "reason": "mailing list, addresses hidden", "mode": "bcc"},
    )
    assert reply.status_code == 303
    [message] = [m for m in delivered(sink) if "one@example.org" in m.rcpt_tos]
    assert sorted(message.rcpt_tos) == ["one@example.org", "two@example.net"]
    head = message.content.split(b"\r\n\r\n", 1)[0]
    assert b"one@example.org" not in head and b"two@example.net" not in head
    audit = rita.get(f"/held/{held}").text
    assert "outside recipients moved to Bcc" in audit


def test_unticking_every_recipient_releases_to_nobody_not_to_everybody(ui, sink):
    _, base, held = ui
    rita = logged_in(base, "rita")
    reply = rita.post(
        f"/held/{held}/release",
        data={"csrf": csrf_of(rita), "reason": "ok", "recipients_listed": "1"},
    )
    assert reply.status_code == 400
    assert "at least one" in reply.text
    assert delivered(sink) == []


def failed_logins(client: httpx.Client, name: str, times: int = 5, **headers: str) -> None:
    csrf = csrf_of(client, "/login")
    for _ in range(times):
        client.post(
            "/login", data={"csrf": csrf, "name": name, "password": "wrong" * 3}, headers=headers
        )


def login_status(base: str, name: str, **headers: str) -> int:
    client = httpx.Client(base_url=base)
    csrf = csrf_of(client, "/login")
    return client.post(
        "/login", data={"csrf": csrf, "name": name, "password": PASSWORD}, headers=headers
    ).status_code


def test_a_proxy_header_cannot_dodge_the_login_throttle(fresh_ui):
    """No trusted proxy configured: X-Forwarded-For is the client's own say-so."""
    _, base = fresh_ui
    failed_logins(httpx.Client(base_url=base), "rita")
    assert login_status(base, "rita", **{"X-Forwarded-For": "10.9.9.9"}) == 429


def test_a_good_login_does_not_reset_the_count_for_its_address(fresh_ui):
    _, base = fresh_ui
    client = httpx.Client(base_url=base)
    failed_logins(client, "rita", times=4)
    assert login_status(base, "ada") == 303  # a colleague's success clears nothing of rita's
    failed_logins(client, "rita", times=1)
    assert login_status(base, "rita") == 429


def test_behind_a_trusted_proxy_one_persons_failures_lock_out_nobody_else(
    tmp_path, sink, start_mailguard
):
    """The README's reverse proxy: every request comes from it, each naming its client.
    Five bad passwords for rita at one desk lock rita out at that desk only."""
    (tmp_path / "proxy.yaml").write_text('web_trusted_proxies: ["127.0.0.1"]\n')
    args, base = web_args(tmp_path)
    mg = start_mailguard(sink.port, *args, "--config", str(tmp_path / "proxy.yaml"))
    for name, role in (("rita", "reviewer"), ("ada", "admin")):
        add_user(mg.data_dir, name, role)
    desk = {"X-Forwarded-For": "10.0.0.17"}
    failed_logins(httpx.Client(base_url=base), "rita", **desk)

    assert login_status(base, "rita", **desk) == 429
    assert login_status(base, "ada", **desk) == 303  # a colleague at the same desk
    assert login_status(base, "rita", **{"X-Forwarded-For": "10.0.0.18"}) == 303
    assert login_status(base, "ada", **{"X-Forwarded-For": "10.0.0.99"}) == 303


def test_the_login_throttle_survives_a_restart_and_is_shared_with_another_ui(
    tmp_path, sink, start_mailguard
):
    args, base = web_args(tmp_path)
    mg = start_mailguard(sink.port, *args)
    add_user(mg.data_dir, "rita", "reviewer")
    failed_logins(httpx.Client(base_url=base), "rita")
    mg.stop()

    port = free_port()
    other = subprocess.Popen(
        [sys.executable, "-m", "mailguard", "web", "--web", f"{HOST}:{port}",
         "--data-dir", str(mg.data_dir), "--upstream", f"{HOST}:{sink.port}"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        other_base = f"http://{HOST}:{port}"
        assert wait_until(lambda: _up(other_base), within=30)
        assert login_status(other_base, "rita") == 429
    finally:
        other.terminate()
        other.wait(20)


def _up(base: str) -> bool:
    try:
        return httpx.get(f"{base}/login", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_silent_connections_from_one_machine_never_lock_reviewers_out(
    tmp_path, sink, start_mailguard
):
    """250 connections from 127.0.0.2 (more than the UI's whole limit) that never send a
    request: reviewers elsewhere still log in at once, and the silent ones are closed
    after the header timeout."""
    (tmp_path / "web.yaml").write_text("web_header_timeout: 2\n")
    args, base = web_args(tmp_path)
    mg = start_mailguard(sink.port, *args, "--config", str(tmp_path / "web.yaml"))
    add_user(mg.data_dir, "rita", "reviewer")
    port = int(base.rsplit(":", 1)[1])
    silent = []
    for _ in range(250):
        sock = socket.socket()
        sock.bind(("127.0.0.2", 0))
        sock.connect((HOST, port))
        silent.append(sock)
    try:
        assert logged_in(base, "rita").get("/held").status_code == 200
        time.sleep(3)
        closed = 0
        for sock in silent:
            sock.settimeout(2)
            try:
                closed += sock.recv(1) == b""
            except OSError:
                closed += 1
        assert closed == len(silent)
    finally:
        for sock in silent:
            sock.close()


def test_absurd_page_numbers_and_dates_are_not_errors(ui):
    _, base, _ = ui
    rita = logged_in(base, "rita")
    for path in ("/held?page=99999999999999999999", "/audit?page=99999999999999999999",
                 "/held?until=9999-12-31&since=0001-01-01", "/held?state=nonsense"):  # fmt: skip
        assert rita.get(path).status_code == 200, path


def test_a_message_too_deep_to_display_can_still_be_decided(ui, sink):
    mg, base, _ = ui
    parts = "".join(
        f'Content-Type: multipart/mixed; boundary="b{i}"\r\n\r\n--b{i}\r\n' for i in range(1500)
    )
    raw = (
        f"From: {OFFICER}\r\nTo: deep@example.org\r\nSubject: deep\r\n{parts}"
        "Content-Type: text/plain\r\n\r\nhi\r\n"
    ).encode()
    held = queued_id(send(mg.port, ["deep@example.org"], raw))
    rita = logged_in(base, "rita")
    page = rita.get(f"/held/{held}")
    assert page.status_code == 200
    assert "not shown: it is nested deeper than 32 levels" in page.text
    assert "Reject: never deliver" in page.text
    assert rita.get(f"/held/{held}/body").status_code == 200
