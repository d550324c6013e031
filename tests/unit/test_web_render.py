"""What a reviewer's browser is given to show: nothing that runs, loads or disguises."""

import threading

import pytest

from mailguard.quarantine.links import BadLink, SenderLinks, load_secret
from mailguard.web.render import safe_html, view_of


def _html_mail(html: str) -> bytes:
    return (
        "From: a@northdown.gov.uk\r\nTo: b@example.org\r\nSubject: x\r\n"
        "Content-Type: text/html; charset=utf-8\r\n\r\n" + html + "\r\n"
    ).encode()


def test_cleaned_html_keeps_no_scripts_images_styles_or_links_elsewhere():
    page = safe_html(
        _html_mail(
            "<p>Hi</p><script>x()</script><img src='http://a/p.png'><style>b{}</style>"
            "<a href='//evil.example/x'>1</a><a href='\\\\evil\\x'>2</a>"
            "<a href='javascript:alert(1)'>3</a><a href='mailto:dpo@northdown.gov.uk'>4</a>"
            "<meta http-equiv=refresh content='0;url=http://a'><base href='http://a/'>"
            "<svg onload=x()></svg><form action='http://a'><input></form>"
        )
    )
    body = page.split("<body>", 1)[1]
    for banned in ("<script", "<img", "<style", "evil", "javascript:", "<meta", "<base",
                   "<svg", "<form", "onload"):  # fmt: skip
        assert banned not in body, banned
    assert "<p>Hi</p>" in page and 'href="mailto:dpo@northdown.gov.uk"' in page


def test_a_disguised_attachment_name_shows_what_it_really_is():
    raw = (
        "From: a@northdown.gov.uk\r\nTo: b@example.org\r\nSubject: s\r\n"
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n'
        "Content-Type: text/plain\r\n\r\nsee attached\r\n--b\r\n"
        "Content-Type: application/octet-stream\r\n"
        'Content-Disposition: attachment; filename="invoice\u202efdp.exe"\r\n\r\nMZ\r\n--b--\r\n'
    ).encode("utf-8")
    [attachment] = view_of(raw).attachments
    assert attachment.name == "invoicefdp.exe"


def test_the_link_secret_is_made_once_even_when_processes_race(tmp_path):
    found: list[bytes] = []
    threads = [
        threading.Thread(target=lambda: found.append(load_secret(tmp_path))) for _ in range(8)
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(set(found)) == 1 and len(found[0]) >= 32
    assert (tmp_path / "secret.key").stat().st_mode & 0o077 == 0


def test_an_empty_secret_file_is_refused_rather_than_signing_with_nothing(tmp_path):
    (tmp_path / "secret.key").write_bytes(b"")
    with pytest.raises(OSError, match="no usable secret"):
        load_secret(tmp_path)


def test_a_link_signed_with_another_secret_is_refused(tmp_path):
    mine = SenderLinks(b"a" * 64, "http://ui")
    theirs = SenderLinks(b"b" * 64, "http://ui")
    with pytest.raises(BadLink):
        mine.read(theirs.token("ID", "x@northdown.gov.uk"), max_age=60)
