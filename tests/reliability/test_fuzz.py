"""Generated malformed mail through the real inspection: it always answers, in time.

Hypothesis drives the generator in ``tests/fuzzmail.py`` (MIME trees with wrong or
missing boundaries, broken encodings, unknown charsets, 8-bit headers, deep nesting,
huge lines); the longer run is ``bench/fuzz_run.py``.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailguard.inspection import pipeline
from mailguard.model import Action, Envelope
from mailguard.policy.loader import load_policy
from tests.support.fuzzmail import random_message

pytestmark = pytest.mark.reliability

DEFAULT = Path(__file__).parents[2] / "policies" / "council-default.yaml"
ENVELOPE = Envelope("officer@northdown.gov.uk", ("someone@example.org",))


@pytest.fixture(scope="module")
def council_policy(tmp_path_factory):
    site = tmp_path_factory.mktemp("p") / "site.yaml"
    site.write_text(
        f"include: [{DEFAULT}]\n"
        "organisation: {name: N, internal_domains: [northdown.gov.uk],"
        " partner_domains: [nhs.net]}\n"
    )
    return load_policy(site)


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rng=st.randoms(use_true_random=False))
def test_any_generated_message_gets_a_decision_within_the_budget(rng, council_policy):
    raw = random_message(rng, ENVELOPE.mail_from, ENVELOPE.rcpt_tos[0])
    started = time.monotonic()
    result = pipeline.inspect(ENVELOPE, raw, council_policy)
    assert time.monotonic() - started < 30
    assert isinstance(result.decision.action, Action)
    for finding in result.findings:  # masked: never a whole address or identifier
        assert finding.count >= 0 and not re.search(r"\w{2,}@\w", finding.detail)
