"""Which mail the relay inspects on its own loop, and that it never runs the model there."""

from __future__ import annotations

from pathlib import Path

import pytest

from mailguard.detectors import ModelNeeded, without_model
from mailguard.inspection import pipeline
from mailguard.inspection.inline import InlineInspector, is_plain
from mailguard.model import Action, Envelope
from mailguard.policy.loader import load_policy
from tests.support.files import csv_bytes, message_with, residents
from tests.support.mail import compose

POLICY = load_policy(Path(__file__).parents[2] / "policies" / "council-default.yaml")
ENVELOPE = Envelope("officer@council.example", ("someone@example.org",))
# A special-category fact with no identifier or title near it: only NER can say
# whether it is about a person.
LONELY = "Following the review last week, Danielle Mason has been diagnosed with epilepsy."


def test_small_text_mail_is_plain_and_attachments_or_size_make_it_a_workers():
    assert is_plain(compose(), 32 * 1024)
    assert is_plain(message_with(body="Hello", html="<p>Hello</p>"), 32 * 1024)
    assert not is_plain(message_with({"people.csv": csv_bytes(residents(3))}), 32 * 1024)
    assert not is_plain(compose(body="word " * 10_000), 32 * 1024)
    inline_image = message_with(html='<p><img src="data:image/png;base64,iVBORw0KGgo="></p>')
    assert not is_plain(inline_image, 32 * 1024)


@pytest.mark.parametrize(
    "header",
    [
        b"Content-Type: application/pdf",
        b"CONTENT-TYPE: Image/PNG",
        b"content-type:multipart/mixed; boundary=x",
        b'Content-Disposition: attachment; FILENAME="list.txt"',
    ],
)
def test_any_part_that_is_not_text_or_is_named_makes_it_a_workers(header):
    raw = compose()
    head, _, body = raw.partition(b"\r\n\r\n")
    assert not is_plain(head + b"\r\n" + header + b"\r\n\r\n" + body, 32 * 1024)


def test_a_uuencoded_blob_in_the_text_makes_it_a_workers_but_the_word_begin_does_not():
    blob = compose(body="Please see below.\r\n\r\nbegin 644 tenants.xls\r\nM/0``\r\nend\r\n")
    assert not is_plain(blob, 32 * 1024)
    assert is_plain(compose(body="We begin 644 new lettings in May."), 32 * 1024)


def test_without_the_model_a_text_that_needs_it_is_handed_on_not_judged_unreadable():
    raw = compose(body=LONELY)
    with without_model(), pytest.raises(ModelNeeded):
        pipeline.inspect(ENVELOPE, raw, POLICY)
    assert pipeline.inspect(ENVELOPE, raw, POLICY).decision.action is Action.HOLD


def test_the_inline_inspector_judges_plain_mail_as_a_worker_would_and_declines_the_rest():
    inline = InlineInspector(32 * 1024)
    inline.policy = POLICY
    assert inline.inspect(ENVELOPE, compose(), {}) is None  # not warmed up yet
    inline.warm_up()
    inline.ready = True
    card = compose(body="Card 4111 1111 1111 1111 exp 09/29 for Mrs Patel's account, thanks.")
    here = inline.inspect(ENVELOPE, card, {})
    assert here is not None
    assert here.decision == pipeline.inspect(ENVELOPE, card, POLICY).decision
    assert inline.inspect(ENVELOPE, compose(body=LONELY), {}) is None  # needs the model
    attached = message_with({"people.csv": csv_bytes(residents(3))})
    assert inline.inspect(ENVELOPE, attached, {}) is None
    off = InlineInspector(0)
    off.ready = True
    assert off.inspect(ENVELOPE, compose(), {}) is None  # switched off
