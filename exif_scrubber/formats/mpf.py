"""The MPF index (CIPA DC-007) of a multi-picture JPEG: MPO stereo pairs and panoramas, Ultra HDR gain maps.

The primary image's APP2 ``MPF`` segment holds the MP Index IFD (version, number of images, one 16-byte entry per
image: attribute, size, offset from the MPF header, dependent images) and the primary's MP Attribute IFD; each
secondary image holds its own attribute IFD. Attribute IFDs carry numbers only (viewpoint, convergence angle,
baseline ...), which stereo and panorama viewers use: they are kept. Everything is rebuilt in one canonical
layout (big-endian, tags in order, values after each IFD); an ``ImageUIDList`` is dropped.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..errors import StructureError
from .tiff_ifd import TYPE_SIZES

SIGNATURE = b"MPF\0"
_VERSION, _COUNT, _ENTRIES, _UIDS, _TOTAL_FRAMES = 0xB000, 0xB001, 0xB002, 0xB003, 0xB004
_ATTRIBUTE_TAGS = frozenset(
    {
        0xB000,
        0xB101,
        0xB201,
        0xB202,
        0xB203,
        0xB204,
        0xB205,
        0xB206,
        0xB207,
        0xB208,
        0xB209,
        0xB20A,
        0xB20B,
        0xB20C,
        0xB20D,
    }
)
_NUMERIC_TYPES = {typ: TYPE_SIZES[typ] for typ in (3, 4, 5, 7, 9, 10)}
"""The field types an MP attribute may have (numbers and UNDEFINED), with their sizes."""
_MAX_IMAGES = 64


class MpfError(StructureError):
    """The MPF segment cannot be read as an MP index."""


@dataclass(frozen=True)
class MpEntry:
    """One image of the index: its attribute word, size, offset (from the MPF header) and dependents."""

    attribute: int
    size: int
    offset: int
    dependent: tuple[int, int] = (0, 0)


@dataclass
class MpIndex:
    """What an MPF segment says."""

    entries: list[MpEntry] = field(default_factory=list)
    attributes: list[tuple[int, int, int, bytes]] = field(default_factory=list)
    """(tag, type, count, big-endian value bytes) of the attribute IFD."""
    total_frames: int | None = None


def _ifd(tiff: bytes, order: str, at: int) -> tuple[dict[int, tuple[int, int, bytes]], int]:
    """``{tag: (type, count, value bytes in the file's order)}`` and the next-IFD offset."""
    try:
        (count,) = struct.unpack_from(order + "H", tiff, at)
        found: dict[int, tuple[int, int, bytes]] = {}
        for index in range(count):
            tag, typ, n = struct.unpack_from(order + "HHI", tiff, at + 2 + 12 * index)
            size = _NUMERIC_TYPES.get(typ, 0) * n
            where = at + 2 + 12 * index + 8
            if size > 4:
                (where,) = struct.unpack_from(order + "I", tiff, where)
            if not size or where + size > len(tiff):
                raise MpfError(f"MPF tag 0x{tag:04x} cannot be read")
            found[tag] = (typ, n, tiff[where : where + size])
        (next_at,) = struct.unpack_from(order + "I", tiff, at + 2 + 12 * count)
    except struct.error:
        raise MpfError("the MPF segment is cut off") from None
    return found, next_at


def _big_endian(order: str, typ: int, value: bytes) -> bytes:
    """A numeric value in big-endian order (rationals as two 32-bit halves)."""
    width = {3: 2, 4: 4, 5: 4, 9: 4, 10: 4}.get(typ, 1)
    if width == 1 or order == ">":
        return value
    code = {2: "H", 4: "I"}[width]
    return b"".join(
        struct.pack(">" + code, *struct.unpack_from("<" + code, value, i)) for i in range(0, len(value), width)
    )


def parse(payload: bytes) -> MpIndex:
    """The MP index of an MPF segment's payload (after the APP2 length), for a primary or a secondary image."""
    tiff = payload[len(SIGNATURE) :]
    if tiff[:4] not in (b"II*\0", b"MM\0*"):
        raise MpfError("no TIFF header in the MPF segment")
    order = "<" if tiff[:2] == b"II" else ">"
    first, next_at = _ifd(tiff, order, struct.unpack_from(order + "I", tiff, 4)[0])
    index = MpIndex()
    attributes = first
    if _ENTRIES in first:
        index.entries = _entries(first, order)
        if _TOTAL_FRAMES in first:
            index.total_frames = struct.unpack(order + "I", first[_TOTAL_FRAMES][2])[0]
        attributes = _ifd(tiff, order, next_at)[0] if next_at else {}
    index.attributes = [
        (tag, typ, n, _big_endian(order, typ, value))
        for tag, (typ, n, value) in sorted(attributes.items())
        if tag in _ATTRIBUTE_TAGS
    ]
    return index


def _entries(ifd: dict[int, tuple[int, int, bytes]], order: str) -> list[MpEntry]:
    count = struct.unpack(order + "I", ifd[_COUNT][2])[0] if _COUNT in ifd else 0
    raw = ifd[_ENTRIES][2]
    if not 0 < count <= _MAX_IMAGES or len(raw) != 16 * count:
        raise MpfError("the MP entries do not match the number of images")
    return [
        MpEntry(a, s, o, (d1, d2))
        for a, s, o, d1, d2 in (struct.unpack_from(order + "IIIHH", raw, 16 * i) for i in range(count))
    ]


def _write_ifd(entries: list[tuple[int, int, int, bytes]], at: int, last: bool) -> tuple[bytes, int]:
    """A big-endian IFD starting at ``at`` (TIFF offset) with its values after it; returns it and its end."""
    values_at = at + 2 + 12 * len(entries) + 4
    table, values = bytearray(struct.pack(">H", len(entries))), bytearray()
    for tag, typ, count, value in entries:
        if len(value) <= 4:
            table += struct.pack(">HHI", tag, typ, count) + value.ljust(4, b"\0")
        else:
            table += struct.pack(">HHII", tag, typ, count, values_at + len(values)) + b""
            values += value
    end = values_at + len(values)
    table += struct.pack(">I", 0 if last else end)
    return bytes(table + values), end


def build(index: MpIndex) -> bytes:
    """The canonical MPF payload (signature included) for ``index``."""
    out = bytearray(b"MM\0*\0\0\0\x08")
    attributes = index.attributes or [(0xB000, 7, 4, b"0100")]
    if index.entries:
        raw = b"".join(struct.pack(">IIIHH", e.attribute, e.size, e.offset, *e.dependent) for e in index.entries)
        first = [
            (_VERSION, 7, 4, b"0100"),
            (_COUNT, 4, 1, struct.pack(">I", len(index.entries))),
            (_ENTRIES, 7, len(raw), raw),
        ]
        if index.total_frames is not None:
            first.append((_TOTAL_FRAMES, 4, 1, struct.pack(">I", index.total_frames)))
        table, end = _write_ifd(first, 8, last=False)
        out += table
        table, _ = _write_ifd(attributes, end, last=True)
        out += table
    else:
        out += _write_ifd(attributes, 8, last=True)[0]
    return SIGNATURE + bytes(out)


def entries_size(index: MpIndex) -> int:
    """The length of :func:`build`'s output, which does not depend on the entries' sizes and offsets."""
    return len(build(index))
