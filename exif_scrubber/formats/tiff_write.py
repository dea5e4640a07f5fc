"""Rebuild a TIFF from the entries its byte model keeps: image data first, then each IFD's values and table.

Image data is copied byte for byte (each strip or tile up to what a decoder reads); fields are written from their
canonical values in the input's byte order; offsets are recomputed. Every value and table starts on a word boundary
(one zero byte of padding when needed), as TIFF asks.
"""

from __future__ import annotations

import bisect
import struct
import sys
from array import array
from typing import TYPE_CHECKING

from ..bytemodel import Buffer, merge_ranges
from ..kept.xmp import build_xmp
from ..policy import ScrubPolicy
from .tiff_ifd import TYPE_SIZES, Ifd, Layout, Reader, all_ifds

if TYPE_CHECKING:
    from .tiff import TiffModel

_ICC, _XMP, _SUB_IFDS = 0x8773, 0x02BC, 0x014A
_IMAGE_DATA = {0x0111: 0x0117, 0x0144: 0x0145, 0x0201: 0x0202}


class _Writer:
    def __init__(self, model: TiffModel, data: Buffer, policy: ScrubPolicy) -> None:
        self.model, self.data, self.policy = model, data, policy
        self.layout: Layout = model.layout
        self.reader = Reader(data, model.layout)
        self.out = bytearray(16 if self.layout.big else 8)
        self.blocks: list[tuple[int, int, int]] = []
        """Merged image data ranges of the input and where each starts in the output."""

    def align(self) -> None:
        if len(self.out) % 2:
            self.out += b"\0"

    def run(self) -> bytes:
        self.copy_image_data()
        first = self.chain(self.model.pages)
        layout = self.layout
        order = b"II" if layout.order == "<" else b"MM"
        magic = layout.pack("HHH", 43, 8, 0) if layout.big else layout.pack("H", 42)
        header = order + magic + layout.pack(layout.offset_code, first)
        self.out[: len(header)] = header
        return bytes(self.out)

    def copy_image_data(self) -> None:
        ranges = []
        for ifd in all_ifds(self.model.pages):
            for _, starts, sizes in self.model.blocks.get(ifd.at, []):
                ranges += _merged(starts, sizes)
        view = memoryview(self.data)
        for start, end in merge_ranges(ranges):
            self.align()
            self.blocks.append((start, end, len(self.out)))
            self.out += view[start:end]

    def moved(self, start: int, size: int) -> int:
        """Where the image data at ``start`` is in the output (0 for empty strips)."""
        if size == 0:
            return 0
        index = bisect.bisect_right(self.blocks, (start, float("inf"), 0)) - 1
        block_start, block_end, new_start = self.blocks[index]
        assert block_start <= start and start + size <= block_end
        return new_start + start - block_start

    def chain(self, ifds: list[Ifd]) -> int:
        """Write a chain of IFDs; return the offset of the first."""
        offsets = [self.ifd(ifd) for ifd in ifds]
        layout = self.layout
        for at, next_at in zip(offsets, [*offsets[1:], 0], strict=True):
            count = struct.unpack_from(layout.order + ("Q" if layout.big else "H"), self.out, at)[0]
            pointer = at + layout.count_size + layout.entry_size * count
            self.out[pointer : pointer + layout.inline] = layout.pack(layout.offset_code, next_at)
        return offsets[0]

    def ifd(self, ifd: Ifd) -> int:
        subs = [self.chain(chain) for chain in ifd.sub_chains]
        entries = self.entries(ifd, subs)
        layout = self.layout
        values: dict[int, int] = {}
        for tag, _, _, value in entries:
            if len(value) > layout.inline:
                self.align()
                values[tag] = len(self.out)
                self.out += value
        self.align()
        at = len(self.out)
        table = bytearray(layout.pack("Q" if layout.big else "H", len(entries)))
        for tag, typ, count, value in entries:
            field = layout.pack(layout.offset_code, values[tag]) if tag in values else value.ljust(layout.inline, b"\0")
            table += layout.pack("HH", tag, typ) + layout.pack(layout.offset_code, count) + field
        self.out += table + bytes(layout.inline)
        return at

    def entries(self, ifd: Ifd, subs: list[int]) -> list[tuple[int, int, int, bytes]]:
        """(tag, type, count, value bytes) of the output IFD, in tag order."""
        layout = self.layout
        offset_type, code = (16, "Q") if layout.big else (4, "I")
        entries = [(tag, f.type, f.count, f.data) for tag, f in self.model.fields[ifd.at].items()]
        entries += [(tag, ifd.entries[tag].type, ifd.entries[tag].count, self.reader.value(ifd.entries[tag]))
                    for tag in self.model.copied[ifd.at]]  # fmt: skip
        for offsets_tag, starts, sizes in self.model.blocks.get(ifd.at, []):
            moved = array("Q", (self.moved(s, n) for s, n in zip(starts, sizes, strict=True)))
            if offsets_tag not in _IMAGE_DATA:  # old-style JPEG tables: offsets only
                entries.append((offsets_tag, offset_type, len(moved), _packed(layout, code, moved)))
                continue
            counts_tag, counts_type = _IMAGE_DATA[offsets_tag], ifd.entries[_IMAGE_DATA[offsets_tag]].type
            counts_type = counts_type if counts_type in _COUNT_CODES else offset_type
            entries.append((offsets_tag, offset_type, len(moved), _packed(layout, code, moved)))
            entries.append((counts_tag, counts_type, len(sizes), _packed(layout, _COUNT_CODES[counts_type], sizes)))
        if subs:
            entry = ifd.entries[_SUB_IFDS]
            typ = entry.type if TYPE_SIZES[entry.type] == struct.calcsize(code) else offset_type
            entries.append((_SUB_IFDS, typ, len(subs), layout.pack(f"{len(subs)}{code}", *subs)))
        profile = self.model.icc.get(ifd.at)
        if profile is not None and not self.policy.strip_icc:
            entries.append((_ICC, 7, len(profile), profile))
        packet = build_xmp(self.model.xmp) if ifd is self.model.pages[0] else b""
        if packet:
            entries.append((_XMP, 1, len(packet), packet))
        return sorted(entries)


_COUNT_CODES = {3: "H", 4: "I", 16: "Q"}


def _packed(layout: Layout, code: str, values: array[int]) -> bytes:
    """``values`` as unsigned integers of ``code`` in the file's byte order."""
    packed = array(code, values)
    if (layout.order == "<") != (sys.byteorder == "little"):
        packed.byteswap()
    return packed.tobytes()


def _merged(starts: array[int], sizes: array[int]) -> list[tuple[int, int]]:
    return merge_ranges((s, s + n) for s, n in zip(starts, sizes, strict=True))


def rebuild(model: TiffModel, data: Buffer, policy: ScrubPolicy) -> bytes:
    """The TIFF of ``model`` with only what it keeps."""
    return _Writer(model, data, policy).run()
