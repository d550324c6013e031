"""Scratch directories that daemons running as their own users can reach.

Postfix's smtpd and amavisd drop to the ``postfix`` and ``amavis`` users, which must
traverse every directory above their queue and config. Some machines keep ``/tmp``
closed to other users (mode 0700); then ``/var/tmp`` (or ``/dev/shm``) is used.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path


def reachable_tempdir(prefix: str) -> Path:
    """A new directory (0755) whose every parent other users may pass through."""
    for base in (tempfile.gettempdir(), "/var/tmp", "/dev/shm"):
        if os.path.isdir(base) and _others_can_pass(Path(base)):
            path = Path(tempfile.mkdtemp(prefix=prefix, dir=base))
            path.chmod(0o755)
            return path
    raise RuntimeError("no temporary directory that other users can reach")


def _others_can_pass(path: Path) -> bool:
    resolved = path.resolve()
    return all(p.stat().st_mode & stat.S_IXOTH for p in (resolved, *resolved.parents))
