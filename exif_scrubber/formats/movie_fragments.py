"""Fragmented movies (``moof``/``traf``/``trun``, ``sidx``; streaming, DASH and some cameras' recordings): each
movie fragment read field by field and written anew with only the kept tracks.

A kept track's fragment (``traf``) keeps its header (``tfhd``, with its base data offset replaced by "relative to the
fragment": ISO 14496-12's default-base-is-moof), its decode time (``tfdt``), its runs (``trun``: every sample's
duration, size, flags and composition offset; each run gets an explicit data offset, recomputed once the samples have
moved) and its sample groups and dependencies; anything else in it (``saiz``/``saio``/``subs``, unknown boxes) goes.
A dropped track's fragments go whole, with their samples. A segment index (``sidx``) of a kept track is rewritten
with the sizes of what it indexes after the rewrite; one that indexes a dropped track, or whose references do not
fall on box boundaries, goes, as do the random access index (``mfra``: optional, players rebuild it by reading the
fragments), ``styp``, ``ssix``, ``prft`` (a wall-clock time) and ``emsg`` (event messages).
"""

from __future__ import annotations

import itertools
import struct
import sys
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from ..bytemodel import Buffer, Kind
from .base import Refusal
from .isobmff import Box, BoxError, box, iter_boxes
from .movie import MAX_DEPTH, VISUAL_HANDLERS, Movie
from .movie_boxes import Canonical, Fields, full_head, sample_flags
from .movie_groups import GROUPING_TYPES, Dropped, sbgp, sdtp, sgpd
from .movie_tables import BYTES_PER_CHUNK, MAX_CHUNKS
from .track_samples import CleanChunk, RunReader, check_samples, fragment_readers

FRAGMENT_BOXES = frozenset({b"moof", b"mfra", b"sidx", b"styp", b"ssix", b"prft", b"emsg"})
_BASE_OFFSET, _DESCRIPTION, _DURATION, _SIZE, _FLAGS = 0x1, 0x2, 0x8, 0x10, 0x20
_EMPTY, _BASE_IS_MOOF = 0x010000, 0x020000
_DATA_OFFSET, _FIRST_FLAGS = 0x1, 0x4
_SAMPLE_FIELDS = ((0x100, "duration"), (0x200, "size"), (0x400, "flags"), (0x800, "offset"))


@dataclass
class _Run:
    """One ``trun``: its canonical payload split around its data offset, and where its samples are."""

    head: bytes
    rest: bytes
    start: int
    end: int

    def with_sizes(self, sizes: array[int]) -> _Run:
        """The run with an explicit size for each sample, ``sizes`` (its samples' clean sizes): the size column
        written where it is, or added (the defaults of ``tfhd``/``trex`` no longer hold for these samples)."""
        version, flags, count = self.head[0], int.from_bytes(self.head[1:4], "big"), len(sizes)
        first = self.rest[:4] if flags & _FIRST_FLAGS else b""
        present = [name for flag, name in _SAMPLE_FIELDS if flags & flag]
        table = _table(self.rest[len(first) :])
        columns = {name: table[index :: len(present)] for index, name in enumerate(present)}
        columns["size"] = array("I", sizes)
        names = [name for flag, name in _SAMPLE_FIELDS if flags & flag or name == "size"]
        out = array("I", bytes(4 * count * len(names)))
        for index, name in enumerate(names):
            out[index :: len(names)] = columns[name]
        if sys.byteorder == "little":
            out.byteswap()
        head = full_head(version, flags | 0x200) + struct.pack(">I", count)
        return _Run(head, first + out.tobytes(), self.start, self.end)

    def write(self, offset: int) -> bytes:
        if not -(2**31) <= offset < 2**31:
            raise BoxError("a fragment's samples lie more than 2 GiB from it")
        return box(b"trun", self.head + struct.pack(">i", offset) + self.rest)


