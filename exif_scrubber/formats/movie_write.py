"""Writing a clean movie: where every kept box and sample goes, and moving them there with flat memory.

The plan lists the output's pieces in order: the canonical ``ftyp``, the rebuilt ``moov``, each ``mdat`` holding
only the samples the kept tracks reference (moved byte for byte, in file order), each movie fragment rebuilt with
its kept tracks (its data offsets pointing at where their samples went) and each segment index with the sizes of
what it indexes. Nothing else is written. A piece is bytes, a range of the input, or a chunk whose samples are
written clean one by one (:mod:`.track_samples`); :func:`apply` copies ranges in steps of :data:`COPY_STEP`, to
another file or to the same one (in place: the rebuild only removes bytes, so everything moves towards the start,
unless a box grows; :attr:`Plan.in_place` says when that is safe).
"""

from __future__ import annotations

import bisect
import os
import struct
from array import array
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..bytemodel import Buffer, merge_ranges
from .isobmff import Box, BoxError
from .movie import Movie, NeedsWide, rebuild_moov
from .track_samples import CleanChunk, segments

COPY_STEP = 8 * 1024 * 1024
"""Bytes moved at a time (memory stays flat whatever the size of the video)."""


class Rebuilt(Protocol):
    """A top-level box written anew once the layout is known (a movie fragment, a segment index)."""

    def size(self) -> int: ...

    def write(self, moved: Callable[[int], int], start: int, top_moved: Callable[[int], int]) -> bytes: ...


@dataclass
class Walked:
    """What the plan needs of a walked movie."""

    boxes: Sequence[Box]
    ftyp: bytes | None
    """The canonical ``ftyp`` (None: the movie has none, or it is not the first box)."""
    moov: Box
    movie: Movie
    rebuilt: Mapping[int, Rebuilt]
    """Top-level boxes written anew, by their offset (movie fragments, segment indexes)."""
    kept: Callable[[], Iterable[tuple[int, int]]]
    """The ranges of the kept samples."""
    cleaned: Mapping[int, CleanChunk] = field(default_factory=dict)
    """Chunks whose samples are written clean (SEI user data, AV1 metadata and padding removed), by input offset."""
    chunks: Callable[[], Iterable[tuple[int, int]]] = tuple
    """Every kept chunk's ``(start, end)``: a chunk that changes must share no byte with another."""


Piece = bytes | tuple[int, int] | CleanChunk
"""What the rewrite writes at an offset: bytes, a range of the input copied, or a chunk of samples written clean."""


@dataclass
class Plan:
    """The rewrite: each piece is written at its new offset, either bytes or a range of the file itself."""

    pieces: list[tuple[int, Piece]]
    size: int
    in_place: bool
    """True when no piece is written over bytes a later piece still has to read (the usual case: the rebuild
    only removes bytes, so everything moves towards the start)."""


def plan(walked: Walked, data: Buffer) -> Plan:
    """The plan; chunk offset tables keep their width unless an offset needs 64 bits."""
    try:
        return _plan(walked, data, None)
    except NeedsWide:
        return _plan(walked, data, True)


@dataclass
class _Layout:
    """Where the kept blocks of samples and the kept top-level boxes go."""

    blocks: list[tuple[int, int]]
    """Runs of kept samples, each copied as it is or, when it is a chunk of :attr:`cleaned`, written clean."""
    cleaned: Mapping[int, CleanChunk]
    firsts: array[int]
    new_starts: array[int]
    order: list[tuple[int, Piece | int]]
    """(new offset, what): bytes, a range of the input, a chunk written clean, or the offset of a box written once
    positions are known."""
    tops: list[tuple[int, int]]
    """(input offset, new offset) of each kept top-level box, then (input size, output size)."""
    size: int

    def moved(self, offset: int) -> int:
        """Where a kept sample's byte goes (an empty chunk outside the kept samples: where the next one goes; the
        end of a chunk written clean: the end of its clean samples)."""
        index = bisect.bisect_right(self.firsts, offset) - 1
        if index >= 0 and offset <= self.blocks[index][1]:
            clean = self.clean(index)
            if clean is not None and offset > clean.start:
                return self.new_starts[index] + clean.size
            return self.new_starts[index] + offset - self.firsts[index]
        return self.new_starts[index + 1] if index + 1 < len(self.blocks) else 0

    def clean(self, index: int) -> CleanChunk | None:
        """The chunk written clean that block ``index`` is, if it is one (:func:`.track_samples.segments` cut it
        out as a block of its own)."""
        if not self.cleaned:
            return None
        clean = self.cleaned.get(self.blocks[index][0])
        return clean if clean is not None and clean.end == self.blocks[index][1] else None

    def length(self, index: int) -> int:
        """The bytes block ``index`` takes in the output."""
        clean = self.clean(index)
        return clean.size if clean is not None else self.blocks[index][1] - self.blocks[index][0]

    def top_moved(self, offset: int) -> int:
        """Where the first kept top-level box at or after ``offset`` starts."""
        return self.tops[bisect.bisect_left(self.tops, (offset, -1))][1]


def _plan(walked: Walked, data: Buffer, wide: bool | None) -> Plan:
    moov_size = len(rebuild_moov(data, walked.moov, walked.movie, lambda offset: 0, wide))
    layout = _lay_out(walked, len(data), moov_size)
    pieces: list[Any] = layout.order  # the boxes written once positions are known replace their offsets, in place
    for index, (new, what) in enumerate(layout.order):
        if not isinstance(what, int):
            continue
        if what == walked.moov.start:
            rebuilt = rebuild_moov(data, walked.moov, walked.movie, layout.moved, wide)
            if len(rebuilt) != moov_size:
                raise BoxError("internal: the movie header's size depends on its chunk offsets")
        else:
            rebuilt = walked.rebuilt[what].write(layout.moved, new, layout.top_moved)
        pieces[index] = (new, rebuilt)
    return Plan(pieces, layout.size, in_place(pieces))


