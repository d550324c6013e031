"""The one inspection path shared by ``serve``, ``check`` and ``policy test``.

``inspect`` is a plain function of its arguments so it can run in a worker process;
the relay never parses or scans a message on its event loop.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence

from mailguard.addresses import Domains
from mailguard.detectors import Cost, DetectionContext, Detector, OwnDetails, registry
from mailguard.directory.model import NO_DIRECTORY, DirectoryAnswers
from mailguard.history.store import HistoryReader
from mailguard.intake.mime import ParsedMessage
from mailguard.model import Envelope, Finding, Inspection, Severity
from mailguard.policy import engine
from mailguard.policy.loader import LoadedPolicy
from mailguard.records.store import RecordsReader


def inspect(
    envelope: Envelope,
    raw: bytes,
    policy: LoadedPolicy | None = None,
    *,
    history: HistoryReader | None = None,
    dns: Mapping[str, str] | None = None,
    detector_set: Sequence[Detector] | None = None,
    records: RecordsReader | None = None,
    directory: DirectoryAnswers | None = None,
) -> Inspection:
    """Findings and the decision for one message; every command and worker calls this.

    Only the detectors some rule of the policy looks at run (none without a policy);
    ``detector_set`` replaces the registry's detectors (tests, benchmarks), still
    narrowed to what the policy needs. ``history`` is read, never written;
    ``dns`` holds the answers gathered for the recipients' domains
    (``InspectionContext.dns_answers``); ``records`` the council's imported tables;
    ``directory`` what the council's directory says of the sender and recipients.
    """
    started = time.perf_counter()
    candidates = registry.DETECTORS if detector_set is None else detector_set
    if policy is not None:
        wanted = engine.detectors_needed(policy.policy)
        chosen = registry.sorted_by_cost(d for d in candidates if d.name in wanted)
    else:
        chosen = () if detector_set is None else registry.sorted_by_cost(detector_set)
    message = ParsedMessage(raw, whole=any(d.cost is Cost.CONTENT for d in chosen))
    profile = None
    if history is not None and envelope.mail_from and any(d.uses_history for d in chosen):
        try:
            profile = history.profile(envelope.mail_from, envelope.rcpt_tos)
        except Exception:  # history is a hint: without it the mail still goes (or holds)
            profile = None
    site = policy.policy if policy else None
    context = DetectionContext(
        tuple(site.identifiers) if site else (),
        site.organisation.domains if site else Domains(),
        profile,
        dns or {},
        site.organisation.own_details if site else OwnDetails(),
        records if any(d.uses_records for d in chosen) else None,
    )
    findings: list[Finding] = []
    inspected: list[str] = []
    for detector in chosen:
        try:
            findings.extend(detector.run(message, envelope, context))
        except Exception as exc:  # a broken detector must not lose or bounce mail
            findings.append(_uninspectable(detector.name, exc))
        else:
            inspected.append(detector.name)
    if policy is None:
        decision = engine.decide(None, findings, envelope, message)
    else:
        decision = engine.decide(
            policy.policy, findings, envelope, message, policy.version,
            directory or NO_DIRECTORY,
        )  # fmt: skip
    elapsed_ms = (time.perf_counter() - started) * 1000
    addressing = message.addressing()
    return Inspection(decision, tuple(findings), tuple(inspected), elapsed_ms, addressing)


def warm_up() -> None:
    """Called once in each worker process before it takes messages."""
    for detector in registry.DETECTORS:
        if detector.warm_up is not None:
            detector.warm_up()


def _uninspectable(detector: str, exc: Exception) -> Finding:
    """A detector that crashed read nothing: as unsafe as a message built to be unread."""
    return Finding(
        detector=detector,
        type="UNINSPECTABLE",
        count=1,
        severity=Severity.HIGH,
        where="body",
        detail=f"detector failed: {type(exc).__name__}",
    )
