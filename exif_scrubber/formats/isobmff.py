"""ISO base media file format boxes (ISO/IEC 14496-12): reading box headers strictly and writing boxes.

Shared by HEIF/AVIF (the ``meta`` box and image sequences) and by MP4/MOV (the movie header).
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass

from ..bytemodel import Buffer
from ..errors import StructureError

MAX_BOXES = 1_000_000


class BoxError(StructureError):
    """A box overruns its parent or has an impossible size."""


@dataclass(frozen=True, slots=True)
class Box:
    """One box: ``[start, end)``; its payload starts at ``body`` (after the size, type and any 64-bit size)."""

    start: int
    end: int
    type: bytes
    body: int

    @property
    def name(self) -> str:
        """The box type for messages: four printable characters, or its hex code."""
        return type_name(self.type)


def type_name(kind: bytes) -> str:
    text = kind.decode("latin-1")
    return text if all(32 <= b < 127 for b in kind) else kind.hex()


def iter_boxes(data: Buffer, start: int, end: int, *, last_to_end: bool = False) -> Iterator[Box]:
    """The boxes that exactly fill ``[start, end)``; a size of 0 is allowed only with ``last_to_end``."""
    pos, count = start, 0
    while pos < end:
        count += 1
        if pos + 8 > end or count > MAX_BOXES:
            raise BoxError(f"{end - pos} stray bytes where a box header should be")
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = pos + 8
        if size == 1:
            if pos + 16 > end:
                raise BoxError(f"box {type_name(kind)} has a cut-off 64-bit size")
            (size,) = struct.unpack(">Q", data[pos + 8 : pos + 16])
            body = pos + 16
        elif size == 0:
            if not last_to_end:
                raise BoxError(f"box {type_name(kind)} claims to run to the end of its parent")
            size = end - pos
        if size < body - pos or pos + size > end:
            raise BoxError(f"box {type_name(kind)} at offset {pos} runs past the end of its parent: truncated")
        yield Box(pos, pos + size, kind, body)
        pos += size


def full_box(data: Buffer, box: Box) -> tuple[int, int, int]:
    """(version, flags, offset of the payload after them) of a FullBox."""
    if box.body + 4 > box.end:
        raise BoxError(f"box {box.name} is too short for its version and flags")
    header = bytes(data[box.body : box.body + 4])
    return header[0], int.from_bytes(header[1:4], "big"), box.body + 4


def uint(data: Buffer, pos: int, size: int, limit: int) -> int:
    """A big-endian unsigned integer of ``size`` bytes at ``pos``, which must end at or before ``limit``."""
    if size == 0:
        return 0
    if pos + size > limit:
        raise BoxError("a field runs past the end of its box")
    return int.from_bytes(data[pos : pos + size], "big")


def cstring(data: Buffer, pos: int, limit: int) -> tuple[bytes, int]:
    """A NUL-terminated string at ``pos`` and the offset after its terminator (a missing one ends at ``limit``)."""
    raw = bytes(data[pos:limit])
    end = raw.find(b"\0")
    if end < 0:
        return raw, limit
    return raw[:end], pos + end + 1


def box(kind: bytes, payload: bytes) -> bytes:
    """A box of ``kind`` holding ``payload`` (64-bit size when needed)."""
    if len(payload) + 8 <= 0xFFFFFFFF:
        return struct.pack(">I4s", len(payload) + 8, kind) + payload
    return struct.pack(">I4sQ", 1, kind, len(payload) + 16) + payload


def full(kind: bytes, version: int, flags: int, payload: bytes) -> bytes:
    """A FullBox."""
    return box(kind, bytes([version]) + flags.to_bytes(3, "big") + payload)


def brands(head: bytes) -> set[bytes]:
    """The major and compatible brands of an ``ftyp`` box at the start of ``head``."""
    if head[4:8] != b"ftyp":
        return set()
    size = int.from_bytes(head[:4], "big")
    body = head[8 : min(size, len(head))]
    return {body[:4]} | {body[i : i + 4] for i in range(8, len(body) - 3, 4)}
