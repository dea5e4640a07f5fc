"""A test-side TIFF writer, independent of the engine's: IFDs given as entry lists, SubIFDs, strips, both byte orders.

Values that do not fit in an entry go after the IFD, strips first; every offset is computed here."""

from __future__ import annotations

import random
import struct
from dataclasses import dataclass, field

SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4}
CODES = {1: "B", 3: "H", 4: "I", 9: "i", 11: "f", 12: "d", 13: "I"}


@dataclass
class Ifd:
    """One IFD: ``entries`` are (tag, type, values) with values as a tuple of numbers (rationals as pairs) or bytes;
    ``strips`` are written before the IFD and StripOffsets/StripByteCounts (LONG) are added for them."""

    entries: list[tuple[int, int, object]]
    strips: list[bytes] = field(default_factory=list)
    sub_ifds: list[Ifd] = field(default_factory=list)
    strip_counts: list[int] | None = None
    """Byte counts written instead of the strips' own lengths (to declare more than is there)."""


def _value(order: str, typ: int, values: object) -> tuple[int, bytes]:
    if isinstance(values, bytes):
        return len(values) // SIZES[typ], values
    assert isinstance(values, tuple)
    if typ in (5, 10):
        flat = [number for pair in values for number in pair]
        return len(values), struct.pack(order + f"{len(flat)}{'I' if typ == 5 else 'i'}", *flat)
    return len(values), struct.pack(order + f"{len(values)}{CODES[typ]}", *values)


def build(pages: list[Ifd], order: str = "<") -> bytes:
    out = bytearray((b"II*\0" if order == "<" else b"MM\0*") + bytes(4))
    first = _write_chain(out, pages, order)
    struct.pack_into(order + "I", out, 4, first)
    return bytes(out)


def _write_chain(out: bytearray, ifds: list[Ifd], order: str) -> int:
    offsets = [_write_ifd(out, ifd, order) for ifd in ifds]
    for at, next_at in zip(offsets, [*offsets[1:], 0], strict=True):
        (count,) = struct.unpack_from(order + "H", out, at)
        struct.pack_into(order + "I", out, at + 2 + 12 * count, next_at)
    return offsets[0]


def _write_ifd(out: bytearray, ifd: Ifd, order: str) -> int:
    entries = list(ifd.entries)
    if ifd.sub_ifds:
        subs = [_write_chain(out, [sub], order) for sub in ifd.sub_ifds]
        entries.append((0x014A, 4, tuple(subs)))
    if ifd.strips:
        offsets = []
        for strip in ifd.strips:
            out += b"\0" * (len(out) % 2)
            offsets.append(len(out))
            out += strip
        counts = ifd.strip_counts or [len(s) for s in ifd.strips]
        entries += [(0x0111, 4, tuple(offsets)), (0x0117, 4, tuple(counts))]
    values = {}
    for tag, typ, raw in entries:
        count, data = _value(order, typ, raw)
        if len(data) > 4:
            out += b"\0" * (len(out) % 2)
            values[tag] = len(out)
            out += data
    out += b"\0" * (len(out) % 2)
    at = len(out)
    out += struct.pack(order + "H", len(entries))
    for tag, typ, raw in sorted(entries, key=lambda e: e[0]):
        count, data = _value(order, typ, raw)
        field_bytes = struct.pack(order + "I", values[tag]) if tag in values else data.ljust(4, b"\0")
        out += struct.pack(order + "HHI", tag, typ, count) + field_bytes
    out += bytes(4)
    return at


def rgb_page(width: int = 8, height: int = 6, seed: int = 0, *extra: tuple[int, int, object]) -> Ifd:
    """An uncompressed 8-bit RGB page in one strip."""
    pixels = random.Random(seed).randbytes(width * height * 3)
    entries = [
        (0x0100, 3, (width,)),
        (0x0101, 3, (height,)),
        (0x0102, 3, (8, 8, 8)),
        (0x0103, 3, (1,)),
        (0x0106, 3, (2,)),
        (0x0115, 3, (3,)),
        (0x0116, 3, (height,)),
        (0x011A, 5, ((72, 1),)),
        (0x011B, 5, ((72, 1),)),
        (0x0128, 3, (2,)),
        *extra,
    ]
    return Ifd(entries, strips=[pixels])
