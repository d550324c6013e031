"""structlog JSON logs with personal data masked.

Call sites log only domains, counts and codes. As a second line of defence every
string that reaches the renderer has email local parts replaced, so an exception
message or an upstream reply quoting ``<jane.doe@example.org>`` is logged as
``<***@example.org>``.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

import structlog

# A local part: a quoted string ("jane doe") or a run of non-separator characters.
_EMAIL = re.compile(r"(?:\"(?:[^\"\\]|\\.)*\"|[^\s<>\"'(),;:@\[\]]+)@(?=[\w\[])")


def mask_text(text: str) -> str:
    return _EMAIL.sub("***@", text)


def _masked(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value) if "@" in value else value
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    if isinstance(value, dict):
        return {k: _masked(v) for k, v in value.items()}
    return value


def _mask_event(_: Any, __: str, event: dict[str, Any]) -> dict[str, Any]:
    return {key: _masked(value) for key, value in event.items()}


class _Library(logging.Handler):
    """What libraries (pypdf, openpyxl, uvicorn) log through the standard library goes
    out as our own JSON event: one stream a log collector can parse, and their text
    (which may quote a document) clipped and masked like everything else."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a library's bad format arguments: keep the template
            message = str(record.msg)
        get_logger().log(
            record.levelno, "library_log", library=record.name, message=_clipped(message)
        )


_LONG_NUMBER = re.compile(r"\d{6,}")


def _clipped(text: str) -> str:
    text = _LONG_NUMBER.sub("***", " ".join(text.split()))
    return text if len(text) <= 200 else text[:200] + "..."


def configure(level: str = "info", stream: Any = None) -> None:
    """JSON lines on stderr (journald and container runtimes collect them); library
    logs at warning and above (or ``level`` if higher) join them."""
    threshold = logging.getLevelNamesMapping()[level.upper()]
    root = logging.getLogger()
    root.handlers = [_Library()]
    root.setLevel(max(threshold, logging.WARNING))
    logging.captureWarnings(True)  # warnings.warn from libraries, too
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _mask_event,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(threshold),
        # One write per line: relay processes sharing stderr never interleave lines.
        logger_factory=structlog.WriteLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=True,
    )


def get_logger(**context: Any) -> Any:
    # Lazy: configure() may run after a module made its logger at import time.
    return structlog.get_logger("mailguard", **context)