@dataclass
class _Fragment:
    """A kept ``moof``: its header and its kept tracks' fragments, each a list of boxes (bytes) and runs."""

    mfhd: bytes
    trafs: list[list[bytes | _Run]]

    def size(self) -> int:
        return len(self._write(lambda run: 0))

    def write(self, moved: Callable[[int], int], start: int, top_moved: Callable[[int], int]) -> bytes:
        return self._write(lambda run: moved(run.start) - start)

    def _write(self, offset: Callable[[_Run], int]) -> bytes:
        trafs = b"".join(
            box(b"traf", b"".join(part if isinstance(part, bytes) else part.write(offset(part)) for part in traf))
            for traf in self.trafs
        )
        return box(b"moof", self.mfhd + trafs)


@dataclass
class _SegmentIndex:
    """A kept ``sidx``: its fields, and the input positions its references start and end at."""

    head: bytes
    version: int
    anchor: int
    bounds: list[int]
    """Input offsets: where the first reference starts, then where each ends."""
    tails: list[bytes]
    """Per reference: subsegment duration and SAP fields."""
    types: list[int]

    def size(self) -> int:
        return 8 + len(self.head) + (8 if self.version else 4) + 4 + 12 * len(self.tails)

    def write(self, moved: Callable[[int], int], start: int, top_moved: Callable[[int], int]) -> bytes:
        news = [top_moved(bound) for bound in self.bounds]
        first = news[0] - (start + self.size())
        if first < 0:
            raise BoxError("internal: a segment index points before itself")
        offset = struct.pack(">Q" if self.version else ">I", first)
        body = self.head + offset + struct.pack(">HH", 0, len(self.tails))
        for kind, tail, (a, b) in zip(self.types, self.tails, itertools.pairwise(news), strict=True):
            if b - a >= 2**31:
                raise BoxError("a rewritten segment is too large for its index")
            body += struct.pack(">I", kind << 31 | (b - a)) + tail
        return box(b"sidx", body)


@dataclass
class Fragments:
    """What the fragments of a movie hold and how they are labelled."""

    claims: list[tuple[int, int, Kind, str]] = field(default_factory=list)
    runs: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    """Per track id, the ranges of its samples in fragments (kept and dropped tracks)."""
    rebuilt: dict[int, _Fragment | _SegmentIndex] = field(default_factory=dict)
    walked: set[int] = field(default_factory=set)
    """Offsets of the top-level boxes labelled here."""
    proof: list[bytes | tuple[int, int]] = field(default_factory=list)
    samples: dict[int, int] = field(default_factory=dict)
    cleaned: dict[int, CleanChunk] = field(default_factory=dict)
    """Runs whose samples are written clean (:mod:`.track_samples`), by input offset."""
    read: set[int] = field(default_factory=set)
    """Offsets of the runs whose samples were read unit by unit (their claims are among :attr:`claims`)."""
    read_samples: int = 0
    """Samples read unit by unit."""


