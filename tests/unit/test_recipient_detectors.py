"""Recipient detectors that need no history: visible bulk recipients, look-alike domains."""

from __future__ import annotations

import pytest

from mailguard.detectors import DetectionContext
from mailguard.detectors.recipients import bulk_visible as bulk_recipients
from mailguard.detectors.recipients import lookalike
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope
from mailguard.policy.schema import Organisation

ORG = Organisation(
    name="Northdown", internal_domains=["northdown.gov.uk"], partner_domains=["nhs.net"]
)
CTX = DetectionContext(domains=ORG.domains)
CYRILLIC_A = "\u0430"


@pytest.mark.parametrize(
    ("domain", "imitates"),
    [
        ("nhs.nett", "nhs.net"),
        ("northdowm.gov.uk", "northdown.gov.uk"),
        ("gmial.com", "gmail.com"),
        ("hotmial.co.uk", "hotmail.co.uk"),
        ("outlok.com", "outlook.com"),
        ("n0rthdown.gov.uk", "northdown.gov.uk"),
        (f"gm{CYRILLIC_A}il.com", "gmail.com"),
        (f"gm{CYRILLIC_A}il.com".encode("idna").decode(), "gmail.com"),  # punycode form
    ],
)
def test_look_alike_domains_name_what_they_imitate(domain, imitates):
    [finding] = lookalike.detect(None, Envelope("a@northdown.gov.uk", (f"x@{domain}",)), CTX)
    assert finding.type == "LOOKALIKE_DOMAIN" and finding.where == "recipients"
    assert f"looks like {imitates}" in finding.detail


@pytest.mark.parametrize(
    "domain",
    [
        "nhs.net",
        "nhs.uk",
        "gmail.com",
        "northdown.gov.uk",
        "example.org",
        "dept.northdown.gov.uk",
        "kent.gov.uk",
        "mi.com",
        "ska.com",
        "msm.com",
    ],
)
def test_real_domains_are_not_look_alikes(domain):
    assert lookalike.detect(None, Envelope("a@northdown.gov.uk", (f"x@{domain}",)), CTX) == []


def _message(to: list[str], cc: list[str] = ()) -> ParsedMessage:
    headers = f"From: a@northdown.gov.uk\r\nTo: {', '.join(to)}\r\n"
    if cc:
        headers += f"Cc: {', '.join(cc)}\r\n"
    return ParsedMessage((headers + "\r\nhello\r\n").encode())


def test_visible_outside_addresses_are_counted_with_domains_and_webmail():
    to = [f"resident{i}@gmail.com" for i in range(8)] + ["a@example.org", "b@example.net"]
    cc = [f"staff{i}@northdown.gov.uk" for i in range(5)] + ["c@hotmail.co.uk"]
    [finding] = bulk_recipients.detect(_message(to, cc), Envelope("a@northdown.gov.uk", ()), CTX)
    assert finding.count == 11 and finding.severity.value == "medium"
    assert "4 domain(s), 9 personal webmail" in finding.detail
    assert "resident" not in finding.detail


def test_one_outside_recipient_or_internal_lists_are_not_bulk():
    one = _message(["a@example.org"], [f"s{i}@northdown.gov.uk" for i in range(30)])
    assert bulk_recipients.detect(one, Envelope("a@northdown.gov.uk", ()), CTX) == []
