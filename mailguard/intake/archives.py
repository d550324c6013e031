"""gzip, tar and 7z, as zip is read: members in order, each budgeted, bombs refused.

A gzip stream is inflated a block at a time and stopped as soon as it passes the
message's byte budget or the compression-ratio limit; a tar's members are only
regular files (links, devices and the like are skipped, never followed). A 7z is
refused on its declared sizes before anything is expanded; py7zr never writes more
than a member declares, and its own extraction limit backs that up.
"""

from __future__ import annotations

import io
import tarfile
import zlib
from collections.abc import Iterator

from mailguard.intake.budget import MB, Budget, Uninspectable

_BLOCK = 64 * 1024


def _expansion_limit(data: bytes, budget: Budget) -> int:
    left = budget.limits.max_bytes - budget.bytes
    return min(left, max(MB, int(len(data) * budget.limits.max_ratio)))


def unpacked(data: bytes, budget: Budget) -> bytes:
    """``data`` inflated if it is gzip (else as it is), within the budgets."""
    if data[:2] != b"\x1f\x8b":
        return data
    inflater = zlib.decompressobj(zlib.MAX_WBITS | 16)
    limit = _expansion_limit(data, budget)
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


def sevenzip_members(data: bytes, budget: Budget) -> list[tuple[str, bytes]]:
    """(name, content) of each regular file in a 7z archive."""
    import py7zr
    from py7zr import exceptions
    from py7zr.io import BytesIOFactory

    limit = _expansion_limit(data, budget)
    try:
        archive = py7zr.SevenZipFile(io.BytesIO(data), max_extract_size=limit)
    except exceptions.PasswordRequired:
        raise Uninspectable("encrypted (password protected)", structural=False) from None
    except (exceptions.ArchiveError, EOFError, ValueError, KeyError, IndexError):
        raise Uninspectable("a damaged 7z archive", structural=False) from None
    with archive:
        if archive.needs_password():
            raise Uninspectable("encrypted (password protected)", structural=False)
        files = [f for f in archive.list() if not f.is_directory and not f.is_symlink]
        if len(files) + budget.files > budget.limits.max_files:
            raise Uninspectable(f"more than {budget.limits.max_files} files")
        declared = sum(f.uncompressed for f in files)
        if declared > limit:
            raise Uninspectable(f"7z bomb: expands to {declared // MB} MB, over the budget")
        budget.tick()
        written = BytesIOFactory(limit)
        try:
            archive.extract(targets=[f.filename for f in files], factory=written)
        except exceptions.DecompressionBombError:
            raise Uninspectable("7z bomb: expands beyond the budget") from None
        except (exceptions.ArchiveError, exceptions.CrcError, EOFError, ValueError, OSError):
            raise Uninspectable("a damaged 7z archive", structural=False) from None
    members = []
    for f in files:
        budget.file()
        product = written.products.get(f.filename)
        content = b""
        if product is not None:
            product.seek(0)
            content = product.read()
        budget.spend(len(content))
        members.append((f.filename, content))
    return members
