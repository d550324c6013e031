"""Replies and line endings at the SMTP boundary."""

import pytest

from mailguard.delivery.upstream import has_bare_line_ending
from mailguard.replies import Reply


@pytest.mark.parametrize(
    "data",
    [b"a\nb\r\n", b"a\rb\r\n", b"a\r\n\n", b"a\r\r\n", b"x\n.\r\nMAIL FROM:<a@b>\r\n", b"end\n"],
)
def test_any_bare_cr_or_lf_is_caught(data):
    assert has_bare_line_ending(data)


@pytest.mark.parametrize("data", [b"", b"a\r\n", b"a\r\nb\r\n\r\n", "é\r\n".encode()])
def test_clean_crlf_data_passes(data):
    assert not has_bare_line_ending(data)


def test_reply_with_several_lines_becomes_a_multiline_reply():
    assert str(Reply(550, "5.1.1 first\nsecond")) == "550-5.1.1 first\r\n550 second"


def test_reply_text_cannot_inject_a_command():
    rendered = str(Reply(451, "4.3.0 oops\r\nMAIL FROM:<x@y>"))
    assert all(line.startswith("451") for line in rendered.split("\r\n"))


def test_reply_classes():
    r = Reply(452, "4.5.3 Error: too many recipients")
    assert r.is_transient and not r.is_positive and not r.is_permanent
