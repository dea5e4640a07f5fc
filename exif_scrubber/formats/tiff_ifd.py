"""TIFF and BigTIFF image file directories: read every image IFD strictly, write a new file from them.

Only IFDs that describe images are walked: the IFD0 chain (pages) and SubIFD chains. Everything else in a
TIFF (EXIF, GPS and Interop IFDs, maker notes, private data) is reached only through a tag the walker does not
keep, so its bytes are never referenced by what is kept.

Budgets: at most :data:`MAX_IFDS` IFDs, SubIFDs nested at most :data:`MAX_SUB_DEPTH` deep (walked without
recursion), at most ``ENTRY_BUDGET_BASE + size // BYTES_PER_ENTRY`` entries in all; offset and count arrays are
read into compact ``array`` objects, never lists of Python integers.
"""

from __future__ import annotations

import struct
import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..bytemodel import Buffer
from ..errors import StructureError

TYPE_SIZES = {1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 6: 1, 7: 1, 8: 2, 9: 4, 10: 8, 11: 4, 12: 8, 13: 4, 16: 8, 17: 8, 18: 8}
"""Bytes per value of each TIFF field type (16-18: BigTIFF LONG8, SLONG8, IFD8)."""
_INT_CODES = {1: "B", 3: "H", 4: "I", 13: "I", 16: "Q", 18: "Q"}
_ARRAY_CODES = {1: "B", 3: "H", 4: "I", 13: "I", 16: "Q", 18: "Q"}
MAX_IFDS = 1024
MAX_ENTRIES = 4096
MAX_SUB_DEPTH = 4
"""SubIFDs of SubIFDs ...: real files nest one level (a DNG's raw image, a pyramid's levels)."""
ENTRY_BUDGET_BASE = 8192
BYTES_PER_ENTRY = 48
"""All IFDs together may hold ``ENTRY_BUDGET_BASE + size // BYTES_PER_ENTRY`` entries."""


class TiffStructureError(StructureError):
    """The IFD structure of the TIFF cannot be followed."""


class TiffBudgetError(TiffStructureError):
    """The TIFF holds more than a budget allows for its size (the reason names the budget)."""


@dataclass(frozen=True)
class Layout:
    """Classic TIFF or BigTIFF, and the byte order."""

    order: str
    big: bool

    @property
    def offset_code(self) -> str:
        return "Q" if self.big else "I"

    @property
    def entry_size(self) -> int:
        return 20 if self.big else 12

    @property
    def count_size(self) -> int:
        return 8 if self.big else 2

    @property
    def inline(self) -> int:
        """Bytes of value stored in the entry itself."""
        return 8 if self.big else 4

    def pack(self, code: str, *values: int) -> bytes:
        return struct.pack(self.order + code, *values)


@dataclass(frozen=True)
class Entry:
    """One IFD entry; ``value_at`` is where its value bytes are (in the entry when they fit)."""

    tag: int
    type: int
    count: int
    at: int
    value_at: int

    @property
    def size(self) -> int:
        return TYPE_SIZES[self.type] * self.count

    def out_of_line(self, layout: Layout) -> bool:
        return self.size > layout.inline


@dataclass
class Ifd:
    """One image IFD: where its table is, its entries, and the image IFDs below it."""

    at: int
    end: int
    entries: dict[int, Entry]
    sub_chains: list[list[Ifd]] = field(default_factory=list)
    """One chain of IFDs per offset in the SubIFDs tag (most chains hold a single IFD)."""
    name: str = "IFD0"


def read_layout(data: Buffer) -> tuple[Layout, int]:
    """The layout and the offset of IFD0."""
    if len(data) < 8:
        raise TiffStructureError("the TIFF header is cut off")
    order = "<" if bytes(data[:2]) == b"II" else ">"
    (magic,) = struct.unpack(order + "H", data[2:4])
    if magic == 42:
        return Layout(order, False), struct.unpack(order + "I", data[4:8])[0]
    if magic == 43 and len(data) >= 16 and struct.unpack(order + "HH", data[4:8]) == (8, 0):
        return Layout(order, True), struct.unpack(order + "Q", data[8:16])[0]
    raise TiffStructureError("not a TIFF or BigTIFF header")


