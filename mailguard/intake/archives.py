"""gzip and tar, as zip is read: members in order, each budgeted, bombs refused.

A gzip stream is inflated a block at a time and stopped as soon as it passes the
message's byte budget or the compression-ratio limit; a tar's members are only
regular files (links, devices and the like are skipped, never followed).
"""

from __future__ import annotations

import io
import tarfile
import zlib
from collections.abc import Iterator

from mailguard.intake.budget import MB, Budget, Uninspectable

_BLOCK = 64 * 1024


def unpacked(data: bytes, budget: Budget) -> bytes:
    """``data`` inflated if it is gzip (else as it is), within the budgets."""
    if data[:2] != b"\x1f\x8b":
        return data
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    limit = min(
        budget.limits.max_bytes - budget.bytes, max(MB, int(len(data) * budget.limits.max_ratio))
    )
    out = bytearray()
    try:
        for start in range(0, len(data), _BLOCK):
            out += inflater.decompress(data[start : start + _BLOCK], limit + 1 - len(out))
            if len(out) > limit:
                raise Uninspectable("gzip bomb: expands beyond the budget")
            budget.tick()
            if inflater.eof:
                break
    except zlib.error:
        raise Uninspectable("a damaged gzip file", structural=False) from None
    budget.spend(len(out))
    return bytes(out)


def tar_members(data: bytes, budget: Budget) -> Iterator[tuple[str, bytes]]:
    """(name, content) of each regular file in a tar."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:") as archive:
            for member in archive:
                budget.tick()
                if not member.isreg():
                    continue
                budget.file()
                budget.spend(member.size)
                handle = archive.extractfile(member)
                yield member.name, handle.read() if handle else b""
    except tarfile.TarError:
        raise Uninspectable("not a valid tar archive", structural=False) from None
