"""Prometheus metrics for the relay, served on the web port at ``/metrics``.

Counts and timings only: no address, subject or finding detail ever becomes a label.
Rule names and finding types are labels; both come from the policy and the entity
list, so their number is bounded. The quarantine's size is read from the store when
Prometheus scrapes, so it is right even with several relays sharing one database.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from mailguard.model import Inspection

_LATENCY = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)


class Metrics:
    """One relay's metrics; with several relay processes (PROMETHEUS_MULTIPROC_DIR set
    by the supervisor) their counters are summed when any of them renders."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self._shared = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
        self._watched: list[Collector] = []
        self._policy_version: str | None = None
        r = self.registry
        self.messages = Counter(
            "mailguard_messages", "Messages answered, by action and SMTP reply class",
            ["action", "reply"], registry=r,
        )  # fmt: skip
        self.rules = Counter(
            "mailguard_rule_hits", "Messages on which a rule fired", ["rule"], registry=r
        )
        self.findings = Counter(
            "mailguard_findings", "Findings by type (counted once per message)", ["type"],
            registry=r,
        )  # fmt: skip
        self.directory_lookups = Counter(
            "mailguard_directory_lookups",
            "Directory answers for message addresses: cached, asked, or unavailable",
            ["result"], registry=r,
        )  # fmt: skip
        self.inspection = Histogram(
            "mailguard_inspection_seconds", "Time to inspect one message", buckets=_LATENCY,
            registry=r,
        )  # fmt: skip
        self.upstream = Histogram(
            "mailguard_upstream_seconds", "Time the upstream took to accept a message body",
            buckets=_LATENCY, registry=r,
        )  # fmt: skip
        self.total = Histogram(
            "mailguard_message_seconds", "From end of DATA to our reply", buckets=_LATENCY,
            registry=r,
        )  # fmt: skip
        self.upstream_errors = Counter(
            "mailguard_upstream_errors", "Upstream unreachable or lost, by SMTP stage",
            ["stage"], registry=r,
        )  # fmt: skip
        self.inspected_in = Counter(
            "mailguard_inspected", "Messages inspected, by where: on the relay's own loop "
            "(small text-only mail) or in a worker process", ["where"], registry=r,
        )  # fmt: skip
        self.inspection_errors = Counter(
            "mailguard_inspection_errors", "Messages that could not be inspected (4xx)",
            registry=r,
        )  # fmt: skip
        self.policy = Gauge(
            "mailguard_policy_info", "The live policy version (value 1)", ["version"],
            registry=r, multiprocess_mode="max",
        )  # fmt: skip

    def message(
        self,
        inspection: Inspection | None,
        reply_code: int,
        seconds: float,
        upstream_seconds: float | None,
    ) -> None:
        decision = inspection.decision if inspection else None
        action = decision.action.value if decision else "none"
        self.messages.labels(action, f"{reply_code // 100}xx").inc()
        self.total.observe(seconds)
        if inspection is not None:
            self.inspection.observe(inspection.elapsed_ms / 1000)
            for rule in decision.rules if decision else ():
                self.rules.labels(rule).inc()
            for kind in {f.type for f in inspection.findings}:
                self.findings.labels(kind).inc()
        if upstream_seconds is not None:
            self.upstream.observe(upstream_seconds)

    def set_policy(self, version: str | None) -> None:
        if self._shared:  # shared files cannot drop a label: the old version reads 0
            if self._policy_version is not None:
                self.policy.labels(self._policy_version).set(0)
        else:
            self.policy.clear()
        self._policy_version = version or "none"
        self.policy.labels(self._policy_version).set(1)

    def watch(
        self, name: str, help_text: str, read: Callable[[], dict[str, float]], label: str
    ) -> None:
        """A gauge read at scrape time (quarantine size, worker pool)."""
        collector = _ReadAtScrape(name, help_text, read, label)
        self.registry.register(collector)
        self._watched.append(collector)

    def render(self) -> bytes:
        if not self._shared:
            return generate_latest(self.registry)
        every = CollectorRegistry()
        MultiProcessCollector(every, self._shared)
        for collector in self._watched:
            every.register(collector)
        return generate_latest(every)


class _ReadAtScrape(Collector):
    def __init__(
        self, name: str, help_text: str, read: Callable[[], dict[str, float]], label: str
    ) -> None:
        self.name, self.help, self.read, self.label = name, help_text, read, label

    def collect(self) -> Iterator[Any]:
        family = GaugeMetricFamily(self.name, self.help, labels=[self.label])
        try:
            values = self.read()
        except Exception:  # a scrape must never fail because the database blinked
            values = {}
        for key, value in sorted(values.items()):
            family.add_metric([key], value)
        yield family
