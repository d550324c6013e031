"""The one inspection path shared by ``serve`` and ``check``.

``inspect`` is a plain function of its arguments so it can run in a worker process;
the relay never parses or scans a message on its event loop.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from mailguard import detectors
from mailguard.detectors import DetectionContext, Detector
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
) -> Inspection:
    started = time.perf_counter()
    message = ParsedMessage(raw)
    chosen = detectors.registered() if detector_set is None else detector_set
    if policy is not None:
        # Pay only for what can change the decision: skip detectors no rule asks about.
        wanted = engine.detectors_needed(policy.policy)
        chosen = [d for d in chosen if d.name in wanted]
    context = DetectionContext(
        tuple(policy.policy.identifiers) if policy else (),
        policy.policy.organisation if policy else None,
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
