"""Which JPEG tables the decoder uses, and what each scan is decoded with (ITU-T T.81, as libjpeg reads it).

A table segment (DQT, DHT, DAC) defines one or more tables, each in a slot (quantisation 0-3, Huffman DC/AC 0-3,
arithmetic conditioning DC/AC 0-3); a DRI sets the restart interval. A definition is *used* when it is the one in
a slot at the start of a scan that reads that slot:

* a component's quantisation table is latched at the first scan that holds the component (later definitions of the
  same slot do not change it: libjpeg's ``latch_quant_tables``); lossless frames use none;
* a sequential scan reads the DC and AC tables of its components; a progressive DC scan (``Ss == 0``) reads the DC
  tables on its first pass (``Ah == 0``) and none on refinement; a progressive AC scan reads the AC table; a lossless
  scan reads the DC tables (Huffman tables for Huffman frames, conditioning for arithmetic ones);
* the restart interval in force at a scan's start applies to it.

Every other definition (a table no component or scan reads, or one redefined before it is read) does not change
the decoded pixels. :func:`resolve` returns the definitions used and, per scan, the exact table contents and restart
interval it is decoded with: the proof hashes those, so dropping an unused table leaves the proof unchanged and
dropping a used one changes it. Hierarchical frames (SOF5-7, SOF13-15) and files with more than one frame are not
resolved: every table is kept and hashed as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ..bytemodel import Buffer
from .jpeg_segments import DAC, DHT, DQT, DRI, SOF_MARKERS, SOS, JpegStructureError, Segment

TABLE_MARKERS = frozenset({DQT, DHT, DAC, DRI})
_PROGRESSIVE = frozenset({0xC2, 0xCA})
_LOSSLESS = frozenset({0xC3, 0xCB})
_ARITHMETIC = frozenset({0xC9, 0xCA, 0xCB})
_RESOLVED_FRAMES = frozenset({0xC0, 0xC1, 0xC2, 0xC3, 0xC9, 0xCA, 0xCB})
"""Frames whose table use is resolved; hierarchical frames keep every table."""
TABLE_NAMES = {DQT: "DQT", DHT: "DHT", DAC: "DAC", DRI: "DRI"}


@dataclass(frozen=True, slots=True)
class Entry:
    """One table definition inside a segment's payload: ``payload[start:end]``, in slot ``slot``."""

    slot: tuple[str, int, int]
    """(kind, class, id): ``("q", 0, id)``, ``("h", class, id)``, ``("a", class, id)``, ``("r", 0, 0)``."""
    start: int
    end: int


def entries(marker: int, payload: Buffer) -> list[Entry]:
    """The table definitions of a DQT, DHT, DAC or DRI payload; raises on a slot decoders reject."""
    reader = {DQT: _dqt, DHT: _dht, DAC: _dac, DRI: _dri}[marker]
    return reader(payload)


def _dqt(payload: Buffer) -> list[Entry]:
    found, pos = [], 0
    while pos < len(payload):
        precision, slot = payload[pos] >> 4, payload[pos] & 15
        if precision > 1 or slot > 3:
            raise JpegStructureError("malformed DQT: a table precision or number decoders reject")
        end = pos + 1 + 64 * (precision + 1)
        if end > len(payload):
            raise JpegStructureError("malformed DQT: a table is cut off")
        found.append(Entry(("q", 0, slot), pos, end))
        pos = end
    return found


def _dht(payload: Buffer) -> list[Entry]:
    found, pos = [], 0
    while pos < len(payload):
        if pos + 17 > len(payload):
            raise JpegStructureError("malformed DHT: a table is cut off")
        kind, slot = payload[pos] >> 4, payload[pos] & 15
        count = sum(payload[pos + 1 : pos + 17])
        end = pos + 17 + count
        if kind > 1 or slot > 3 or count > 256 or end > len(payload):
            raise JpegStructureError("malformed DHT: a table class, number or size decoders reject")
        found.append(Entry(("h", kind, slot), pos, end))
        pos = end
    return found


def _dac(payload: Buffer) -> list[Entry]:
    if len(payload) % 2:
        raise JpegStructureError("malformed DAC: its fields do not match its length")
    found = []
    for pos in range(0, len(payload), 2):
        kind, slot, value = payload[pos] >> 4, payload[pos] & 15, payload[pos + 1]
        bad_value = (value & 15) > (value >> 4) if kind == 0 else not 1 <= value <= 63
        if kind > 1 or slot > 3 or bad_value:
            raise JpegStructureError("malformed DAC: a conditioning table decoders reject")
        found.append(Entry(("a", kind, slot), pos, pos + 2))
    return found


