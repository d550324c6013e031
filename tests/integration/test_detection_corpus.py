"""Detection on the labelled corpus (``tests/support/corpus``), as a regression test.

The corpus is 1,500 messages of a fictional council's outbound mail, generated from a
fixed seed: ordinary mail that only looks risky, and leaks. ``mailguard eval`` runs
the inspection ``check`` runs on every message and scores it; on failure the per-kind
table says which kinds of mail went wrong.
"""

from __future__ import annotations

import json
import time

import pytest

from mailguard.cli.evaluate import render
from tests.support.corpus import generate
from tests.support.relay import mailguard_cli

SEED, COUNT = 1, 1500

# (figure in the report, comparison, bound)
THRESHOLDS = [
    ("recall", ">=", 0.98),
    ("false_interventions", "<=", 0.02),
    ("entity_recall", ">=", 0.95),
    ("false_entities", "<=", 0.05),
    ("leaks", "<=", 0),
]


@pytest.mark.timeout(300)
def test_detection_on_the_labelled_corpus(tmp_path):
    started = time.monotonic()
    corpus = generate(tmp_path / "corpus", seed=SEED, count=COUNT)
    generated_s = time.monotonic() - started
    assert len(corpus["messages"]) == COUNT

    started = time.monotonic()
    result = mailguard_cli("eval", "--json", str(tmp_path / "corpus" / "labels.json"), timeout=280)
    evaluated_s = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    print(f"generation {generated_s:.1f}s, evaluation {evaluated_s:.1f}s")
    print(render(report))

    failed = [
        f"{name} = {report[name]:.3f}, wanted {op} {bound}"
        for name, op, bound in THRESHOLDS
        if not (report[name] >= bound if op == ">=" else report[name] <= bound)
    ]
    assert not failed, "\n".join(failed) + "\n\n" + render(report)
