"""The MPF index (CIPA DC-007) of a multi-picture JPEG: MPO stereo pairs and panoramas, Ultra HDR gain maps.

The primary image's APP2 ``MPF`` segment holds the MP Index IFD (version, number of images, one 16-byte entry per
image: attribute, size, offset from the MPF header, dependent images) and the primary's MP Attribute IFD; each
secondary image holds its own attribute IFD. Attribute IFDs carry numbers only (viewpoint, convergence angle,
baseline ...), which stereo and panorama viewers use: they are kept when they have the type and count DC-007 gives
them (one LONG, RATIONAL or SRATIONAL), and dropped otherwise (an UNDEFINED or over-long value can hold anything).
Everything is rebuilt in one canonical layout (big-endian, tags in order, values after each IFD, version "0100");
an ``ImageUIDList`` is dropped.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from ..errors import StructureError
from .tiff_ifd import TYPE_SIZES

SIGNATURE = b"MPF\0"
_VERSION, _COUNT, _ENTRIES, _UIDS, _TOTAL_FRAMES = 0xB000, 0xB001, 0xB002, 0xB003, 0xB004
_LONG, _RATIONAL, _UNDEFINED, _SRATIONAL = 4, 5, 7, 10
_ATTRIBUTE_TYPES = {
    0xB101: _LONG,  # MPIndividualNum
    0xB201: _LONG,  # PanOrientation
    0xB202: _RATIONAL,  # PanOverlap_H
    0xB203: _RATIONAL,  # PanOverlap_V
    0xB204: _LONG,  # BaseViewpointNum
    0xB205: _SRATIONAL,  # ConvergenceAngle
    0xB206: _RATIONAL,  # BaselineLength
    0xB207: _SRATIONAL,  # VerticalDivergence
    0xB208: _SRATIONAL,  # AxisDistance_X
    0xB209: _SRATIONAL,  # AxisDistance_Y
    0xB20A: _SRATIONAL,  # AxisDistance_Z
    0xB20B: _SRATIONAL,  # YawAngle
    0xB20C: _SRATIONAL,  # PitchAngle
    0xB20D: _SRATIONAL,  # RollAngle
}
"""The MP attributes kept (CIPA DC-007 table 4), each with the one type it has; every one has a count of 1."""
_VERSION_VALUE = b"0100"
_MP_TYPES = frozenset({0x000000, 0x010001, 0x010002, 0x020001, 0x020002, 0x020003, 0x030000})
"""MP type codes of DC-007 (undefined, large thumbnails, panorama, disparity, multi-angle, baseline primary)."""
_ENTRY_FLAGS = 0xE0000000
"""Dependent parent, dependent child and representative image flags; bits 27-28 are reserved, 24-26 say JPEG (0)."""
MAX_IMAGES = 64
"""Budget: images one MP index may list (stereo pairs and gain maps have 2, multi-angle cameras a few more)."""


class MpfError(StructureError):
    """The MPF segment cannot be read as an MP index."""


class MpfBudgetError(MpfError):
    """The MP index lists more images than :data:`MAX_IMAGES`."""


@dataclass(frozen=True)
class MpEntry:
    """One image of the index: its attribute word, size, offset (from the MPF header) and dependents."""

    attribute: int
    size: int
    offset: int
    dependent: tuple[int, int] = (0, 0)


@dataclass
class MpIndex:
    """What an MPF segment says, in canonical form."""

    entries: list[MpEntry] = field(default_factory=list)
    attributes: list[tuple[int, int, int, bytes]] = field(default_factory=list)
    """(tag, type, count, big-endian value bytes) of the attribute IFD."""
    total_frames: int | None = None


def _ifd(tiff: bytes, order: str, at: int) -> tuple[dict[int, tuple[int, int, bytes]], int]:
    """``{tag: (type, count, value bytes in the file's order)}`` and the next-IFD offset. An entry whose type is
    unknown or whose value lies outside the segment is left out (it is not kept); a cut-off table raises."""
    try:
        (count,) = struct.unpack_from(order + "H", tiff, at)
        found: dict[int, tuple[int, int, bytes]] = {}
        for index in range(count):
            tag, typ, n = struct.unpack_from(order + "HHI", tiff, at + 2 + 12 * index)
            size = TYPE_SIZES.get(typ, 0) * n
            where = at + 2 + 12 * index + 8
            if size > 4:
                (where,) = struct.unpack_from(order + "I", tiff, where)
            if size and where + size <= len(tiff):
                found.setdefault(tag, (typ, n, tiff[where : where + size]))
        (next_at,) = struct.unpack_from(order + "I", tiff, at + 2 + 12 * count)
    except struct.error:
        raise MpfError("the MPF segment is cut off") from None
    return found, next_at


def _big_endian(order: str, typ: int, value: bytes) -> bytes:
    """A numeric value in big-endian order (rationals as two 32-bit halves)."""
    if order == ">" or typ not in (_LONG, _RATIONAL, _SRATIONAL):
        return value
    return b"".join(struct.pack(">I", *struct.unpack_from("<I", value, i)) for i in range(0, len(value), 4))


def parse(payload: bytes) -> MpIndex:
    """The MP index of an MPF segment's payload (after the APP2 length), for a primary or a secondary image, in
    canonical form: MP attributes of their DC-007 type and count only, entry attribute words with their reserved bits
    zeroed and unknown MP types as undefined, dependent-image numbers that name no entry as 0."""
    tiff = payload[len(SIGNATURE) :]
    if tiff[:4] not in (b"II*\0", b"MM\0*"):
        raise MpfError("no TIFF header in the MPF segment")
    order = "<" if tiff[:2] == b"II" else ">"
    first, next_at = _ifd(tiff, order, struct.unpack_from(order + "I", tiff, 4)[0])
    index = MpIndex()
    attributes = first
    if _ENTRIES in first:
        index.entries = _entries(first, order)
        if _TOTAL_FRAMES in first and first[_TOTAL_FRAMES][:2] == (_LONG, 1):
            index.total_frames = struct.unpack(order + "I", first[_TOTAL_FRAMES][2])[0]
        attributes = _ifd(tiff, order, next_at)[0] if next_at else {}
    index.attributes = [
        (tag, typ, n, _big_endian(order, typ, value))
        for tag, (typ, n, value) in sorted(attributes.items())
        if _ATTRIBUTE_TYPES.get(tag) == typ and n == 1
    ]
    return index


def _entries(ifd: dict[int, tuple[int, int, bytes]], order: str) -> list[MpEntry]:
    count = struct.unpack(order + "I", ifd[_COUNT][2])[0] if ifd.get(_COUNT, (0, 0))[:2] == (_LONG, 1) else 0
    if count > MAX_IMAGES:
        raise MpfBudgetError(f"the MP index lists too many images ({count} > {MAX_IMAGES})")
    raw = ifd[_ENTRIES][2]
    if count == 0 or len(raw) != 16 * count:
        raise MpfError("the MP entries do not match the number of images")
    found = []
    for number in range(count):
        attribute, size, offset, first, second = struct.unpack_from(order + "IIIHH", raw, 16 * number)
        kind = attribute & 0xFFFFFF if attribute & 0xFFFFFF in _MP_TYPES else 0
        dependent = tuple(d if 1 <= d <= count else 0 for d in (first, second))
        found.append(MpEntry((attribute & _ENTRY_FLAGS) | kind, size, offset, (dependent[0], dependent[1])))
    return found


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
    attributes = [(_VERSION, _UNDEFINED, 4, _VERSION_VALUE), *index.attributes]
    if index.entries:
        raw = b"".join(struct.pack(">IIIHH", e.attribute, e.size, e.offset, *e.dependent) for e in index.entries)
        first = [
            (_VERSION, _UNDEFINED, 4, _VERSION_VALUE),
            (_COUNT, 4, 1, struct.pack(">I", len(index.entries))),
            (_ENTRIES, 7, len(raw), raw),
        ]
        if index.total_frames is not None:
            first.append((_TOTAL_FRAMES, _LONG, 1, struct.pack(">I", index.total_frames)))
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
