"""JPEG marker structure: the segments of one JPEG image, found strictly, each decoding segment checked
field by field (ITU-T T.81). Knows nothing about metadata; :mod:`.jpeg` decides what each segment is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..bytemodel import Buffer
from ..errors import StructureError

SOI, EOI, SOS, DQT, DHT, DAC, DRI, DNL, COM = 0xD8, 0xD9, 0xDA, 0xDB, 0xC4, 0xCC, 0xDD, 0xDC, 0xFE
SOF_MARKERS = frozenset(range(0xC0, 0xD0)) - {DHT, 0xC8, DAC}
"""Start-of-frame markers (baseline, extended, progressive, lossless, hierarchical, arithmetic)."""
DECODING = SOF_MARKERS | {DQT, DHT, DAC, DRI, DNL, SOS, 0xDE, 0xDF}
"""Segments a decoder needs (DHP and EXP included for hierarchical files)."""

_NEXT_MARKER = re.compile(rb"\xff[^\x00\xd0-\xd7\xff]")
"""In entropy-coded data 0xFF is followed by 0x00 (stuffing), RSTn or more 0xFF (fill): anything else is a marker."""
_FF = re.compile(rb"\xff")
MAX_SEGMENTS = 65_536
"""Budget: segments of one image (markers, tables, APPn, scans). Real files have tens; each is a Python object."""


class JpegStructureError(StructureError):
    """The marker structure of the JPEG cannot be followed."""


@dataclass(frozen=True, slots=True)
class Segment:
    """One piece of the marker structure: ``[start, end)``; ``marker`` is -1 for scan data and stray bytes."""

    start: int
    end: int
    marker: int
    fill: int = 0
    """0xFF fill bytes before the marker (included in ``start``)."""

    @property
    def payload_start(self) -> int:
        """Where the payload begins (after the fill, the marker and the 2-byte length)."""
        return self.start + self.fill + 4


SCAN, STRAY = -1, -2


def walk(data: Buffer, start: int = 0) -> list[Segment]:
    """The segments of the JPEG image that begins at ``start``, up to and including its EOI.

    Scan data is one ``SCAN`` segment per scan (restart markers included). Bytes between segments that are
    not 0xFF are ``STRAY`` segments. Raises :class:`JpegStructureError` on anything a decoder could not follow.
    """
    size = len(data)
    if bytes(data[start : start + 2]) != b"\xff\xd8":
        raise JpegStructureError("no SOI marker")
    segments = [Segment(start, start + 2, SOI)]
    pos = start + 2
    while True:
        if len(segments) >= MAX_SEGMENTS:
            raise JpegStructureError(f"too many segments in one image (more than {MAX_SEGMENTS})")
        segment = _next_segment(data, pos, size)
        segments.append(segment)
        pos = segment.end
        if segment.marker == EOI:
            return segments
        if segment.marker == SOS:
            scan_end = _end_of_scan(data, pos)
            segments.append(Segment(pos, scan_end, SCAN))
            pos = scan_end


_TRUNCATED = "no EOI marker: the JPEG is truncated"


def _next_segment(data: Buffer, pos: int, size: int) -> Segment:
    if pos >= size:
        raise JpegStructureError(_TRUNCATED)
    if data[pos] != 0xFF:
        resync = _FF.search(data, pos)
        if resync is None:
            raise JpegStructureError(_TRUNCATED)
        return Segment(pos, int(resync.start()), STRAY)
    fill = 0
    while pos + fill + 1 < size and data[pos + fill + 1] == 0xFF:
        fill += 1
    marker_at = pos + fill
    if marker_at + 1 >= size:
        raise JpegStructureError(_TRUNCATED)
    marker = data[marker_at + 1]
    if marker in (EOI, 0x01) or 0xD0 <= marker <= 0xD7:
        return Segment(pos, marker_at + 2, marker, fill)
    if marker == 0x00:  # a stuffed 0xFF outside the scan data: decoders skip it as stray bytes
        return Segment(pos, marker_at + 2, STRAY)
    return _length_segment(data, pos, marker_at, marker, fill)


def _length_segment(data: Buffer, pos: int, marker_at: int, marker: int, fill: int) -> Segment:
    """A segment with a 2-byte length, its decoding fields checked."""
    if marker == SOI:
        raise JpegStructureError(f"a second SOI marker at offset {marker_at}")
    if marker_at + 4 > len(data):
        raise JpegStructureError("truncated segment header")
    length = int.from_bytes(data[marker_at + 2 : marker_at + 4], "big")
    end = marker_at + 2 + length
    if length < 2 or end > len(data):
        raise JpegStructureError(f"segment 0xFF{marker:02X} at offset {marker_at} is truncated")
    segment = Segment(pos, end, marker, fill)
    if marker in DECODING:
        check_decoding_segment(marker, data[segment.payload_start : end])
    return segment


def _end_of_scan(data: Buffer, pos: int) -> int:
    """Where the entropy-coded data that starts at ``pos`` ends: at the marker after it, less the 0xFF fill bytes
    before that marker (inside entropy-coded data a 0xFF is always followed by 0x00 or RSTn)."""
    found = _NEXT_MARKER.search(data, pos)
    if found is None:
        raise JpegStructureError("no EOI marker: the JPEG is truncated")
    end = int(found.start())
    while end > pos and data[end - 1] == 0xFF:
        end -= 1
    return end


def check_decoding_segment(marker: int, payload: Buffer) -> None:
    """Check that the declared fields of a decoding segment cover its payload exactly."""
    size = len(payload)
    expected: int | None
    if marker == DQT:
        expected = _dqt_size(payload)
    elif marker == DHT:
        expected = _dht_size(payload)
    elif marker in SOF_MARKERS:
        expected = 6 + 3 * payload[5] if size >= 6 else None
    elif marker == SOS:
        expected = 1 + 2 * payload[0] + 3 if size >= 1 else None
    elif marker in (DRI, DNL):
        expected = 2
    elif marker == DAC:
        expected = size if size % 2 == 0 else None
    else:
        expected = size
    if expected != size:
        raise JpegStructureError(f"malformed segment 0xFF{marker:02X}: its fields do not match its length")


def _dqt_size(payload: Buffer) -> int | None:
    pos, size = 0, len(payload)
    while pos < size:
        precision = payload[pos] >> 4
        if precision > 1:
            return None
        pos += 1 + 64 * (precision + 1)
    return pos


def _dht_size(payload: Buffer) -> int | None:
    pos, size = 0, len(payload)
    while pos < size:
        if pos + 17 > size:
            return None
        pos += 17 + sum(payload[pos + 1 : pos + 17])
    return pos


def frame_size(data: Buffer, segments: list[Segment]) -> tuple[int, int, int] | None:
    """(width, height, components) from the first SOF segment."""
    for segment in segments:
        if segment.marker in SOF_MARKERS:
            payload = bytes(data[segment.payload_start : segment.end])
            return int.from_bytes(payload[3:5], "big"), int.from_bytes(payload[1:3], "big"), payload[5]
    return None


_STUFFED_OR_RST = re.compile(rb"\xff[\x00\xd0-\xd7]")
_TAIL_WINDOW = 1 << 16


def exiftool_ranges(data: Buffer, segments: list[Segment]) -> list[tuple[int, int]]:
    """The bytes ExifTool's ``ImageDataHash`` covers in one JPEG image (ExifTool 13.59, ``ProcessJPEG``).

    From each SOS marker (header included) through its scan data, up to the 0xFF of the next marker. When a
    segment with a length follows the scan (a DHT between progressive scans, an APPn, a COM), ExifTool stops at
    the scan's last stuffed byte or restart marker instead, and hashes nothing of a scan that has neither.
    """
    ranges: list[tuple[int, int]] = []
    for index, segment in enumerate(segments):
        if segment.marker != SOS or index + 2 >= len(segments):
            continue
        start, scan, following = segment.start + segment.fill, segments[index + 1], segments[index + 2]
        if following.marker in (EOI, SOS) or 0xD0 <= following.marker <= 0xD7:
            ranges.append((start, scan.end))
            continue
        last = _last_stuffed_or_restart(data, scan.start, scan.end)
        if last is not None:
            ranges.append((start, last))
    return ranges


def _last_stuffed_or_restart(data: Buffer, start: int, end: int) -> int | None:
    window = _TAIL_WINDOW
    while True:
        low = max(start, end - window)
        found = None
        for found in _STUFFED_OR_RST.finditer(data, low, end):  # noqa: B007
            pass
        if found is not None:
            return int(found.start())
        if low == start:
            return None
        window *= 4
