"""A track's sample tables: where its samples lie (``stco``/``co64``, ``stsc``, ``stsz``/``stz2``), in linear time
and flat memory, and the canonical form of the tables themselves.

Budgets (issue 18): the tables are read into arrays (4 or 8 bytes an entry, never Python lists of tuples); the
samples-per-chunk runs must start at chunk 1 and increase (one pass over the chunks, never a rescan); every table
counts what its box holds; and a movie may describe at most :data:`MAX_CHUNKS` chunks and one chunk per
:data:`BYTES_PER_CHUNK` bytes of file, or it is refused naming the budget.
"""

from __future__ import annotations

import itertools
import operator
import struct
import sys
from array import array
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..bytemodel import Buffer
from .base import Refusal
from .isobmff import Box, BoxError, full_box, uint

MAX_CHUNKS = 500_000
"""Chunks (runs of samples) one movie may describe in all: a one-hour 4K recording at 60 frames per second with one
frame per chunk and its audio holds about 400,000 (a 5 GiB one about 80,000). At this many, each chunk a span of its
own between unreferenced bytes, a scrub takes about 25 s and 600 MB here."""
BYTES_PER_CHUNK = 64
"""A chunk costs at least this many bytes of file on average (its offset and size entries, its samples: even a
16 kbit/s audio track with one frame per chunk spends about 100)."""
PCM_FORMATS = {
    b"raw ": 8, b"twos": 0, b"sowt": 0, b"in24": 24, b"in32": 32, b"fl32": 32, b"fl64": 64, b"ulaw": 8, b"alaw": 8,
    b"NONE": 0,
}  # fmt: skip
"""Uncompressed QuickTime sound formats and their bits per sample (0: the sample size field says)."""


def _array(code: str, raw: bytes) -> array[int]:
    values = array(code)
    values.frombytes(raw)
    if sys.byteorder == "little":
        values.byteswap()
    return values


@dataclass
class Chunks:
    """Where a track's samples lie: each chunk's offset and length, in track order (16 bytes a chunk)."""

    offsets: array[int] = field(default_factory=lambda: array("Q"))
    lengths: array[int] = field(default_factory=lambda: array("Q"))

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return zip(self.offsets, self.lengths, strict=True)

    def __len__(self) -> int:
        return len(self.offsets)

    def __bool__(self) -> bool:
        return bool(self.offsets)

    def ranges(self) -> Iterator[tuple[int, int]]:
        """``(start, end)`` of each chunk, in track order."""
        return zip(self.offsets, map(operator.add, self.offsets, self.lengths), strict=True)

    def runs(self) -> Iterator[tuple[int, int]]:
        """``(start, end)`` of the track's samples with adjacent chunks joined (what the byte model claims)."""
        start = end = -1
        for offset, length in self:
            if not length:
                continue
            if offset == end:
                end += length
                continue
            if end > start:
                yield start, end
            start, end = offset, offset + length
        if end > start:
            yield start, end


@dataclass
class Tables:
    """The sample-table boxes of one track, by type (the first of each), and how FFmpeg reads uncompressed sound."""

    boxes: dict[bytes, Box]
    old_style: bool = False
    """QuickTime sound stored sample by sample (one ``stts`` entry of duration 1, one sample size): read in whole
    chunks whose size the sound description decides, as FFmpeg reads them."""
    frame_bytes: int = 0
    """Bytes per sample of uncompressed sound (0: the uniform sample size of ``stsz``)."""
    packet: tuple[int, int] = (0, 0)
    """QuickTime sound version 1/2: samples per packet and bytes per packet frame ((0, 0): none)."""

    def sample_count(self, data: Buffer) -> int:
        sizes = self.boxes.get(b"stsz") or self.boxes.get(b"stz2")
        if sizes is None:
            return 0
        _, _, pos = full_box(data, sizes)
        return uint(data, pos + 4, 4, sizes.end)

    def chunk_bytes(self, samples: int, uniform: int) -> int:
        """Bytes of a chunk of ``samples`` samples when every sample has the same size."""
        if not self.old_style:
            return samples * uniform
        per_packet, packet_bytes = self.packet
        if per_packet and packet_bytes and samples * packet_bytes % per_packet == 0:
            return samples * packet_bytes // per_packet
        return samples * (self.frame_bytes or uniform)


