"""Where a reply's own words end and the quoted or forwarded thread begins."""

from __future__ import annotations

import pytest

from mailguard.intake.quoting import split

OWN = "Hi,\r\nPlease book the visit for Tuesday.\r\nThanks, Sam\r\n\r\n"


@pytest.mark.parametrize(
    "thread",
    [
        "From: Ruth Okafor <ruth@northdown.gov.uk>\r\nSent: 02 December 2026 16:40\r\n"
        "To: Sam Patel\r\nSubject: RE: visit\r\n\r\nMrs Clarke was discharged.\r\n",
        "-----Original Message-----\r\nFrom: Ruth\r\nMrs Clarke was discharged.\r\n",
        "On Tue, 2 Dec 2026 at 16:40, Ruth Okafor <ruth@northdown.gov.uk> wrote:\r\n"
        "> Mrs Clarke was discharged.\r\n",
        "On Tue, 2 Dec 2026 at 16:40, Ruth Okafor\r\n<ruth@northdown.gov.uk> wrote:\r\n"
        "> Mrs Clarke was discharged.\r\n",
        "---------- Forwarded message ---------\r\nFrom: Ruth\r\nMrs Clarke was discharged.\r\n",
        "Begin forwarded message:\r\n\r\nFrom: Ruth\r\nMrs Clarke was discharged.\r\n",
        "*From:* Ruth Okafor\r\n*Sent:* 02 December 2026\r\n*To:* Sam\r\n\r\n"
        "Mrs Clarke was discharged.",
    ],
    ids=["outlook", "original-message", "gmail", "gmail-wrapped", "forwarded", "apple", "html"],
)
def test_the_thread_under_a_reply_is_set_apart(thread):
    own, quoted = split(OWN + thread)
    assert "Please book the visit" in own and "Mrs Clarke" not in own
    assert "Mrs Clarke was discharged" in quoted


@pytest.mark.parametrize(
    "thread",
    [
        "-----Or\u0131g\u0131nal Message-----\r\nFrom: Ruth\r\nMrs Clarke was discharged.\r\n",
        "On Tue, 2 Dec 2026, Zoë Ward <zoe@northdown.gov.uk> wrote:\r\n"
        "> Mrs Clarke was discharged.\r\n",
        "FROM: Ruth Okafor\r\nSENT: 02 December 2026\r\nTO: Sam\r\n\r\nMrs Clarke was discharged.",
    ],
    ids=["dotless-i", "accented-name", "capitals"],
)
def test_a_thread_is_found_whatever_the_letters_it_is_written_in(thread):
    own, quoted = split("Café opening hours below.\r\n" + OWN + thread)
    assert "Please book the visit" in own and "Mrs Clarke" not in own
    assert "Mrs Clarke was discharged" in quoted


def test_inline_quoting_with_angle_brackets_is_set_apart():
    own, quoted = split(
        "My answers below.\n> Is the boiler fixed?\nYes, on Monday.\n> And the rail?\nNext week."
    )
    assert "Is the boiler fixed?" in quoted and "And the rail?" in quoted
    assert "Yes, on Monday." in own and "Is the boiler" not in own


@pytest.mark.parametrize(
    "text",
    [
        "From: 3 March the office is closed.\nSee you then.",
        "Dear Ms Jones,\nThe meeting is on 4 May.\n> one quoted line only\nRegards",
    ],
)
def test_ordinary_text_is_not_mistaken_for_a_thread(text):
    assert split(text) == (text, "")
