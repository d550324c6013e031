"""A minimal writer of OLE2 compound files (MS-CFB, version 3), for test fixtures
that no maintained Python library writes: Outlook ``.msg`` files.

Streams under 4,096 bytes go to the mini stream, as the format requires; siblings
are chained through their right-hand links (a valid, if lopsided, tree).
"""

from __future__ import annotations

import math
import struct
from dataclasses import dataclass, field

SECTOR = 512
MINI = 64
CUTOFF = 4096
FREE, END, FATSECT = 0xFFFFFFFF, 0xFFFFFFFE, 0xFFFFFFFD
NOSTREAM = 0xFFFFFFFF


@dataclass
class Node:
    name: str
    data: bytes | None = None  # None: a storage
    children: list[Node] = field(default_factory=list)

    def add(self, name: str, data: bytes | None = None) -> Node:
        node = Node(name, data)
        self.children.append(node)
        return node


def build(root: Node) -> bytes:
    nodes: list[Node] = []

    def walk(node: Node) -> None:
        nodes.append(node)
        for child in node.children:
            walk(child)

    walk(root)
    index = {id(n): i for i, n in enumerate(nodes)}
    small = [n for n in nodes[1:] if n.data is not None and len(n.data) < CUTOFF]
    large = [n for n in nodes[1:] if n.data is not None and len(n.data) >= CUTOFF]

    # The mini stream and its FAT.
    mini_start: dict[int, int] = {}
    ministream = b""
    minifat: list[int] = []
    for n in small:
        count = max(1, math.ceil(len(n.data) / MINI))
        mini_start[id(n)] = len(minifat)
        minifat += [len(minifat) + k + 1 for k in range(count - 1)] + [END]
        ministream += n.data.ljust(count * MINI, b"\0")
    minifat_bytes = b"".join(struct.pack("<I", v) for v in minifat)

    # Big blocks in order: directory, mini FAT, mini stream, large streams.
    directory_size = len(nodes) * 128
    blocks: list[tuple[str, bytes]] = [("dir", b"")]  # filled in later
    if minifat:
        blocks.append(("minifat", minifat_bytes))
        blocks.append(("ministream", ministream))
    blocks += [(f"s{id(n)}", n.data) for n in large]
    sizes = [directory_size] + [len(b) for _, b in blocks[1:]]
    counts = [max(1, math.ceil(s / SECTOR)) for s in sizes]
    others = sum(counts)
    fat_sectors = 1
    while fat_sectors * (SECTOR // 4) < others + fat_sectors:
        fat_sectors += 1
    assert fat_sectors <= 109
    starts, sector = {}, fat_sectors
    fat = [FATSECT] * fat_sectors
    for (name, _), count in zip(blocks, counts, strict=True):
        starts[name] = sector
        fat += [sector + k + 1 for k in range(count - 1)] + [END]
        sector += count
    fat += [FREE] * (fat_sectors * (SECTOR // 4) - len(fat))

    def entry(n: Node, i: int) -> bytes:
        encoded = (n.name.encode("utf-16-le") + b"\0\0")[:64]
        kind = 5 if i == 0 else (1 if n.data is None else 2)
        siblings = nodes_siblings.get(id(n), NOSTREAM)
        child = index[id(n.children[0])] if n.children else NOSTREAM
        if i == 0:
            start, size = (starts["ministream"], len(ministream)) if minifat else (END, 0)
        elif n.data is None:
            start, size = 0, 0
        elif len(n.data) < CUTOFF:
            start, size = mini_start[id(n)], len(n.data)
        else:
            start, size = starts[f"s{id(n)}"], len(n.data)
        return (
            encoded.ljust(64, b"\0")
            + struct.pack("<HBB", len(encoded), kind, 1)
            + struct.pack("<III", NOSTREAM, siblings, child)
            + b"\0" * 16
            + b"\0" * 4
            + b"\0" * 16
            + struct.pack("<IQ", start, size)
        )

    nodes_siblings: dict[int, int] = {}
    for n in nodes:
        for left, right in zip(n.children, n.children[1:], strict=False):
            nodes_siblings[id(left)] = index[id(right)]
    directory = b"".join(entry(n, i) for i, n in enumerate(nodes))
    blocks[0] = ("dir", directory)

    header = bytearray(SECTOR)
    header[0:8] = bytes.fromhex("D0CF11E0A1B11AE1")
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<I", header, 44, fat_sectors)
    struct.pack_into("<I", header, 48, starts["dir"])
    struct.pack_into("<I", header, 56, CUTOFF)
    struct.pack_into(
        "<II", header, 60, starts["minifat"] if minifat else END, counts[1] if minifat else 0
    )
    struct.pack_into("<II", header, 68, END, 0)
    difat = list(range(fat_sectors)) + [FREE] * (109 - fat_sectors)
    struct.pack_into("<109I", header, 76, *difat)

    body = b"".join(struct.pack("<I", v) for v in fat)
    for (_, data), count in zip(blocks, counts, strict=True):
        body += data.ljust(count * SECTOR, b"\0")
    return bytes(header) + body