def chunks_of(data: Buffer, tables: Tables, limit: int) -> tuple[Chunks, int]:
    """The track's chunks and its sample count. ``limit``: chunks the movie may still describe."""
    boxes = tables.boxes
    offsets_box = boxes.get(b"stco") or boxes.get(b"co64")
    sizes_box = boxes.get(b"stsz") or boxes.get(b"stz2")
    if offsets_box is None or b"stsc" not in boxes or sizes_box is None:
        raise BoxError("a sample table lacks chunk offsets, samples per chunk or sample sizes")
    _, _, pos = full_box(data, offsets_box)
    declared = uint(data, pos, 4, offsets_box.end)
    if declared > limit:
        raise Refusal(f"too many chunks for the movie's size ({declared} > {limit}): budget")
    offsets = chunk_offsets(data, offsets_box)
    runs = _runs(data, boxes[b"stsc"], len(offsets))
    uniform, sizes, count = _sizes(data, sizes_box)
    lengths = array("Q")
    if sizes is None:
        for first, last, per_chunk in runs:
            lengths.extend(array("Q", [tables.chunk_bytes(per_chunk, uniform)]) * (last - first))
        described = sum((last - first) * per_chunk for first, last, per_chunk in runs)
    else:
        described = _per_sample(sizes, runs, count, lengths)
    if described != count:
        raise BoxError("the sample table's chunks and sample sizes disagree")
    if offsets and max(map(operator.add, offsets, lengths)) > len(data):
        raise BoxError("a chunk of samples lies past the end of the file: truncated")
    return Chunks(offsets, lengths), count


def sample_layout(data: Buffer, tables: Tables, chunks: int) -> tuple[array[int], array[int], array[int]]:
    """Each sample's size (4 bytes a sample), and each chunk's sample count and sample description (1-based): what
    a reader of the samples themselves needs (:mod:`.track_samples`). The tables are the ones :func:`chunks_of`
    checked."""
    sizes_box = tables.boxes.get(b"stsz") or tables.boxes.get(b"stz2")
    assert sizes_box is not None
    uniform, sizes, count = _sizes(data, sizes_box)
    if sizes is None:
        sizes = array("I", [uniform]) * count
    stsc = tables.boxes[b"stsc"]
    _, _, pos = full_box(data, stsc)
    descriptions = _array("I", bytes(data[pos + 4 : stsc.end]))[2::3]
    counts, entries = array("Q"), array("Q")
    for (first, last, per_chunk), description in zip(_runs(data, stsc, chunks), descriptions, strict=True):
        counts.extend(array("Q", [per_chunk]) * (last - first))
        entries.extend(array("Q", [description]) * (last - first))
    return sizes if sizes.typecode == "I" else array("I", sizes), counts, entries


def _per_sample(sizes: array[int], runs: list[tuple[int, int, int]], count: int, lengths: array[int]) -> int:
    """Append each chunk's length (the sum of its samples' sizes, from prefix sums: linear); returns the samples
    the runs describe (stops at the first run that describes more samples than there are)."""
    prefix = array("Q", itertools.accumulate(sizes, initial=0))
    described = 0
    for first, last, per_chunk in runs:
        end = described + per_chunk * (last - first)
        if end > count:
            return end
        ends, starts = prefix[described + per_chunk : end + 1 : per_chunk], prefix[described:end:per_chunk]
        lengths.extend(map(operator.sub, ends, starts))
        described = end
    return described


def chunk_offsets(data: Buffer, table: Box) -> array[int]:
    wide = table.type == b"co64"
    _, _, pos = full_box(data, table)
    count = uint(data, pos, 4, table.end)
    width = 8 if wide else 4
    if pos + 4 + count * width != table.end:
        raise BoxError(f"{table.name} does not hold exactly its chunk offsets")
    return array("Q", _array("Q" if wide else "I", bytes(data[pos + 4 : table.end])))


