"""The command line of mailguard's own child processes (workers, relay processes)."""

from __future__ import annotations

import contextlib
import ctypes
import sys


def python_module(module: str) -> list[str]:
    """``module`` run by this interpreter, importing what this process imports: with
    ``python -P`` (safe path) the working directory's checkout must not replace it."""
    return [sys.executable, *(["-P"] if sys.flags.safe_path else []), "-m", module]


def name_process(name: str) -> None:
    """What ``ps -o comm``, ``top`` and ``/proc/PID/comm`` show for this process (up to
    15 bytes, Linux only): its workers and their zygote carry the relay's command line."""
    with contextlib.suppress(Exception):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_NAME, name.encode()[:15], 0, 0, 0)


_PR_SET_NAME = 15