def _lay_out(walked: Walked, size: int, moov_size: int) -> _Layout:
    cleaned = walked.cleaned
    blocks = merge_ranges(walked.kept())
    if cleaned:
        blocks = segments(blocks, cleaned, walked.chunks())
    firsts = array("Q", (start for start, _ in blocks))
    layout = _Layout(blocks, cleaned, firsts, array("Q", bytes(8 * len(blocks))), [], [], 0)
    order, position = layout.order, 0
    for top in walked.boxes:
        start = position
        if top.type == b"ftyp" and top is walked.boxes[0] and walked.ftyp is not None:
            order.append((position, walked.ftyp))
            position += len(walked.ftyp)
        elif top is walked.moov or top.start in walked.rebuilt:
            order.append((position, top.start))
            position += moov_size if top is walked.moov else walked.rebuilt[top.start].size()
        elif top.type == b"mdat":
            position = _mdat(layout, top, position)
        if position > start:
            layout.tops.append((top.start, start))
    layout.tops.append((size, position))
    layout.size = position
    return layout


def _mdat(layout: _Layout, top: Box, position: int) -> int:
    """The compacted ``mdat``: its header, then the kept blocks inside it in order (none: no ``mdat``)."""
    first, last = bisect.bisect_left(layout.firsts, top.body), bisect.bisect_left(layout.firsts, top.end)
    if first == last:
        return position
    payload = sum(map(layout.length, range(first, last)))
    header = _mdat_header(top.body - top.start, payload)
    layout.order.append((position, header))
    position += len(header)
    for index in range(first, last):
        clean = layout.clean(index)
        layout.new_starts[index] = position
        layout.order.append((position, layout.blocks[index] if clean is None else clean))
        position += layout.length(index)
    return position


def in_place(pieces: list[tuple[int, Piece]]) -> bool:
    """No piece moves towards the end, and no write ends past the first byte a later piece reads (a chunk written
    clean is read sample by sample, each sample before it is written, and never grows)."""
    reads = [_source(what)[0] for _, what in pieces if not isinstance(what, bytes)]
    at = 0
    for new, what in pieces:
        if isinstance(what, bytes):
            end = new + len(what)
        elif new > _source(what)[0]:
            return False
        else:
            at += 1
            end = new + (what.size if isinstance(what, CleanChunk) else what[1] - what[0])
        if at < len(reads) and end > reads[at]:
            return False
    return True


def _source(what: tuple[int, int] | CleanChunk) -> tuple[int, int]:
    return (what.start, what.end) if isinstance(what, CleanChunk) else what


def _mdat_header(header: int, payload: int) -> bytes:
    """The header of a compacted ``mdat``: as long as the input's, or 64-bit where the size needs it."""
    if header == 16 or payload + 8 > 0xFFFFFFFF:
        return struct.pack(">I4sQ", 1, b"mdat", payload + 16)
    return struct.pack(">I4s", payload + 8, b"mdat")


def assemble(plan: Plan, data: Buffer) -> bytes:
    """The plan's output in memory."""
    out = bytearray(plan.size)
    for new, what in plan.pieces:
        if isinstance(what, CleanChunk):
            for sample in what.samples(lambda start, end: data[start:end]):
                out[new : new + len(sample)] = sample
                new += len(sample)
            continue
        piece = what if isinstance(what, bytes) else data[what[0] : what[1]]
        out[new : new + len(piece)] = piece
    return bytes(out)


def apply(source: int, target: int, plan: Plan) -> None:
    """Write the plan front to back (``target`` may be ``source``: in place). Large ranges move in steps of
    :data:`COPY_STEP`; runs of small ranges that follow each other in the output are read in one window and written
    in one call (a movie of a million small chunks: two system calls per window, not per chunk)."""
    batch: list[tuple[int, int, int]] = []
    for new, what in plan.pieces:
        if isinstance(what, bytes):
            _flush(source, target, batch)
            os.pwrite(target, what, new)
            continue
        if isinstance(what, CleanChunk):  # sample by sample: each is read before it is written, and never grows
            _flush(source, target, batch)
            for sample in what.samples(lambda start, end: os.pread(source, end - start, start)):
                os.pwrite(target, sample, new)
                new += len(sample)
            continue
        start, end = what
        if end - start >= COPY_STEP:
            _flush(source, target, batch)
            _copy(source, target, new, start, end)
            continue
        if batch and not (
            new == batch[-1][0] + batch[-1][2] - batch[-1][1]
            and batch[-1][2] <= start < end
            and end - batch[0][1] <= COPY_STEP
        ):
            _flush(source, target, batch)
        batch.append((new, start, end))
    _flush(source, target, batch)
    os.ftruncate(target, plan.size)


def _flush(source: int, target: int, batch: list[tuple[int, int, int]]) -> None:
    """Read the window the small ranges of ``batch`` lie in, once, and write them where they go, at once."""
    if not batch:
        return
    first = batch[0][1]
    window = os.pread(source, batch[-1][2] - first, first)
    os.pwrite(target, b"".join(window[s - first : e - first] for _, s, e in batch), batch[0][0])
    batch.clear()


def _copy(source: int, target: int, new: int, start: int, end: int) -> None:
    for pos in range(start, end, COPY_STEP):
        chunk = os.pread(source, min(COPY_STEP, end - pos), pos)
        if source != target or new + pos - start != pos:
            os.pwrite(target, chunk, new + pos - start)