def _runs(data: Buffer, stsc: Box, chunks: int) -> list[tuple[int, int, int]]:
    """``(first chunk, end chunk, samples per chunk)`` of each run, 0-based; the runs must start at chunk 1 and
    increase, each chunk holding at least one sample (one pass: linear in the number of runs)."""
    _, _, pos = full_box(data, stsc)
    count = uint(data, pos, 4, stsc.end)
    if pos + 4 + 12 * count != stsc.end:
        raise BoxError("stsc does not hold exactly its runs")
    table = _array("I", bytes(data[pos + 4 : stsc.end]))
    firsts, per_chunk = table[0::3], table[1::3]
    if count and (firsts[0] != 1 or chunks == 0):
        raise BoxError("the samples-per-chunk runs do not start at the first chunk")
    runs = []
    for index in range(count):
        first, samples = firsts[index] - 1, per_chunk[index]
        last = firsts[index + 1] - 1 if index + 1 < count else chunks
        if last <= first or last > chunks:
            raise BoxError("the samples-per-chunk runs are not in increasing chunk order within the chunks")
        if samples == 0:
            raise BoxError("a samples-per-chunk run has no samples")
        runs.append((first, last, samples))
    if not count and chunks:
        raise BoxError("the chunks have no samples-per-chunk runs")
    return runs


def _sizes(data: Buffer, table: Box) -> tuple[int, array[int] | None, int]:
    """(uniform size, per-sample sizes or None, sample count) of ``stsz`` or ``stz2``."""
    _, _, pos = full_box(data, table)
    if table.type == b"stsz":
        uniform, count = uint(data, pos, 4, table.end), uint(data, pos + 4, 4, table.end)
        if uniform:
            if pos + 8 != table.end:
                raise BoxError("stsz has sizes after a uniform sample size")
            return uniform, None, count
        if pos + 8 + 4 * count != table.end:
            raise BoxError("stsz does not match its sample count")
        return 0, _array("I", bytes(data[pos + 8 : table.end])), count
    bits, count = uint(data, pos + 3, 1, table.end), uint(data, pos + 4, 4, table.end)
    if bits not in (4, 8, 16) or pos + 8 + (count * bits + 7) // 8 != table.end:
        raise BoxError("stz2 does not match its field size and sample count")
    raw = bytes(data[pos + 8 : table.end])
    if bits == 16:
        return 0, _array("H", raw), count
    if bits == 8:
        return 0, array("B", raw), count
    nibbles = array("B", itertools.chain.from_iterable((b >> 4, b & 15) for b in raw))
    return 0, nibbles[:count], count


def pcm_frame_bytes(fourcc: bytes, channels: int, bits: int) -> int:
    """Bytes of one sample of uncompressed QuickTime sound (what FFmpeg reads per sample), or 0."""
    if fourcc not in PCM_FORMATS:
        return 0
    return (PCM_FORMATS[fourcc] or bits) // 8 * channels


def old_style_sound(data: Buffer, boxes: dict[bytes, Box]) -> bool:
    """One ``stts`` entry of duration 1 and one sample size: FFmpeg reads such sound chunk by chunk."""
    stts, stsz = boxes.get(b"stts"), boxes.get(b"stsz")
    if stts is None or stsz is None:
        return False
    _, _, pos = full_box(data, stts)
    _, _, sizes = full_box(data, stsz)
    one_entry = uint(data, pos, 4, stts.end) == 1 and uint(data, pos + 8, 4, stts.end) == 1
    return one_entry and uint(data, sizes, 4, stsz.end) != 0


def counted(data: Buffer, table: Box, entry: int, versions: tuple[int, ...] | None = None) -> bytes | None:
    """A table of ``count`` entries of ``entry`` bytes: None when the box is in canonical form already (flags zero,
    nothing after the entries; its version one of ``versions``, which decide how its entries read, else 0), else its
    canonical payload. Raises when the entries run past the box."""
    version, flags, pos = full_box(data, table)
    if versions is not None and version not in versions:
        raise BoxError(f"{table.name} has an unknown version {version}")
    kept = version if versions is not None else 0
    count = uint(data, pos, 4, table.end)
    end = pos + 4 + count * entry
    if end > table.end:
        raise BoxError(f"{table.name} is cut off")
    if not flags and end == table.end and version == kept:
        return None
    return bytes([kept, 0, 0, 0]) + bytes(data[pos:end])


def rebuilt_offsets(offsets: Iterator[int], count: int, wide: bool) -> bytes:
    """An ``stco`` (or ``co64`` when ``wide``) box holding ``offsets``."""
    values = array("Q" if wide else "I", offsets)
    if len(values) != count:
        raise BoxError("internal: chunk offsets lost in the rebuild")
    if sys.byteorder == "little":
        values.byteswap()
    payload = struct.pack(">4xI", count) + values.tobytes()
    kind = b"co64" if wide else b"stco"
    return struct.pack(">I4s", 8 + len(payload), kind) + payload