def _dri(payload: Buffer) -> list[Entry]:
    if len(payload) != 2:
        raise JpegStructureError("malformed DRI: its fields do not match its length")
    return [Entry(("r", 0, 0), 0, 2)]


@dataclass
class Usage:
    """What the decoder uses of the table segments of one image."""

    resolved: bool = True
    """False: a frame this module does not resolve (hierarchical, several frames): every table counts as used."""
    used: set[tuple[int, int]] = field(default_factory=set)
    """(segment index, entry index) of every definition a scan reads."""
    scans: dict[int, bytes] = field(default_factory=dict)
    """By the index of each SOS segment: the tables and restart interval that scan is decoded with."""

    def is_used(self, segment: int, entry: int) -> bool:
        return not self.resolved or (segment, entry) in self.used


@dataclass
class _Frame:
    marker: int
    tables: dict[int, int]
    """Quantisation slot of each component, by component id."""


class _Resolver:
    def __init__(self, segments: list[Segment], payload: Callable[[Segment], Buffer]) -> None:
        self.segments, self.payload = segments, payload
        self.current: dict[tuple[str, int, int], tuple[int, int, bytes]] = {}
        self.latched: dict[int, bytes] = {}
        self.usage = Usage()
        self.frame: _Frame | None = None

    def run(self) -> Usage:
        for index, segment in enumerate(self.segments):
            marker = segment.marker
            if marker in TABLE_MARKERS:
                payload = self.payload(segment)
                for number, entry in enumerate(entries(marker, payload)):
                    self.current[entry.slot] = (index, number, bytes(payload[entry.start : entry.end]))
            elif marker in SOF_MARKERS or marker in (0xDE, 0xDF):
                if self.frame is not None or marker not in _RESOLVED_FRAMES:
                    return Usage(resolved=False)
                self.frame = _frame(marker, self.payload(segment))
            elif marker == SOS:
                if self.frame is None:
                    return Usage(resolved=False)  # a scan before its frame: decoders refuse it; hash it all
                self.usage.scans[index] = self._scan(self.frame, self.payload(segment))
        return self.usage

    def _use(self, slot: tuple[str, int, int]) -> bytes:
        """The definition in ``slot`` now (marked used), or a placeholder for "not defined"."""
        found = self.current.get(slot)
        name = f"{slot[0]}{slot[1]}{slot[2]}".encode()
        if found is None:
            return name + b"=none;"
        self.usage.used.add((found[0], found[1]))
        return name + b"=" + len(found[2]).to_bytes(2, "big") + found[2] + b";"

    def _scan(self, frame: _Frame, header: Buffer) -> bytes:
        count = header[0]
        components = [(header[1 + 2 * i], header[2 + 2 * i]) for i in range(count)]
        start, _, approximation = header[1 + 2 * count], header[2 + 2 * count], header[3 + 2 * count]
        parts = [self._use(("r", 0, 0))]
        kind = "a" if frame.marker in _ARITHMETIC else "h"
        for component, selectors in components:
            if component not in frame.tables:
                raise JpegStructureError("a scan names a component its frame does not have")
            if frame.marker not in _LOSSLESS and component not in self.latched:
                self.latched[component] = self._use(("q", 0, frame.tables[component]))
            if frame.marker not in _LOSSLESS:
                parts.append(self.latched[component])
            dc, ac = self._reads(frame.marker, start, approximation >> 4)
            if dc:
                parts.append(self._use((kind, 0, selectors >> 4)))
            if ac:
                parts.append(self._use((kind, 1, selectors & 15)))
        return b"".join(parts)

    @staticmethod
    def _reads(marker: int, start: int, high: int) -> tuple[bool, bool]:
        """(reads its DC tables, reads its AC tables) for a scan of this frame type."""
        if marker in _LOSSLESS:
            return True, False
        if marker in _PROGRESSIVE:
            return (start == 0 and high == 0), start > 0
        return True, True


def _frame(marker: int, payload: Buffer) -> _Frame:
    count = payload[5]
    tables = {payload[6 + 3 * i]: payload[8 + 3 * i] for i in range(count)}
    if any(slot > 3 for slot in tables.values()):
        raise JpegStructureError("malformed frame header: a quantisation table number decoders reject")
    return _Frame(marker, tables)


def resolve(segments: list[Segment], payload: Callable[[Segment], Buffer]) -> Usage:
    """The table definitions the scans of one image use, and what each scan is decoded with."""
    return _Resolver(segments, payload).run()


def rebuild(marker: int, payload: Buffer, usage: Usage, index: int) -> bytes:
    """The payload of table segment ``index`` holding only the definitions a scan uses (empty: drop the segment)."""
    found = entries(marker, payload)
    return b"".join(bytes(payload[e.start : e.end]) for n, e in enumerate(found) if usage.is_used(index, n))