class Reader:
    """Bounds-checked reads of a TIFF held in ``data``."""

    def __init__(self, data: Buffer, layout: Layout) -> None:
        self.data, self.layout = data, layout
        self.seen: set[int] = set()
        self.entries_left = ENTRY_BUDGET_BASE + len(data) // BYTES_PER_ENTRY

    def unpack(self, code: str, at: int) -> tuple[int, ...]:
        size = struct.calcsize(self.layout.order + code)
        if at < 0 or at + size > len(self.data):
            raise TiffStructureError(f"a TIFF value at offset {at} lies past the end of the file")
        return struct.unpack(self.layout.order + code, self.data[at : at + size])

    def ints(self, entry: Entry) -> list[int]:
        code = _INT_CODES.get(entry.type)
        if code is None:
            raise TiffStructureError(f"tag 0x{entry.tag:04x} holds offsets of type {entry.type}")
        return list(self.unpack(f"{entry.count}{code}", entry.value_at))

    def array(self, entry: Entry) -> array[int]:
        """The integer values of ``entry`` as a compact array of 64-bit numbers (offsets and byte counts)."""
        code = _ARRAY_CODES.get(entry.type)
        if code is None:
            raise TiffStructureError(f"tag 0x{entry.tag:04x} holds offsets of type {entry.type}")
        values = array(code, self.value(entry))
        if (self.layout.order == "<") != (sys.byteorder == "little"):
            values.byteswap()
        return array("Q", values)

    def value(self, entry: Entry) -> bytes:
        return bytes(self.data[entry.value_at : entry.value_at + entry.size])

    def ifd(self, at: int, name: str) -> tuple[Ifd, int]:
        """The IFD at ``at`` and its next-IFD offset."""
        layout = self.layout
        if at in self.seen or len(self.seen) >= MAX_IFDS:
            raise TiffStructureError("the IFDs form a loop or are too many")
        self.seen.add(at)
        (count,) = self.unpack("Q" if layout.big else "H", at)
        if not 0 < count <= MAX_ENTRIES:
            raise TiffStructureError(f"{name} has {count} entries")
        self.entries_left -= count
        if self.entries_left < 0:
            budget = ENTRY_BUDGET_BASE + len(self.data) // BYTES_PER_ENTRY
            raise TiffBudgetError(f"too many IFD entries for the file's size (over {budget})")
        table = at + layout.count_size
        end = table + layout.entry_size * count + layout.inline
        entries = {}
        for index in range(count):
            entry = self._entry(table + layout.entry_size * index)
            if entry.tag in entries:
                raise TiffStructureError(f"{name} repeats tag 0x{entry.tag:04x}")
            entries[entry.tag] = entry
        (next_at,) = self.unpack(layout.offset_code, end - layout.inline)
        return Ifd(at, end, entries, name=name), next_at

    def _entry(self, at: int) -> Entry:
        layout = self.layout
        tag, typ = self.unpack("HH", at)
        (count,) = self.unpack(layout.offset_code, at + 4)
        if typ not in TYPE_SIZES:
            raise TiffStructureError(f"tag 0x{tag:04x} has the unknown type {typ}")
        value_at = at + 4 + layout.inline
        if TYPE_SIZES[typ] * count > layout.inline:
            (value_at,) = self.unpack(layout.offset_code, value_at)
            if value_at + TYPE_SIZES[typ] * count > len(self.data):
                raise TiffStructureError(f"the value of tag 0x{tag:04x} lies past the end of the file")
        return Entry(tag, typ, count, at, value_at)


def walk_ifds(reader: Reader, first: int, sub_ifds_tag: int = 0x014A) -> list[Ifd]:
    """The IFD0 chain from ``first`` with, below each IFD, its SubIFD chains (at most :data:`MAX_SUB_DEPTH` deep,
    walked with a stack, not recursion)."""
    pages, at, number = [], first, 0
    while at:
        ifd, at = reader.ifd(at, f"IFD{number}")
        pages.append(ifd)
        number += 1
    if not pages:
        raise TiffStructureError("no IFD0")
    stack = [(page, 0) for page in reversed(pages)]
    while stack:
        ifd, depth = stack.pop()
        entry = ifd.entries.get(sub_ifds_tag)
        if entry is None:
            continue
        if depth >= MAX_SUB_DEPTH:
            raise TiffBudgetError(f"SubIFDs nested deeper than {MAX_SUB_DEPTH} levels")
        for index, first_sub in enumerate(reader.ints(entry)):
            sub_at, chain = first_sub, list[Ifd]()
            while sub_at:
                sub, sub_at = reader.ifd(sub_at, f"{ifd.name}.SubIFD{index}" + (f".{len(chain)}" if chain else ""))
                chain.append(sub)
            if not chain:
                raise TiffStructureError(f"{ifd.name} lists a SubIFD at offset 0")
            ifd.sub_chains.append(chain)
            stack += [(sub, depth + 1) for sub in reversed(chain)]
    return pages


def all_ifds(pages: list[Ifd]) -> Iterator[Ifd]:
    """Every image IFD, each followed by its SubIFDs (depth first, without recursion)."""
    stack = list(reversed(pages))
    while stack:
        ifd = stack.pop()
        yield ifd
        for chain in reversed(ifd.sub_chains):
            stack += reversed(chain)