def walk_fragments(data: Buffer, boxes: Sequence[Box], movie: Movie, *, digest: bool = True) -> Fragments:
    """Label the movie fragments and segment indexes of a movie whose header ``movie`` is walked. The samples of kept
    H.264, HEVC and AV1 tracks are read unit by unit (``digest``: and hashed clean, for the proof)."""
    walk = _FragmentWalk(data, movie, fragment_readers(data, movie, digest=digest))
    bounds = {top.start for top in boxes} | {len(data)}
    used = sum(len(track.chunks) for track in movie.tracks + movie.dropped)
    walk.budget = min(MAX_CHUNKS, len(data) // BYTES_PER_CHUNK + 1000) - used
    walk.moov_samples = sum(track.samples for track in movie.tracks if track.handler in VISUAL_HANDLERS)
    for top in boxes:
        if top.type == b"moof":
            walk.moof(top)
        elif top.type == b"sidx":
            walk.sidx(top, bounds)
    for track_id, reader in walk.readers.items():
        if reader.samples:
            walk.found.claims += reader.scan.claims
            walk.found.cleaned.update(reader.scan.chunks)
            walk.found.proof += [f"track {track_id} fragment samples sha256 ".encode() + reader.digest()]
    return walk.found


class _FragmentWalk:
    def __init__(self, data: Buffer, movie: Movie, readers: dict[int, RunReader]) -> None:
        self.data, self.movie, self.readers = data, movie, readers
        self.found = Fragments()
        self.kept = {track.track_id: track for track in movie.tracks}
        self.dropped = {track.track_id: track for track in movie.dropped}
        self.budget = MAX_CHUNKS
        self.moov_samples = 0

    def claim(self, start: int, end: int, kind: Kind, label: str) -> None:
        self.found.claims.append((start, end, kind, label))

    def payload(self, child: Box) -> bytes:
        return bytes(self.data[child.body : child.end])

    def leaf(self, child: Box, canonical: Canonical) -> bytes:
        same = canonical.payload == self.payload(child) and child.body - child.start == 8
        self.claim(
            child.start, child.end, Kind.STRUCTURE if same else Kind.METADATA, child.name if same else canonical.label
        )
        return box(child.type, canonical.payload)

    def moof(self, moof: Box) -> None:
        self.found.walked.add(moof.start)
        mark = len(self.found.claims)
        self.claim(moof.start, moof.body, Kind.STRUCTURE, "moof")
        fragment = _Fragment(b"", [])
        implicit = moof.start
        for child in iter_boxes(self.data, moof.body, moof.end):
            if child.type == b"mfhd" and not fragment.mfhd:
                f = Fields("mfhd", self.payload(child))
                f.version()
                fragment.mfhd = self.leaf(child, _exact("mfhd", self.payload(child), full_head(0) + f.take(4)))
            elif child.type == b"traf":
                implicit = self.traf(child, moof, implicit, fragment)
            else:
                self.claim(child.start, child.end, Kind.METADATA, f"{child.name} box")
        if not fragment.mfhd:
            raise BoxError("a movie fragment has no mfhd")
        if not fragment.trafs:  # only dropped tracks' fragments: the whole moof goes
            del self.found.claims[mark:]
            self.claim(moof.start, moof.end, Kind.METADATA, "moof of dropped tracks")
            return
        self.found.proof += [b"fragment", fragment.mfhd]
        self.found.rebuilt[moof.start] = fragment

    def traf(self, traf: Box, moof: Box, implicit: int, fragment: _Fragment) -> int:
        """One track's fragment; returns where its data ends (the next one's implicit base)."""
        children = list(iter_boxes(self.data, traf.body, traf.end))
        if not children or children[0].type != b"tfhd":
            raise BoxError("a track fragment does not start with tfhd")
        header = _TrackHeader.parse(self.payload(children[0]))
        track_id = header.track_id
        defaults = self.movie.fragment_defaults.get(track_id)
        if track_id not in self.kept and track_id not in self.dropped:
            raise BoxError(f"a fragment of track {track_id}, which the movie does not have")
        if defaults is None:
            raise BoxError(f"track {track_id} has fragments but no defaults (trex)")
        base = header.base if header.flags & _BASE_OFFSET else moof.start if header.flags & _BASE_IS_MOOF else implicit
        kept = track_id in self.kept
        parts: list[bytes | _Run] = []
        if kept:
            self.claim(traf.start, traf.body, Kind.STRUCTURE, "traf")
            parts.append(self.leaf(children[0], header.canonical(self.payload(children[0]))))
        size = header.size if header.flags & _SIZE else defaults[2]
        description = header.fields.get(_DESCRIPTION, defaults[0])
        reader = self.readers.get(track_id) if kept else None
        reading = (reader, description) if reader is not None and reader.parses(description) else None
        position, own = self.traf_children(children[1:], (track_id, base, size), reading, parts if kept else None)
        if not kept:
            self.claim(traf.start, traf.end, Kind.METADATA, f"track {track_id} fragment")
            return position
        fragment.trafs.append(parts)
        proven = [] if reading is not None else own  # (read samples are proven by their clean hash)
        self.found.proof += [b"traf", *(p if isinstance(p, bytes) else p.write(0) for p in parts), *proven]
        return position

    def traf_children(
        self,
        children: list[Box],
        where: tuple[int, int, int],
        reading: tuple[RunReader, int] | None,
        parts: list[bytes | _Run] | None,
    ) -> tuple[int, list[tuple[int, int]]]:
        """The runs (and, for a kept track, the other boxes) of a track fragment (``where``: its track id, base
        offset and default sample size): where its data ends, and the ranges of its samples. A run whose samples
        ``reading`` reads (the track's reader and the fragment's sample description) is written with their clean
        sizes when they change."""
        (track_id, base, size), position, samples, own = where, where[1], 0, []
        for child in children:
            if child.type == b"trun":
                run, sizes = _trun(self.payload(child), base, position, size)
                position, samples = run.end, samples + _count(self.payload(child))
                if run.end > run.start:
                    own.append((run.start, run.end))
                if parts is not None:
                    self.label_run(child, run)
                    parts.append(run if reading is None else self.read_run(reading, run, sizes))
            elif parts is not None:
                part = self.traf_child(child, samples)
                if part is not None:
                    parts.append(part)
        self.found.runs.setdefault(track_id, []).extend(own)
        self.found.samples[track_id] = self.found.samples.get(track_id, 0) + samples
        self.budget -= len(own)
        if self.budget < 0:
            raise Refusal("too many runs of samples for the movie's size: budget")
        return position, own

    def read_run(self, reading: tuple[RunReader, int], run: _Run, sizes: array[int] | _Uniform) -> _Run:
        """Read a run's samples unit by unit (within the samples budget, checked before a table of sizes is made);
        a run that changes is written with its samples' clean sizes."""
        reader, description = reading
        check_samples(self.moov_samples + reader.samples + len(sizes), len(self.data))
        if isinstance(sizes, _Uniform):
            sizes = array("I", [sizes.size]) * sizes.count
        self.found.read.add(run.start)
        self.found.read_samples += len(sizes)
        clean = reader.read(run.start, sizes, description)
        return run if clean is None else run.with_sizes(clean)

    def label_run(self, child: Box, run: _Run) -> None:
        raw = self.payload(child)
        canonical = run.head + raw[8:12] + run.rest if _flags(raw) & _DATA_OFFSET else None
        same = canonical == raw and child.body - child.start == 8
        self.claim(child.start, child.end, Kind.STRUCTURE if same else Kind.METADATA, "trun" if same else "trun fields")

    def traf_child(self, child: Box, samples: int) -> bytes | None:
        payload = self.payload(child)
        try:
            if child.type == b"tfdt":
                f = Fields("tfdt", payload)
                version, _ = f.version((0, 1))
                return self.leaf(child, _exact("tfdt", payload, full_head(version) + f.take(8 if version else 4)))
            if child.type == b"sdtp":
                return self.leaf(child, sdtp(payload, samples))
            if child.type == b"sgpd":
                return self.leaf(child, sgpd(payload)[0])
            if child.type == b"sbgp":
                return self.leaf(child, sbgp(payload, dict.fromkeys(GROUPING_TYPES, 0xFFFF)))
        except Dropped as reason:
            self.claim(child.start, child.end, Kind.METADATA, str(reason))
            return None
        self.claim(child.start, child.end, Kind.METADATA, f"{child.name} box")
        return None

    def sidx(self, sidx: Box, bounds: set[int]) -> None:
        self.found.walked.add(sidx.start)
        index = _parse_sidx(self.payload(sidx), sidx.end)
        kept = index is not None and int.from_bytes(index.head[4:8], "big") in self.kept
        if index is None or not kept or any(bound not in bounds for bound in index.bounds):
            self.claim(sidx.start, sidx.end, Kind.METADATA, "sidx box")
            return
        self.claim(sidx.start, sidx.end, Kind.STRUCTURE, "sidx")
        self.found.rebuilt[sidx.start] = index


@dataclass
class _TrackHeader:
    flags: int
    track_id: int
    base: int
    fields: dict[int, int]

    @property
    def size(self) -> int:
        return self.fields.get(_SIZE, 0)

    @classmethod
    def parse(cls, payload: bytes) -> _TrackHeader:
        f = Fields("tfhd", payload)
        _, flags = f.version()
        track_id = f.u32()
        base = int.from_bytes(f.take(8), "big") if flags & _BASE_OFFSET else 0
        fields = {flag: f.u32() for flag in (_DESCRIPTION, _DURATION, _SIZE, _FLAGS) if flags & flag}
        return cls(flags, track_id, base, fields)

    def canonical(self, payload: bytes) -> Canonical:
        """Relative to its fragment (default-base-is-moof, no base data offset), defaults kept, reserved bits zero."""
        flags = (self.flags & (_DESCRIPTION | _DURATION | _SIZE | _FLAGS | _EMPTY)) | _BASE_IS_MOOF
        values = [sample_flags(v) if flag == _FLAGS else v for flag, v in sorted(self.fields.items())]
        out = full_head(0, flags) + struct.pack(f">I{len(values)}I", self.track_id, *values)
        return _exact("tfhd", payload, out)


def _exact(name: str, payload: bytes, out: bytes) -> Canonical:
    return Canonical(out, name if out == payload else f"{name} fields")


def _flags(payload: bytes) -> int:
    return int.from_bytes(payload[1:4], "big")


def _count(payload: bytes) -> int:
    return int.from_bytes(payload[4:8], "big")


def _table(raw: bytes) -> array[int]:
    """Big-endian 32-bit fields as numbers."""
    table = array("I")
    table.frombytes(raw)
    if sys.byteorder == "little":
        table.byteswap()
    return table


@dataclass(frozen=True)
class _Uniform:
    """``count`` samples of one size (a run without a size column), made an array only when they are read."""

    size: int
    count: int

    def __len__(self) -> int:
        return self.count


def _trun(payload: bytes, base: int, position: int, default_size: int) -> tuple[_Run, array[int] | _Uniform]:
    """A run: its samples start at the base plus its data offset, or where the previous run ended; and the size of
    each of its samples."""
    f = Fields("trun", payload)
    version, flags = f.version((0, 1))
    count = f.u32()
    offset = struct.unpack(">i", f.take(4))[0] if flags & _DATA_OFFSET else None
    first = struct.pack(">I", sample_flags(f.u32())) if flags & _FIRST_FLAGS else b""
    present = [name for flag, name in _SAMPLE_FIELDS if flags & flag]
    if count * 4 * len(present) != f.left():
        raise BoxError("trun does not hold exactly its samples")
    table = _table(f.take(f.left()))
    width = len(present)
    if "flags" in present:
        column = present.index("flags")
        table[column::width] = array("I", map(sample_flags, table[column::width]))
    sizes = table[present.index("size") :: width] if "size" in present else _Uniform(default_size, count)
    length = sum(sizes) if isinstance(sizes, array) else count * default_size
    start = base + offset if offset is not None else position
    if sys.byteorder == "little":
        table.byteswap()
    canonical_flags = (flags & 0xF05) | _DATA_OFFSET
    head = full_head(version, canonical_flags) + struct.pack(">I", count)
    return _Run(head, first + table.tobytes(), start, start + length), sizes


def _parse_sidx(payload: bytes, anchor: int) -> _SegmentIndex | None:
    """A segment index, or None when it is malformed."""
    try:
        f = Fields("sidx", payload)
        version, _ = f.version((0, 1))
        head = full_head(version) + f.take(8) + f.take(8 if version else 4)  # reference id, time scale, earliest time
        first = int.from_bytes(f.take(8 if version else 4), "big")
        f.take(2)
        count = f.u16()
        if f.left() != 12 * count:
            return None
        bounds, tails, types = [anchor + first], [], []
        for _ in range(count):
            word = f.u32()
            types.append(word >> 31)
            bounds.append(bounds[-1] + (word & 0x7FFFFFFF))
            tails.append(f.take(8))
        return _SegmentIndex(head, version, anchor, bounds, tails, types)
    except BoxError:
        return None


assert MAX_DEPTH > 3  # moof/traf/trun: three levels
