"""The one inspection path shared by ``serve`` and ``check``.

``inspect`` is a plain function of its arguments so it can run in a worker process;
the relay never parses or scans a message on its event loop.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Mapping, Sequence
from typing import Any

from mailguard import detectors
from mailguard.detectors import DetectionContext, Detector
from mailguard.history.store import DEFAULT_MAX_AGE_DAYS, HistoryReader
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Finding, Inspection, Severity
from mailguard.policy import engine
from mailguard.policy.loader import LoadedPolicy


def inspect(
    envelope: Envelope,
    raw: bytes,
    policy: LoadedPolicy | None = None,
    *,
    detector_set: Sequence[Detector] | None = None,
    history: HistoryReader | None = None,
    domains: Mapping[str, str] | None = None,
) -> Inspection:
    """Findings and the decision for one message; ``check`` and every worker call this.

    ``history`` is read, never written; ``domains`` are DNS answers the relay
    gathered (``check`` looks them up itself when a rule needs them).
    """
    started = time.perf_counter()
    message = ParsedMessage(raw)
    chosen = detectors.registered() if detector_set is None else detector_set
    if policy is not None:
        # Pay only for what can change the decision: skip detectors no rule asks about.
        wanted = engine.detectors_needed(policy.policy)
        chosen = [d for d in chosen if d.name in wanted]
    profile = None
    if history is not None and envelope.mail_from and any(d.uses_history for d in chosen):
        try:
            profile = history.profile(envelope.mail_from, envelope.rcpt_tos)
        except Exception:  # history is a hint: without it the mail still goes (or holds)
            profile = None
    context = DetectionContext(
        tuple(policy.policy.identifiers) if policy else (),
        policy.policy.organisation if policy else None,
        profile,
        domains or {},
    )
    findings: list[Finding] = []
    inspected: list[str] = []
    for detector in sorted(chosen, key=lambda d: d.cost):
        try:
            findings.extend(detector.run(message, envelope, context))
        except Exception as exc:  # a broken detector must not lose or bounce mail
            findings.append(_uninspectable(detector.name, exc))
        else:
            inspected.append(detector.name)
    if policy is None:
        decision = engine.decide(None, findings, envelope, message)
    else:
        decision = engine.decide(policy.policy, findings, envelope, message, policy.version)
    elapsed_ms = (time.perf_counter() - started) * 1000
    return Inspection(decision, tuple(findings), tuple(inspected), elapsed_ms)


HISTORY_DB_ENV = "MAILGUARD_HISTORY_DB"
HISTORY_AGE_ENV = "MAILGUARD_HISTORY_MAX_AGE_DAYS"


def worker_context() -> dict[str, Any]:
    """Opened once per worker: the relay's history, read-only (the relay writes it)."""
    from mailguard.storage import history_reader

    location = os.environ.get(HISTORY_DB_ENV)
    if not location:
        return {}
    max_age = int(os.environ.get(HISTORY_AGE_ENV) or DEFAULT_MAX_AGE_DAYS)
    try:
        history = history_reader(location, max_age)
    except Exception as exc:  # inspect without history rather than not at all
        print(f"mailguard worker: history unavailable: {type(exc).__name__}", file=sys.stderr)
        return {}
    return {"history": history} if history is not None else {}


def warm_up() -> None:
    """Called once in each worker process before it takes messages."""
    for detector in detectors.registered():
        if detector.warm_up is not None:
            detector.warm_up()


def _uninspectable(detector: str, exc: Exception) -> Finding:
    return Finding(
        detector=detector,
        type="UNINSPECTABLE",
        count=1,
        severity=Severity.MEDIUM,
        where="body",
        detail=f"detector failed: {type(exc).__name__}",
    )
