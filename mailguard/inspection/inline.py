"""Small plain messages inspected on the relay's own event loop.

For most mail, a few kilobytes of text with no attachment, the whole inspection is
the cheap pass (headers, recipients, patterns over the text: about a millisecond),
and sending it to a worker process and back costs more than that. Such a message
is inspected where it arrived; anything else, or a message whose text would need
the NER model, still goes to a worker (the model is never loaded on the loop).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator, Mapping

from mailguard import log as mglog
from mailguard.detectors import ModelNeeded, registry, without_model
from mailguard.directory.model import DirectoryAnswers
from mailguard.history.store import HistoryReader
from mailguard.inspection import pipeline
from mailguard.inspection.context import InspectionContext
from mailguard.model import Envelope, Inspection
from mailguard.policy.loader import LoadedPolicy
from mailguard.records.store import RecordsReader

log = mglog.get_logger()

_CONTENT_TYPE = re.compile(rb"content-type:[ \t]*([!-~]+?)[ \t]*(?:;|\r?$)", re.M)
_PLAIN = frozenset({b"text/plain", b"text/html", b"multipart/alternative"})
# A named part, an inline image or an encoded blob is reading that can take time.
_NOT_CHEAP = (b"name=", b"data:image")
_UUENCODED = re.compile(rb"^begin [0-7]{3} ", re.M)


_WARM_UP = Envelope("warm-up@mailguard.invalid", ("someone@example.invalid",))
_WARM_UP_MESSAGE = (
    b"From: warm-up@mailguard.invalid\r\nTo: someone@example.invalid\r\n"
    b"Subject: warm up\r\n\r\nRef 12345678, AB 12 34 56 C, 01632 960000, a@b.invalid\r\n"
)


def is_plain(raw: bytes, max_size: int) -> bool:
    """Text only (plain, HTML, or both as alternatives), nothing attached, small.

    Plain substring searches on one lowercased copy: a case-insensitive regular
    expression over the whole message cost more than the rest of the decision."""
    if len(raw) > max_size:
        return False
    low = raw.lower()
    if any(mark in low for mark in _NOT_CHEAP):
        return False
    if b"begin " in low and _UUENCODED.search(low):
        return False
    return all(t in _PLAIN for t in _content_types(low))


def _content_types(low: bytes) -> Iterator[bytes]:
    at = low.find(b"content-type:")
    while at != -1:
        if at == 0 or low[at - 1] == 10:  # at the start of a line: a header
            found = _CONTENT_TYPE.match(low, at)
            if found:
                yield found.group(1)
        at = low.find(b"content-type:", at + 13)


class InlineInspector:
    """The relay's own pipeline, with the same policy, history and records as its
    workers (``set_policy`` is called with theirs)."""

    def __init__(self, max_size: int) -> None:
        self.max_size = max_size
        self.ready = False  # until warm_up has loaded the recognisers: workers judge
        self.policy: LoadedPolicy | None = None
        self._context: InspectionContext | None = None
        self._history: HistoryReader | None = None
        self._records: RecordsReader | None = None

    def set_policy(self, policy: LoadedPolicy | None, context: InspectionContext) -> None:
        self.policy = policy
        if context != self._context:
            if self._history is not None:
                self._history.close()
            self._context = context
            try:
                self._history = context.open_history()
            except Exception as exc:  # inspect without history rather than not at all
                log.warning("inline_history_unavailable", error=type(exc).__name__)
                self._history = None
            self._records = context.open_records()

    def inspect(
        self,
        envelope: Envelope,
        raw: bytes,
        dns: Mapping[str, str],
        directory: DirectoryAnswers | None = None,
    ) -> Inspection | None:
        """The inspection, or None when the message is for a worker."""
        if not self.ready or self.max_size <= 0 or not is_plain(raw, self.max_size):
            return None
        try:
            with without_model():
                return pipeline.inspect(
                    envelope, raw, self.policy, history=self._history, dns=dns,
                    records=self._records, directory=directory,
                )  # fmt: skip
        except ModelNeeded:
            return None

    def warm_up(self) -> None:
        """Load the recognisers (seconds: Presidio imports spaCy) in a thread at start,
        so the first message never waits for them on the loop."""
        with without_model(), contextlib.suppress(ModelNeeded):
            pipeline.inspect(_WARM_UP, _WARM_UP_MESSAGE, detector_set=registry.DETECTORS)

    def close(self) -> None:
        if self._history is not None:
            self._history.close()
