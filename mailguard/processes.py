"""The command line of mailguard's own child processes (workers, relay processes)."""

from __future__ import annotations

import sys


def python_module(module: str) -> list[str]:
    """``module`` run by this interpreter, importing what this process imports: with
    ``python -P`` (safe path) the working directory's checkout must not replace it."""
    return [sys.executable, *(["-P"] if sys.flags.safe_path else []), "-m", module]
