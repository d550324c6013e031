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


def configure(level: str = "info", stream: Any = None) -> None:
    """JSON lines on stderr (journald and container runtimes collect them)."""
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            _mask_event,
            structlog.processors.JSONRenderer(),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(
            logging.getLevelNamesMapping()[level.upper()]
        ),
        logger_factory=structlog.PrintLoggerFactory(stream or sys.stderr),
        cache_logger_on_first_use=True,
    )


def get_logger(**context: Any) -> Any:
    # Lazy: configure() may run after a module made its logger at import time.
    return structlog.get_logger("mailguard", **context)
